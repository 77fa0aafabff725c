"""Scheduled cleanup of the caches our runs left behind."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment

from flashfirst.caching.janitor import JanitorReport, sweep
from flashfirst.client import require_backend
from flashfirst.run_context import run_context
from flashfirst.settings import load_settings


@task(name="sweep-caches", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def sweep_caches(reuse_window_s: float | None) -> JanitorReport:
    settings = load_settings()
    require_backend(settings, deployed=bool(deployment.get_id()))
    window = settings.cache.reuse_window_s if reuse_window_s is None else reuse_window_s
    shared = run_context(settings)
    return sweep(shared.client, shared.prices, window)


@flow(name="cache-janitor", retries=1, retry_delay_seconds=60)
def cache_janitor(reuse_window_s: float | None = None) -> JanitorReport:
    """Delete our caches idle longer than the reuse window; report their storage cost.

    Args:
        reuse_window_s: Seconds a cache may sit unused before it is deleted (default
            FLASHFIRST_CACHE__REUSE_WINDOW_S).
    """
    report = sweep_caches(reuse_window_s)
    rows = "\n".join(f"| {c.name} | {c.model} | {c.tokens} | {c.idle_s:.0f} | "
                     f"{c.storage_token_hours:.2f} | ${c.storage_usd:.6f} | {c.deleted} |"
                     for c in report.ours)
    create_markdown_artifact(
        key="flashfirst-cache-janitor",
        markdown=f"# Cache janitor\n\n{report.summary()}\n\n| cache | model | tokens | idle s "
                 f"| token-hours | storage | deleted |\n|---|---|---:|---:|---:|---:|---|\n"
                 f"{rows}\n")
    return report
