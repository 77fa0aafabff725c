"""Results are streamed to results.jsonl and folded into the report as chunks finish,
never held whole: the report must still count and price exactly what results.jsonl
holds, item by item, model by model, and a re-run must reuse what was paid for."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.demo import demo_params
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import ItemResult, WorkItem
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(settings: Settings, tmp_path: Path, out: str) -> tuple[RunReport, list[ItemResult]]:
    params = demo_params(str(tmp_path))
    # One media item that cannot be read: its result is made before inference, and must
    # be in results.jsonl and in the report like any other.
    missing = WorkItem(id="video/missing", uri=str(tmp_path / "gone.mp4"))
    params = params.model_copy(update={"items": [*params.items, missing],
                                       "output": str(tmp_path / out)})
    report = analyze_with(params, settings)
    # report.json is written a line at a time: still the report, byte for byte.
    assert (tmp_path / out / "report.json").read_text() == report.model_dump_json(indent=2)
    assert RunReport.model_validate_json(report.model_dump_json()) == report
    assert pickle.loads(pickle.dumps(report)) == report  # Dask hands reports back pickled
    text = (tmp_path / out / "results.jsonl").read_text()
    return report, [ItemResult.model_validate_json(line) for line in text.splitlines()]


def calls(r: ItemResult) -> list:
    return [*r.attempts, *([r.calibration] if r.calibration else [])]


def test_the_report_counts_and_prices_exactly_what_results_jsonl_holds(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    report, results = run(run_settings, tmp_path, "first")

    ids = [r.id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == report.items_total
    assert set(ids) == {i.id for i in demo_params(str(tmp_path)).items} | {"video/missing"}
    assert [i.id for i in report.items] and {i.id for i in report.items} == set(ids)
    assert report.items_ok == sum(r.ok for r in results) == len(results) - 1
    assert report.failures == {r.id: r.error for r in results if r.error}
    assert report.failure_kinds == dict(Counter(r.failure.kind for r in results
                                                if r.failure))
    assert all(r.backend == report.backend for r in results)
    assert next(r for r in results if r.id == "video/store-walkthrough").uri.endswith(
        "store-walkthrough.mp4")
    assert report.routing_split == dict(Counter(r.route.model for r in results if r.route))
    sent = sum(len(calls(r)) for r in results if not r.reused)
    assert report.generate_calls == sent >= report.items_ok
    by_line = {r.id: r for r in results}
    for line in report.items:
        assert line.cost_usd == pytest.approx(by_line[line.id].cost_usd, abs=1e-9)
        assert line.models == by_line[line.id].models
    paid = Counter()
    tokens = Counter()
    for r in results:
        for a in calls(r):
            paid[a.billed_model] += 1
            tokens[a.billed_model] += a.usage.prompt_tokens
    assert {m.model: m.calls for m in report.costs.per_model} == dict(paid)
    assert {m.model: m.prompt_tokens for m in report.costs.per_model} == dict(tokens)
    assert report.costs.calls_usd == pytest.approx(sum(r.cost_usd for r in results), abs=1e-8)
    assert report.costs.thinking.sample_calls == sum(r.calibration is not None
                                                     for r in results)
    if all(lv.measured for lv in report.costs.levers):  # the levers add up to the saving
        levers = sum(lv.saving_usd for lv in report.costs.levers)
        assert report.costs.naive_usd - levers == pytest.approx(report.costs.actual_usd,
                                                                abs=1e-8)
    assert report.media.items == sum(r.media is not None for r in results) == 5


def test_the_items_table_of_a_big_run_shows_the_failed_then_the_most_expensive(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    from flashfirst.reporting.render import items_table

    report, results = run(run_settings, tmp_path, "first")

    assert [row["item"] for row in items_table(report)] == [i.id for i in report.items]
    rows = items_table(report, limit=3)
    assert [r.id for r in results if not r.ok] == ["video/missing"]
    by_cost = sorted((i for i in report.items if i.id != "video/missing"),
                     key=lambda i: (-i.cost_usd, i.id))
    assert by_cost[0].cost_usd > 0
    assert [row["item"] for row in rows] == ["video/missing", by_cost[0].id, by_cost[1].id]
    assert rows[0]["failure"] == str(next(r for r in results if not r.ok).failure.kind)


def test_a_rerun_reports_every_answer_reused_and_pays_nothing_again(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    first, _ = run(run_settings, tmp_path, "first")
    before = emulator.stats.calls_to("generateContent")
    again, results = run(run_settings, tmp_path, "again")
    new = emulator.stats.calls_to("generateContent") - before
    # Only the demo's one question that is new on every run is sent again.
    assert again.items_reused == sum(r.reused for r in results) == first.items_ok - 1
    assert new == again.generate_calls == sum(len(calls(r)) for r in results if not r.reused)
    assert again.items_total == first.items_total == len(results)


def test_a_big_report_keeps_every_line_and_writes_report_json_as_its_json(tmp_path: Path):
    from datetime import UTC, datetime

    from flashfirst.reporting.item_lines import ItemLine
    from flashfirst.reporting.results_spool import ResultSpool
    from flashfirst.reporting.run_report import write_run_files
    from flashfirst.storage import Storage

    lines = [ItemLine(id=f"note-{n}", task="summarize", models=["gemini-3.8-flash"],
                      service_tier=None, cost_usd=n / 1e6, escalated=n % 5 == 0,
                      reused=False, error=f'bad "line" {n}\nsecond' if n % 7 == 0 else None)
             for n in range(2_500)]  # more than one compressed block
    costs = dict.fromkeys(("actual_usd", "naive_usd", "lower_bound_usd", "calls_usd",
                           "cache_write_usd", "cache_storage_usd"), 0.0)
    now = datetime.now(UTC)
    report = RunReport(run_id="big", backend="emulator", price_table_version="t",
                       started_at=now, finished_at=now, items_total=len(lines), items_ok=0,
                       items_failed=0, items_reused=0, generate_calls=0,
                       costs={**costs, "levers": [], "per_model": []}, items=lines,
                       output_uri=str(tmp_path / "out"))
    assert list(report.items) == lines and report.items[1_700] == lines[1_700]
    assert report.items[-1] == lines[-1] and len(report.items) == 2_500
    spool = ResultSpool()
    write_run_files(Storage(), str(tmp_path / "store"), spool, report)
    spool.discard()
    text = (tmp_path / "out" / "report.json").read_text()
    assert text == report.model_dump_json(indent=2)
    assert list(RunReport.model_validate_json(text).items) == lines
