"""Budgets before and during a run, and the report as Prefect shows it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import BudgetExceeded
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.pricing.estimate import RunEstimate
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def questions(n: int, task: TaskKind = TaskKind.SUMMARIZE, **kw: object) -> list[WorkItem]:
    return [WorkItem(id=f"q{i:02d}", task=task, text=f"Customer note {i}: late parcel.", **kw)
            for i in range(n)]


def test_an_estimate_counts_tokens_and_prices_the_plan_without_paid_calls(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # Our own round prices (USD per 1M tokens), so the figures below follow from this
    # table alone; pricing rule of ai.google.dev/gemini-api/docs/pricing: input and output
    # (thinking included) billed per token, Standard tier at the list price.
    flash, lite = run_settings.models.flash.id, run_settings.models.flash_lite.id
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({
        "version": "test", "tier_multipliers": {"standard": 1.0, "flex": 0.5, "batch": 0.5,
                                                "priority": 2.0},
        "models": {model: {"source": "this test", "read_on": "2026-12-01", "input": rate_in,
                           "output": rate_out, "cached_input": rate_in / 10,
                           "cache_storage_per_hour": 1.0}
                   for model, rate_in, rate_out in [(flash, 1.0, 10.0), (lite, 0.5, 2.0),
                                                    (run_settings.models.pro.id, 2.0, 20.0)]}}))
    settings = run_settings.model_copy(update={"price_table_path": table})
    # 400 characters of text and a 40-character instruction: 100 + 10 tokens at "about 4
    # characters a token" (ai.google.dev/gemini-api/docs/tokens), a count multiples of 4
    # make exact.
    note, prompt = "x" * 400, "Say what this note is about, in a line.!"
    items = [WorkItem(id=f"s{i}", task=TaskKind.SUMMARIZE, text=note, prompt=prompt,
                      model=flash) for i in range(4)]
    items += [WorkItem(id=f"c{i}", task=TaskKind.CLASSIFY, text=note, prompt=prompt,
                       model=lite) for i in range(4)]
    estimate = analyze_with(AnalyzeParams(items=items, estimate_only=True), settings)
    assert isinstance(estimate, RunEstimate)
    assert estimate.items == 8
    assert estimate.input_tokens == 8 * 110
    # Output assumed (ours, flashfirst/pricing/estimate.py, thinking_figures.ASSUMED_THOUGHTS): a
    # summary's answer 300 tokens, sent at the policy's "low" = level LOW on 3.8 Flash,
    # assumed 400 thoughts; a classification's answer 20, sent at "least" = budget 0 on
    # 2.5 Flash-Lite, which then does not think.
    assert estimate.assumed_output_tokens == 4 * (300 + 400) + 4 * 20 == 2880
    assert estimate.assumed_thinking_tokens == 4 * 400
    # Flash: 4 x (110 x $1 + 700 x $10) / 1M = 4 x $0.007110 = $0.028440
    # Flash-Lite: 4 x (110 x $0.50 + 20 x $2) / 1M = 4 x $0.000095 = $0.000380
    assert estimate.per_model_usd == {flash: pytest.approx(0.02844, abs=1e-9),
                                      lite: pytest.approx(0.00038, abs=1e-9)}
    assert estimate.cache_usd == 0
    assert estimate.usd == pytest.approx(0.02882, abs=1e-9)
    assert emulator.stats.calls_to("countTokens") == 8
    assert emulator.stats.calls_to("generateContent") == 0


def test_the_demo_estimate_is_within_a_factor_of_two_of_what_it_costs(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path, demo_inputs):
    # Input is counted by the API; answers and thinking are assumed (flashfirst/pricing/estimate.py)
    # and the emulator draws its own (prose of 16-112 words whatever the task, thinking
    # growing with the prompt): neither is a figure of Google's. Within 2x either way keeps
    # a budget check useful. Measured (bench/cost.py, estimate_vs_actual): 1.42.
    from flashfirst.demo import demo_params

    demo_inputs(tmp_path)
    params = demo_params(str(tmp_path))
    estimate = analyze_with(params.model_copy(update={"estimate_only": True}), run_settings)
    assert emulator.stats.calls_to("generateContent") == 0
    report: RunReport = analyze_with(params, run_settings)
    assert report.items_ok == report.items_total
    ratio = estimate.usd / report.costs.actual_usd
    assert 0.5 <= ratio <= 2.0, f"estimate ${estimate.usd:.6f} vs actual " \
        f"${report.costs.actual_usd:.6f}"


def test_a_budget_below_the_estimate_refuses_to_start(run_settings, emulator):
    with pytest.raises(BudgetExceeded, match="exceeds the budget"):
        analyze_with(AnalyzeParams(items=questions(5), budget_usd=0.000001), run_settings)
    assert emulator.stats.calls_to("generateContent") == 0


@pytest.fixture
def overspending(run_settings: Settings, emulator: EmbeddedEmulator
                 ) -> tuple[Settings, list[WorkItem], float]:
    """12 questions whose answers come out ten times longer than assumed (a scripted
    2,000-token answer against 20 + 400 thinking assumed at level low), and a budget of
    1.5× the estimate: the estimate passes, the spend reaches the budget part way through."""
    emulator.control.add_script(contains="Customer note", text="word " * 1600)
    settings = run_settings.model_copy(deep=True)
    settings.models.flash.concurrency = 1  # one at a time, so the budget is seen in order
    settings.inference.failure_threshold = 1.0
    items = questions(12, TaskKind.CLASSIFY, model="gemini-3.8-flash")
    estimate = analyze_with(AnalyzeParams(items=items, estimate_only=True), settings)
    return settings, items, estimate.usd * 1.5


def test_a_budget_reached_mid_run_stops_dispatch_and_keeps_what_was_paid_for(
        overspending: tuple[Settings, list[WorkItem], float], tmp_path: Path):
    settings, items, budget = overspending
    out = tmp_path / "out"
    report: RunReport = analyze_with(AnalyzeParams(items=items, budget_usd=budget, output=str(out)),
                                settings)
    assert 0 < report.items_ok < 12
    assert report.budget_stopped == 12 - report.items_ok
    assert all("not dispatched: budget" in cause for cause in report.failures.values())
    assert report.costs.actual_usd >= budget
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sum(1 for r in lines if r["output"]) == report.items_ok
    rerun = analyze_with(AnalyzeParams(items=items), settings)  # more budget: finish the rest
    assert rerun.items_reused == report.items_ok and rerun.items_ok == 12


def test_each_failed_item_says_its_kind_and_the_report_counts_them_by_kind(
        overspending: tuple[Settings, list[WorkItem], float], tmp_path: Path,
        corrupt_video: Path):
    # The budget stops part of the questions; and one video is not a readable video at all.
    settings, questions_, budget = overspending
    out = tmp_path / "out"
    items = [*questions_, WorkItem(id="broken", uri=str(corrupt_video))]
    report: RunReport = analyze_with(
        AnalyzeParams(items=items, budget_usd=budget, output=str(out)), settings)

    lines = {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert sorted(lines) == sorted(i.id for i in items)  # the broken video has its line too
    assert lines["broken"]["failure"]["kind"] == "media_unreadable"
    assert "not a readable" in lines["broken"]["failure"]["message"]
    stopped = [i for i, r in lines.items() if r["failure"] and r["failure"]["kind"] == "budget"]
    answered = [i for i, r in lines.items() if r["failure"] is None]
    assert stopped and answered and len(stopped) + len(answered) == 12
    assert all(lines[i]["output"] is None and lines[i]["attempts"] == [] for i in stopped)
    assert all(lines[i]["error"] == lines[i]["failure"]["message"] for i in [*stopped, "broken"])
    assert report.failure_kinds == {"budget": len(stopped), "media_unreadable": 1}
    assert report.budget_stopped == len(stopped) and report.items_failed == len(stopped) + 1
    saved = json.loads((out / "report.json").read_text())
    assert saved["failure_kinds"] == {"budget": len(stopped), "media_unreadable": 1}
    markdown = (out / "report.md").read_text()
    assert f"| budget | {len(stopped)} |" in markdown and "| media_unreadable | 1 |" in markdown
    assert f"| media_unreadable | broken | {corrupt_video}: not a readable" in markdown


def test_a_results_line_written_before_failures_had_a_kind_still_loads(tmp_path: Path):
    from flashfirst.items import ItemResult

    old = ItemResult.model_validate_json(
        '{"id": "q1", "task": "summarize", "error": "not dispatched: budget of $1 reached"}')
    assert not old.ok and old.failure.kind == "unclassified"
    assert old.error == "not dispatched: budget of $1 reached"
    answer = ItemResult.model_validate_json('{"id": "q2", "task": "summarize", "output": "ok"}')
    assert answer.ok and answer.failure is None


def test_the_report_is_a_prefect_artifact(run_settings, emulator):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    report = analyze_with(AnalyzeParams(items=questions(3)), run_settings)

    async def latest(key: str):  # noqa: ANN202
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return max(found, key=lambda a: a.created)

    markdown = asyncio.run(latest("flashfirst-report"))
    assert report.run_id in markdown.data
    assert f"${report.costs.actual_usd:,.6f}" in markdown.data
    table = asyncio.run(latest("flashfirst-items"))
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert sorted(r["item"] for r in rows) == ["q00", "q01", "q02"]
