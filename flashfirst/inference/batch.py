"""Batch mode: the same jobs through the Gemini Batch API at half price.

One batch job per model; answers are judged exactly as online ones are, and those that
fail go up one tier in a second round of batches (escalation stays bounded to one hop).
Answers already in the store are not submitted again."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from google import genai
from google.genai import types

from flashfirst.context import ContextUse
from flashfirst.inference.answers import AnswerStore, job_key
from flashfirst.inference.engine import Budget, Engine, InferenceJob, served_model_of
from flashfirst.inference.validation import judge
from flashfirst.items import Attempt, ItemResult, Route, ServiceTier, Usage
from flashfirst.prices import PriceTable
from flashfirst.router import escalate
from flashfirst.settings import Settings

_DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
         "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"}


class BatchRunner:
    def __init__(self, client: genai.Client, settings: Settings, prices: PriceTable,
                 contexts: dict[str, ContextUse], fallback: ContextUse | None,
                 answers: AnswerStore | None, budget: Budget, poll_s: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.settings, self.prices = client, settings, prices
        self.contexts, self.fallback = contexts, fallback
        self.answers, self.budget = answers, budget
        self.poll_s, self._sleep = poll_s, sleep
        self.batch_names: list[str] = []

    def run(self, jobs: list[InferenceJob]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        keys: dict[str, str] = {}
        pending: list[tuple[InferenceJob, Route]] = []
        for job in jobs:
            ctx = self._ctx(job.route.model)
            key = job_key(job, ctx.content_hash if ctx else None)
            keys[job.item.id] = key
            done = self.answers.get(key) if self.answers else None
            if done is not None:
                results[job.item.id] = done.model_copy(update={"reused": True})
            else:
                results[job.item.id] = ItemResult(id=job.item.id, task=job.item.task,
                                                  route=job.route)
                pending.append((job, job.route))
        for hop in range(2):
            if not pending:
                break
            retry: list[tuple[InferenceJob, Route]] = []
            for job, route, outcome in self._round(pending):
                result = results[job.item.id]
                if isinstance(outcome, str):
                    result.error = outcome
                    continue
                attempt, verdict = outcome
                result.attempts.append(attempt)
                if verdict.ok:
                    result.output, result.error = verdict.output, None
                    continue
                nxt = escalate(route, self.settings.models, verdict.error) if hop == 0 else None
                if nxt is None:
                    result.error = f"answer failed validation on {route.model}: {verdict.error}"
                else:
                    result.escalated = True
                    retry.append((job, nxt))
            pending = retry
        for item_id, result in results.items():
            if result.ok and not result.reused and self.answers is not None:
                self.answers.put(keys[item_id], result)
        return [results[j.item.id] for j in jobs]

    def _round(self, pending: list[tuple[InferenceJob, Route]]):  # noqa: ANN202
        by_model: dict[str, list[tuple[InferenceJob, Route]]] = defaultdict(list)
        for job, route in pending:
            by_model[route.model].append((job, route))
        for model, group in by_model.items():
            if self.budget.reached:
                for job, route in group:
                    yield job, route, (f"not dispatched: budget of ${self.budget.limit} "
                                       f"reached (spent ${self.budget.spent:.6f})")
                continue
            ctx = self._ctx(model)
            requests = [types.InlinedRequest(
                model=model, contents=Engine._contents(job, ctx),
                config=_batch_config(Engine._config(job, ctx, ServiceTier.STANDARD)),
                metadata={"key": job.item.id}) for job, _ in group]
            batch = self.client.batches.create(
                model=model, src=requests,
                config=types.CreateBatchJobConfig(display_name=f"flashfirst-{model}"))
            self.batch_names.append(batch.name)
            batch = self._wait(batch)
            state = _state(batch)
            responses = (batch.dest.inlined_responses or []) if batch.dest else []
            for i, (job, route) in enumerate(group):
                if state != "JOB_STATE_SUCCEEDED" or i >= len(responses):
                    yield job, route, f"batch {batch.name} ended {state} without an answer"
                    continue
                answer = responses[i]
                if answer.error is not None or answer.response is None:
                    msg = answer.error.message if answer.error else "no response"
                    yield job, route, f"batch request failed: {msg}"
                    continue
                yield job, route, self._attempt(job, route, ctx, answer.response)

    def _attempt(self, job: InferenceJob, route: Route, ctx: ContextUse | None,
                 response: types.GenerateContentResponse):  # noqa: ANN202
        usage = Usage.from_sdk(response.usage_metadata)
        served = served_model_of(response)  # priced as the model that served
        cost = self.prices.price_call(served if served in self.prices.models else route.model,
                                      usage, ServiceTier.BATCH)
        self.budget.add(cost)
        verdict = judge(response, job.item.response_schema, job.item.check)
        return Attempt(
            model=route.model, served_model=served, service_tier_requested=ServiceTier.BATCH,
            service_tier_served=ServiceTier.BATCH, usage=usage, cost_usd=float(cost),
            ok=verdict.ok, finish_reason=verdict.finish_reason,
            validation_error=verdict.error,
            cached_content=ctx.cache_name if ctx else None), verdict

    def _wait(self, batch: types.BatchJob) -> types.BatchJob:
        while _state(batch) not in _DONE:
            self._sleep(self.poll_s)
            batch = self.client.batches.get(name=batch.name)
        return batch

    def _ctx(self, model: str) -> ContextUse | None:
        use = self.contexts.get(model)
        if use is None and self.fallback is not None:
            return self.fallback.model_copy(update={"model": model})
        return use


def _batch_config(config: types.GenerateContentConfig) -> types.GenerateContentConfig:
    """Batch requests carry no service tier: the batch itself is the tier."""
    return config.model_copy(update={"service_tier": None})


def _state(batch: types.BatchJob) -> str:
    return str(getattr(batch.state, "value", batch.state))
