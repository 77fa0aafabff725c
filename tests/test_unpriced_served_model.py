"""A requested id served by a model the price table does not know (Google re-routes ids
silently; the response's ``modelVersion`` names the model that served): the paid run
still writes every result and its report, prices those calls provisionally as the
requested model's row and says so, exits with its own status, and ``flashfirst prices``
remembers the model for the user to add.

Prices per 1M tokens from https://ai.google.dev/gemini-api/docs/pricing (stored copies
of 2026-09-26 and 2026-10-07): gemini-3.8-flash $0.75 in / $3.75 out / $0.075 cached
through 2026-12-31."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures.emulator import set_clock
from fixtures.prefect import PrefectServer
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import TaskKind, Usage, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.pricing.prices import load_price_table
from flashfirst.pricing.unpriced_seen import RunUnpriced
from flashfirst.reporting.report import ProvisionalPrice, RunReport
from flashfirst.settings import Settings

UNPRICED = "gemini-3.9-flash"  # an id the packaged price table has no row for
M = Decimal(1_000_000)


def reroute_flash_to_an_unpriced_model(emulator: EmbeddedEmulator) -> None:
    assert UNPRICED not in load_price_table().models
    set_clock(emulator, datetime(2026, 12, 2, 9, tzinfo=UTC))
    emulator.control.configure(models={"gemini-3.8-flash": {
        "served_by": UNPRICED, "served_by_since": "2026-12-01"}})


def notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"n{i}", task=TaskKind.SUMMARIZE, text=f"Customer note {i}.")
            for i in range(n)]


def at_flash_rates(usage: Usage) -> Decimal:
    uncached = usage.prompt_tokens - usage.cached_tokens
    return (uncached * Decimal("0.75") + usage.cached_tokens * Decimal("0.075")
            + (usage.candidates_tokens + usage.thoughts_tokens) * Decimal("3.75")) / M


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize("mode", [RunMode.ONLINE, RunMode.BATCH])
def test_a_run_served_by_a_model_the_price_table_lacks_writes_every_result_and_says_its_costs_are_provisional(  # noqa: E501
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path, mode: RunMode):
    reroute_flash_to_an_unpriced_model(emulator)
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})  # jobs end at once
    out = tmp_path / "out"

    report = analyze_with(AnalyzeParams(items=notes(3), mode=mode, output=str(out)),
                          run_settings)

    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["n0", "n1", "n2"]
    for line in lines:
        [attempt] = line["attempts"]
        assert (attempt["model"], attempt["served_model"]) == ("gemini-3.8-flash", UNPRICED)
        assert attempt["priced_as"] == "gemini-3.8-flash"  # the call says how it was priced
        usage = Usage.model_validate(attempt["usage"])
        half = Decimal("0.5") if mode is RunMode.BATCH else 1  # Batch: 50%, pricing page
        assert Decimal(str(attempt["cost_usd"])) == at_flash_rates(usage) * half
    saved = RunReport.model_validate_json((out / "report.json").read_text())
    assert saved.items_total == saved.items_ok == 3
    [provisional] = saved.provisional_prices
    assert provisional == ProvisionalPrice(
        served=UNPRICED, requested="gemini-3.8-flash", priced_as="gemini-3.8-flash",
        calls=3, cost_usd=provisional.cost_usd)
    assert provisional.cost_usd == pytest.approx(sum(x["attempts"][0]["cost_usd"]
                                                     for x in lines), abs=1e-9)
    assert saved.costs.actual_usd == pytest.approx(provisional.cost_usd, abs=1e-9)
    assert [m.model for m in saved.costs.per_model] == [UNPRICED]
    assert all(i.cost_provisional for i in saved.items)
    markdown = (out / "report.md").read_text()
    assert "Costs are provisional" in markdown
    assert (f"{UNPRICED} served 3 calls for gemini-3.8-flash; the price table "
            f"(version {saved.price_table_version}) has no row for it: priced as "
            "gemini-3.8-flash") in markdown
    assert (f"gemini-3.8-flash → served by {UNPRICED}: 3 calls (priced provisionally as "
            "gemini-3.8-flash)") in markdown  # never "priced as the one that served"
    assert report.provisional_prices == saved.provisional_prices


@pytest.mark.usefixtures("prefect_api")
def test_a_rerun_of_a_provisionally_priced_run_reuses_its_answers_and_reports_again(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    reroute_flash_to_an_unpriced_model(emulator)
    params = AnalyzeParams(items=notes(2), output=str(tmp_path / "out"))
    analyze_with(params, run_settings)
    calls = emulator.stats.calls_to("generateContent")

    again = analyze_with(params, run_settings)

    assert emulator.stats.calls_to("generateContent") == calls  # nothing bought twice
    assert again.items_reused == again.items_ok == 2
    assert (tmp_path / "out" / "report.json").exists()


def flashfirst(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("flashfirst")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_the_command_exits_4_on_provisional_costs_and_prices_lists_the_model_afterwards(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer, tmp_path: Path):
    reroute_flash_to_an_unpriced_model(emulator)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The parcel arrived two days late.")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": prefect_server.api_url,
            "FLASHFIRST_STORAGE_ROOT": str(tmp_path / "store"),
            "FLASHFIRST_BACKEND__BASE_URL": emulator.base_url}
    before = flashfirst("prices", "--json", env=env, cwd=tmp_path)
    assert json.loads(before.stdout)["unpriced_seen"] == []

    run = flashfirst("run", str(inbox), env=env, cwd=tmp_path)

    assert run.returncode == 4, run.stderr  # every item ok, its costs provisional
    assert (f"provisional cost: {UNPRICED} served 1 calls for gemini-3.8-flash"
            in run.stdout), run.stdout
    assert f"costs are provisional: the price table has no row for {UNPRICED}" in run.stderr
    assert f"(priced as {UNPRICED})" not in run.stdout
    listing = flashfirst("prices", "--json", env=env, cwd=tmp_path)
    [seen] = json.loads(listing.stdout)["unpriced_seen"]
    assert (seen["model"], seen["requested"], seen["priced_as"], seen["runs"],
            seen["calls"]) == (UNPRICED, ["gemini-3.8-flash"], ["gemini-3.8-flash"], 1, 1)
    assert seen["last_report"].startswith(str(tmp_path / "store" / "runs"))
    text = flashfirst("prices", env=env, cwd=tmp_path).stdout
    assert "Served earlier runs but missing from this table" in text
    assert f"{UNPRICED} served gemini-3.8-flash" in text


def test_prices_drops_a_model_once_the_table_has_its_row_and_names_an_unreadable_record(
        tmp_path: Path):
    folder = tmp_path / "store" / "prices" / "unpriced"
    folder.mkdir(parents=True)
    for run_id, served in (("r1", UNPRICED), ("r2", "gemini-3.6-flash")):  # 3.6: has a row
        (folder / f"{run_id}.json").write_text(RunUnpriced(
            run_id=run_id, backend="Gemini Developer API", price_table_version="old",
            finished_at=datetime(2026, 12, 2, 9, tzinfo=UTC), report_uri=f"/runs/{run_id}",
            models=[ProvisionalPrice(served=served, requested="gemini-3.8-flash",
                                     priced_as="gemini-3.8-flash", calls=2, cost_usd=0.01)],
        ).model_dump_json())
    (folder / "r3.json").write_text("{not json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFIRST_")}
    env["FLASHFIRST_STORAGE_ROOT"] = str(tmp_path / "store")

    listing = json.loads(flashfirst("prices", "--json", env=env, cwd=tmp_path).stdout)

    assert [u["model"] for u in listing["unpriced_seen"]] == [UNPRICED]
    assert listing["unreadable_records"] == [str(folder / "r3.json")]
