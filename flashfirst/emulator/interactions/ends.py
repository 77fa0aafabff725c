"""The ends of background interactions, as the webhook hub delivers them.

Events ``interaction.completed``, ``.failed``, ``.cancelled``, ``.requires_action`` (the
webhooks page's list), data ``{"id", "status", "user_metadata"}``, to the interaction's own
``webhook_config.uris`` or else the subscribed webhooks. The emulator's choice where
Google's list has no event: ``incomplete`` (the output cap was reached) is delivered as
``interaction.completed``. Kept apart from ``endpoints`` so the Interactions API's
own module only stores interactions and never thinks about deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.wire.codec import Json, get

EVENTS = {"completed": "interaction.completed", "incomplete": "interaction.completed",
          "failed": "interaction.failed", "cancelled": "interaction.cancelled",
          "requires_action": "interaction.requires_action"}


@dataclass(frozen=True)
class InteractionEnd:
    id: str
    event: str
    data: Json
    uris: list[str] | None
    at: float  # emulator clock: when it finished or was cancelled


def _key(interaction_id: str) -> str:
    return f"interaction:{interaction_id}"


def pending_dynamic(stored: Any, announced: set[str]) -> bool:
    """A background interaction with its own webhook URIs, whose end is still to send."""
    return bool(stored.body.get("background") and get(stored.body, "webhookConfig")
                and _key(stored.id) not in announced)


def interaction_ends(state: EmulatorState, announced: set[str]) -> list[InteractionEnd]:
    """Background interactions ended since the last look; each is marked announced."""
    with state.lock:
        now = state.now()
        ended = [i for i in state.interactions.values()
                 if i.body.get("background") and _key(i.id) not in announced
                 and (i.cancelled_at is not None or now >= i.done_at)]
        for stored in ended:
            announced.add(_key(stored.id))
    out = []
    for stored in ended:
        status = stored.view(now)["status"]
        if status not in EVENTS:
            continue
        config = get(stored.body, "webhookConfig") or {}
        at = stored.cancelled_at if stored.cancelled_at is not None else stored.done_at
        out.append(InteractionEnd(
            id=stored.id, event=EVENTS[status], uris=get(config, "uris"), at=at,
            data={"id": stored.id, "status": status,
                  "user_metadata": get(config, "userMetadata") or {}}))
    return out
