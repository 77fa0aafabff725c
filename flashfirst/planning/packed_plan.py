"""Planning a run a block of items at a time: each block's texts read, its items routed
and checked against the answer store, its jobs packed, and its objects let go. A run of a
million items is never a million work items, sources and jobs as objects at once (the
flow's peak memory was there, at the start of inference)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from flashfirst.caching.manager import PreparedContext
from flashfirst.failures import Failure
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.request import request_key
from flashfirst.inputs.sources import SourceParts, needs_media_stage
from flashfirst.items import WorkItem
from flashfirst.packed import Packed
from flashfirst.planning.calibration import CalibrationSample
from flashfirst.planning.jobs import job_for
from flashfirst.planning.router import RoutingPolicy
from flashfirst.settings import Settings

ReadTexts = Callable[[list[WorkItem]], tuple[dict[str, SourceParts], dict[str, Failure]]]


class PackedPlan(BaseModel):
    """Every item's job, those whose answer is not stored yet, and the items whose text
    could not be read (by id)."""

    jobs: Packed[InferenceJob] = Field(default_factory=lambda: Packed(InferenceJob))
    pending: Packed[InferenceJob] = Field(default_factory=lambda: Packed(InferenceJob))
    failures: dict[str, Failure] = Field(default_factory=dict)


def plan_packed(items: Packed[WorkItem], media: dict[str, SourceParts],
                resolutions: dict[str, MediaResolution | None], read_texts: ReadTexts,
                answers: AnswerStore, context: PreparedContext | None, policy: RoutingPolicy,
                catalogue: Catalogue, settings: Settings, *, deadline_s: float | None,
                batch: bool) -> PackedPlan:
    """One pass over the items. ``media`` (the media items' prepared parts) is taken:
    each entry goes into its job. The thinking lever's sample is chosen as the jobs go
    by and marked on the packed jobs at the end."""
    plan = PackedPlan()
    sample = CalibrationSample(policy, catalogue, settings.inference)
    context_tokens = context.tokens if context else 0
    context_hash = context.content_hash if context else None
    for block in items.blocks():
        sources, failures = read_texts([i for i in block if not needs_media_stage(i)])
        plan.failures |= failures
        for item in block:
            source = sources.pop(item.id, None) or media.pop(item.id, None)
            if source is None:
                continue  # failed before inference; the failure is recorded
            job = job_for(item, source, resolutions.get(item.id), policy, settings,
                          context_tokens=context_tokens, deadline_s=deadline_s, batch=batch)
            sample.consider(job, len(plan.jobs))
            plan.jobs.append(job)
            if not answers.has(request_key(job, job.route.model, policy, catalogue,
                                           context_hash)):
                plan.pending.append(job)
    plan.jobs.replace({n: plan.jobs[n].model_copy(update={"calibrate": True})
                       for n in sample.chosen()})
    return plan
