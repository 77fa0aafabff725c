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

from flashfirst.flows.analyze import Analyzed, analyze
from flashfirst.tasks.uploads import read_window_uploads
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flashfirst.errors import ConfigError
from flashfirst.inputs.seen_objects import is_own_state
from flashfirst.inputs.uploads import upload_item
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode


@flow(name="on-upload-window", log_prints=True)
def on_upload_window(since: datetime | None = None, window_s: float = 300, bucket: str = "*",
                     names: str = "*", mode: RunMode = RunMode.AUTO,
                     deadline_s: float | None = None, task: TaskKind | None = None,
                     prompt: str | None = None, output: str | None = None,
                     ) -> Analyzed | None:
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
