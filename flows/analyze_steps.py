"""The steps of the analyze flow that take more than one task call: each orders tasks and
hands its result to the next step; the decisions are in the tasks and the core."""

from __future__ import annotations

import time
from itertools import chain

from flashfirst.flows.stopping import as_cancelled, cancelled_in_prefect, stopped_state
from flashfirst.tasks.autopilot import check_autopilot, infer_with_autopilot
from flashfirst.tasks.batches import BatchSubmitted, forget_parked_run, park_run
from flashfirst.tasks.caching import ensure_caches, finish_caches
from flashfirst.tasks.costs import aggregate_costs, write_results
from flashfirst.tasks.discovery import prepare_shared_context
from flashfirst.tasks.estimate import estimate_run
from flashfirst.tasks.inference import InferenceOutcome, InferenceRun, run_inference
from flashfirst.tasks.media import prepare_run_media
from flashfirst.tasks.modes import choose_run_modes
from flashfirst.tasks.plain_data import plain
from flashfirst.tasks.routing import check_models, plan_routes
from flashfirst.tasks.run_state import forget_run_state
from prefect.states import State
from pydantic import BaseModel, ConfigDict, Field

from flashfirst.autopilot.summary import AutopilotReport
from flashfirst.caching.manager import PreparedContext
from flashfirst.caching.run_caches import CachePlan
from flashfirst.failures import Failure, FailureKind
from flashfirst.inference.collection import collected_now
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.mode import ModeChoice
from flashfirst.inputs.discover import Discovery
from flashfirst.inputs.sources import (
    context_media_items,
    context_parts,
    media_resolutions,
    media_sources,
    needs_media_stage,
)
from flashfirst.items import ItemResult, ServiceTier, WorkItem, failed_before_inference
from flashfirst.media.run_media import RunMedia
from flashfirst.packed import Packed
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.pricing.estimate import RunEstimate
from flashfirst.reporting.report import RunReport
from flashfirst.reporting.results_stream import ResultStream, RunTally
from flashfirst.reporting.run_report import RunFacts, cost_tally
from flashfirst.reporting.stages import Stage
from flashfirst.run.context import run_context
from flashfirst.run.stopping import STOP
from flashfirst.run.terms import RunTerms, run_failure


class RunInputs(BaseModel):
    """What the media items and the shared context became before routing (the texts are
    read a block at a time as they are routed: ``plan_routes``)."""

    media: RunMedia
    context: PreparedContext | None
    context_media: list[WorkItem]

    @property
    def context_tokens(self) -> int:
        return self.context.tokens if self.context else 0


class RunPlan(BaseModel):
    """Every item's job, those still unanswered (both packed: ``flashfirst/packed.py``),
    the items whose text could not be read, and the mode chosen per model."""

    jobs: Packed[InferenceJob]
    pending: Packed[InferenceJob]
    failures: dict[str, Failure] = Field(default_factory=dict)
    modes: list[ModeChoice] = Field(default_factory=list)


