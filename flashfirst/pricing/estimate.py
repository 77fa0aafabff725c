"""What a run will cost before it starts: tokens counted by the API, priced by plan.

Output sizes cannot be counted in advance; the estimate says how it sized them: the
answer by task (``ASSUMED_ANSWER_TOKENS``, ours), the thinking per call by what the call
will send to the model that will serve it: the mean thoughts measured for that task,
model and setting in earlier runs (``thinking_figures``, the calibration sample included)
when there are any, else ``thinking_figures.ASSUMED_THOUGHTS`` (ours: Google documents
that thoughts bill as output, https://ai.google.dev/gemini-api/docs/thinking, not how
many a model spends)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from google import genai
from pydantic import BaseModel, Field

from flashfirst.caching.decision import CacheDecision
from flashfirst.errors import BudgetExceeded, RefusedBeforeCall
from flashfirst.gemini.catalogue import Catalogue, load_catalogue
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.request import build_request, request_contents
from flashfirst.inputs.skipped import SkippedInput, skipped_line
from flashfirst.items import TaskKind
from flashfirst.planning.router import RoutingPolicy
from flashfirst.planning.thinking_figures import ASSUMED_THOUGHTS, ThinkingFigures, assumed_thoughts
from flashfirst.pricing.priced_as import price_row_model
from flashfirst.pricing.prices import PriceTable, usd

# Assumed answer sizes (tokens, thinking excluded) for pricing before the fact.
ASSUMED_ANSWER_TOKENS: dict[TaskKind, int] = {
    TaskKind.CLASSIFY: 20, TaskKind.EXTRACT: 400, TaskKind.SUMMARIZE: 300,
    TaskKind.TRANSCRIBE: 1500, TaskKind.ANSWER: 300, TaskKind.CODE: 2000,
    TaskKind.REASON: 2000, TaskKind.CREATIVE: 1500,
}
_COUNT_CONCURRENCY = 16


class RunEstimate(BaseModel):
    items: int
    input_tokens: int
    assumed_output_tokens: int
    assumed_thinking_tokens: int = 0
    thinking_source: str = Field("assumed", description="Where the thinking figures came "
                                 "from: 'measured in earlier runs', 'assumed' or both.")
    usd: float
    per_model_usd: dict[str, float]
    cache_usd: float
    budget_usd: float | None = None
    skipped_inputs: list[SkippedInput] = Field(
        default_factory=list, description="Files the source holds that no task takes.")
    warnings: list[str] = Field(default_factory=list, description="Caps below the thoughts "
                                "expected: such answers may be starved (no text, billed).")
    calls: int | None = Field(None, description="Calls the items will make (a split item "
                              "makes one per segment and one combining them).")
    fitted: list[str] = Field(default_factory=list, description="Items fitted to their "
                              "model's window: how, and the tokens before and after.")

    def summary(self) -> str:
        skipped = skipped_line(self.skipped_inputs)
        return (f"{self.items} items, {self.input_tokens:,} input tokens (counted), "
                f"{self.assumed_output_tokens:,} output tokens (assumed, "
                f"{self.assumed_thinking_tokens:,} of them thinking, "
                f"{self.thinking_source}): ${self.usd:.6f}"
                + (f" against a budget of ${self.budget_usd}" if self.budget_usd else "")
                + (f" in {self.calls} calls" if self.calls not in (None, self.items) else "")
                + "".join(f"\nfitted: {f}" for f in self.fitted)
                + (f"\n{skipped}" if skipped else "")
                + "".join(f"\nwarning: {w}" for w in self.warnings))


async def count_job_tokens(client: genai.Client, jobs: list[InferenceJob],
                           models: Catalogue | None = None) -> list[int]:
    """The API's own count for each item's request as the engine will send it (its parts
    under the serving model's token rules), without the shared context (counted once)."""
    models = models or load_catalogue()
    gate = asyncio.Semaphore(_COUNT_CONCURRENCY)

    async def count(job: InferenceJob) -> int:
        serving = models.find(models.served_id(job.route.model))
        async with gate:
            counted = await client.aio.models.count_tokens(
                model=job.route.model, contents=request_contents(job, None, serving))
        return counted.total_tokens or 0

    return list(await asyncio.gather(*(count(j) for j in jobs)))


def price_plan(jobs: list[InferenceJob], counts: list[int], context_tokens: int,
               decisions: list[CacheDecision], prices: PriceTable,
               budget_usd: float | None, models: Catalogue | None = None, *,
               policy: RoutingPolicy | None = None,
               figures: ThinkingFigures | None = None) -> RunEstimate:
    """Each job priced as the model that will serve its route today (a retired id's
    replacement, a re-routed id's new model), as the engine will price the call, with
    the thinking the policy will send it."""
    models = models or load_catalogue()
    policy, figures = policy or RoutingPolicy(), figures or ThinkingFigures()
    cached_models = {d.model for d in decisions if d.create}
    per_model: dict[str, Decimal] = {}
    out_total = thinking_total = 0
    sources: set[str] = set()
    starved: dict[tuple[str, str, int], list[str]] = {}
    for job, n in zip(jobs, counts, strict=True):
        requested = job.route.model
        model = _billed_as(requested, prices, models)
        thoughts, source = _thoughts(job, model, policy, figures, models)
        sources.add(source)
        cap = policy.max_output_for(job.item)
        if cap is not None and thoughts and cap <= thoughts:
            starved.setdefault((job.item.task.value, model, cap), []).append(
                f"{thoughts:,} ({source})")
        out = ASSUMED_ANSWER_TOKENS[job.item.task] + thoughts
        out_total += out
        thinking_total += thoughts
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
                       assumed_thinking_tokens=thinking_total,
                       thinking_source=" and ".join(sorted(sources)) or "assumed",
                       usd=usd(total),
                       per_model_usd={m: usd(c) for m, c in per_model.items()},
                       cache_usd=usd(cache), budget_usd=budget_usd,
                       warnings=[_starved_warning(*key, expected)
                                 for key, expected in starved.items()])


