"""Scheduled cleanup of what our runs left behind: idle caches, and the shared state of
runs killed before they could remove it."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment

from flashfirst.caching.janitor import JanitorReport, sweep
from flashfirst.client import require_backend
from flashfirst.run_context import run_context
from flashfirst.run_state import remove_stale_run_states
from flashfirst.settings import load_settings


@task(name="sweep-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sweep_caches(reuse_window_s: float | None) -> JanitorReport:
    settings = load_settings()
    require_backend(settings, deployed=bool(deployment.get_id()))
    window = settings.cache.reuse_window_s if reuse_window_s is None else reuse_window_s
    shared = run_context(settings)
    return sweep(shared.client, shared.prices, window)


@task(name="sweep-run-states", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sweep_run_states(max_age_s: float | None) -> list[str]:
    settings = load_settings()
    age = settings.run_state_max_age_s if max_age_s is None else max_age_s
    return remove_stale_run_states(run_context(settings).storage, settings.storage_root, age)


@flow(name="cache-janitor", retries=1, retry_delay_seconds=60)
def cache_janitor(reuse_window_s: float | None = None,
                  run_state_max_age_s: float | None = None) -> JanitorReport:
    """Delete our caches idle longer than the reuse window; report their storage cost.
    Remove the shared state of runs that stopped writing it long ago (killed runs).

    Args:
        reuse_window_s: Seconds a cache may sit unused before it is deleted (default
            FLASHFIRST_CACHE__REUSE_WINDOW_S).
        run_state_max_age_s: Seconds a run's state may sit unwritten before it is removed
            (default FLASHFIRST_RUN_STATE_MAX_AGE_S, 7 days).
    """
    report = sweep_caches(reuse_window_s)
    report.run_states_removed = sweep_run_states(run_state_max_age_s)
    rows = "\n".join(f"| {c.name} | {c.model} | {c.tokens} | {c.idle_s:.0f} | "
                     f"{c.storage_token_hours:.2f} | ${c.storage_usd:.6f} | {c.deleted} |"
                     for c in report.ours)
    create_markdown_artifact(
        key="flashfirst-cache-janitor",
        markdown=f"# Cache janitor\n\n{report.summary()}\n\n| cache | model | tokens | idle s "
                 f"| token-hours | storage | deleted |\n|---|---|---:|---:|---:|---:|---|\n"
                 f"{rows}\n")
    return report
