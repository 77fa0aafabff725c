"""Scheduled cleanup of what our runs left behind: idle caches, and the shared state of
runs killed before they could remove it."""

from __future__ import annotations

from flashfirst.tasks.janitor import publish_janitor_report, sweep_caches, sweep_run_states
from prefect import flow

from flashfirst.caching.janitor import JanitorReport


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
    publish_janitor_report(report)
    return report
