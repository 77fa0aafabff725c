"""The autopilot's place in a run: its policy checked before any call, then inference in
waves (explore, learn, exploit) instead of in one go, its evidence kept for later runs.

The waves are the autopilot's (``flashfirst.autopilot.pilot``); each wave runs through
``run_inference`` as any run's jobs do, so chunks, rate limits, the budget, the answer
store and the escalation ladder are the same."""

from __future__ import annotations

from flashfirst.tasks.inference import InferenceOutcome, InferenceRun, not_sent, run_inference
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.autopilot.candidates import task_candidates
from flashfirst.autopilot.evidence import EvidenceStore
from flashfirst.autopilot.pilot import Autopilot
from flashfirst.autopilot.summary import AutopilotReport, summarize
from flashfirst.gemini.catalogue import today
from flashfirst.inference.job import InferenceJob
from flashfirst.items import WorkItem
from flashfirst.planning.router import RoutingPolicy
from flashfirst.planning.thinking_figures import load_figures
from flashfirst.run.context import run_context
from flashfirst.run.stopping import STOP
from flashfirst.settings import Settings


def paid_tier(settings: Settings) -> bool:
    """Paid-tier-only models are candidates only for a paid project."""
    return settings.inference.quota_tier != "free"


@task(name="check-autopilot", cache_policy=NO_CACHE)
def check_autopilot(items: list[WorkItem], policy: RoutingPolicy, settings: Settings) -> None:
    """Refuse, before any call, candidates the catalogue or price table lacks (the error
    names the policy field); floors, shares and checks were checked when read."""
    shared = run_context(settings)
    for task_kind in sorted({i.task for i in items}):
        task_candidates(task_kind, policy.autopilot, settings.models, shared.catalogue,
                        shared.prices, today(), paid_tier(settings))


def infer_with_autopilot(jobs: list[InferenceJob], run: InferenceRun, floor: float | None
                         ) -> tuple[InferenceOutcome, AutopilotReport]:
    settings = run.settings
    shared = run_context(settings)
    store = EvidenceStore(shared.storage, settings.storage_root, shared.backend)
    pilot = Autopilot(jobs, run.policy, settings.models, shared.catalogue, shared.prices,
                      load_figures(shared.storage, settings.storage_root), store.load(),
                      today(), floor, paid_tier(settings))
    logger = get_run_logger()
    outcome = InferenceOutcome()
    while wave := pilot.next_wave():
        got = run_inference(wave, run, batch=False)
        outcome.results.extend(pilot.observe(got.results))
        outcome.cache_api_calls += got.cache_api_calls
        outcome.batch_failures.extend(got.batch_failures)  # items the autopilot left to
        outcome.parked_jobs.extend(got.parked_jobs)  # Batch (mode auto) go as they would
        if STOP.requested:
            outcome.results.extend(not_sent(pilot.left()))
            break
    report = summarize(pilot)
    store.add(pilot.delta, pilot.ap.window)
    for line in report.tasks:
        logger.info("autopilot %s: %s — %s", line.group, line.choice, line.why)
    logger.info(report.lever_line())
    return outcome, report
