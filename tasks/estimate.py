"""Estimating a run before any paid call, and refusing it above the budget."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.estimate import RunEstimate, check_budget, count_job_tokens, price_plan
from flashfirst.inference.job import InferenceJob
from flashfirst.planning import cache_decisions
from flashfirst.run_context import run_context
from flashfirst.settings import Settings
from flashfirst.thinking_figures import load_figures


@task(name="estimate-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def estimate_run(jobs: list[InferenceJob], context: PreparedContext | None,
                 settings: Settings, budget_usd: float | None) -> RunEstimate:
    """``jobs``: those still to be sent. Raises ``BudgetExceeded`` above the budget."""
    shared = run_context(settings)
    counts = (asyncio.run(count_job_tokens(shared.client, jobs, shared.catalogue))
              if jobs else [])
    estimate = price_plan(jobs, counts, context.tokens if context else 0,
                          cache_decisions(context, jobs, settings, shared.prices),
                          shared.prices, budget_usd, shared.catalogue, policy=shared.policy,
                          figures=load_figures(shared.storage, settings.storage_root))
    log = get_run_logger()
    (log.warning if estimate.warnings else log.info)("estimate: %s", estimate.summary())
    check_budget(estimate)
    return estimate
