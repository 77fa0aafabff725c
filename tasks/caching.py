"""Ensuring the shared context's caches before inference, and letting them go after
(``flashfirst/caching/run_caches.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.caching.record import CacheRecord
from flashfirst.caching.run_caches import CachePlan, finish_run_caches, plan_caches
from flashfirst.inference.job import InferenceJob
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="ensure-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def ensure_caches(context: PreparedContext | None, pending: Sequence[InferenceJob],
                  settings: Settings, run_id: str) -> CachePlan:
    """A cache per model where the break-even over ``pending`` says it pays."""
    plan = plan_caches(context, pending, run_context(settings), run_id)
    for decision in plan.decisions:
        get_run_logger().info("cache for %s: %s", decision.model, decision.reason)
    return plan


@task(name="finish-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def finish_caches(run_id: str, keep_for_s: float,
                  settings: Settings) -> tuple[list[CacheRecord], int]:
    """Keep the run's caches for the reuse window, or delete them."""
    return finish_run_caches(run_id, keep_for_s, run_context(settings))
