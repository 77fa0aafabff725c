"""Budgets before and during a run, and the report as Prefect shows it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import BudgetExceeded
from flashfirst.estimate import RunEstimate
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.report import RunReport
from flashfirst.settings import Settings
from flows.analyze import analyze

pytestmark = pytest.mark.usefixtures("prefect_api")


def questions(n: int, task: TaskKind = TaskKind.SUMMARIZE, **kw: object) -> list[WorkItem]:
    return [WorkItem(id=f"q{i:02d}", task=task, text=f"Customer note {i}: late parcel.", **kw)
            for i in range(n)]


def test_an_estimate_counts_tokens_and_prices_the_plan_without_paid_calls(
        run_settings: Settings, emulator: EmbeddedEmulator):
    estimate = analyze(AnalyzeParams(items=questions(5), estimate_only=True), run_settings)
    assert isinstance(estimate, RunEstimate)
    assert estimate.items == 5 and estimate.input_tokens > 0 and estimate.usd > 0
    assert emulator.stats.calls_to("countTokens") == 5
    assert emulator.stats.calls_to("generateContent") == 0


def test_a_budget_below_the_estimate_refuses_to_start(run_settings, emulator):
    with pytest.raises(BudgetExceeded, match="exceeds the budget"):
        analyze(AnalyzeParams(items=questions(5), budget_usd=0.000001), run_settings)
    assert emulator.stats.calls_to("generateContent") == 0


def test_a_budget_reached_mid_run_stops_dispatch_and_keeps_what_was_paid_for(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # The answers come out ten times longer than assumed (a scripted 2,000-token answer
    # against 20 + 400 thinking assumed at level low): the estimate passes, the spend
    # reaches the budget part way through.
    emulator.control.add_script(contains="Customer note", text="word " * 1600)
    settings = run_settings.model_copy(deep=True)
    settings.models.flash.concurrency = 1
    settings.inference.failure_threshold = 1.0
    items = questions(12, TaskKind.CLASSIFY, model="gemini-3.8-flash")
    estimate = analyze(AnalyzeParams(items=items, estimate_only=True), settings)
    budget = estimate.usd * 1.5
    out = tmp_path / "out"
    report: RunReport = analyze(AnalyzeParams(items=items, budget_usd=budget, output=str(out)),
                                settings)
    assert 0 < report.items_ok < 12
    assert report.budget_stopped == 12 - report.items_ok
    assert all("not dispatched: budget" in cause for cause in report.failures.values())
    assert report.costs.actual_usd >= budget
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sum(1 for r in lines if r["output"]) == report.items_ok
    rerun = analyze(AnalyzeParams(items=items), settings)  # more budget: finish the rest
    assert rerun.items_reused == report.items_ok and rerun.items_ok == 12


def test_the_report_is_a_prefect_artifact(run_settings, emulator):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    report = analyze(AnalyzeParams(items=questions(3)), run_settings)

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
