"""Every deployment of the project, defined once: ``flashfirst serve`` builds its runner
deployments from here, and a test holds ``prefect.yaml`` to the same definitions, so the
two ways of running (served locally, deployed to a work pool) cannot drift apart.

What differs from site to site (bucket, prefix, schedule, time zone) is a
:class:`SiteSettings`; ``prefect.yaml`` keeps its copy in ``definitions.site``.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import Any

from flashfirst.tasks.gemini_events import BATCH_ENDED_EVENTS
from flashfirst.tasks.object_events import GCS_FINALIZED
from prefect import Flow
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SiteSettings(BaseSettings):
    """``FLASHFIRST_DEPLOY_*``: where this site's data lives and when work runs."""

    model_config = SettingsConfigDict(env_prefix="FLASHFIRST_DEPLOY_", env_file=".env",
                                      extra="ignore")

    uploads_bucket: str = Field(
        "*", description="Bucket whose uploads start on-upload runs (a glob; * any).")
    uploads_names: str = Field(
        "*", description="Object names that start on-upload runs, a glob such as incoming/*.")
    scheduled_source: str = Field(
        "gs://my-bucket/daily/", description="What the scheduled analyze run reads.")
    scheduled_cron: str = Field("0 2 * * *", description="When the scheduled run starts.")
    timezone: str = Field("UTC", description="Time zone of the cron schedules (IANA name).")
    manual_source: str = Field(
        "gs://my-bucket/inbox/", description="Default source of runs started by hand.")
    poll_source: str = Field(
        "gs://my-bucket/incoming/", description="What the polling sensor watches.")
    poll_interval_s: int = Field(300, gt=0, description="Seconds between two polls.")
    poll_enabled: bool = Field(
        False, description="Poll on schedule: for buckets that send no notifications (where "
        "they do, the bridge already announces every upload).")
    janitor_cron: str = Field("17 * * * *", description="When the cache janitor sweeps.")
    uploads_window_s: int = Field(
        0, ge=0, description="Collect the uploads of this many seconds into one run "
        "(on-upload-window/gcs-window, e.g. 300); 0 analyzes each upload in its own run.")
    collect_interval_s: int = Field(
        600, gt=0, description="Seconds between two looks at the batch jobs runs left "
        "running (collect_later).")
    work_pool: str = Field("flashfirst", description="The work pool `prefect deploy` uses.")


class Collision(StrEnum):
    """What a run does when its deployment's concurrency limit is full."""

    ENQUEUE = "ENQUEUE"  # wait its turn: every upload must be processed
    CANCEL_NEW = "CANCEL_NEW"  # skip: the next tick covers the same ground


class Schedule(BaseModel):
    cron: str | None = None
    interval_s: int | None = None
    timezone: str | None = None
    active: bool = True


class Trigger(BaseModel):
    """A deployment event trigger; ``parameters`` are Jinja templates over the event."""

    expect: list[str]
    match: dict[str, str]
    parameters: dict[str, str]
    within_s: int | None = Field(
        None, description="Debounce: fire on the first event, ignore the rest of this many "
        "seconds, and start the run when they have passed (``within`` = ``schedule_after``).")
    enabled: bool = True


class DeploymentSpec(BaseModel):
    """One deployment: which flow, with what, when; nothing about where it runs."""

    name: str
    module: str = Field(description="Importable module holding the flow.")
    attribute: str = Field(description="The flow's name in that module.")
    description: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    schedules: list[Schedule] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    concurrency_limit: int | None = None
    collision_strategy: Collision | None = None
    tags: list[str] = Field(default_factory=lambda: ["flashfirst"])

    @property
    def entrypoint(self) -> str:
        """As ``prefect.yaml`` writes it: a module path, importable wherever flashfirst is
        installed (a worker's virtualenv, a container image), so no code needs pulling."""
        return f"{self.module}.{self.attribute}"

    def load_flow(self) -> Flow:
        return getattr(importlib.import_module(self.module), self.attribute)


ON_UPLOAD_PARAMETERS = {"uri": "{{ event.resource['gcs.uri'] }}",
                        "generation": "{{ event.resource['gcs.generation'] | int }}"}
