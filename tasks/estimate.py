"""Estimating a run before any paid call, and refusing it above the budget
(``flashfirst/pricing/run_estimate.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.inference.job import InferenceJob
from flashfirst.pricing.estimate import RunEstimate, check_budget
from flashfirst.pricing.run_estimate import estimate_jobs
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="estimate-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def estimate_run(jobs: Sequence[InferenceJob], context: PreparedContext | None,
                 settings: Settings, budget_usd: float | None,
                 fitted: list[str] | None = None) -> RunEstimate:
    """The pending jobs' estimate; raises ``BudgetExceeded`` above the budget."""
    estimate = estimate_jobs(jobs, context, run_context(settings), budget_usd, fitted)
    log = get_run_logger()
    (log.warning if estimate.warnings else log.info)("estimate: %s", estimate.summary())
    check_budget(estimate)
    return estimate
