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
from pydantic import BaseModel

from flashfirst.errors import FlashfirstError, MediaError
from flashfirst.failures import Failure, FailureKind
from flashfirst.fit_report import fit_summary
from flashfirst.items import ItemMedia, ItemResult, MediaPolicy, WorkItem
from flashfirst.media import MediaUploadError, PreparedMedia, prepare_media, resolve_policy
from flashfirst.router import RoutingPolicy, route
from flashfirst.run_context import run_context
from flashfirst.settings import Settings
from flashfirst.sources import CONTEXT_PREFIX
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
    stats = prepared.stats
    get_run_logger().info(
        "%s: %s %s -> %s bytes, tokens %s -> %s%s%s (ffmpeg %.2f s)", item.id,
        prepared.kind.value, f"{stats.bytes_before:,}", f"{stats.bytes_after:,}",
        f"{stats.tokens_before.total:,}", f"{stats.tokens_after.total:,}",
        ", reused" if stats.reused else "", ", uploaded" if stats.uploaded else "",
        stats.ffmpeg_seconds)
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
    models = [_route_model(i, routing, settings) for i in items]
    futures = prepare_media_task.map(list(items), unmapped(settings), unmapped(storage),
                                     unmapped(upload), unmapped(policy), models,
                                     unmapped(context_tokens))
    return [_outcome(item, future) for item, future in zip(items, futures, strict=True)]


def _route_model(item: WorkItem, routing: RoutingPolicy, settings: Settings) -> str | None:
    """The model the item will be routed to, routed before its size is known (a rule on
    prompt size may still move it); None for the shared context or an unknown model
    (that item fails at routing, with the cause)."""
    if item.id.startswith(CONTEXT_PREFIX):
        return None
    try:
        return route(item, routing, settings.models).model
    except FlashfirstError:
        return None


class RunMedia(BaseModel):
    """The media stage's outcome for a run: prepared items, failures, and what the later
    stages need from them."""

    prepared: dict[str, PreparedMedia]
    failures: dict[str, Failure]
    policies: dict[str, MediaPolicy] = {}

    def plus(self, other: RunMedia) -> RunMedia:
        return RunMedia(prepared={**self.prepared, **other.prepared},
                        failures={**self.failures, **other.failures},
                        policies={**self.policies, **other.policies})

    def fitted(self) -> list[str]:
        """What fitting did to each item fitted to its window."""
        return [fit_summary(i, p.stats.fit) for i, p in sorted(self.items_only().items())
                if p.stats.fit is not None]

    def items_only(self) -> dict[str, PreparedMedia]:
        """Without the shared context's media (those are not work items)."""
        return {i: p for i, p in self.prepared.items() if not i.startswith(CONTEXT_PREFIX)}

    def account_for(self, results: list[ItemResult]) -> list[ItemResult]:
        """``results`` with each media item's bytes, tokens and policy (for results.jsonl)."""
        prepared = self.items_only()
        return [r.model_copy(update={"media": ItemMedia(
            bytes_before=p.stats.bytes_before, bytes_after=p.stats.bytes_after,
            tokens_before=p.stats.tokens_before.total, tokens_after=p.stats.tokens_after.total,
            policy=self.policies[r.id], fit=p.stats.fit)}) if (p := prepared.get(r.id)) else r
            for r in results]


def prepare_run_media(items: Sequence[WorkItem], context_items: Sequence[WorkItem],
                      settings: Settings, policy: MediaPolicy | None,
                      context_tokens: int = 0) -> RunMedia:
    """Every media item of the run and of its shared context, failures kept apart.
    ``context_tokens``: the shared context's, which every item must fit beside."""
    outcomes = prepare_media_items([*items, *context_items], settings, None, True, policy,
                                   context_tokens)
    prepared = {o.item_id: o for o in outcomes if isinstance(o, PreparedMedia)}
    return RunMedia(
        prepared=prepared,
        failures={o.item_id: Failure(kind=o.kind, message=o.cause)
                  for o in outcomes if isinstance(o, MediaError)},
        # Resolved as prepare_media resolved it (it fails an item whose policy cannot be).
        policies={i.id: MediaPolicy(**resolve_policy(policy, i.media_policy).model_dump())
                  for i in items if i.id in prepared})
