"""Prefect tasks of the cache janitor: retried sweeps over the core's
(``flashfirst/caching/janitor.py``, ``flashfirst/run/state.py``)."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment

from flashfirst.caching.janitor import JanitorReport, sweep
from flashfirst.client import require_backend
from flashfirst.run.context import run_context
from flashfirst.run.state import remove_stale_run_states
from flashfirst.settings import load_settings


@task(name="sweep-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sweep_caches(reuse_window_s: float | None) -> JanitorReport:
    """Delete our caches idle past the window (default: the settings')."""
    settings = load_settings()
    require_backend(settings, deployed=bool(deployment.get_id()))
    window = settings.cache.reuse_window_s if reuse_window_s is None else reuse_window_s
    shared = run_context(settings)
    return sweep(shared.client, shared.prices, window)


@task(name="sweep-run-states", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sweep_run_states(max_age_s: float | None) -> list[str]:
    """Remove the state of runs killed long ago; their ids."""
    settings = load_settings()
    age = settings.run_state_max_age_s if max_age_s is None else max_age_s
    return remove_stale_run_states(run_context(settings).storage, settings.storage_root, age)


def publish_janitor_report(report: JanitorReport) -> None:
    """The sweep as a Prefect artifact."""
    create_markdown_artifact(key="flashfirst-cache-janitor", markdown=report.markdown())
