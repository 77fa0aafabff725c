"""Batch runs that end before their jobs do, and the collector that finishes them."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flashfirst.inference.batch_jobs import BatchJobs
from flashfirst.inference.collection import JobStatus
from flashfirst.inference.job_states import short_name
from flashfirst.inference.parked import ParkedRun, ParkedRuns, parked_key
from flashfirst.params import AnalyzeParams
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


class BatchSubmitted(BaseModel):
    """What a run that did not wait returns: the jobs it left running."""

    run_id: str
    jobs: list[str]
    message: str


def _runs(settings: Settings) -> ParkedRuns:
    return ParkedRuns(run_context(settings).storage, settings.storage_root)


@task(name="park-run", cache_policy=NO_CACHE)
def park_run(params: AnalyzeParams, run_id: str, jobs: list[str],
             settings: Settings) -> BatchSubmitted:
    backend = run_context(settings).backend
    _runs(settings).put(ParkedRun(key=parked_key(params, backend), run_id=run_id,
                                  backend=backend, params=params, jobs=jobs))
    message = (f"submitted {', '.join(jobs)}; the collect-batches deployment finishes this "
               "run when they are done")
    get_run_logger().info(message)
    return BatchSubmitted(run_id=run_id, jobs=jobs, message=message)


@task(name="forget-parked-run", cache_policy=NO_CACHE)
def forget_parked_run(params: AnalyzeParams, settings: Settings) -> None:
    _runs(settings).forget(parked_key(params, run_context(settings).backend))


@task(name="list-parked-runs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def list_parked_runs(settings: Settings) -> list[ParkedRun]:
    return _runs(settings).all(run_context(settings).backend)


@task(name="check-batch-jobs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def check_batch_jobs(runs: list[ParkedRun], settings: Settings) -> list[JobStatus]:
    """Each parked job's state and requests done, as a table in the Prefect UI."""
    client = run_context(settings).client
    jobs = BatchJobs(client, settings, None)
    out = []
    for run in runs:
        for name in run.jobs:
            job = client.batches.get(name=name)
            done, total = jobs.progress(job)
            out.append(JobStatus(run_id=run.run_id, job=name,
                                 state=short_name(job.state), done=done,
                                 total=total, ended_at=job.end_time))
    create_table_artifact(key="flashfirst-batch-jobs", description="Batch jobs waited for",
                          table=[s.model_dump(mode="json") for s in out])
    return out

