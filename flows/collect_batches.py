"""The collect-batches flows: finish the runs that submitted their batches and ended.

``collect_batch_job`` is started by the ``gemini.batch.*`` event the bridge emits for a
Gemini webhook delivery: it looks at exactly the named job (a ``batches.get``, never an
inference from a list) and finishes the parked run waiting for it, holding a worker only
while it collects. ``collect_batches`` runs on a schedule as the fallback for lost
deliveries: one short run polls every waiting job at once. Finishing a run is running it
again: the batch ledger re-attaches it to its jobs, so nothing is submitted or paid for
twice; whichever path comes second finds nothing parked. Each finished run's report and
the collector's result say which path finished each job, when it ended and when Google
deletes its output (``batch_collection``)."""

from __future__ import annotations

from datetime import UTC, datetime

from flashfirst.flows.analyze import analyze
from flashfirst.tasks.batches import check_batch_jobs, forget_parked_run, list_parked_runs
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import State
from pydantic import BaseModel, Field

from flashfirst.errors import BatchJobFailed
from flashfirst.inference.collection import (
    CollectPath,
    JobCollection,
    JobStatus,
    collecting,
    to_finish,
)
from flashfirst.inference.parked import ParkedRun
from flashfirst.run.overrides import RunOverrides, in_process_settings, settings_for_run
from flashfirst.run.terms import RunFailed
from flashfirst.settings import Settings


class CollectReport(BaseModel):
    finished: list[str] = Field(default_factory=list, description="Run ids finished now.")
    waiting: list[str] = Field(default_factory=list, description="Run ids still waiting.")
    failed: dict[str, str] = Field(default_factory=dict, description="Run id → why.")
    collected: list[JobCollection] = Field(
        default_factory=list, description="The jobs of the runs finished now: which path "
        "finished each, when it ended, when its output is deleted, when results were written.")


@flow(name="collect-batches")
def collect_batches(overrides: RunOverrides | None = None) -> CollectReport:
    """Finish the batch runs whose jobs have all ended; report the others' progress.

    Args:
        overrides: Run-form knobs; the rest comes from the worker's environment
            (FLASHFIRST_*), credentials included, never from a parameter.
    """
    settings = settings_for_run(overrides)
    runs = list_parked_runs(settings)
    return _finish_ended(runs, check_batch_jobs(runs, settings), settings, "poll")


class JobCollected(CollectReport):
    job: str = Field(description="The batch job the event named.")
    path: CollectPath = "webhook"


@flow(name="collect-batch-job")
def collect_batch_job(job: str, overrides: RunOverrides | None = None) -> JobCollected:
    """Finish the run waiting for ``job``, which Gemini says has ended.

    Args:
        job: The batch job's name (``batches/...``), from the event's resource.
        overrides: Run-form knobs; the rest comes from the worker's environment.
    """
    settings = settings_for_run(overrides)
    runs = [run for run in list_parked_runs(settings) if job in run.jobs]
    if not runs:
        get_run_logger().info("no parked run waits for %s (already finished, or not ours)",
                              job)
    report = _finish_ended(runs, check_batch_jobs(runs, settings), settings, "webhook")
    return JobCollected(job=job, **report.model_dump())


def _finish_ended(runs: list[ParkedRun], statuses: list[JobStatus], settings: Settings,
                  path: CollectPath) -> CollectReport:
    """Run again each parked run whose jobs have all ended; the others keep waiting."""
    report = CollectReport()
    for run in runs:
        finishing = to_finish([s for s in statuses if s.run_id == run.run_id], path,
                              settings.inference.batch_output_margin_s)
        if finishing is None:
            report.waiting.append(run.run_id)
            continue
        params, jobs = run.params, finishing.jobs
        if finishing.output_deleted_at is not None:
            # Collect it now, waiting in this run for the others, rather than lose what
            # was paid for.
            get_run_logger().warning(
                "run %s: Google deletes a job's output at %s; finishing it now, waiting "
                "for its other jobs", run.run_id,
                f"{finishing.output_deleted_at:%Y-%m-%d %H:%M} UTC")
            params = params.model_copy(update={"collect_later": False})
        with in_process_settings(settings), collecting(jobs):
            state = analyze(params, return_state=True)
        if not params.collect_later and _settled(state):  # waited: forget it here
            forget_parked_run(run.params, settings)
        if state.is_completed():
            written = datetime.now(UTC)
            report.finished.append(run.run_id)
            report.collected += [j.model_copy(update={"collected_at": written}) for j in jobs]
            get_run_logger().info("run %s finished by %s (jobs %s)", run.run_id, path,
                                  ", ".join(run.jobs))
        else:
            report.failed[run.run_id] = state.message or state.name
    if report.collected:
        create_table_artifact(key="flashfirst-batch-collections",
                              description="Batch jobs collected, and by which path",
                              table=[j.model_dump(mode="json") for j in report.collected])
    return report


def _settled(state: State) -> bool:
    """The run wrote its results: it completed, or failed after writing them (a job that
    failed, too many failed items), as a collect_later run forgets its record then too.
    A stopped or crashed one stays parked for the next look."""
    if state.is_completed():
        return True
    return state.is_failed() and isinstance(state.result(raise_on_failure=False),
                                            BatchJobFailed | RunFailed)
