"""``mode=auto`` picks Batch, Flex or Standard per model from the item count, the deadline
and the price table, and says why with the three prices."""

from __future__ import annotations

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.mode import choose_modes
from flashfirst.items import Route, ServiceTier, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.planning.router import ServiceTierPolicy
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.report import RunReport
from flashfirst.settings import ModelTier, Settings

# A model with no price step ahead, so the hand-computed prices below stay true.
LITE = "gemini-2.5-flash-lite"


def lite_jobs(n: int) -> list[InferenceJob]:
    route = Route(model=LITE, tier=ModelTier.FLASH_LITE, reason="default tier")
    return [InferenceJob(item=WorkItem(id=f"n{i}", text="x"), route=route, identity=f"id{i}",
                         est_prompt_tokens=100) for i in range(n)]


def choice(n: int, deadline_s: float | None):  # noqa: ANN201
    return choose_modes(lite_jobs(n), load_price_table(), Settings(), ServiceTierPolicy(),
                        deadline_s)[LITE]


def test_a_small_urgent_run_goes_standard():
    chosen = choice(5, deadline_s=60)
    assert chosen.tier is ServiceTier.STANDARD
    assert "under Flex's latency (15 min)" in chosen.reason


def test_a_medium_run_with_an_hour_goes_flex():
    chosen = choice(200, deadline_s=3600)
    # 200 items at Flash-Lite's 4,000 RPM start within 3 s, after Flex's 15 min: fits 1 h.
    assert chosen.tier is ServiceTier.FLEX


def test_a_large_run_with_a_day_goes_batch_and_says_what_each_tier_costs():
    chosen = choice(1200, deadline_s=26 * 3600)
    assert chosen.tier is ServiceTier.BATCH
    # 2.5 Flash-Lite, https://ai.google.dev/gemini-api/docs/pricing (the packaged table):
    # $0.10 input, $0.40 output per 1M; a summary's answer is assumed 300 tokens plus 800
    # of medium thinking (flashfirst/pricing/estimate.py, ours).
    # Standard: 1,200 × (100 × 0.10 + 1,100 × 0.40) / 1e6 = 1,200 × 450 / 1e6 = $0.54.
    # Batch and Flex: 50% (docs/optimization) = $0.27.
    assert (chosen.standard_usd, chosen.flex_usd, chosen.batch_usd) == pytest.approx(
        (0.54, 0.27, 0.27))
    assert chosen.summary() == (
        "gemini-2.5-flash-lite: 1,200 items, deadline 26 h allows Batch's 24 h and 1,200 "
        "items ≥ 100: no worker held while waiting: batch, Batch $0.2700 vs Flex $0.2700 vs "
        "Standard $0.5400")


def test_a_large_run_with_too_short_a_day_for_batch_goes_flex():
    assert choice(1200, deadline_s=3 * 3600).tier is ServiceTier.FLEX


@pytest.mark.usefixtures("prefect_api")
def test_auto_sends_each_model_where_its_items_fit(run_settings: Settings,
                                                   emulator: EmbeddedEmulator):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    run_settings.inference.batch_min_items = 3
    items = [WorkItem(id=f"s{i}", text=f"Note {i}") for i in range(4)] + [
        WorkItem(id="why", task=TaskKind.REASON, text="Why was the parcel late?")]
    report: RunReport = analyze_with(
        AnalyzeParams(items=items, mode=RunMode.AUTO, deadline_s=26 * 3600), run_settings)

    assert report.items_ok == 5
    # 4 Flash items ≥ 3: one batch job; the single Pro item is too few for a batch: Flex.
    assert emulator.stats.batches_created == 1
    flash, pro = run_settings.models.flash.id, run_settings.models.pro.id
    assert emulator.stats.generate_calls == {flash: {"batch": 4}, pro: {"flex": 1}}
    tiers = {line.id: line.service_tier for line in report.items}
    assert tiers == {"s0": "batch", "s1": "batch", "s2": "batch", "s3": "batch", "why": "flex"}
    assert any(m.startswith(f"{flash}: 4 items") and ": batch, Batch $" in m
               for m in report.mode_choices)
    assert any(m.startswith(f"{pro}: 1 items") and ": flex, Batch $" in m
               for m in report.mode_choices)
