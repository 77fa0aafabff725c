"""Batch mode: the same items through the Gemini Batch API at half price."""

from __future__ import annotations

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import ServiceTier, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}


def items() -> list[WorkItem]:
    return [WorkItem(id=f"s{i}", text=f"Note {i}: the parcel was late.") for i in range(4)] + [
        WorkItem(id="bad", task=TaskKind.EXTRACT, text="FORCE_INVALID", response_schema=SCHEMA)]


def test_batch_mode_answers_at_half_price_and_climbs_the_ladder_a_batch_round_a_step(
        run_settings: Settings, emulator: EmbeddedEmulator):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    emulator.control.add_script(contains="FORCE_INVALID", model="gemini-3.8-flash",
                                text="not json")
    batch: RunReport = analyze_with(AnalyzeParams(items=items(), mode=RunMode.BATCH), run_settings)
    assert batch.items_ok == 5
    stats = emulator.stats
    assert stats.batches_created == 3  # Flash, Flash at more thinking, then Pro
    assert stats.calls_to("generateContent") == 0
    lines = {line.id: line for line in batch.items}
    assert lines["bad"].models == ["gemini-3.8-flash", "gemini-3.8-flash",
                                   "gemini-3.1-pro-preview"]
    assert lines["bad"].escalated
    assert all(line.service_tier == ServiceTier.BATCH.value for line in lines.values())
    tier = next(lv for lv in batch.costs.levers if lv.name == "service tier")
    # Batch halves every call: the tier lever is exactly what the calls cost.
    assert tier.saving_usd == pytest.approx(batch.costs.calls_usd, rel=1e-6)
    again = analyze_with(AnalyzeParams(items=items(), mode=RunMode.BATCH), run_settings)
    assert again.items_reused == 5 and emulator.stats.batches_created == 3
