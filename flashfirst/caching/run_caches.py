"""One run's caches of its shared context: found or created per model where the
break-even says they pay, before inference; kept for the reuse window or deleted after.
What the run's chunks do to them meanwhile (extensions, recreations) is in the run's
state (``flashfirst/run/state.py``), which both ends read."""

from __future__ import annotations

from pydantic import BaseModel, Field

from flashfirst.caching.decision import CacheDecision, worth_keeping_s
from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.caching.record import CacheRecord
from flashfirst.inference.job import InferenceJob
from flashfirst.inputs.context import ContextUse
from flashfirst.items import ServiceTier
from flashfirst.planning.jobs import cache_decisions
from flashfirst.run.context import RunContext
from flashfirst.run.state import RunState
from flashfirst.settings import BackendKind


class CachePlan(BaseModel):
    decisions: list[CacheDecision] = Field(default_factory=list)
    uses: dict[str, ContextUse] = Field(default_factory=dict)
    ttl_s: float = 0.0
    api_calls: int = 0


def plan_caches(context: PreparedContext | None, pending: list[InferenceJob],
                shared: RunContext, run_id: str) -> CachePlan:
    """Decide per model on ``pending`` alone (answers already paid for need no cache) and
    create the caches decided; their records go to the run's state."""
    settings = shared.settings
    if settings.backend.kind is BackendKind.VERTEX:  # platform batch reads no explicit cache
        pending = [j for j in pending if j.route.service_tier is not ServiceTier.BATCH]
    if context is None or not pending:
        return CachePlan(decisions=cache_decisions(context, pending, settings, shared.prices))
    manager = CacheManager(shared.client, shared.storage, settings.storage_root, shared.backend,
                           RunState(shared.storage, settings.storage_root, run_id),
                           catalogue=shared.catalogue)
    decisions = cache_decisions(context, pending, settings, shared.prices,
                                live=lambda model: manager.find(context.content_hash, model))
    plan = CachePlan(decisions=decisions)
    for decision in decisions:
        if decision.create:
            plan.uses[decision.model] = manager.ensure(context, decision.model, decision.ttl_s)
            plan.ttl_s = max(plan.ttl_s, decision.ttl_s)
    plan.api_calls = manager.api_calls
    return plan


def finish_run_caches(run_id: str, keep_for_s: float, shared: RunContext
                      ) -> tuple[list[CacheRecord], int]:
    """Keep the run's caches (as its state records them, whichever chunk made or extended
    them) for ``keep_for_s``, or delete them (0); never longer than the storage
    break-even, past which writing the cache again is cheaper. The records kept and the
    API calls made."""
    settings = shared.settings
    manager = CacheManager(shared.client, shared.storage, settings.storage_root, shared.backend,
                           catalogue=shared.catalogue)
    manager.records = {r.name: r for r in
                       RunState(shared.storage, settings.storage_root, run_id).cache_records()}
    kept = manager.finish(lambda r: min(keep_for_s, worth_keeping_s(r.model, shared.prices)))
    return kept, manager.api_calls
