"""Letting a run's shared state go (``flashfirst.run.state``) once it is done with it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from flashfirst.run.context import run_context
from flashfirst.run.state import RunState
from flashfirst.settings import Settings


@task(name="forget-run-state", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def forget_run_state(run_id: str, settings: Settings) -> None:
    """Every chunk has ended and the caches are finished (or the batch jobs parked: the
    collector finishes them as a new run): nothing reads this run's state any more."""
    RunState(run_context(settings).storage, settings.storage_root, run_id).remove()
