"""The online transport of an item's life (``life``): each ask one call, rate-limited,
retried when transient (a shed Flex call moves to Standard when the deadline needs it, a
context cache found gone is recreated once), through generateContent or the Interactions
API; the answer priced and judged as every transport's (``answered``), and the result
stored so a re-run never pays for it again."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

from flashfirst.errors import FlashfirstError, QuotaExhausted, RefusedBeforeCall
from flashfirst.failures import FailureKind, budget_reached
from flashfirst.inference.answered import priced_attempt, response_time, served_tier
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.interactions_call import check_wire, sender
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.life import Ask, ItemLife
from flashfirst.inference.project_limits import spend_limit
from flashfirst.inference.request import ModelRequest, build_request, request_key
from flashfirst.inference.retry import CallFailure, backoff_s, classify
from flashfirst.inference.validation import Verdict
from flashfirst.inputs.context import ContextProvider, ContextUse, StaticContexts
from flashfirst.items import Attempt, ItemResult, ServiceTier, Usage
from flashfirst.run.stopping import CallAbandoned, RunStopped, unless_stopped, within_grace

T = TypeVar("T")


class _BudgetReached(FlashfirstError):
    """The run's budget is spent: this call is not made."""


class _CallGaveUp(FlashfirstError):
    """A call failed for good (not transient, or out of tries)."""

    def __init__(self, failure: CallFailure, tries: int) -> None:
        super().__init__(failure.message)
        self.failure, self.tries = failure, tries

    def describe(self) -> str:
        f = self.failure
        what = "gave up after" if f.transient else "failed on"
        tries = f"{self.tries} tr{'ies' if self.tries > 1 else 'y'}"
        text = f"model call {what} {tries}: {f.code or ''} {f.status or ''} {f.message}"
        if f.kind is FailureKind.CACHE_GONE:
            text += " (the context cache was recreated once and refused again)"
        return text.replace("  ", " ")


# An ask that ends without an answer: the item fails with why (``Engine._why``).
_NOT_ANSWERED = (RefusedBeforeCall, QuotaExhausted, _BudgetReached, RunStopped, CallAbandoned,
                 _CallGaveUp)


async def _off_loop(blocking: bool, fn: Callable[..., T], *args: object) -> T:
    """A bucket's read or write in a thread: the call loop carries every chunk's calls."""
    return await asyncio.to_thread(fn, *args) if blocking else fn(*args)