def _starved_warning(task: str, model: str, cap: int, expected: list[str]) -> str:
    return (f"{len(expected)} {task} item(s) on {model} have max_output_tokens {cap:,}, not "
            f"above the thoughts expected per call ({', '.join(sorted(set(expected)))}): "
            "thinking shares the cap, so such an answer may come back empty and still be "
            "billed; raise the cap or ask for less thinking")


def _thoughts(job: InferenceJob, model: str, policy: RoutingPolicy, figures: ThinkingFigures,
              models: Catalogue) -> tuple[int, str]:
    """Thoughts per call, for the thinking its request will carry: measured in earlier
    runs for this task, model and setting, else the documented assumption. A model
    outside the catalogue: the medium assumption."""
    try:
        request = build_request(job, job.route.model, None, policy.thinking_for(job.item),
                                catalogue=models, max_output_tokens=None, tier=None)
    except RefusedBeforeCall:
        return 0, "assumed"  # refused before any call: costs nothing
    if request.serving is None:
        return ASSUMED_THOUGHTS["medium"], "assumed"
    figure = figures.measured(job.item.task.value, model, request.thinking)
    if figure is not None:
        return round(figure.mean), "measured in earlier runs"
    return assumed_thoughts(request.thinking, request.serving), "assumed"


def _billed_as(model: str, prices: PriceTable, models: Catalogue) -> str:
    """The row that will price ``model``'s calls today: as the cost stage picks it."""
    return price_row_model(model, None, None, prices, models)


def check_budget(estimate: RunEstimate) -> None:
    if estimate.budget_usd is not None and estimate.usd > estimate.budget_usd:
        raise BudgetExceeded(
            f"estimated ${estimate.usd:.6f} exceeds the budget of ${estimate.budget_usd}: "
            f"run not started ({estimate.summary()})")


def assumed_output_tokens(job: InferenceJob) -> int:
    """A call's output before any catalogue lookup (the mode choice compares tiers priced
    alike per token, so only the scale matters): the task's answer, medium thinking."""
    return ASSUMED_ANSWER_TOKENS[job.item.task] + ASSUMED_THOUGHTS["medium"]
