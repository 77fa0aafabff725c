"""The media stage's outcome for a whole run: every item's prepared media or failure, and
what the later stages read from it (fitted items, per-item accounting for results.jsonl).
The shared context's media are prepared beside the items' but are not work items."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from flashfirst.errors import FlashfirstError, MediaError
from flashfirst.failures import Failure
from flashfirst.inputs.context import CONTEXT_PREFIX
from flashfirst.items import ItemMedia, ItemResult, MediaPolicy, WorkItem
from flashfirst.media.policies import resolve_policy
from flashfirst.media.prepared import PreparedMedia
from flashfirst.planning.router import RoutingPolicy, route
from flashfirst.reporting.fit import fit_summary
from flashfirst.settings import Settings


class RunMedia(BaseModel):
    """Prepared items, failures, and the policy each prepared item was given."""

    prepared: dict[str, PreparedMedia]
    failures: dict[str, Failure]
    policies: dict[str, MediaPolicy] = {}

    @classmethod
    def from_outcomes(cls, items: Sequence[WorkItem],
                      outcomes: Sequence[PreparedMedia | MediaError],
                      policy: MediaPolicy | None) -> RunMedia:
        """Outcomes of the items (and context items) prepared, failures kept apart."""
        prepared = {o.item_id: o for o in outcomes if isinstance(o, PreparedMedia)}
        return cls(
            prepared=prepared,
            failures={o.item_id: Failure(kind=o.kind, message=o.cause)
                      for o in outcomes if isinstance(o, MediaError)},
            # Resolved as prepare_media resolved it (it fails an item whose policy cannot be).
            policies={i.id: MediaPolicy(**resolve_policy(policy, i.media_policy).model_dump())
                      for i in items if i.id in prepared})

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


def routed_model(item: WorkItem, routing: RoutingPolicy, settings: Settings) -> str | None:
    """The model the item will be routed to, routed before its size is known (a rule on
    prompt size may still move it); None for the shared context or an unknown model
    (that item fails at routing, with the cause)."""
    if item.id.startswith(CONTEXT_PREFIX):
        return None
    try:
        return route(item, routing, settings.models).model
    except FlashfirstError:
        return None


def saved_line(prepared: PreparedMedia) -> str:
    """One log line of what preparing an item's media saved."""
    stats = prepared.stats
    return (f"{prepared.item_id}: {prepared.kind.value} {stats.bytes_before:,} -> "
            f"{stats.bytes_after:,} bytes, tokens {stats.tokens_before.total:,} -> "
            f"{stats.tokens_after.total:,}{', reused' if stats.reused else ''}"
            f"{', uploaded' if stats.uploaded else ''} (ffmpeg {stats.ffmpeg_seconds:.2f} s)")
