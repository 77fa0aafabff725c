"""Prefect tasks of the on-upload flows: retried reads of the bucket and of Prefect's
events over the core's decisions (``flashfirst/inputs/uploads.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from flashfirst.tasks.object_events import GCS_FINALIZED
from prefect import task
from prefect.cache_policies import NO_CACHE

from flashfirst.inputs.uploads import (
    ObjectVersion,
    finished_report,
    newest_versions,
    pinned_version,
    version_readable,
)
from flashfirst.reporting.report import RunReport
from flashfirst.run.context import environment_storage


@task(name="pin-version", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def pin_version(uri: str, generation: int | None) -> ObjectVersion:
    """The version named, or the object's current one when none is."""
    return pinned_version(environment_storage(), uri, generation)


@task(name="find-finished-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def find_finished_report(output: str) -> RunReport | None:
    """The report of an earlier successful run of this version, if any."""
    return finished_report(environment_storage(), output)


@task(name="check-version", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def check_version(version: ObjectVersion) -> bool:
    """Whether the version can still be read (False: a newer one replaced it)."""
    return version_readable(environment_storage(), version)


@task(name="read-window-uploads", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def read_window_uploads(since: datetime, window_s: float, bucket: str,
                        names: str) -> list[ObjectVersion]:
    """The newest version of each object announced in [since, since + window]."""
    return newest_versions(_upload_resources(since, window_s), bucket, names)


def _upload_resources(since: datetime, window_s: float) -> Iterator[dict[str, str]]:
    """The resources of the upload events Prefect holds for the window, page by page."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    flt = EventFilter(event=EventNameFilter(name=[GCS_FINALIZED]), occurred=EventOccurredFilter(
        since=since - timedelta(seconds=2), until=since + timedelta(seconds=window_s)))
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=flt, limit=50)  # the most a page holds
        while True:
            yield from (dict(event.resource.items()) for event in page.events)
            if not page.next_page:
                return
            page = client.read_events_page(page.next_page)
