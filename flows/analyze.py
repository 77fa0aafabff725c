"""The analyze flow: discover → prepare media → plan routes → ensure caches → infer →
aggregate costs → write results and report."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from flashfirst.flows.stopping import (
    as_cancelled,
    cancelled_in_prefect,
    stop_on_signals_and_cancel,
    stopped_state,
)
from flashfirst.tasks.autopilot import check_autopilot, infer_with_autopilot
from flashfirst.tasks.batches import BatchSubmitted, forget_parked_run, park_run
from flashfirst.tasks.caching import ensure_caches, finish_caches
from flashfirst.tasks.costs import RunFacts, aggregate_costs, write_results
from flashfirst.tasks.discovery import discover_items, prepare_shared_context, read_text_sources
from flashfirst.tasks.estimate import estimate_run
from flashfirst.tasks.inference import InferenceRun, run_inference
from flashfirst.tasks.media import prepare_run_media
from flashfirst.tasks.modes import choose_run_modes
from flashfirst.tasks.plain_data import plain
from flashfirst.tasks.routing import check_models, find_unanswered, plan_routes
from flashfirst.tasks.run_state import forget_run_state
from prefect import flow
from prefect.runtime import deployment, flow_run
from prefect.states import State

from flashfirst.batch_collection import collected_now
from flashfirst.client import require_backend
from flashfirst.errors import BatchJobFailed, FlashfirstError
from flashfirst.estimate import RunEstimate
from flashfirst.items import failed_before_inference, with_sources
from flashfirst.overrides import RunOverrides, in_process_settings, settings_for_run
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.report import RunReport
from flashfirst.run_context import run_context
from flashfirst.settings import Settings
from flashfirst.sources import (
    context_media_items,
    context_parts,
    media_resolutions,
    media_sources,
    needs_media_stage,
)
from flashfirst.stages import Stage
from flashfirst.stopping import STOP
from flashfirst.storage import join
from flashfirst.timing import StageClock


class RunFailed(FlashfirstError):
    """More items failed than the configured threshold allows; the flow run fails so a
    scheduler sees it, and the report (already written) travels with the error."""

    def __init__(self, message: str, report: RunReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.report))


@flow(name="analyze", log_prints=True, flow_run_name="analyze-{params.mode.value}")
def analyze(params: AnalyzeParams, overrides: RunOverrides | None = None
            ) -> RunReport | RunEstimate | BatchSubmitted | State:
    """Analyze items with Gemini as cheaply as the work allows, and report the cost.

    Ctrl-C, SIGTERM or a Prefect cancel stop it: no new call is sent, the results and
    report cover what was answered, and the run ends Cancelled (its report as data).

    Args:
        params: What to analyze (items, a manifest, a folder or gs:// prefix) and how
            (shared context, media policy, deadline, mode, budget, output location).
        overrides: A few settings this run changes; everything else, credentials
            included, comes from the worker's environment (FLASHFIRST_* variables,
            GEMINI_API_KEY).
    """
    with stop_on_signals_and_cancel():
        return _analyze(params, overrides)


def _analyze(params: AnalyzeParams, overrides: RunOverrides | None
             ) -> RunReport | RunEstimate | BatchSubmitted | State:
    settings = settings_for_run(overrides)
    require_backend(settings, deployed=_deployed())
    started, clock = datetime.now(UTC), StageClock()
    run_id = _run_id(started)
    output = params.output or join(settings.storage_root, "runs", run_id)

    found = discover_items(params, settings)
    # Per-item lists go in plain(): Prefect would walk them element by element
    # (tasks/plain_data.py).
    items = found.items
    check_models(plain(items), settings)
    policy = run_context(settings).policy
    autopilot = params.uses_autopilot or policy.autopilot.enabled
    if autopilot:  # its policy refused before any call
        check_autopilot(plain(items), policy, settings)
    context_media = context_media_items(params.context)
    # The shared context first: every item must fit its model's window beside it, and
    # one that cannot is refused (or fitted) before its media is uploaded.
    media = prepare_run_media([], context_media, settings, params.media_policy)
    context = prepare_shared_context(params, settings,
                                     context_parts(media.prepared, context_media))
    context_tokens = context.tokens if context else 0
    media = media.plus(prepare_run_media(
        [i for i in items if needs_media_stage(i)], [], settings, params.media_policy,
        context_tokens))
    texts, text_failures = read_text_sources(
        plain([i for i in items if not needs_media_stage(i)]), settings)
    clock.mark(Stage.PREPARE_MEDIA)
    jobs = plan_routes(plain(items), plain({**texts, **media_sources(media.prepared)}),
                       media_resolutions(media.prepared),
                       policy, settings, context_tokens, params.deadline_s,
                       params.mode is RunMode.BATCH)
    pending = find_unanswered(plain(jobs), context, settings)
    modes = []
    if params.mode is RunMode.AUTO:
        jobs, modes = choose_run_modes(plain(jobs), plain(pending), settings, policy,
                                       params.deadline_s, context_tokens)
    clock.mark(Stage.PLAN_ROUTES)
    budget = params.budget_usd if params.budget_usd is not None else settings.budget_usd
    if params.estimate_only or budget is not None:
        estimate = estimate_run(plain(pending), context, settings, budget, media.fitted())
        if params.estimate_only:
            return estimate.model_copy(update={"skipped_inputs": found.skipped})
    # A stopped run creates no cache: nothing more will be sent.
    cache_plan = ensure_caches(context, plain([] if STOP.requested else pending), settings,
                               run_id)
    clock.mark(Stage.ENSURE_CACHES)
    run = InferenceRun(
        run_id=run_id, settings=settings, policy=policy,
        context=context, plan=cache_plan.uses, cache_ttl_s=cache_plan.ttl_s,
        state_root=settings.storage_root, budget_usd=budget,
        deadline_at=time.time() + params.deadline_s if params.deadline_s else None,
        collect_later=params.collect_later)
    piloted = None
    if autopilot:
        inferred, piloted = infer_with_autopilot(jobs, run, params.quality_floor)
    else:
        inferred = run_inference(jobs, run, batch=params.mode is RunMode.BATCH)
    del jobs, pending, texts  # parts and routes are done with: memory is per item
    results = with_sources(media.account_for(inferred.results) + failed_before_inference(
        [*items, *context_media], {**media.failures, **text_failures}),
        [*items, *context_media])
    inferred.results, found.items, found.origins = [], [], []  # copied into results
    del items
    clock.mark(Stage.INFER)
    if inferred.parked_jobs:  # left running; a stopped run also writes what it has
        parked = park_run(params, run_id, inferred.parked_jobs, settings)
        if not STOP.requested:
            forget_run_state(run_id, settings)
            return parked
    if STOP.requested and cancelled_in_prefect():
        results = as_cancelled(results)
    keep = params.keep_caches_s if params.keep_caches_s is not None else (
        settings.cache.reuse_window_s)
    records, finish_calls = finish_caches(run_id, keep, settings)
    forget_run_state(run_id, settings)
    report = aggregate_costs(plain(RunFacts(
        run_id=run_id, started_at=started, results=results,
        media={i: p.stats for i, p in media.items_only().items()},
        media_seconds=clock.seconds(Stage.PREPARE_MEDIA), decisions=cache_plan.decisions,
        cache_records=records,
        cache_api_calls=cache_plan.api_calls + inferred.cache_api_calls + finish_calls,
        stages=clock.lines(), budget_usd=budget, output_uri=output,
        skipped_inputs=found.skipped)), settings)
    report.mode_choices = [m.summary() for m in modes]
    report.batch_collection = collected_now()  # set when a collector finishes this run
    report.autopilot = piloted
    if STOP.requested:
        report.stopped, report.batch_jobs_left = STOP.reason, inferred.parked_jobs
    write_results(plain(results), plain(report), settings)
    if STOP.requested:
        return stopped_state(report)
    if params.collect_later:
        forget_parked_run(params, settings)
    if inferred.batch_failures:  # a job's failure fails the run, whatever the share
        first = inferred.batch_failures[0]
        raise BatchJobFailed(first.job_name, first.state, first.reason)
    if report.failure_share > settings.inference.failure_threshold:
        raise RunFailed(f"{report.items_failed} of {report.items_total} items failed "
                        f"(threshold {settings.inference.failure_threshold:.0%}); "
                        f"results and report are in {output}", report)
    return report


def analyze_with(params: AnalyzeParams, settings: Settings) -> RunReport | RunEstimate:
    """The flow, in this process, on settings already built (tests, benches): they are
    never a flow parameter, so Prefect neither shows nor stores them."""
    with in_process_settings(settings):
        return analyze(params)


def _deployed() -> bool:
    """Started from a deployment, directly or as a subflow of one (on-upload)."""
    return bool(deployment.get_id() or flow_run.get_parent_deployment_id())


def _run_id(started: datetime) -> str:
    """Sorted by start time, readable, and this run's alone: runs of one name started in
    the same second (two uploads, a schedule and a manual run) must not share a result
    folder or a run state. The suffix ends the flow run's id (its random part)."""
    name = flow_run.get_name() or "local"
    suffix = (flow_run.get_id() or uuid.uuid4().hex).replace("-", "")[-8:]
    return f"{started:%Y%m%dT%H%M%SZ}-{name}-{suffix}"
