"""Routing every item Flash first, with the reason kept."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.gemini.model_check import run_model_notices
from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inputs.sources import SourceParts, read_texts
from flashfirst.items import WorkItem
from flashfirst.packed import Packed
from flashfirst.planning.packed_plan import PackedPlan, plan_packed
from flashfirst.planning.router import RoutingPolicy
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="check-models", cache_policy=NO_CACHE)
def check_models(items: Sequence[WorkItem], settings: Settings) -> list[str]:
    """Say which of the run's models retire or have successors; refuse a retired one."""
    notices = run_model_notices(items, run_context(settings))
    logger = get_run_logger()
    for notice in notices:
        (logger.warning if notice.warn else logger.info)("model: %s", notice.message)
    return [n.message for n in notices]


@task(name="plan-routes", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def plan_routes(items: Packed[WorkItem], *, media: dict[str, SourceParts],
                resolutions: dict[str, MediaResolution | None],
                context: PreparedContext | None, policy: RoutingPolicy, settings: Settings,
                deadline_s: float | None, batch: bool) -> PackedPlan:
    """Each item's route and request parts, as packed jobs, a block of items at a time:
    the block's texts read, its jobs routed and looked up in the answer store (once per
    run, for the estimate and the cache decisions alike). One task run, not one a block."""
    shared = run_context(settings)
    plan = plan_packed(items, media, resolutions,
                       lambda block: read_texts(block, shared.storage, shared.client, settings),
                       shared.answers(), context, policy, shared.catalogue, settings,
                       deadline_s=deadline_s, batch=batch)
    logger = get_run_logger()
    if logger.isEnabledFor(logging.DEBUG):
        for job in plan.jobs:
            logger.debug("route %s → %s (%s)", job.item.id, job.route.model, job.route.reason)
    return plan
