"""What the limiter learns from a 429: a server whose window frees a little later than our
stamps (its clock behind ours, or a busy front end) is not a lower quota, and must not cost
the run its request ceiling; a quota that really is lower than configured is learned.

The first two go through the real SDK to the emulator (``quota_stamp_lag_s`` makes it count
each call that much after it arrives); the last two drive the limiter on a clock of their
own, for 429s that carry no ``quotaValue`` (Google's do not always: python-genai#2044,
gemini-cli#8437 show ``QuotaFailure`` violations without it, Roo-Code#3883 one with it)."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.engine import answer

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.gemini.tiers import ModelSpec
from flashfirst.inference.project_limits import spend_limit
from flashfirst.inference.ratelimit import Limiters, ModelLimiter
from flashfirst.items import TaskKind, WorkItem
from flashfirst.settings import BackendSettings, InferenceSettings, Settings

MODEL, WINDOW_S, QUOTA = "gemini-3.8-flash", 2.0, 10


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path, monkeypatch) -> Settings:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(backend=BackendSettings(base_url=emulator.base_url),
                        storage_root=str(tmp_path / "store"),
                        inference=InferenceSettings(backoff_base_s=0.02, backoff_max_s=1.0,
                                                    calibration_share=0,
                                                    quota_window_s=WINDOW_S))
    settings.models.flash.rpm = QUOTA
    return settings


def flash_limiter(limiters: Limiters, settings: Settings) -> ModelLimiter:
    """The limiter the engine used for the Flash model (same spec, window and spend)."""
    cfg = settings.inference
    return limiters.for_model(settings.models.flash, cfg.quota_window_s,
                              spend_limit(cfg.quota_tier, cfg.spend_limit_usd_per_10min),
                              cfg.spend_window_s)


def notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"n{i}", task=TaskKind.SUMMARIZE, text=f"Quarterly notes #{i}.")
            for i in range(n)]


def test_a_server_window_that_frees_late_keeps_the_configured_ceiling(settings, emulator):
    # Each window turn sends the next calls the moment our stamps free the slots; the server
    # still counts the old ones for 0.2 s and answers 429. That is lag, not a lower quota:
    # before, the limiter read it as one and cut its ceiling call by call, for minutes.
    emulator.control.configure(quota_window_s=WINDOW_S, quota_stamp_lag_s=0.2,
                               models={MODEL: {"rpm": QUOTA}})
    limiters = Limiters()
    results = answer(settings, notes(3 * QUOTA), limiters)
    assert all(r.ok for r in results)
    assert emulator.stats.rate_limited > 0  # the window's turn met the server's lag
    limiter = flash_limiter(limiters, settings)
    assert limiter.request_ceiling == QUOTA  # the lag learned is asserted below, on a clock


def test_a_quota_lower_than_configured_is_learned_from_the_429(settings, emulator):
    emulator.control.configure(quota_window_s=WINDOW_S, quota_stamp_lag_s=0.2,
                               models={MODEL: {"rpm": QUOTA // 2}})
    limiters = Limiters()
    results = answer(settings, notes(2 * QUOTA), limiters)
    assert all(r.ok for r in results)
    limiter = flash_limiter(limiters, settings)
    assert limiter.request_ceiling == QUOTA // 2  # the quota the 429 named


def test_a_window_that_reached_the_server_one_by_one_turns_without_429s(settings, emulator):
    # The first window's calls are granted at once but reach the server one by one (queued
    # in this process: a cold connection pool, a busy loop; seconds for 600 calls), while
    # the turn's go out at once: counted from their grants, the whole turn went out while
    # the server still counted most of the first window, and came back refused.
    window_s = settings.inference.quota_window_s = 2 * WINDOW_S  # a sixth of it: 0.67 s
    emulator.control.configure(quota_window_s=window_s, models={MODEL: {"rpm": QUOTA}})
    sent = 0

    async def one_by_one(model: str, tokens: int) -> None:
        nonlocal sent
        k, sent = sent, sent + 1
        if k < QUOTA:
            await asyncio.sleep(k * 0.07)

    results = answer(settings, notes(2 * QUOTA), Limiters(), gate=one_by_one)
    assert all(r.ok for r in results)
    # Counted from when they can have arrived, the first window frees slot by slot (before:
    # 7-10 of the 10 refused); a 429 of a turn that races the server by a millisecond or
    # two teaches the lag that covers it.
    assert emulator.stats.rate_limited <= 2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _limiter(clock: Clock) -> ModelLimiter:
    return ModelLimiter(ModelSpec(id=MODEL, rpm=600, concurrency=1000), 60.0, clock)


async def _send(limiter: ModelLimiter, n: int) -> list:
    return [await limiter.acquire(1) for _ in range(n)]


def test_without_a_quota_value_a_429_at_the_turn_of_a_full_window_is_lag():
    clock = Clock()
    limiter = _limiter(clock)
    for ticket in asyncio.run(_send(limiter, 600)):  # the first window, all answered
        limiter.release(ticket, 1)
    clock.now = 60.0  # our stamps free the window; the next calls go out at once
    in_flight = asyncio.run(_send(limiter, 200))
    clock.now = 60.05  # the server still counts the first window for 0.3 s
    refused = in_flight[:20]  # the turn's burst comes back refused, one after another
    for ticket in refused:
        limiter.release(ticket, refused=True)
        limiter.on_throttled(0.25, "GenerateRequestsPerMinutePerProjectPerModel-PaidTier",
                             sent_at=ticket.sent_at)
    assert limiter.request_ceiling == 600
    assert limiter.lag_s == pytest.approx(0.3)


def test_without_a_quota_value_a_429_far_from_a_full_window_lowers_the_ceiling():
    clock = Clock()
    limiter = _limiter(clock)
    in_flight = asyncio.run(_send(limiter, 200))  # a shared project: others use the rest
    clock.now = 0.05
    refused = in_flight.pop()
    limiter.release(refused, refused=True)
    limiter.on_throttled(59.9, "GenerateRequestsPerMinutePerProjectPerModel-PaidTier",
                         sent_at=refused.sent_at)
    assert limiter.request_ceiling <= 200