class Inferred(BaseModel):
    """The inference's outcome, the results it streamed, and the autopilot's account when
    it drove the run."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    outcome: InferenceOutcome
    results: ResultStream
    failed_before: list[ItemResult] = Field(
        default_factory=list, description="Items that never reached a model (their media "
        "or source unreadable): decided before the discovery's items are let go.")
    autopilot: AutopilotReport | None = None


def check_run(items: Packed[WorkItem], terms: RunTerms) -> None:
    """Refuse retired models, and a bad autopilot policy, before anything is paid."""
    check_models(plain(items), terms.settings)
    if terms.autopilot:
        check_autopilot(plain(items), terms.policy, terms.settings)


def prepare_inputs(items: Packed[WorkItem], params: AnalyzeParams, terms: RunTerms
                   ) -> RunInputs:
    """The shared context first (every item must fit its model's window beside it, and
    one that cannot is refused or fitted before its media is uploaded), then the items'
    media."""
    settings = terms.settings
    context_media = context_media_items(params.context)
    media = prepare_run_media([], context_media, settings, params.media_policy)
    context = prepare_shared_context(params, settings,
                                     context_parts(media.prepared, context_media))
    tokens = context.tokens if context else 0
    media = media.plus(prepare_run_media([i for i in items if needs_media_stage(i)], [],
                                         settings, params.media_policy, tokens))
    terms.clock.mark(Stage.PREPARE_MEDIA)
    return RunInputs(media=media, context=context, context_media=context_media)


def plan_run(items: Packed[WorkItem], inputs: RunInputs, params: AnalyzeParams,
             terms: RunTerms) -> RunPlan:
    """Read the texts and route every item, drop those already answered, and (mode=auto)
    choose each model's mode."""
    settings = terms.settings
    planned = plan_routes(plain(items), media=plain(media_sources(inputs.media.prepared)),
                          resolutions=media_resolutions(inputs.media.prepared),
                          context=inputs.context, policy=terms.policy, settings=settings,
                          deadline_s=params.deadline_s, batch=terms.batch)
    jobs, modes = planned.jobs, []
    if params.mode is RunMode.AUTO:
        jobs, modes = choose_run_modes(plain(jobs), plain(planned.pending), settings,
                                       terms.policy, params.deadline_s, inputs.context_tokens)
    terms.clock.mark(Stage.PLAN_ROUTES)
    return RunPlan(jobs=jobs, pending=planned.pending, failures=planned.failures, modes=modes)


def estimate_if_asked(plan: RunPlan, inputs: RunInputs, params: AnalyzeParams,
                      terms: RunTerms) -> RunEstimate | None:
    """The estimate, when asked for or when a budget must be checked (a run above it is
    refused here, before any call)."""
    if not (params.estimate_only or terms.estimates):
        return None
    return estimate_run(plain(plan.pending), inputs.context, terms.settings, terms.budget_usd,
                        inputs.media.fitted())


def ensure_run_caches(plan: RunPlan, inputs: RunInputs, terms: RunTerms) -> CachePlan:
    """Caches where they pay; a stopped run creates none (nothing more will be sent)."""
    cache_plan = ensure_caches(inputs.context, plain([] if STOP.requested else plan.pending),
                               terms.settings, terms.run_id)
    terms.clock.mark(Stage.ENSURE_CACHES)
    return cache_plan


def infer(plan: RunPlan, inputs: RunInputs, cache_plan: CachePlan, params: AnalyzeParams,
          found: Discovery, terms: RunTerms) -> Inferred:
    """Send the jobs (online, Batch, or in the autopilot's waves). The plan is spent: its
    jobs and the texts' parts are let go once sent, and each chunk's results are streamed
    to the run's results and report as it finishes, so memory stays per item."""
    run = InferenceRun(
        run_id=terms.run_id, settings=terms.settings, policy=terms.policy,
        context=inputs.context, plan=cache_plan.uses, cache_ttl_s=cache_plan.ttl_s,
        state_root=terms.settings.storage_root, budget_usd=terms.budget_usd,
        deadline_at=time.time() + params.deadline_s if params.deadline_s else None,
        collect_later=params.collect_later)
    results = result_stream(inputs, found, terms)
    failed = failed_before_inference(chain(found.items, inputs.context_media),
                                     {**inputs.media.failures, **plan.failures})
    jobs = plan.jobs
    plan.jobs, plan.pending = Packed(InferenceJob), Packed(InferenceJob)
    found.items = Packed(WorkItem)  # the jobs carry their items from here
    if terms.autopilot:  # the autopilot's waves are drawn from the jobs as objects
        outcome, piloted = infer_with_autopilot(list(jobs), run, params.quality_floor)
        return Inferred(outcome=outcome, results=results, failed_before=failed,
                        autopilot=piloted)
    # Each chunk's jobs are objects from when it is sent until it is answered.
    outcome = run_inference(jobs, run, batch=terms.batch, sink=results,
                            any_batch_tier=any(m.tier is ServiceTier.BATCH for m in plan.modes))
    return Inferred(outcome=outcome, results=results, failed_before=failed)


