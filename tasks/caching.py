"""Ensuring the shared context's caches before inference, and letting them go after."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flashfirst.caching.decision import CacheDecision, worth_keeping_s
from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.caching.record import CacheRecord
from flashfirst.context import ContextUse
from flashfirst.inference.job import InferenceJob
from flashfirst.items import ServiceTier
from flashfirst.planning import cache_decisions
from flashfirst.run_context import run_context
from flashfirst.run_state import RunState
from flashfirst.settings import Settings


class CachePlan(BaseModel):
    decisions: list[CacheDecision] = Field(default_factory=list)
    uses: dict[str, ContextUse] = Field(default_factory=dict)
    ttl_s: float = 0.0
    api_calls: int = 0


@task(name="ensure-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def ensure_caches(context: PreparedContext | None, pending: list[InferenceJob],
                  settings: Settings, run_id: str) -> CachePlan:
    """Find or create a cache for each model where the break-even says it pays, counting
    only ``pending``, the items still to be sent (answers already paid for need none).
    The records go to the run's state, where the chunks keep them (extensions,
    recreations) and ``finish_caches`` reads them."""
    shared = run_context(settings)
    if settings.backend.kind == "vertex":  # platform batch reads no explicit cache (#2122)
        pending = [j for j in pending if j.route.service_tier is not ServiceTier.BATCH]
    if context is None or not pending:
        return CachePlan(decisions=cache_decisions(context, pending, settings, shared.prices))
    manager = CacheManager(shared.client, shared.storage, settings.storage_root, shared.backend,
                           RunState(shared.storage, settings.storage_root, run_id),
                           catalogue=shared.catalogue)
    decisions = cache_decisions(context, pending, settings, shared.prices,
                                live=lambda model: manager.find(context.content_hash, model))
    logger = get_run_logger()
    plan = CachePlan(decisions=decisions)
    for decision in decisions:
        logger.info("cache for %s: %s", decision.model, decision.reason)
        if decision.create:
            plan.uses[decision.model] = manager.ensure(context, decision.model, decision.ttl_s)
            plan.ttl_s = max(plan.ttl_s, decision.ttl_s)
    plan.api_calls = manager.api_calls
    return plan


@task(name="finish-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def finish_caches(run_id: str, keep_for_s: float,
                  settings: Settings) -> tuple[list[CacheRecord], int]:
    """Keep the run's caches (as the run's state records them, whichever chunk made or
    extended them) for the reuse window, or delete them (window 0). Never longer than the
    storage break-even: past it, writing the cache again is cheaper."""
    shared = run_context(settings)
    manager = CacheManager(shared.client, shared.storage, settings.storage_root, shared.backend,
                           catalogue=shared.catalogue)
    manager.records = {r.name: r for r in
                       RunState(shared.storage, settings.storage_root, run_id).cache_records()}
    kept = manager.finish(lambda r: min(keep_for_s, worth_keeping_s(r.model, shared.prices)))
    return kept, manager.api_calls
