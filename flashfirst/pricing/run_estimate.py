"""What a run's pending jobs will cost, counted with the API before any paid call: the
estimate ``--estimate-only`` prints and a budget is checked against."""

from __future__ import annotations

import asyncio

from flashfirst.caching.manager import PreparedContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.segments import calls_of
from flashfirst.planning.jobs import cache_decisions
from flashfirst.planning.thinking_figures import load_figures
from flashfirst.pricing.estimate import (
    ASSUMED_ANSWER_TOKENS,
    RunEstimate,
    count_job_tokens,
    price_plan,
)
from flashfirst.run.context import RunContext


def estimate_jobs(jobs: list[InferenceJob], context: PreparedContext | None,
                  shared: RunContext, budget_usd: float | None,
                  fitted: list[str] | None = None) -> RunEstimate:
    """``jobs``: those still to be sent; ``fitted``: what fitting did to items over their
    window (said in the estimate)."""
    settings = shared.settings
    # A split item is priced as its calls: each segment and the combining call.
    calls = [c for j in jobs for c in calls_of(j, ASSUMED_ANSWER_TOKENS[j.item.task])]
    counts = (asyncio.run(count_job_tokens(shared.client, calls, shared.catalogue))
              if calls else [])
    estimate = price_plan(calls, counts, context.tokens if context else 0,
                          cache_decisions(context, jobs, settings, shared.prices),
                          shared.prices, budget_usd, shared.catalogue, policy=shared.policy,
                          figures=load_figures(shared.storage, settings.storage_root))
    return estimate.model_copy(update={"items": len(jobs), "calls": len(calls),
                                       "fitted": fitted or []})
