"""Routing and fan-out inference against the emulator, through the real SDK."""

from __future__ import annotations

import asyncio
import time

import pytest

from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.budget import Budget
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inputs.sources import text_or_document_parts
from flashfirst.items import ItemResult, ServiceTier, TaskKind, WorkItem
from flashfirst.planning.jobs import plan_jobs
from flashfirst.planning.router import RoutingPolicy, load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}},
          "required": ["label"]}


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path, monkeypatch) -> Settings:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Settings(backend=BackendSettings(base_url=emulator.base_url),
                    storage_root=str(tmp_path / "store"),
                    inference=InferenceSettings(backoff_base_s=0.02, backoff_max_s=1.0,
                                                calibration_share=0))  # calls are counted


def run(settings: Settings, items: list[WorkItem], *, deadline_s: float | None = None,
        budget: Budget | None = None, limiters: Limiters | None = None,
        policy: RoutingPolicy | None = None) -> list[ItemResult]:
    client, storage = make_client(settings), Storage()
    policy = policy or load_routing_policy()
    sources = {i.id: text_or_document_parts(i, storage, client, settings) for i in items}
    jobs = plan_jobs(items, sources, {}, policy, settings, context_tokens=0,
                     deadline_s=deadline_s, batch=False)
    engine = Engine(InferenceContext(
        client, settings, load_price_table(), policy,
        answers=AnswerStore(storage, settings.storage_root, backend_id(settings)),
        budget=budget or Budget(None),
        deadline_at=time.time() + deadline_s if deadline_s else None,
        limiters=limiters or Limiters()))

    async def all_jobs() -> list[ItemResult]:
        return list(await asyncio.gather(*(engine.run(j) for j in jobs)))

    return asyncio.run(all_jobs())


def items(n: int, task: TaskKind = TaskKind.SUMMARIZE, text: str = "Quarterly notes.",
          **kw: object) -> list[WorkItem]:
    return [WorkItem(id=f"{task.value}-{i}", task=task, text=f"{text} #{i}", **kw)
            for i in range(n)]


def test_each_task_goes_to_its_tier_and_the_reason_is_recorded(settings):
    mixed = [WorkItem(id="c", task=TaskKind.CLASSIFY, text="a"),
             WorkItem(id="s", task=TaskKind.SUMMARIZE, text="b"),
             WorkItem(id="r", task=TaskKind.REASON, text="c"),
             WorkItem(id="forced", task=TaskKind.CLASSIFY, text="d",
                      model="gemini-3.1-pro-preview")]
    by_id = {r.id: r for r in run(settings, mixed)}
    assert by_id["c"].attempts[0].model == "gemini-2.5-flash-lite"
    assert by_id["s"].attempts[0].model == "gemini-3.8-flash"
    assert by_id["r"].attempts[0].model == "gemini-3.1-pro-preview"
    assert by_id["forced"].attempts[0].model == "gemini-3.1-pro-preview"
    assert "task classify" in by_id["c"].route.reason
    assert "model set on the item" in by_id["forced"].route.reason


def test_relaxed_deadline_is_served_on_flex_at_half_price(settings, emulator):
    flex = run(settings, items(3), deadline_s=3600)
    standard = run(settings.model_copy(update={"storage_root": settings.storage_root + "2"}),
                   items(3))
    for f, s in zip(flex, standard, strict=True):
        assert f.attempts[0].service_tier_served is ServiceTier.FLEX
        assert s.attempts[0].service_tier_served is ServiceTier.STANDARD
        assert f.cost_usd == pytest.approx(s.cost_usd / 2, rel=1e-9)
    assert emulator.stats.generate_calls["gemini-3.8-flash"]["flex"] == 3


def test_shed_flex_calls_are_retried_on_flex_while_the_deadline_allows(settings, emulator):
    emulator.control.configure(tiers={"flex_shed_share": 0.5})
    results = run(settings, items(8), deadline_s=3600)
    assert all(r.ok for r in results)
    assert all(r.attempts[0].service_tier_served is ServiceTier.FLEX for r in results)
    assert emulator.stats.unavailable > 0  # some were shed and retried


