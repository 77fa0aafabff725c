"""One item through the model: rate-limited, retried when transient, validated, escalated
along the policy's ladder (more thinking first, then a tier up; an answer starved by
thinking first gets a larger output cap on the same model), priced, and persisted so a
re-run never pays for it again."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

from google import genai
from google.genai import types

from flashfirst.catalogue import Catalogue, load_catalogue
from flashfirst.context import ContextProvider, ContextUse, StaticContexts
from flashfirst.errors import FlashfirstError, QuotaExhausted, RefusedBeforeCall
from flashfirst.failures import FailureKind, budget_reached
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.interactions_call import SERVED_TIER_HEADER, check_wire, sender
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import PROCESS, Limiters, spend_limit
from flashfirst.inference.request import ModelRequest, build_request, request_key
from flashfirst.inference.retry import CallFailure, backoff_s, classify
from flashfirst.inference.validation import Verdict, judge
from flashfirst.items import Attempt, ItemResult, Route, ServiceTier, Usage
from flashfirst.priced_as import price_row_model, stand_in
from flashfirst.prices import PriceTable
from flashfirst.router import RoutingPolicy, next_step
from flashfirst.settings import Settings
from flashfirst.stopping import (
    STOP,
    CallAbandoned,
    RunStopped,
    StopRequest,
    unless_stopped,
    within_grace,
)
from flashfirst.thinking import Effort

# Called before each request with (model, estimated tokens): a limit shared beyond this
# process (Prefect global concurrency limits), see tasks/inference.py.
Gate = Callable[[str, int], Awaitable[None]]


class Budget:
    """Running spend shared by every call of a run; dispatch stops when it is reached."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit = Decimal(str(limit_usd)) if limit_usd is not None else None
        self.spent = Decimal(0)
        self._lock = threading.Lock()

    def add(self, cost: Decimal) -> None:
        with self._lock:
            self.spent += cost

    @property
    def reached(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    def settle(self) -> None:
        """The holder is done with it: a shared budget takes back what was not spent
        (``flashfirst.inference.shared_budget``); a local one has nothing to return."""


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


class Engine:
    def __init__(self, client: genai.Client, settings: Settings, prices: PriceTable,
                 policy: RoutingPolicy, *, contexts: ContextProvider | None = None,
                 answers: AnswerStore | None = None, budget: Budget | None = None,
                 deadline_at: float | None = None, gate: Gate | None = None,
                 limiters: Limiters | None = None, catalogue: Catalogue | None = None,
                 stop: StopRequest = STOP, seed: int = 0,
                 labels: dict[str, str] | None = None) -> None:
        self.client, self.settings, self.prices, self.policy = client, settings, prices, policy
        self.contexts = contexts or StaticContexts()
        self.answers, self.budget = answers, budget or Budget(None)
        self.deadline_at = deadline_at  # time.time() by which the run should be done
        self.gate = gate  # optional async (model, tokens) -> None shared across processes
        self.limiters = limiters or PROCESS
        self.catalogue = catalogue or load_catalogue(settings.model_catalogue_path)
        self.stop = stop  # read before every dispatch: after it, nothing new is sent
        self._rng = random.Random(seed)
        self.labels = labels  # billing labels on every call (the Agent Platform only)
        cfg = settings.inference  # generateContent or the Interactions API: same answers
        self._send = sender(client, cfg.api, store=cfg.interactions_store)

    async def run(self, job: InferenceJob) -> ItemResult:
        item = job.item
        result = ItemResult(id=item.id, task=item.task, route=job.route)
        first_ctx = await self.contexts.use(job.route.model)
        key = request_key(job, job.route.model, self.policy, self.catalogue,
                          first_ctx.content_hash if first_ctx else None)
        if self.answers is not None and (done := self.answers.get(key)) is not None:
            return done.model_copy(update={"reused": True, "route": job.route})
        route, asked, step, index = job.route, self.policy.thinking_for(item), "route", 0
        cap = self.policy.max_output_for(item)
        while True:  # the route, then the policy's ladder: at most two extra attempts
            try:
                attempt, verdict = await self._attempt(job, route, asked, cap)
            except RefusedBeforeCall as refused:
                return result.fail(refused.kind, f"refused before any call: {refused}")
            except QuotaExhausted as exhausted:
                return result.fail(FailureKind.DAILY_QUOTA, f"not dispatched: {exhausted}")
            except _BudgetReached:
                stop = budget_reached(self.budget.limit, self.budget.spent)
                return result.fail(stop.kind, stop.message)
            except RunStopped:
                stopped = self.stop.failure()
                return result.fail(stopped.kind, stopped.message)
            except CallAbandoned as abandoned:
                return result.fail(self.stop.failure().kind, f"stopped: {abandoned}")
            except _CallGaveUp as gave_up:
                return result.fail(gave_up.failure.kind, gave_up.describe())
            attempt.step = step
            result.attempts.append(attempt)
            if verdict.ok:
                result.output = verdict.output
                break
            raised = any(a.step == "cap" for a in result.attempts)
            larger = self._larger_cap(route, cap) if verdict.starved and not raised else None
            if larger is not None:  # the first rung: room to answer, not a dearer model
                result.escalated = True
                cap, step, index = larger, "cap", index + 1
                continue
            nxt = next_step(self.policy, item, index, route, asked, self.settings.models,
                            verdict.error or "invalid answer")
            if nxt is None:
                failure = verdict.failure(route.model)
                result.fail(failure.kind, failure.message)
                break
            result.escalated = True
            route, asked, step, index = nxt.route, nxt.thinking, nxt.step, nxt.index
        if job.calibrate and not result.attempts[0].thinking.at_default:
            result.calibration = await self._calibrate(job)
        if result.ok and self.answers is not None:
            self.answers.put(key, result)
        return result

    async def _calibrate(self, job: InferenceJob) -> Attempt | None:
        """The first call again at the model's default thinking: what "default" would have
        spent, measured (the thinking lever's sample). A failure here fails nothing."""
        try:
            attempt, _ = await self._attempt(job, job.route, Effort.DEFAULT,
                                             self.policy.max_output_for(job.item))
        except (_BudgetReached, _CallGaveUp, RefusedBeforeCall, QuotaExhausted, RunStopped,
                CallAbandoned):
            return None
        attempt.step = "calibration"
        return attempt

    def _larger_cap(self, route: Route, cap: int | None) -> int | None:
        """A starved answer's cap grown fourfold (at least 4,096 more), within what the
        serving model may return; None when it cannot grow. Only tokens used are billed,
        so the larger cap costs the answer, not the cap."""
        serving = self.catalogue.find(self.catalogue.served_id(route.model))
        limit = serving.output_token_limit if serving is not None else None
        if cap is None or limit is None or cap >= limit:
            return None
        return min(limit, max(4 * cap, cap + 4096))

    async def _attempt(self, job: InferenceJob, route: Route, asked: str | None,
                       cap: int | None) -> tuple[Attempt, Verdict]:
        spec = self.settings.models.spec(route.model, route.tier)
        cfg = self.settings.inference
        spend = spend_limit(cfg.quota_tier, cfg.spend_limit_usd_per_10min)
        limiter = self.limiters.for_model(spec, cfg.quota_window_s, spend, cfg.spend_window_s)
        ctx = await self.contexts.use(route.model)
        tier, recreated = route.service_tier, False
        # Checked against the model that will serve, before paying.
        request = self._request(job, route, ctx, asked, tier, cap)
        est = job.est_prompt_tokens + (ctx.tokens if ctx else 0)
        tries = 0  # per tier: moving from Flex to Standard starts a fresh count
        while True:
            ticket = await unless_stopped(self.stop, limiter.acquire(
                est, self._input_cost(route.model, est, tier) if spend is not None else 0.0))
            if self.budget.reached:  # checked at the last moment before paying
                limiter.release(ticket, refused=True)
                raise _BudgetReached
            try:
                if self.gate is not None:
                    await unless_stopped(self.stop, self.gate(route.model, est))
                if self.stop.requested:  # the last moment before paying, as the budget
                    raise RunStopped(self.stop.reason)
            except RunStopped:
                limiter.release(ticket, refused=True)
                raise
            started = time.monotonic()
            tries += 1
            try:
                response = await within_grace(self.stop, self._send(request), cfg.stop_grace_s)
            except CallAbandoned:
                limiter.release(ticket)  # sent: it counts in the window
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                failure = classify(exc, named_cache=bool(ctx and ctx.cached))
                flex_shed = failure.shed and tier is ServiceTier.FLEX
                if failure.per_day:  # before the slot is freed: nobody else is sent
                    limiter.stop_for_the_day(failure.quota or "per-day quota")
                limiter.release(ticket, refused=failure.code == 429 or flex_shed)
                if failure.kind is FailureKind.CACHE_GONE and not recreated:
                    ctx, recreated = await self.contexts.recreate(route.model, ctx.cache_name), True
                    request = self._request(job, route, ctx, asked, tier, cap)
                    continue
                if failure.code == 429 or flex_shed:
                    limiter.on_throttled(failure.retry_after_s, failure.quota,
                                         learn=failure.code == 429)
                delay = backoff_s(tries - 1, failure, cfg.backoff_base_s, cfg.backoff_max_s,
                                  self._rng)
                if flex_shed and (tries >= cfg.max_attempts or not self._flex_still_fits(delay)):
                    tier, tries = ServiceTier.STANDARD, 0  # the deadline needs Standard now
                    request = self._request(job, route, ctx, asked, tier, cap)
                    continue
                if not failure.transient or tries >= cfg.max_attempts:
                    raise _CallGaveUp(failure, tries) from exc
                await unless_stopped(self.stop, asyncio.sleep(delay))
                continue
            usage = Usage.from_sdk(response.usage_metadata)
            limiter.release(ticket, usage.prompt_tokens)
            limiter.on_success()
            served = _served_tier(response, tier)
            called_at = response_time(response)
            served_model = served_model_of(response)
            day = called_at.date()
            cost = self.prices.price_call(
                price_row_model(route.model, served_model, day, self.prices, self.catalogue),
                usage, served, called_at)
            self.budget.add(cost)
            limiter.record_cost(ticket, float(cost))
            if ctx is not None and ctx.cached:  # by Google's clock: near its expiry?
                await self.contexts.used(ctx, called_at)
            verdict = judge(response, job.item.response_schema, job.item.check)
            return Attempt(
                model=route.model, served_model=served_model, called_at=called_at,
                priced_as=stand_in(route.model, served_model, day, self.prices, self.catalogue),
                service_tier_requested=route.service_tier,
                service_tier_served=served, usage=usage, cost_usd=float(cost), ok=verdict.ok,
                finish_reason=verdict.finish_reason, validation_error=verdict.error,
                latency_s=round(time.monotonic() - started, 4), transient_retries=tries - 1,
                cached_content=ctx.cache_name if ctx else None,
                thinking=request.thinking, max_output_tokens=request.config.max_output_tokens,
            ), verdict

    def _input_cost(self, model: str, tokens: int, tier: ServiceTier) -> float:
        """A lower bound of the call's price for the spend limit; corrected when answered."""
        try:
            return float(self.prices.price_call(model, Usage(prompt_tokens=tokens), tier))
        except Exception:  # noqa: BLE001 - an unpriced model or tier: no estimate
            return 0.0

    def _flex_still_fits(self, delay_s: float) -> bool:
        if self.deadline_at is None:
            return True
        reserve = self.policy.service_tier.standard_reserve_s
        return time.time() + delay_s + reserve < self.deadline_at

    def _request(self, job: InferenceJob, route: Route, ctx: ContextUse | None,
                 asked: str | None, tier: ServiceTier, cap: int | None) -> ModelRequest:
        request = build_request(job, route.model, ctx, asked, catalogue=self.catalogue,
                                max_output_tokens=cap, tier=tier)
        if self.labels:  # not part of the answer's key: a label never changes an answer
            request.config.labels = dict(self.labels)
        check_wire(request, self.settings.inference.api)  # before paying, as the rest
        return request


def served_model_of(response: types.GenerateContentResponse) -> str | None:
    """The model that answered, from ``modelVersion`` (bare id)."""
    version = getattr(response, "model_version", None)
    return str(version).removeprefix("models/") if version else None


def response_time(response: types.GenerateContentResponse) -> datetime:
    """When the call was made: the response's HTTP Date header (Google's clock, so the
    day's price row is Google's day), else this machine's UTC now."""
    headers = response.sdk_http_response.headers if response.sdk_http_response else None
    value = next((v for k, v in (headers or {}).items() if k.lower() == "date"), None)
    if value:
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def _served_tier(response: types.GenerateContentResponse, requested: ServiceTier) -> ServiceTier:
    """The Developer API names the served tier in a header; the Agent Platform in
    ``usageMetadata.trafficType`` (a Priority call over its limit is served, and billed,
    as Standard on both)."""
    headers = response.sdk_http_response.headers if response.sdk_http_response else None
    value = next((v for k, v in (headers or {}).items() if k.lower() == SERVED_TIER_HEADER), None)
    traffic = response.usage_metadata.traffic_type if response.usage_metadata else None
    if not value and traffic is not None:
        return _TRAFFIC_TIERS.get(traffic, requested)
    try:
        return ServiceTier(str(value).lower()) if value else requested
    except ValueError:
        return requested


# The Agent Platform's traffic types (LiteLLM PR #37724, docs.litellm.ai vertex_ai_pay_go,
# read 2026-12-02); provisioned throughput is not a tier flashfirst prices.
_TRAFFIC_TIERS = {types.TrafficType.ON_DEMAND: ServiceTier.STANDARD,
                  types.TrafficType.ON_DEMAND_FLEX: ServiceTier.FLEX,
                  types.TrafficType.ON_DEMAND_PRIORITY: ServiceTier.PRIORITY}
