"""The Prefect event that announces a stored object: built in this one place.

The bridge (push), the Pub/Sub puller and the polling flow all emit through
:func:`emit_object_finalized`, so a trigger written against one of them matches all three.
The event id is derived from the object's URI and generation: if two of them announce the
same object version, Prefect stores one event and its triggers fire once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flashfirst.inputs.seen_objects import StoredObject

GCS_FINALIZED = "gcs.object.finalized"
LOCAL_FINALIZED = "local.file.finalized"

#: Called like :func:`prefect.events.emit_event`; returns the event, or None if not sent.
Emit = Callable[..., Any]


def event_name(obj: StoredObject) -> str:
    return GCS_FINALIZED if obj.bucket else LOCAL_FINALIZED


def event_resource(obj: StoredObject) -> dict[str, str]:
    """The event's resource; triggers match ``gcs.object.*`` and template ``gcs.uri``."""
    if not obj.bucket:
        return {"prefect.resource.id": f"local.file.{obj.name}#{obj.generation}",
                "local.path": obj.name, "local.generation": str(obj.generation)}
    return {
        "prefect.resource.id": f"gcs.object.{obj.bucket}/{obj.name}#{obj.generation}",
        "gcs.uri": obj.uri,
        "gcs.bucket": obj.bucket,
        "gcs.name": obj.name,
        "gcs.generation": str(obj.generation),
    }


def event_payload(obj: StoredObject) -> dict[str, Any]:
    return {"bucket": obj.bucket, "name": obj.name, "generation": str(obj.generation),
            "size": obj.size, "content_type": obj.content_type, "uri": obj.uri}


def event_id(obj: StoredObject) -> uuid.UUID:
    """Same object version, same id: Prefect de-duplicates events by id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{event_name(obj)}:{obj.key}")


def emit_confirmed(**fields: Any) -> Any:
    """Like :func:`prefect.events.emit_event`, but returns only once the Prefect server has
    taken the event (``POST /events`` answered 2xx) and raises otherwise. ``emit_event``
    hands the event to a background worker and returns at once; with the server down the
    worker drops it, after the bridge has told Pub/Sub the notification was handled."""
    from prefect.client.orchestration import get_client
    from prefect.events import Event

    event = Event(**fields)
    with get_client(sync_client=True) as client:
        client.request("POST", "/events", json=[event.model_dump(mode="json")]
                       ).raise_for_status()
    return event


def emit_object_finalized(obj: StoredObject, emit: Emit | None = None) -> Any:
    """Announce ``obj`` to Prefect; returns what ``emit`` returns (None: not sent)."""
    if emit is None:
        from prefect.events import emit_event as emit
    return emit(event=event_name(obj), resource=event_resource(obj),
                payload=event_payload(obj), id=event_id(obj))