def test_shed_flex_calls_move_to_standard_when_the_deadline_is_near(settings, emulator):
    emulator.control.configure(tiers={"flex_shed_share": 1.0})
    # Flex from 60 s on, but 120 s are kept for Standard: a shed call cannot wait for
    # another Flex try inside a 100 s deadline, so it goes to Standard at once.
    policy = load_routing_policy()
    policy.service_tier.flex_min_deadline_s = 60
    results = run(settings, items(3), deadline_s=100, policy=policy)
    assert emulator.stats.unavailable == 3
    for r in results:
        assert r.ok
        assert r.attempts[0].service_tier_requested is ServiceTier.FLEX
        assert r.attempts[0].service_tier_served is ServiceTier.STANDARD
        assert r.cost_usd > 0


def test_flex_that_keeps_shedding_falls_back_to_standard_instead_of_failing(settings,
                                                                             emulator):
    emulator.control.configure(tiers={"flex_shed_share": 1.0})
    results = run(settings, items(2), deadline_s=3600)
    assert all(r.ok for r in results)
    assert all(r.attempts[0].service_tier_served is ServiceTier.STANDARD for r in results)
    assert emulator.stats.unavailable == 2 * settings.inference.max_attempts


def test_an_invalid_flash_answer_climbs_the_ladder_to_pro_and_every_attempt_is_paid(
        settings, emulator):
    emulator.control.add_script(contains="FORCE_INVALID", model="gemini-3.8-flash",
                                text="this is not json")
    [result] = run(settings, [WorkItem(id="x", task=TaskKind.EXTRACT, text="FORCE_INVALID",
                                       response_schema=SCHEMA)])
    assert result.ok and result.escalated
    # routing.yaml's ladder: the same model at default thinking first, then a tier up.
    assert [(a.model, a.step) for a in result.attempts] == [
        ("gemini-3.8-flash", "route"), ("gemini-3.8-flash", "think"),
        ("gemini-3.1-pro-preview", "model")]
    assert "not valid JSON" in result.attempts[0].validation_error
    assert all(a.cost_usd > 0 for a in result.attempts)
    assert result.cost_usd == pytest.approx(sum(a.cost_usd for a in result.attempts))
    assert isinstance(result.output, dict) and "label" in result.output


def test_escalation_is_bounded_to_two_extra_attempts(settings, emulator):
    emulator.control.add_script(contains="ALWAYS_BAD", text="nope")
    [result] = run(settings, [WorkItem(id="x", task=TaskKind.CLASSIFY, text="ALWAYS_BAD",
                                       response_schema=SCHEMA)])
    assert not result.ok
    assert [a.model for a in result.attempts] == ["gemini-2.5-flash-lite",
                                                  "gemini-2.5-flash-lite", "gemini-3.8-flash"]
    assert "failed validation on gemini-3.8-flash" in result.error
    assert result.failure.kind == "validation"


def test_truncated_and_blocked_answers_escalate(settings, emulator):
    emulator.control.add_script(contains="CUT", model="gemini-3.8-flash", text="half an an",
                                finish_reason="MAX_TOKENS")
    emulator.control.add_script(contains="BLOCK", model="gemini-3.8-flash", text=None,
                                finish_reason="SAFETY")
    results = {r.id: r for r in run(settings, [WorkItem(id="cut", text="CUT"),
                                               WorkItem(id="block", text="BLOCK")])}
    assert "truncated" in results["cut"].attempts[0].validation_error
    assert "blocked" in results["block"].attempts[0].validation_error
    assert all(r.ok and r.attempts[-1].model == "gemini-3.1-pro-preview" for r in results.values())


def test_a_400_fails_only_its_item_and_is_not_retried(settings, emulator):
    emulator.control.add_script(contains="BAD_REQUEST", status=400,
                                message="Request contains an invalid argument.")
    results = {r.id: r for r in run(settings, [*items(3),
                                               WorkItem(id="bad", text="BAD_REQUEST")])}
    assert not results["bad"].ok and "400" in results["bad"].error
    assert "1 try" in results["bad"].error and results["bad"].failure.kind == "rejected"
    assert results["bad"].attempts == []
    assert all(results[f"summarize-{i}"].ok for i in range(3))


def test_503s_are_retried_until_answered(settings, emulator):
    emulator.control.configure(faults={"unavailable_share": 0.4})
    results = run(settings, items(10))
    assert all(r.ok for r in results)
    assert emulator.stats.unavailable > 0
    assert sum(r.attempts[0].transient_retries for r in results) == emulator.stats.unavailable


