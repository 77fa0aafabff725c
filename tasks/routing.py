"""Routing every item Flash first, with the reason kept."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.gemini.model_check import run_model_notices
from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inference.job import InferenceJob
from flashfirst.inputs.sources import SourceParts
from flashfirst.items import WorkItem
from flashfirst.planning.jobs import plan_jobs, unanswered
from flashfirst.planning.router import RoutingPolicy
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="check-models", cache_policy=NO_CACHE)
def check_models(items: list[WorkItem], settings: Settings) -> list[str]:
    """Say which of the run's models retire or have successors; refuse a retired one."""
    notices = run_model_notices(items, run_context(settings))
    logger = get_run_logger()
    for notice in notices:
        (logger.warning if notice.warn else logger.info)("model: %s", notice.message)
    return [n.message for n in notices]


@task(name="plan-routes", cache_policy=NO_CACHE)
def plan_routes(items: list[WorkItem], *, sources: dict[str, SourceParts],
                resolutions: dict[str, MediaResolution | None], policy: RoutingPolicy,
                settings: Settings, context_tokens: int, deadline_s: float | None,
                batch: bool) -> list[InferenceJob]:
    """Each item's route and request parts, as jobs."""
    jobs = plan_jobs(items, sources, resolutions, policy, settings,
                     context_tokens=context_tokens, deadline_s=deadline_s, batch=batch)
    logger = get_run_logger()
    for job in jobs:
        logger.debug("route %s → %s (%s)", job.item.id, job.route.model, job.route.reason)
    return jobs


@task(name="find-unanswered", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def find_unanswered(jobs: list[InferenceJob], context: PreparedContext | None,
                    settings: Settings) -> list[InferenceJob]:
    """The jobs whose answer is not stored yet: looked up once per run, for the estimate
    and the cache decisions alike."""
    shared = run_context(settings)
    return unanswered(jobs, shared.answers(), context, shared.policy, shared.catalogue)
