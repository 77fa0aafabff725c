"""``flashfirst serve``: every deployment of the catalog served from this process, with its
schedules and triggers, plus the GCS bridge (when ``FLASHFIRST_BRIDGE_TOKEN`` is set) and
the Pub/Sub puller (when ``FLASHFIRST_BRIDGE_SUBSCRIPTION`` is set), so one command runs the
whole upload path on a laptop or a single VM against a self-hosted Prefect server.

``python -m flashfirst.deployments.serve [NAME ...]`` serves only the named deployments.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Collection, Iterator
from datetime import timedelta

from flashfirst.deployments.bridge import BridgeSettings, create_bridge_app
from flashfirst.deployments.catalog import DeploymentSpec, Schedule, SiteSettings, deployment_specs
from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Interval
from prefect.schedules import Schedule as PrefectSchedule

from flashfirst.errors import ConfigError

log = logging.getLogger("flashfirst.serve")


def prefect_schedule(schedule: Schedule) -> PrefectSchedule:
    if schedule.cron:
        return Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)
    if schedule.interval_s:
        return Interval(timedelta(seconds=schedule.interval_s), timezone=schedule.timezone,
                        active=schedule.active)
    raise ConfigError(f"schedule {schedule} has neither a cron nor an interval")


def runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    """The catalog's deployment as ``flow.to_deployment`` builds it for serving."""
    limit = None
    if spec.concurrency_limit is not None:
        limit = ConcurrencyLimitConfig(
            limit=spec.concurrency_limit,
            collision_strategy=ConcurrencyLimitStrategy(spec.collision_strategy or "ENQUEUE"))
    triggers = [DeploymentEventTrigger(
        expect=set(t.expect), match=t.match, parameters=t.parameters, enabled=t.enabled,
        **({"within": t.within_s, "schedule_after": timedelta(seconds=t.within_s)}
           if t.within_s else {})) for t in spec.triggers]
    return spec.load_flow().to_deployment(
        name=spec.name, description=spec.description, parameters=spec.parameters,
        schedules=[prefect_schedule(s) for s in spec.schedules], triggers=triggers,
        concurrency_limit=limit, tags=spec.tags)


def site_for(bridge: BridgeSettings) -> SiteSettings:
    """Site settings; without ``FLASHFIRST_DEPLOY_UPLOADS_*``, on-upload runs follow the
    bucket and prefix the bridge accepts, so one pair of settings decides both."""
    site = SiteSettings()
    if bridge.bucket and not {"uploads_bucket", "uploads_names"} & site.model_fields_set:
        site = site.model_copy(update={"uploads_bucket": bridge.bucket,
                                       "uploads_names": f"{bridge.prefix}*"})
    return site


@contextlib.contextmanager
def bridge_in_background(settings: BridgeSettings) -> Iterator[str | None]:
    """The bridge on a thread of this process while the block runs; yields its URL, or
    None without a token or Gemini webhook secret (the bridge never runs open)."""
    if settings.token is None and not settings.takes_gemini_webhooks:
        yield None
        return
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_bridge_app(settings), host=settings.host,
                                           port=settings.port, access_log=False,
                                           log_level="info"))
    thread = threading.Thread(target=server.run, name="flashfirst-bridge", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise ConfigError(f"the bridge did not start on {settings.host}:{settings.port}")
    try:
        yield f"http://{settings.host}:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def puller_in_background(settings: BridgeSettings) -> Iterator[str | None]:
    """Pull mode beside the served flows when a subscription is configured."""
    if not settings.subscription:
        yield None
        return
    from flashfirst.deployments.pubsub_pull import NotificationPuller

    future = NotificationPuller(settings.subscription, settings.announcer()).serve()
    try:
        yield settings.subscription
    finally:
        future.cancel()


def _require_api() -> None:
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise ConfigError("PREFECT_API_URL is not set: schedules and triggers need a "
                          "running Prefect server (`prefect server start`, then set "
                          "PREFECT_API_URL=http://127.0.0.1:4200/api), or Prefect Cloud")


def serve_all(names: Collection[str] | None = None) -> None:
    """Serve the catalog's deployments (all, or those ``names``) until interrupted."""
    _require_api()
    bridge = BridgeSettings()
    specs = [s for s in deployment_specs(site_for(bridge)) if not names or s.name in names]
    if names and (unknown := set(names) - {s.name for s in specs}):
        raise ConfigError(f"no deployment named {', '.join(sorted(unknown))}")
    deployments = [runner_deployment(s) for s in specs]
    with bridge_in_background(bridge) as url, puller_in_background(bridge) as subscription:
        if url:
            log.warning("GCS bridge listening on %s/notifications", url)
        if subscription:
            log.warning("pulling GCS notifications from %s", subscription)
        serve(*deployments)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve_all(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
