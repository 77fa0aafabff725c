"""Analyze every upload of a window in one run: a burst of 500 files is one batch, not
500 runs.

Started by the on-upload trigger in window mode, Prefect's debounce
(https://docs.prefect.io/v3/advanced/debouncing-events): a reactive trigger with
``within`` and ``schedule_after`` of the same length fires on the first upload and its run
is scheduled for when the window closes. An automation passes only that first event, so
the run reads the window's upload events back from Prefect: those of the window that ends
at its scheduled start. An upload at a window's edge may be read by two runs; the second
finds its answer stored and pays nothing. Events only name objects; what runs is decided
here, by extension."""

from __future__ import annotations

from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from flashfirst.flows.analyze import analyze
from flashfirst.flows.on_upload import ObjectVersion, upload_item
from flashfirst.tasks.batches import BatchSubmitted
from flashfirst.tasks.object_events import GCS_FINALIZED
from flashfirst.tasks.seen_objects import is_own_state
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flashfirst.errors import ConfigError
from flashfirst.estimate import RunEstimate
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.report import RunReport


@task(name="read-window-uploads", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def read_window_uploads(since: datetime, window_s: float, bucket: str,
                        names: str) -> list[ObjectVersion]:
    """The newest version of each object announced in [since, since + window]."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    flt = EventFilter(event=EventNameFilter(name=[GCS_FINALIZED]), occurred=EventOccurredFilter(
        since=since - timedelta(seconds=2), until=since + timedelta(seconds=window_s)))
    newest: dict[str, ObjectVersion] = {}
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=flt, limit=50)  # the most a page holds
        while True:
            for event in page.events:
                resource = event.resource
                if not (fnmatchcase(resource.get("gcs.bucket", ""), bucket)
                        and fnmatchcase(resource.get("gcs.name", ""), names)):
                    continue
                version = ObjectVersion(uri=resource["gcs.uri"],
                                        generation=int(resource["gcs.generation"]))
                kept = newest.get(version.uri)
                if kept is None or kept.generation < version.generation:
                    newest[version.uri] = version
            if not page.next_page:
                break
            page = client.read_events_page(page.next_page)
    return sorted(newest.values(), key=lambda v: v.uri)


@flow(name="on-upload-window", log_prints=True)
def on_upload_window(since: datetime | None = None, window_s: float = 300, bucket: str = "*",
                     names: str = "*", mode: RunMode = RunMode.AUTO,
                     deadline_s: float | None = None, task: TaskKind | None = None,
                     prompt: str | None = None, output: str | None = None,
                     ) -> RunReport | RunEstimate | BatchSubmitted | None:
    """Analyze in one run every object version uploaded during the window.

    Args:
        since: When the window opened; unset, window_s before the run's scheduled start
            (the trigger schedules the run for when its window closes).
        window_s: How long the window stays open, in seconds.
        bucket: Bucket glob of the uploads to take (as the trigger matches).
        names: Object name glob of the uploads to take.
        mode: auto (Batch, Flex or Standard by count and deadline), batch or online.
        deadline_s: Seconds the run may take; unset, no hurry.
        task: What to do with each file; unset, by extension.
        prompt: The instruction; unset, the task's default.
        output: Where results.jsonl and report.json go; unset, under the storage root.
    """
    logger = get_run_logger()
    if since is None:
        since = flow_run.scheduled_start_time - timedelta(seconds=window_s)
    uploads = [v for v in read_window_uploads(since, window_s, bucket, names)
               if not is_own_state(v.name)]
    items: list[WorkItem] = []
    for version in uploads:
        try:
            items.append(upload_item(version, task, prompt))
        except ConfigError as exc:  # one file of a kind we cannot analyze: the rest go on
            logger.warning("%s", exc)
    logger.info("%d uploads in the window from %s, %d to analyze", len(uploads), since,
                len(items))
    if not items:
        return None
    return analyze(AnalyzeParams(items=items, mode=mode, deadline_s=deadline_s, output=output))
