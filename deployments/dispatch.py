"""What the bridge and the puller do with a parsed notification: filter, de-duplicate,
announce. One place, so push and pull behave the same."""

from __future__ import annotations

import logging
from enum import StrEnum

from flashfirst.deployments.notifications import Notification
from flashfirst.tasks.object_events import Emit, emit_confirmed, emit_object_finalized
from pydantic import BaseModel

from flashfirst.errors import AnnounceFailed
from flashfirst.inputs.seen_objects import SeenObjects, is_own_state

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    EMITTED = "emitted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class Handled(BaseModel, frozen=True):
    """What became of one notification; the bridge returns it as its response body."""

    status: Outcome
    reason: str = ""
    uri: str | None = None
    generation: int | None = None


class Announcer:
    """Filters notifications by bucket and prefix and announces each object version once.
    The notification is handled only when Prefect has the event (``emit_confirmed``)."""

    def __init__(self, seen: SeenObjects, bucket: str | None = None, prefix: str = "",
                 emit: Emit = emit_confirmed) -> None:
        self.seen, self.bucket, self.prefix, self._emit = seen, bucket, prefix, emit

    def handle(self, note: Notification) -> Handled:
        obj = note.object
        if obj is None:
            return Handled(status=Outcome.IGNORED, reason=f"event type {note.event_type}")
        where = {"uri": obj.uri, "generation": obj.generation}
        if self.bucket and obj.bucket != self.bucket:
            return Handled(status=Outcome.IGNORED, reason="other bucket", **where)
        if not obj.name.startswith(self.prefix):
            return Handled(status=Outcome.IGNORED, reason="outside the prefix", **where)
        root = self.seen.marker_root
        if is_own_state(obj.name) or (root and obj.uri.startswith(root + "/")):
            return Handled(status=Outcome.IGNORED, reason="our own state object", **where)
        if not self.seen.claim(obj, note.message_id):
            return Handled(status=Outcome.DUPLICATE, reason="already announced", **where)
        try:
            event = emit_object_finalized(obj, self._emit)
            if event is None:
                raise AnnounceFailed(f"{obj.uri}: Prefect did not take the event "
                                     "(is PREFECT_API_URL set and the server up?)")
        except Exception:
            self.seen.release(obj, note.message_id)
            raise
        log.info("announced %s generation %s", obj.uri, obj.generation)
        return Handled(status=Outcome.EMITTED, **where)
