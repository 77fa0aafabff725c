"""The collect-batches flow: finish every run that submitted its batches and ended.

A scheduled collector rather than a suspended flow run resumed by an automation: nothing
emits an event when a Gemini batch job ends, so something has to poll either way; one
short run every few minutes polls every waiting job at once, holds no worker in between,
and keeps working across worker restarts. Finishing a run is running it again: the batch
ledger re-attaches it to its jobs, so nothing is submitted or paid for twice."""

from __future__ import annotations

from flashfirst.flows.analyze import analyze
from flashfirst.tasks.batches import check_batch_jobs, list_parked_runs
from prefect import flow
from pydantic import BaseModel, Field

from flashfirst.overrides import RunOverrides, in_process_settings, settings_for_run


class CollectReport(BaseModel):
    finished: list[str] = Field(default_factory=list, description="Run ids finished now.")
    waiting: list[str] = Field(default_factory=list, description="Run ids still waiting.")
    failed: dict[str, str] = Field(default_factory=dict, description="Run id → why.")


@flow(name="collect-batches")
def collect_batches(overrides: RunOverrides | None = None) -> CollectReport:
    """Finish the batch runs whose jobs have all ended; report the others' progress.

    Args:
        overrides: Run-form knobs; the rest comes from the worker's environment
            (FLASHFIRST_*), credentials included, never from a parameter.
    """
    settings = settings_for_run(overrides)
    runs = list_parked_runs(settings)
    statuses = check_batch_jobs(runs, settings)
    report = CollectReport()
    for run in runs:
        if not all(s.ended for s in statuses if s.run_id == run.run_id):
            report.waiting.append(run.run_id)
            continue
        with in_process_settings(settings):
            state = analyze(run.params, return_state=True)
        if state.is_completed():
            report.finished.append(run.run_id)
        else:
            report.failed[run.run_id] = state.message or state.name
    return report