def result_stream(inputs: RunInputs, found: Discovery, terms: RunTerms) -> ResultStream:
    """Where the run's results go as they come: each with its source's URI (set here,
    once: a reused answer may have been given to another file with the same bytes), its
    media's bytes and tokens and the backend that answered; a stopped run's items not
    sent are ``cancelled`` when the stop was a cancel in Prefect."""
    shared = run_context(terms.settings)
    uris = {i.id: i.uri for i in chain(found.items, inputs.context_media) if i.uri}  # not texts
    cancelled: list[bool] = []  # asked once, at the first item not sent

    def finish(results: list[ItemResult]) -> list[ItemResult]:
        results = inputs.media.account_for(results)
        for r in results:
            r.uri, r.backend = uris.get(r.id), shared.backend_label
            if r.failure is not None and r.failure.kind is FailureKind.INTERRUPTED:
                if not cancelled:
                    cancelled.append(STOP.requested and cancelled_in_prefect())
                if cancelled[0]:
                    as_cancelled([r])
        return results

    return ResultStream(RunTally(cost_tally(
        {i: p.stats for i, p in inputs.media.items_only().items()}, shared)), finish)


def collect_results(inferred: Inferred, terms: RunTerms) -> ResultStream:
    """One result per item, those that failed before inference included."""
    inferred.results.add(inferred.outcome.results)  # those not streamed (the autopilot's)
    inferred.results.add(inferred.failed_before)
    inferred.outcome.results, inferred.failed_before = [], []
    terms.clock.mark(Stage.INFER)
    return inferred.results


def park_if_waiting(inferred: Inferred, params: AnalyzeParams, terms: RunTerms
                    ) -> BatchSubmitted | None:
    """Record batch jobs left running for the collector; the run ends there unless it
    was stopped (a stopped run also writes what it has)."""
    if not inferred.outcome.parked_jobs:
        return None
    parked = park_run(params, terms.run_id, inferred.outcome.parked_jobs, terms.settings)
    if STOP.requested:
        return None
    inferred.results.spool.discard()
    forget_run_state(terms.run_id, terms.settings)
    return parked


def report_run(results: ResultStream, inputs: RunInputs, cache_plan: CachePlan,
               inferred: Inferred, plan: RunPlan, found: Discovery, terms: RunTerms
               ) -> RunReport:
    """Finish the caches, let the run's state go, price the run and write its results and
    report."""
    settings = terms.settings
    records, finish_calls = finish_caches(terms.run_id, terms.keep_caches_s, settings)
    forget_run_state(terms.run_id, settings)
    outcome = inferred.outcome
    report = aggregate_costs(plain(RunFacts(
        run_id=terms.run_id, started_at=terms.started_at, tally=results.tally,
        media={i: p.stats for i, p in inputs.media.items_only().items()},
        media_seconds=terms.clock.seconds(Stage.PREPARE_MEDIA),
        decisions=cache_plan.decisions, cache_records=records,
        cache_api_calls=cache_plan.api_calls + outcome.cache_api_calls + finish_calls,
        stages=terms.clock.lines(), budget_usd=terms.budget_usd, output_uri=terms.output,
        skipped_inputs=found.skipped, mode_choices=[m.summary() for m in plan.modes],
        batch_collection=collected_now(),  # set when a collector finishes this run
        autopilot=inferred.autopilot, stopped=STOP.reason if STOP.requested else None,
        batch_jobs_left=outcome.parked_jobs if STOP.requested else [])), settings)
    write_results(plain(results.spool), plain(results.tally.report.media), plain(report),
                  settings)
    results.spool.discard()
    return report


def end_run(report: RunReport, inferred: Inferred, params: AnalyzeParams, terms: RunTerms
            ) -> RunReport | State:
    """The run's last word: Cancelled when stopped, an error when it failed, else its
    report."""
    if STOP.requested:
        return stopped_state(report)
    if params.collect_later:
        forget_parked_run(params, terms.settings)
    if (failure := run_failure(report, inferred.outcome.batch_failures,
                               terms.settings.inference.failure_threshold)) is not None:
        raise failure
    return report