"""The object version an event names (labels set in ``tasks/object_events.py``)."""


def deployment_specs(site: SiteSettings) -> list[DeploymentSpec]:
    """The project's deployments for ``site``."""
    analyze = {"module": "flashfirst.deployments.entrypoints", "attribute": "analyze"}
    window = site.uploads_window_s or 300  # the window deployment's, when it is enabled
    return [
        DeploymentSpec(
            name="scheduled", **analyze, parameters={"params": {"source": site.scheduled_source}},
            description="Analyze everything under the scheduled source, once a day.",
            schedules=[Schedule(cron=site.scheduled_cron, timezone=site.timezone)],
            concurrency_limit=1, collision_strategy=Collision.CANCEL_NEW),
        DeploymentSpec(
            name="manual", **analyze, parameters={"params": {"source": site.manual_source}},
            description="Runs started by hand from the UI: change the form and go."),
        DeploymentSpec(
            name="batch", **analyze,
            parameters={"params": {"source": site.manual_source, "mode": "batch"}},
            description="By hand, through the Batch API: half price, results within 24 h."),
        DeploymentSpec(
            name="gcs", module="flashfirst.flows.on_upload", attribute="on_upload",
            description="Analyze each object version uploaded under the watched prefix.",
            triggers=[Trigger(
                expect=[GCS_FINALIZED], parameters=ON_UPLOAD_PARAMETERS,
                match={"prefect.resource.id": "gcs.object.*",
                       "gcs.bucket": site.uploads_bucket, "gcs.name": site.uploads_names},
                enabled=site.uploads_window_s == 0)],
            concurrency_limit=4, collision_strategy=Collision.ENQUEUE),
        DeploymentSpec(
            name="gcs-window", module="flashfirst.flows.on_upload_window",
            attribute="on_upload_window",
            description="Analyze every upload of a window in one run (a burst is one batch).",
            parameters={"window_s": window, "bucket": site.uploads_bucket,
                        "names": site.uploads_names},
            triggers=[Trigger(
                expect=[GCS_FINALIZED], parameters={},
                match={"prefect.resource.id": "gcs.object.*",
                       "gcs.bucket": site.uploads_bucket, "gcs.name": site.uploads_names},
                within_s=window, enabled=site.uploads_window_s > 0)],
            concurrency_limit=2, collision_strategy=Collision.ENQUEUE),
        DeploymentSpec(
            name="hourly", module="flashfirst.flows.cache_janitor", attribute="cache_janitor",
            description="Delete caches idle past the reuse window; report their cost.",
            schedules=[Schedule(cron=site.janitor_cron, timezone=site.timezone)],
            concurrency_limit=1, collision_strategy=Collision.CANCEL_NEW),
        DeploymentSpec(
            name="collect-batches", module="flashfirst.flows.collect_batches",
            attribute="collect_batches",
            description="Finish the batch runs whose jobs have ended; show the others' "
            "progress.",
            schedules=[Schedule(interval_s=site.collect_interval_s)],
            concurrency_limit=1, collision_strategy=Collision.CANCEL_NEW),
        DeploymentSpec(
            name="collect-on-webhook", module="flashfirst.flows.collect_batches",
            attribute="collect_batch_job",
            description="Finish the batch run waiting for the job a Gemini webhook says "
            "has ended.",
            triggers=[Trigger(
                expect=BATCH_ENDED_EVENTS, match={"prefect.resource.id": "gemini.batch.*"},
                parameters={"job": "{{ event.resource['gemini.name'] }}"})],
            concurrency_limit=2, collision_strategy=Collision.ENQUEUE),
        DeploymentSpec(
            name="poll", module="flashfirst.flows.poll_bucket", attribute="poll_bucket",
            description="For buckets without notifications: announce new objects.",
            parameters={"request": {"source": site.poll_source, "skip_existing": True}},
            schedules=[Schedule(interval_s=site.poll_interval_s, active=site.poll_enabled)],
            concurrency_limit=1, collision_strategy=Collision.CANCEL_NEW),
    ]
