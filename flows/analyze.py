"""The analyze flow: discover → prepare media → plan routes → ensure caches → infer →
aggregate costs → write results and report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flashfirst.flows.analyze_steps import (
    check_run,
    collect_results,
    end_run,
    ensure_run_caches,
    estimate_if_asked,
    infer,
    park_if_waiting,
    plan_run,
    prepare_inputs,
    report_run,
)
from flashfirst.flows.refusals import refusals_not_retried
from flashfirst.flows.stopping import stop_on_signals_and_cancel
from flashfirst.tasks.batches import BatchSubmitted
from flashfirst.tasks.discovery import discover_items
from prefect import flow
from prefect.runtime import deployment, flow_run
from prefect.states import State

from flashfirst.client import require_backend
from flashfirst.params import AnalyzeParams
from flashfirst.pricing.estimate import RunEstimate
from flashfirst.reporting.report import RunReport
from flashfirst.run.context import run_context
from flashfirst.run.overrides import RunOverrides, in_process_settings, settings_for_run
from flashfirst.run.terms import RunTerms
from flashfirst.settings import Settings

Analyzed = RunReport | RunEstimate | BatchSubmitted
"""What a run returns: its report; with ``estimate_only``, the estimate; a batch run that
does not wait (``collect_later``), the jobs it left running. A stopped run ends Cancelled
(a Prefect ``State`` carrying its report); a failed one raises ``RunFailed`` or
``BatchJobFailed`` after writing its report."""


@flow(name="analyze", log_prints=True, flow_run_name="analyze-{params.mode.value}")
def analyze(params: AnalyzeParams, overrides: RunOverrides | None = None) -> Analyzed | State:
    """Analyze items with Gemini as cheaply as the work allows, and report the cost.

    Ctrl-C, SIGTERM or a Prefect cancel stop it: no new call is sent, the results and
    report cover what was answered, and the run ends Cancelled (its report as data). A
    run refused for its settings or input fails at once, without the deployment's retry.

    Args:
        params: What to analyze (items, a manifest, a folder or gs:// prefix) and how
            (shared context, media policy, deadline, mode, budget, output location).
        overrides: A few settings this run changes; everything else, credentials
            included, comes from the worker's environment (FLASHFIRST_* variables,
            GEMINI_API_KEY).
    """
    with stop_on_signals_and_cancel(), refusals_not_retried():
        return _analyze(params, overrides)


def _analyze(params: AnalyzeParams, overrides: RunOverrides | None) -> Analyzed | State:
    terms = start_run(params, overrides)
    found = discover_items(params, terms.settings)
    check_run(found.items, terms)
    inputs = prepare_inputs(found.items, params, terms)
    plan = plan_run(found.items, inputs, params, terms)
    estimate = estimate_if_asked(plan, inputs, params, terms)
    if params.estimate_only and estimate is not None:
        return estimate.model_copy(update={"skipped_inputs": found.skipped})
    cache_plan = ensure_run_caches(plan, inputs, terms)
    inferred = infer(plan, inputs, cache_plan, params, found, terms)
    results = collect_results(inferred, terms)
    if (parked := park_if_waiting(inferred, params, terms)) is not None:
        return parked
    report = report_run(results, inputs, cache_plan, inferred, plan, found, terms)
    return end_run(report, inferred, params, terms)


def analyze_with(params: AnalyzeParams, settings: Settings) -> Analyzed | State:
    """The flow, in this process, on settings already built (tests, benches): they are
    never a flow parameter, so Prefect neither shows nor stores them."""
    with in_process_settings(settings):
        return analyze(params)


def start_run(params: AnalyzeParams, overrides: RunOverrides | None) -> RunTerms:
    """The run's settings (refused without a backend), identity and limits."""
    settings = settings_for_run(overrides)
    require_backend(settings, deployed=_deployed())
    started = datetime.now(UTC)
    return RunTerms.decide(params, settings, run_context(settings).policy, _run_id(started),
                           started)


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