class Engine:
    """Items one at a time (many at once under asyncio), each walked through its life."""

    def __init__(self, run: InferenceContext, contexts: ContextProvider | None = None) -> None:
        self.run_ctx, self.contexts = run, contexts or StaticContexts()
        self._rng = random.Random(run.seed)
        cfg = run.settings.inference  # generateContent or the Interactions API: same answers
        self._send = sender(run.client, cfg.api, store=cfg.interactions_store)

    async def run(self, job: InferenceJob) -> ItemResult:
        run = self.run_ctx
        first_ctx = await self.contexts.use(job.route.model)
        key = request_key(job, job.route.model, run.policy, run.catalogue,
                          first_ctx.content_hash if first_ctx else None)
        answers = run.answers
        if answers is not None and (done := await _off_loop(answers.blocking, answers.get,
                                                            key)) is not None:
            return done.model_copy(update={"reused": True, "route": job.route})
        life = ItemLife(job, run.policy, run.catalogue, run.settings.models)
        while life.ask is not None:  # the route, then the ladder: at most two extra calls
            try:
                attempt, verdict = await self._attempt(job, life.ask)
            except _NOT_ANSWERED as missing:
                return life.failed(*self._why(missing))
            life.answered(attempt, verdict)
        calibration = life.calibration(life.result.attempts[0].thinking)
        if calibration is not None:  # a failure here fails nothing
            with contextlib.suppress(*_NOT_ANSWERED):
                life.calibrated((await self._attempt(job, calibration))[0])
        if life.result.ok and answers is not None:
            await _off_loop(answers.blocking, answers.put, key, life.result)
        return life.result

    def _why(self, missing: Exception) -> tuple[FailureKind, str]:
        """The item's failure when an ask of its life got no answer."""
        run = self.run_ctx
        match missing:
            case RefusedBeforeCall():
                return missing.kind, f"refused before any call: {missing}"
            case QuotaExhausted():
                return FailureKind.DAILY_QUOTA, f"not dispatched: {missing}"
            case _BudgetReached():
                stop = budget_reached(run.budget.limit, run.budget.spent)
                return stop.kind, stop.message
            case RunStopped():
                stopped = run.stop.failure()
                return stopped.kind, stopped.message
            case CallAbandoned():
                return run.stop.failure().kind, f"stopped: {missing}"
            case _CallGaveUp():
                return missing.failure.kind, missing.describe()
        raise missing

    async def _attempt(self, job: InferenceJob, ask: Ask) -> tuple[Attempt, Verdict]:
        run, route = self.run_ctx, ask.route
        spec = run.settings.models.spec(route.model, route.tier)
        cfg = run.settings.inference
        spend = spend_limit(cfg.quota_tier, cfg.spend_limit_usd_per_10min)
        limiter = run.limiters.for_model(spec, cfg.quota_window_s, spend, cfg.spend_window_s)
        ctx = await self.contexts.use(route.model)
        tier, recreated = route.service_tier, False
        # Checked against the model that will serve, before paying.
        request = self._request(job, ask, ctx, tier)
        est = job.est_prompt_tokens + (ctx.tokens if ctx else 0)
        tries = 0  # per tier: moving from Flex to Standard starts a fresh count
        while True:
            ticket = await limiter.acquire(
                est, self._input_cost(route.model, est, tier) if spend is not None else 0.0,
                stop=run.stop)
            if run.budget.reached:  # checked at the last moment before paying
                limiter.release(ticket, refused=True)
                raise _BudgetReached
            try:
                if run.gate is not None:
                    await unless_stopped(run.stop, run.gate(route.model, est))
                if run.stop.requested:  # the last moment before paying, as the budget
                    raise RunStopped(run.stop.reason)
            except RunStopped:
                limiter.release(ticket, refused=True)
                raise
            started = time.monotonic()
            tries += 1
            limiter.sending(ticket)
            try:
                response = await within_grace(run.stop, self._send(request), cfg.stop_grace_s)
            except CallAbandoned:
                limiter.release(ticket)  # sent: it counts in the window
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                failure = classify(exc, named_cache=bool(ctx and ctx.cached))
                flex_shed = failure.shed and tier is ServiceTier.FLEX
                if failure.per_day:  # before the slot is freed: nobody else is sent
                    limiter.stop_for_the_day(failure.quota or "per-day quota")
                limiter.release(ticket, refused=failure.code == 429 or flex_shed)
                if failure.kind is FailureKind.CACHE_GONE and not recreated and ctx:
                    ctx, recreated = await self.contexts.recreate(route.model, ctx.cache_name), True
                    request = self._request(job, ask, ctx, tier)
                    continue
                if failure.code == 429 or flex_shed:
                    limiter.on_throttled(failure.retry_after_s, failure.quota,
                                         learn=failure.code == 429,
                                         quota_value=failure.quota_value,
                                         sent_at=ticket.sent_at)
                delay = backoff_s(tries - 1, failure, cfg.backoff_base_s, cfg.backoff_max_s,
                                  self._rng)
                if flex_shed and (tries >= cfg.max_attempts or not self._flex_still_fits(delay)):
                    tier, tries = ServiceTier.STANDARD, 0  # the deadline needs Standard now
                    request = self._request(job, ask, ctx, tier)
                    continue
                if not failure.transient or tries >= cfg.max_attempts:
                    raise _CallGaveUp(failure, tries) from exc
                await unless_stopped(run.stop, asyncio.sleep(delay))
                continue
            called_at = response_time(response)
            attempt, verdict = priced_attempt(
                run, job.item, route, request, response, requested=route.service_tier,
                served=served_tier(response, tier), called_at=called_at,
                cached_content=ctx.cache_name if ctx else None)
            limiter.release(ticket, attempt.usage.prompt_tokens)
            limiter.on_success()
            limiter.record_cost(ticket, attempt.cost_usd)
            if ctx is not None and ctx.cached:  # by Google's clock: near its expiry?
                await self.contexts.used(ctx, called_at)
            attempt.latency_s = round(time.monotonic() - started, 4)
            attempt.transient_retries = tries - 1
            return attempt, verdict

    def _input_cost(self, model: str, tokens: int, tier: ServiceTier) -> float:
        """A lower bound of the call's price for the spend limit; corrected when answered."""
        try:
            return float(self.run_ctx.prices.price_call(model, Usage(prompt_tokens=tokens), tier))
        except Exception:  # noqa: BLE001 - an unpriced model or tier: no estimate
            return 0.0

    def _flex_still_fits(self, delay_s: float) -> bool:
        run = self.run_ctx
        if run.deadline_at is None:
            return True
        reserve = run.policy.service_tier.standard_reserve_s
        return time.time() + delay_s + reserve < run.deadline_at

    def _request(self, job: InferenceJob, ask: Ask, ctx: ContextUse | None,
                 tier: ServiceTier) -> ModelRequest:
        run = self.run_ctx
        request = build_request(job, ask.route.model, ctx, ask.thinking, catalogue=run.catalogue,
                                max_output_tokens=ask.cap, tier=tier)
        if run.labels:  # not part of the answer's key: a label never changes an answer
            request.config.labels = dict(run.labels)
        check_wire(request, run.settings.inference.api)  # before paying, as the rest
        return request
