"""What a run will cost before it starts: tokens counted by the API, priced by plan.

Output sizes cannot be counted in advance; they are assumed and the estimate says so:
the answer by task, the thinking by model. Google documents that 2.5 Flash and Pro think
by default with a dynamic budget and 2.5 Flash-Lite does not
(https://ai.google.dev/gemini-api/docs/thinking, DESIGN.md §7), and that thoughts bill as
output, but not how much a model thinks: both figures below are ours. The report's
per-model ``thoughts_tokens`` is what to set them from."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from google import genai
from google.genai import types
from pydantic import BaseModel

from flashfirst.caching.decision import CacheDecision
from flashfirst.catalogue import Catalogue, load_catalogue
from flashfirst.errors import BudgetExceeded
from flashfirst.inference.engine import InferenceJob
from flashfirst.items import TaskKind
from flashfirst.prices import PriceTable, usd
from flashfirst.prompts import prompt_for
from flashfirst.settings import ModelTier

# Assumed answer sizes (tokens, thinking excluded) for pricing before the fact.
ASSUMED_ANSWER_TOKENS: dict[TaskKind, int] = {
    TaskKind.CLASSIFY: 20, TaskKind.EXTRACT: 400, TaskKind.SUMMARIZE: 300,
    TaskKind.TRANSCRIBE: 1500, TaskKind.ANSWER: 300, TaskKind.CODE: 2000,
    TaskKind.REASON: 2000, TaskKind.CREATIVE: 1500,
}
# Assumed thinking per call, by catalogue tier: the task does not decide how long a model
# thinks (a one-word classification on Flash still thinks), the model does. Flash-Lite
# does not think unless asked; our calls never ask.
ASSUMED_THINKING_TOKENS: dict[ModelTier, int] = {
    ModelTier.FLASH_LITE: 0, ModelTier.FLASH: 800, ModelTier.PRO: 800,
}
_COUNT_CONCURRENCY = 16


class RunEstimate(BaseModel):
    items: int
    input_tokens: int
    assumed_output_tokens: int
    assumed_thinking_tokens: int = 0
    usd: float
    per_model_usd: dict[str, float]
    cache_usd: float
    budget_usd: float | None = None

    def summary(self) -> str:
        return (f"{self.items} items, {self.input_tokens:,} input tokens (counted), "
                f"{self.assumed_output_tokens:,} output tokens (assumed, "
                f"{self.assumed_thinking_tokens:,} of them thinking): ${self.usd:.6f}"
                + (f" against a budget of ${self.budget_usd}" if self.budget_usd else ""))


async def count_job_tokens(client: genai.Client, jobs: list[InferenceJob]) -> list[int]:
    """The API's own count for each item's request (without the shared context)."""
    gate = asyncio.Semaphore(_COUNT_CONCURRENCY)

    async def count(job: InferenceJob) -> int:
        parts = [*job.parts]
        if job.item.text:
            parts.append(types.Part(text=job.item.text))
        parts.append(types.Part(text=prompt_for(job.item)))
        async with gate:
            counted = await client.aio.models.count_tokens(
                model=job.route.model, contents=[types.Content(role="user", parts=parts)])
        return counted.total_tokens or 0

    return list(await asyncio.gather(*(count(j) for j in jobs)))


def price_plan(jobs: list[InferenceJob], counts: list[int], context_tokens: int,
               decisions: list[CacheDecision], prices: PriceTable,
               budget_usd: float | None, models: Catalogue | None = None) -> RunEstimate:
    """Each job priced as the model that will serve its route today (a retired id's
    replacement, a re-routed id's new model), as the engine will price the call."""
    models = models or load_catalogue()
    cached_models = {d.model for d in decisions if d.create}
    per_model: dict[str, Decimal] = {}
    out_total = thinking_total = 0
    for job, n in zip(jobs, counts, strict=True):
        requested = job.route.model
        model = _billed_as(requested, prices, models)
        thinking = ASSUMED_THINKING_TOKENS[job.route.tier]
        out = assumed_output_tokens(job)
        out_total += out
        thinking_total += thinking
        cached = context_tokens if requested in cached_models else 0
        cost = prices.price_tokens(model, input_tokens=n + context_tokens - cached,
                                   cached_tokens=cached, output_tokens=out,
                                   tier=job.route.service_tier)
        per_model[model] = per_model.get(model, Decimal(0)) + cost
    cache = sum((prices.cache_write(_billed_as(d.model, prices, models), d.context_tokens)
                 + prices.cache_storage(_billed_as(d.model, prices, models), d.context_tokens,
                                        d.ttl_s)
                 for d in decisions if d.create), Decimal(0))
    total = sum(per_model.values(), Decimal(0)) + cache
    return RunEstimate(items=len(jobs), input_tokens=sum(counts) + context_tokens * len(jobs),
                       assumed_output_tokens=out_total,
                       assumed_thinking_tokens=thinking_total, usd=usd(total),
                       per_model_usd={m: usd(c) for m, c in per_model.items()},
                       cache_usd=usd(cache), budget_usd=budget_usd)


def assumed_output_tokens(job: InferenceJob) -> int:
    """The answer the task usually needs plus what its model tier thinks by default."""
    return ASSUMED_ANSWER_TOKENS[job.item.task] + ASSUMED_THINKING_TOKENS[job.route.tier]


def _billed_as(model: str, prices: PriceTable, models: Catalogue) -> str:
    served = models.served_id(model)
    return served if served in prices.models else model


def check_budget(estimate: RunEstimate) -> None:
    if estimate.budget_usd is not None and estimate.usd > estimate.budget_usd:
        raise BudgetExceeded(
            f"estimated ${estimate.usd:.6f} exceeds the budget of ${estimate.budget_usd}: "
            f"run not started ({estimate.summary()})")
