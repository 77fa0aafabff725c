"""``mode=auto`` picks Batch, Flex or Standard per model from the item count, the deadline
and the price table, and says why with the three prices."""

from __future__ import annotations

import pytest

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.engine import InferenceJob
from flashfirst.inference.mode import choose_modes
from flashfirst.items import Route, ServiceTier, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.prices import load_price_table
from flashfirst.report import RunReport
from flashfirst.router import ServiceTierPolicy
from flashfirst.settings import ModelTier, Settings
from flows.analyze import analyze_with

FLASH = "gemini-2.5-flash"


def flash_jobs(n: int) -> list[InferenceJob]:
    route = Route(model=FLASH, tier=ModelTier.FLASH, reason="default tier")
    return [InferenceJob(item=WorkItem(id=f"n{i}", text="x"), route=route, identity=f"id{i}",
                         est_prompt_tokens=100) for i in range(n)]


def choice(n: int, deadline_s: float | None):  # noqa: ANN201
    return choose_modes(flash_jobs(n), load_price_table(), Settings(), ServiceTierPolicy(),
                        deadline_s)[FLASH]


def test_a_small_urgent_run_goes_standard():
    chosen = choice(5, deadline_s=60)
    assert chosen.tier is ServiceTier.STANDARD
    assert "under Flex's latency (15 min)" in chosen.reason


def test_a_medium_run_with_an_hour_goes_flex():
    chosen = choice(200, deadline_s=3600)
    # 200 items at Flash's 1,000 RPM start within 12 s, after Flex's 15 min: fits 1 h.
    assert chosen.tier is ServiceTier.FLEX


def test_a_large_run_with_a_day_goes_batch_and_says_what_each_tier_costs():
    chosen = choice(1200, deadline_s=26 * 3600)
    assert chosen.tier is ServiceTier.BATCH
    # 2.5 Flash, https://ai.google.dev/gemini-api/docs/pricing (copy of 2026-03, the
    # packaged table): $0.30 input, $2.50 output per 1M; a summary is assumed 300 tokens.
    # Standard: 1,200 × (100 × 0.30 + 300 × 2.50) / 1e6 = 1,200 × 780 / 1e6 = $0.936.
    # Batch and Flex: 50% (docs/optimization, read 2026-11-28) = $0.468.
    assert (chosen.standard_usd, chosen.flex_usd, chosen.batch_usd) == pytest.approx(
        (0.936, 0.468, 0.468))
    assert chosen.summary() == (
        "gemini-2.5-flash: 1,200 items, deadline 26 h allows Batch's 24 h and 1,200 items "
        "≥ 100: no worker held while waiting: batch, Batch $0.4680 vs Flex $0.4680 vs "
        "Standard $0.9360")


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
    assert emulator.stats.generate_calls == {FLASH: {"batch": 4}, "gemini-2.5-pro": {"flex": 1}}
    tiers = {line.id: line.service_tier for line in report.items}
    assert tiers == {"s0": "batch", "s1": "batch", "s2": "batch", "s3": "batch", "why": "flex"}
    assert any(m.startswith("gemini-2.5-flash: 4 items") and ": batch, Batch $" in m
               for m in report.mode_choices)
    assert any(m.startswith("gemini-2.5-pro: 1 items") and ": flex, Batch $" in m
               for m in report.mode_choices)
