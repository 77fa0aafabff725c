"""An answer starved by thinking: thoughts and answer share ``max_output_tokens`` on Gemini
3 and 4, so a low cap can return no text at all (finish reason MAX_TOKENS) with the
thoughts billed (thinking page, https://ai.google.dev/gemini-api/docs/thinking; Gemini 4
guides, read 2026-12-02). The first remedy is room to answer on the same model; the item
fails as its own kind when even that is not enough; the estimate warns beforehand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fixtures.catalogue import catalogue_with
from flashfirst.flows.analyze import analyze_with

from flashfirst.client import make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.failures import FailureKind
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.items import Route, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.planning.router import RoutingPolicy, load_routing_policy
from flashfirst.pricing.estimate import price_plan
from flashfirst.pricing.prices import load_price_table
from flashfirst.run.terms import RunFailed
from flashfirst.settings import ModelTier, Settings


def run_item(settings: Settings, item: WorkItem):  # noqa: ANN201 - an ItemResult
    engine = Engine(InferenceContext(
        make_client(settings), settings, load_price_table(), load_routing_policy(),
        limiters=Limiters()))
    route = Route(model=settings.models.flash.id, tier=ModelTier.FLASH, reason="test")
    return asyncio.run(engine.run(InferenceJob(item=item, route=route, identity=item.id)))


def test_a_starved_answer_is_retried_with_a_larger_cap_on_the_same_model(
        run_settings: Settings, emulator: EmbeddedEmulator):
    # 3.8 Flash at high thinks ~500+ tokens here: a cap of 64 leaves no room to answer.
    item = WorkItem(id="plan", task=TaskKind.SUMMARIZE, text="Plan the quarter.",
                    thinking="high", max_output_tokens=64)
    result = run_item(run_settings, item)

    starved, answered = result.attempts
    assert (starved.finish_reason, starved.ok) == ("MAX_TOKENS", False)
    assert starved.usage.candidates_tokens == 0 and starved.usage.thoughts_tokens == 64
    assert starved.cost_usd > 0  # the thoughts are billed though nothing came back
    assert answered.step == "cap" and answered.model == starved.model == "gemini-3.8-flash"
    assert answered.max_output_tokens == 64 + 4096 and answered.thinking == starved.thinking
    assert result.ok and result.output
    assert set(emulator.stats.generate_calls) == {"gemini-3.8-flash"}  # no dearer model


def test_an_answer_starved_even_with_the_larger_cap_fails_as_thinking_starved(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # A catalogue whose 3.8 Flash may return only 100 tokens: the larger cap cannot help,
    # the ladder's next rung (a tier up, same cap) starves too.
    path = catalogue_with(tmp_path, "gemini-3.8-flash", output_token_limit=100)
    settings = run_settings.model_copy(update={"model_catalogue_path": path})
    item = WorkItem(id="plan", task=TaskKind.SUMMARIZE, text="Plan the quarter.",
                    thinking="high", max_output_tokens=64)
    result = run_item(settings, item)

    assert [(a.model, a.step, a.max_output_tokens) for a in result.attempts] == [
        ("gemini-3.8-flash", "route", 64), ("gemini-3.8-flash", "cap", 100),
        ("gemini-3.1-pro-preview", "model", 100)]
    assert all(a.finish_reason == "MAX_TOKENS" and a.usage.thoughts_tokens > 0
               and a.cost_usd > 0 for a in result.attempts)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.THINKING_STARVED
    assert "starved by thinking on gemini-3.1-pro-preview" in result.failure.message
    assert "max_output_tokens" in result.failure.message


def test_a_truncated_answer_with_text_is_still_a_validation_failure(
        run_settings: Settings, emulator: EmbeddedEmulator):
    # Thinking off (2.5 Flash-Lite's default): the cap cuts the answer itself.
    item = WorkItem(id="long", task=TaskKind.SUMMARIZE, text="Write at length.",
                    model="gemini-2.5-flash-lite", max_output_tokens=3)
    engine = Engine(InferenceContext(
        make_client(run_settings), run_settings, load_price_table(),
        RoutingPolicy(escalation={"ladder": []}), limiters=Limiters()))
    route = Route(model="gemini-2.5-flash-lite", tier=ModelTier.FLASH_LITE, reason="test")
    result = asyncio.run(engine.run(InferenceJob(item=item, route=route, identity="long")))
    assert len(result.attempts) == 1 and result.attempts[0].usage.candidates_tokens > 0
    assert result.failure is not None and result.failure.kind is FailureKind.VALIDATION


def test_the_estimate_warns_when_a_tasks_cap_is_below_the_thoughts_it_expects():
    policy = RoutingPolicy(thinking={TaskKind.REASON: "high"},
                           max_output_tokens={TaskKind.REASON: 1000})
    jobs = [InferenceJob(item=WorkItem(id=f"r{i}", task=TaskKind.REASON, text="Why?"),
                         identity=f"r{i}", route=Route(model="gemini-3.8-flash",
                                                       tier=ModelTier.FLASH, reason="t"))
            for i in range(3)]
    fine = InferenceJob(item=WorkItem(id="s", task=TaskKind.SUMMARIZE, text="Sum up."),
                        identity="s", route=jobs[0].route)
    estimate = price_plan([*jobs, fine], [10] * 4, 0, [], load_price_table(), None,
                          policy=policy)
    # 3.8 Flash at level high: 2,000 assumed thoughts a call, above the cap of 1,000.
    assert estimate.warnings == [
        "3 reason item(s) on gemini-3.8-flash have max_output_tokens 1,000, not above the "
        "thoughts expected per call (2,000 (assumed)): thinking shares the cap, so such an "
        "answer may come back empty and still be billed; raise the cap or ask for less "
        "thinking"]
    assert "warning: 3 reason item(s)" in estimate.summary()


@pytest.mark.usefixtures("prefect_api")
def test_a_batch_answer_starved_on_every_model_fails_as_thinking_starved(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # As online: the larger cap (bounded by the catalogue's 100) and the tier up starve too.
    path = catalogue_with(tmp_path, "gemini-3.8-flash", output_token_limit=100)
    settings = run_settings.model_copy(update={"model_catalogue_path": path})
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    item = WorkItem(id="plan", task=TaskKind.SUMMARIZE, text="Plan the quarter.",
                    thinking="high", max_output_tokens=64)
    with pytest.raises(RunFailed) as failed:
        analyze_with(AnalyzeParams(items=[item], mode=RunMode.BATCH), settings)
    report = failed.value.report
    assert emulator.stats.batches_created == 3  # a round per step: route, cap, model
    assert report.failure_kinds == {"thinking_starved": 1}
    assert "starved by thinking on gemini-3.1-pro-preview" in report.failures["plan"]
