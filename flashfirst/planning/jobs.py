"""From prepared items to routed inference jobs, and from jobs to cache decisions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from flashfirst.caching.decision import CacheDecision, decide, expected_run_s
from flashfirst.caching.manager import PreparedContext
from flashfirst.gemini.catalogue import Catalogue, load_catalogue
from flashfirst.gemini.token_rules import MediaResolution, text_tokens
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.request import request_key
from flashfirst.inputs.prompts import prompt_for
from flashfirst.inputs.sources import SourceParts
from flashfirst.items import ServiceTier, WorkItem
from flashfirst.planning.calibration import mark_calibration
from flashfirst.planning.router import RoutingPolicy, route
from flashfirst.pricing.prices import PriceTable
from flashfirst.settings import Settings

# A guess at one call's latency for planning cache lifetimes; Flex targets minutes.
_PLANNING_LATENCY_S = {ServiceTier.FLEX: 300.0, ServiceTier.BATCH: 3600.0}
_DEFAULT_LATENCY_S = 10.0


def plan_jobs(items: list[WorkItem], sources: dict[str, SourceParts],
              resolutions: dict[str, MediaResolution | None], policy: RoutingPolicy,
              settings: Settings, *, context_tokens: int, deadline_s: float | None,
              batch: bool) -> list[InferenceJob]:
    """Route every item that has its parts; the route's reason is kept on the job.
    ``sources`` is taken: each item's parts go to its job, and its entry goes, so a run
    never holds both (``flashfirst/planning/packed_plan.py`` does this a block at a time)."""
    jobs = []
    for item in items:
        source = sources.pop(item.id, None)
        if source is None:
            continue  # failed before inference; the failure is already recorded
        jobs.append(job_for(item, source, resolutions.get(item.id), policy, settings,
                            context_tokens=context_tokens, deadline_s=deadline_s, batch=batch))
    mark_calibration(jobs, policy, load_catalogue(settings.model_catalogue_path),
                     settings.inference)
    return jobs


def job_for(item: WorkItem, source: SourceParts, resolution: MediaResolution | None,
            policy: RoutingPolicy, settings: Settings, *, context_tokens: int,
            deadline_s: float | None, batch: bool) -> InferenceJob:
    """One item's route and request parts."""
    est = source.tokens + text_tokens(prompt_for(item)) + context_tokens
    chosen = route(item, policy, settings.models, prompt_tokens=est, deadline_s=deadline_s,
                   batch=batch)
    return InferenceJob(item=item, route=chosen, parts=source.parts, identity=source.identity,
                        est_prompt_tokens=est - context_tokens, media_resolution=resolution,
                        segments=source.segments)


def unanswered(jobs: list[InferenceJob], answers: AnswerStore,
               context: PreparedContext | None, policy: RoutingPolicy,
               catalogue: Catalogue) -> list[InferenceJob]:
    """Jobs that will really call a model: answered ones don't need a cache. Keyed as
    the engine keys them (the request's thinking and output cap included)."""
    context_hash = context.content_hash if context else None
    return [j for j in jobs if not answers.has(
        request_key(j, j.route.model, policy, catalogue, context_hash))]


def cache_decisions(context: PreparedContext | None, jobs: list[InferenceJob],
                    settings: Settings, prices: PriceTable,
                    live: Callable[[str], bool] = lambda model: False) -> list[CacheDecision]:
    """One decision per model that receives items: cache the context there or not.
    ``live(model)`` says whether an earlier run's cache can be reused without a write."""
    if context is None or not settings.cache.enabled:
        return []
    per_model = Counter(j.route.model for j in jobs)
    tiers = {j.route.model: j.route.service_tier for j in jobs}
    catalogue = load_catalogue(settings.model_catalogue_path)
    decisions = []
    for model, n in sorted(per_model.items()):
        spec = settings.models.spec(model)
        info = catalogue.find(catalogue.served_id(model))
        implicit_min = info.implicit_cache_min if info is not None else None
        # Batch requests get no implicit discount (CONTRACT-11, batch-api page).
        if tiers[model] is ServiceTier.BATCH:
            implicit_min = None
        latency = _PLANNING_LATENCY_S.get(tiers[model], _DEFAULT_LATENCY_S)
        ttl = max(settings.cache.min_ttl_s,
                  expected_run_s(n, spec.rpm, spec.concurrency, latency)
                  * settings.cache.ttl_margin)
        decisions.append(decide(model=model, context_tokens=context.tokens, items=n,
                                ttl_s=ttl, min_tokens=spec.min_cache_tokens, prices=prices,
                                tier=tiers[model], implicit_min_tokens=implicit_min,
                                live=spec.min_cache_tokens is not None
                                and context.tokens >= spec.min_cache_tokens and live(model)))
    return decisions
