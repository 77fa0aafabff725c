"""Prefect tasks for media preparation: the core (``flashfirst.media``) plus retries of
transient upload errors, a log line per item, and mapping that keeps siblings going.

Parallelism: items are mapped on the flow's task runner; the core lets at most
``settings.media.workers`` ffmpeg processes run at once (CPU-bound; default = cores),
while uploads and reused items proceed beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from flashfirst.errors import MediaError
from flashfirst.failures import FailureKind
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import MediaUploadError, PreparedMedia, prepare_media
from flashfirst.media.run_media import RunMedia, routed_model, saved_line
from flashfirst.run.context import run_context
from flashfirst.settings import Settings
from flashfirst.storage import Storage


def _retry_transient_uploads(task: Any, task_run: Any, state: Any) -> bool:
    """Retry rate limits, server errors and dropped connections; an unreadable file
    fails the same way every time. Prepared outputs are stored, so a retry only
    repeats the upload, never the ffmpeg work."""
    try:
        state.result()
    except MediaUploadError as exc:
        return exc.transient
    except Exception:  # every other failure is final for this item
        return False
    return False


@task(name="prepare-media", task_run_name="prepare-media-{item.id}", retries=2,
      retry_delay_seconds=[2, 10], retry_condition_fn=_retry_transient_uploads,
      cache_policy=NO_CACHE)
def prepare_media_task(item: WorkItem, settings: Settings, storage: Storage | None,
                       upload: bool, policy: MediaPolicy | None = None,
                       model: str | None = None, context_tokens: int = 0) -> PreparedMedia:
    """Prepare one item's media (downsample, store, upload) and log what it saved.
    The client (and, unless given, the storage) come from the run context of the process
    that runs the task, not passed in: task arguments must pickle (Dask).
    ``model``: the item's route, whose token rules count what it saved and whose window,
    less ``context_tokens`` (the shared context's), the item must fit."""
    shared = run_context(settings)
    client = shared.client if upload else None
    prepared = prepare_media(item, settings, storage or shared.storage, client, policy, model,
                             context_tokens=context_tokens)
    get_run_logger().info("%s", saved_line(prepared))
    return prepared


def _outcome(item: WorkItem, future: PrefectFuture[PreparedMedia]) -> PreparedMedia | MediaError:
    future.wait()
    try:
        return future.result()
    except MediaError as exc:
        return exc
    except Exception as exc:  # recorded as this item's failure
        return MediaError(item.id, f"{type(exc).__name__}: {exc}", FailureKind.INTERNAL)


def prepare_media_items(items: Sequence[WorkItem], settings: Settings,
                        storage: Storage | None, upload: bool, policy: MediaPolicy | None = None,
                        context_tokens: int = 0) -> list[PreparedMedia | MediaError]:
    """Map ``prepare_media_task`` over ``items`` (call it inside a flow).

    Returns one entry per item, in order: its ``PreparedMedia`` or the ``MediaError``
    naming it and the cause. A failed item never fails its siblings. ``storage`` None:
    each task uses its process's run context's."""
    if not items:
        return []
    routing = run_context(settings).policy
    models = [routed_model(i, routing, settings) for i in items]
    futures = prepare_media_task.map(list(items), unmapped(settings), unmapped(storage),
                                     unmapped(upload), unmapped(policy), models,
                                     unmapped(context_tokens))
    return [_outcome(item, future) for item, future in zip(items, futures, strict=True)]


def prepare_run_media(items: Sequence[WorkItem], context_items: Sequence[WorkItem],
                      settings: Settings, policy: MediaPolicy | None,
                      context_tokens: int = 0) -> RunMedia:
    """Every media item of the run and of its shared context, failures kept apart.
    ``context_tokens``: the shared context's, which every item must fit beside."""
    outcomes = prepare_media_items([*items, *context_items], settings, None, True, policy,
                                   context_tokens)
    return RunMedia.from_outcomes(items, outcomes, policy)
