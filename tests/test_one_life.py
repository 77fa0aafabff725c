"""One item's life, whatever carries it: the same failing item sent online (one call per
step) and in batch mode (one batch round per step) climbs the same ladder — the route at
the task's least thinking, more thinking on the same model, a tier up — and, in the
thinking lever's sample, is also sent once at the model's default thinking. Through the
real SDK against the emulator, whose scripted answer fails validation on 3.8 Flash at
any thinking and lets Pro answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixtures.emulator import set_clock

from flashfirst.client import make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.batch import BatchRunner, BatchWaiting
from flashfirst.inference.batch_ledger import BatchLedger
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.items import ItemResult, Route, TaskKind, WorkItem
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import ModelTier, Settings
from flashfirst.storage import Storage

SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}},
          "required": ["total"]}


@pytest.fixture(autouse=True)
def _failing_on_flash(emulator: EmbeddedEmulator) -> None:
    set_clock(emulator, datetime(2026, 12, 1, 9, tzinfo=UTC))  # 3.8 Flash priced that day
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    emulator.control.add_script(contains="HARD_TOTAL", model="gemini-3.8-flash",
                                text="no idea")


def context(settings: Settings) -> InferenceContext:
    return InferenceContext(make_client(settings), settings, load_price_table(),
                            load_routing_policy(), limiters=Limiters())


def hard_job(calibrate: bool) -> InferenceJob:
    item = WorkItem(id="inv", task=TaskKind.EXTRACT, text="Invoice HARD_TOTAL: 3 x 4.",
                    response_schema=SCHEMA)  # extract: least thinking first
    return InferenceJob(item=item, identity=item.id, calibrate=calibrate, route=Route(
        model="gemini-3.8-flash", tier=ModelTier.FLASH, reason="test"))


def online(settings: Settings, job: InferenceJob) -> ItemResult:
    return asyncio.run(Engine(context(settings)).run(job))


def in_batch(settings: Settings, emulator: EmbeddedEmulator, job: InferenceJob) -> ItemResult:
    runner = BatchRunner(context(settings), BatchLedger(Storage(), settings.storage_root),
                         waiting=BatchWaiting(poll_s=1, sleep=emulator.control.advance_clock))
    outcome = runner.run([job])
    assert not outcome.failures and not outcome.parked
    [result] = outcome.results
    return result


def ladder(result: ItemResult) -> list[tuple[str, str, str, bool]]:
    return [(a.model, a.step, a.thinking.label(), a.ok) for a in result.attempts]


EXPECTED = [("gemini-3.8-flash", "route", "least (level low)", False),
            ("gemini-3.8-flash", "think", "default (model default)", False),
            ("gemini-3.1-pro-preview", "model", "least (level low)", True)]


def test_a_failing_item_climbs_the_same_ladder_online_and_in_batch(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    on = online(run_settings, hard_job(calibrate=False))
    batch_settings = run_settings.model_copy(update={"storage_root": str(tmp_path / "b")})
    off = in_batch(batch_settings, emulator, hard_job(calibrate=False))

    assert ladder(on) == ladder(off) == EXPECTED
    assert on.ok and off.ok and on.escalated and off.escalated
    assert on.output == off.output
    assert [a.service_tier_served.value for a in off.attempts] == ["batch"] * 3
    assert emulator.stats.batches_created == 3  # a round per step of the ladder
    assert on.calibration is None and off.calibration is None  # not in the sample


def test_an_item_in_the_sample_is_calibrated_online_and_in_batch(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    on = online(run_settings, hard_job(calibrate=True))
    batch_settings = run_settings.model_copy(update={"storage_root": str(tmp_path / "b")})
    off = in_batch(batch_settings, emulator, hard_job(calibrate=True))

    assert ladder(on) == ladder(off) == EXPECTED  # calibrating changes no step
    for result in (on, off):
        calibration = result.calibration
        assert calibration is not None and calibration.step == "calibration"
        assert (calibration.model, calibration.thinking.label()) == (
            "gemini-3.8-flash", "default (model default)")
        assert calibration.cost_usd > 0 and calibration.usage.thoughts_tokens > 0
        assert result.cost_usd == pytest.approx(
            sum(a.cost_usd for a in result.attempts) + calibration.cost_usd)
    # The calibration line rides in the first round: still one round per step.
    assert emulator.stats.batches_created == 3
