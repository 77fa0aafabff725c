"""Estimating a run before any paid call, and refusing it above the budget."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.estimate import (
    ASSUMED_ANSWER_TOKENS,
    RunEstimate,
    check_budget,
    count_job_tokens,
    price_plan,
)
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.segments import calls_of
from flashfirst.planning import cache_decisions
from flashfirst.run_context import run_context
from flashfirst.settings import Settings
from flashfirst.thinking_figures import load_figures


@task(name="estimate-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def estimate_run(jobs: list[InferenceJob], context: PreparedContext | None,
                 settings: Settings, budget_usd: float | None,
                 fitted: list[str] | None = None) -> RunEstimate:
    """``jobs``: those still to be sent. Raises ``BudgetExceeded`` above the budget.
    ``fitted``: what fitting did to items over their window (said in the estimate)."""
    shared = run_context(settings)
    # A split item is priced as its calls: each segment and the combining call.
    calls = [c for j in jobs for c in calls_of(j, ASSUMED_ANSWER_TOKENS[j.item.task])]
    counts = (asyncio.run(count_job_tokens(shared.client, calls, shared.catalogue))
              if calls else [])
    estimate = price_plan(calls, counts, context.tokens if context else 0,
                          cache_decisions(context, jobs, settings, shared.prices),
                          shared.prices, budget_usd, shared.catalogue, policy=shared.policy,
                          figures=load_figures(shared.storage, settings.storage_root))
    estimate = estimate.model_copy(update={"items": len(jobs), "calls": len(calls),
                                           "fitted": fitted or []})
    log = get_run_logger()
    (log.warning if estimate.warnings else log.info)("estimate: %s", estimate.summary())
    check_budget(estimate)
    return estimate
