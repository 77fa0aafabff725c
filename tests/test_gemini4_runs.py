"""Gemini 4 Hydrogen in the flash tier (FLASHFIRST_MODELS__FLASH__ID=gemini-4-hydrogen),
end to end through the engine, the real SDK and the emulator: efforts mapped to its
levels, values it refuses refused before any call, calls priced at its rates.

Hydrogen: levels LOW, MEDIUM, HIGH (default), XHIGH, no MINIMAL (developer guide,
docs.cloud.google.com/…/guides/gemini-4-hydrogen, read 2026-12-02); $1.50 in / $7.50 out
/ $0.075 cached per 1M, flat (ai.google.dev pricing as BerriAI/litellm #51436 and
iyulab/TokenMeter v0.17.0 report it, read 2026-12-02)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from flashfirst.client import make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.items import ItemResult, Route, TaskKind, WorkItem
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import ModelTier, Settings

M = Decimal(1_000_000)


def on_hydrogen(settings: Settings, *items: WorkItem) -> list[ItemResult]:
    settings.models.flash.id = "gemini-4-hydrogen"
    engine = Engine(InferenceContext(
        make_client(settings), settings, load_price_table(), load_routing_policy(),
        limiters=Limiters()))
    route = Route(model="gemini-4-hydrogen", tier=ModelTier.FLASH, reason="test")
    return [asyncio.run(engine.run(InferenceJob(item=i, route=route, identity=i.id)))
            for i in items]


def test_efforts_reach_hydrogen_as_its_levels_and_cost_its_rates(
        run_settings: Settings, emulator: EmbeddedEmulator):
    asks = {"least": "LOW", "high": "HIGH", "max": "XHIGH", "xhigh": "XHIGH"}
    results = on_hydrogen(run_settings, *(
        WorkItem(id=asked, task=TaskKind.SUMMARIZE, text="Plan the week.", thinking=asked)
        for asked in asks))
    sent = [e.thinking_config for e in emulator.stats.request_log if e.status == 200]
    levels = [c.get("thinkingLevel", c.get("thinking_level")) for c in sent]  # either spelling
    assert levels == list(asks.values())
    for r in results:
        a = r.attempts[0]
        assert r.ok and a.served_model == "gemini-4-hydrogen"
        billed = (a.usage.prompt_tokens * Decimal("1.50")
                  + (a.usage.candidates_tokens + a.usage.thoughts_tokens) * Decimal("7.50")) / M
        assert Decimal(str(a.cost_usd)) == billed


@pytest.mark.parametrize("asked", ["minimal", "0", "-1"])
def test_thinking_hydrogen_does_not_take_is_refused_before_any_call(
        run_settings: Settings, emulator: EmbeddedEmulator, asked: str):
    [result] = on_hydrogen(run_settings, WorkItem(id="x", text="Think.", thinking=asked))
    assert result.failure is not None and result.failure.kind == "bad_input"
    assert "refused before any call" in result.failure.message
    assert "gemini-4-hydrogen" in result.failure.message
    assert "low, medium, high, xhigh" in result.failure.message
    assert result.attempts == [] and emulator.stats.calls_to("generateContent") == 0
