"""Estimating a run before any paid call, and refusing it above the budget."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.catalogue import load_catalogue
from flashfirst.client import make_client
from flashfirst.estimate import RunEstimate, check_budget, count_job_tokens, price_plan
from flashfirst.inference.engine import InferenceJob
from flashfirst.planning import cache_decisions
from flashfirst.prices import load_price_table
from flashfirst.router import load_routing_policy
from flashfirst.settings import Settings
from flashfirst.storage import Storage
from flashfirst.thinking_figures import load_figures


@task(name="estimate-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def estimate_run(jobs: list[InferenceJob], context: PreparedContext | None,
                 settings: Settings, budget_usd: float | None) -> RunEstimate:
    """``jobs``: those still to be sent. Raises ``BudgetExceeded`` above the budget."""
    prices = load_price_table(settings.price_table_path)
    counts = asyncio.run(count_job_tokens(make_client(settings), jobs)) if jobs else []
    estimate = price_plan(jobs, counts, context.tokens if context else 0,
                          cache_decisions(context, jobs, settings, prices), prices, budget_usd,
                          load_catalogue(settings.model_catalogue_path),
                          policy=load_routing_policy(settings.routing_policy_path),
                          figures=load_figures(Storage(), settings.storage_root))
    get_run_logger().info("estimate: %s", estimate.summary())
    check_budget(estimate)
    return estimate