def test_a_429_storm_completes_every_item_with_few_429s_after_adaptation(
        settings, emulator):
    # The real quota is 10 a second; we were told 40: we must learn it from the 429s.
    # Judged on the emulator's request log (its clock, when each call was answered; no
    # latency is configured, so that is when it arrived), not on our own timing: the
    # limiter counts from when it sends, the emulator from when a call arrives, and on a
    # busy machine that gap alone can cost a 429 now and then. A client that did not learn
    # sends its 40 at once every window (measured: 40-62 calls in one window, ~200 429s per
    # 100 calls); one that learned sends ~10 a window.
    quota, window_s = 10, 1.0
    emulator.control.configure(quota_window_s=window_s,
                               models={"gemini-3.8-flash": {"rpm": quota}})
    settings = settings.model_copy(deep=True)
    settings.inference.quota_window_s = window_s
    settings.models.flash.rpm = 40
    limiters = Limiters()
    results = run(settings, items(60), limiters=limiters)
    assert all(r.ok for r in results)
    assert emulator.stats.rate_limited > 0  # the storm happened: there was something to learn
    seen = len(emulator.stats.request_log)
    more = run(settings.model_copy(update={"storage_root": settings.storage_root + "b"}),
               items(100, text="More notes."), limiters=limiters)
    assert all(r.ok for r in more)
    log = [e for e in emulator.stats.request_log[seen:] if e.endpoint == "generateContent"]
    assert sum(e.status == 200 for e in log) == 100  # each item answered once
    times = [e.time for e in log]
    busiest = max(sum(t <= u < t + window_s for u in times) for t in times)
    # Sent 10 a window by our clock, a call can land in the emulator's next window: calls of
    # two of our windows may meet in one of its windows, of three only after a whole window
    # of delay.
    assert busiest <= 2 * quota, f"{busiest} calls within one {window_s} s quota window"
    windows = (times[-1] - times[0]) / window_s + 1
    refused = sum(e.status == 429 for e in log)
    assert refused <= windows, f"{refused} 429s in {windows:.0f} quota windows after adaptation"


def test_a_403_on_a_call_without_a_cache_is_a_rejection_whatever_its_words(settings,
                                                                            emulator):
    # Classified by HTTP code and google.rpc status: words about caches in the message
    # make no cache gone when the request named none.
    emulator.control.add_script(contains="FORBIDDEN", status=403,
                                message="CachedContent not found (or permission denied)")
    [result] = run(settings, [WorkItem(id="f", text="FORBIDDEN")])
    assert result.failure.kind == "rejected" and "403" in result.error
    assert emulator.stats.cache_creations == 0
    assert emulator.stats.calls_to("generateContent") == 1  # not retried


def test_a_second_run_of_the_same_items_makes_no_generate_calls(settings, emulator):
    first = run(settings, items(5))
    calls = emulator.stats.calls_to("generateContent")
    second = run(settings, items(5))
    assert emulator.stats.calls_to("generateContent") == calls
    assert all(r.reused for r in second)
    assert [r.output for r in second] == [r.output for r in first]


def test_budget_reached_stops_dispatch_and_keeps_finished_answers(settings, emulator):
    budget = Budget(0.0005)
    limited = settings.model_copy(deep=True)
    limited.models.flash.concurrency = 1  # one at a time, so the budget is seen in order
    results = run(limited, items(20), budget=budget)
    done = [r for r in results if r.ok]
    stopped = [r for r in results if r.failure and r.failure.kind == "budget"]
    assert done and stopped and len(done) + len(stopped) == 20
    assert budget.spent >= budget.limit
    rerun = run(limited, items(20))  # the answers already paid for are kept
    assert sum(r.reused for r in rerun) == len(done)


@pytest.mark.usefixtures("prefect_api")
def test_shared_rate_limits_live_on_the_prefect_server(run_settings):
    import asyncio as aio

    from flashfirst.flows.analyze import analyze_with
    from prefect.client.orchestration import get_client

    from flashfirst.params import AnalyzeParams

    settings = run_settings.model_copy(deep=True)
    settings.inference.shared_rate_limits = True
    report = analyze_with(AnalyzeParams(items=items(4)), settings)
    assert report.items_ok == 4

    async def read():  # noqa: ANN202
        async with get_client() as client:
            return await client.read_global_concurrency_limit_by_name(
                "gemini-rpm-gemini-3.8-flash")

    limit = aio.run(read())
    assert limit.limit == 1  # one slot, paced: never a burst of a whole window's quota
    assert limit.slot_decay_per_second == pytest.approx((settings.models.flash.rpm - 1) / 60)
