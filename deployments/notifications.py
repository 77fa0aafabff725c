"""Parsing GCS notifications: Pub/Sub messages (push envelope or pulled) and Eventarc
CloudEvents (binary and structured mode; storage events, or the notification topic's
``messagePublished``) into one :class:`Notification`.

Anything we cannot read raises :class:`MalformedNotification` (the bridge answers 400); an
event of another type parses fine with ``finalized=False`` (the bridge answers 2xx so
Pub/Sub does not redeliver it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from flashfirst.errors import FlashfirstError
from flashfirst.inputs.seen_objects import StoredObject

PUBSUB_FINALIZE = "OBJECT_FINALIZE"
CLOUDEVENT_FINALIZE = "google.cloud.storage.object.v1.finalized"
CLOUDEVENT_PUBSUB = "google.cloud.pubsub.topic.v1.messagePublished"  # Eventarc on a topic


class MalformedNotification(FlashfirstError, ValueError):
    """The request is not a GCS notification we can read; the message says what is wrong."""


class Notification(BaseModel, frozen=True):
    message_id: str | None
    event_type: str
    object: StoredObject | None = None

    @property
    def finalized(self) -> bool:
        return self.object is not None


def from_pubsub_message(data: bytes, attributes: Mapping[str, str],
                        message_id: str | None) -> Notification:
    """A GCS notification as Pub/Sub delivers it (``data`` already base64-decoded)."""
    event_type = attributes.get("eventType")
    if not event_type:
        raise MalformedNotification("message has no eventType attribute")
    if event_type != PUBSUB_FINALIZE:
        return Notification(message_id=message_id, event_type=event_type)
    resource = _json_object(data, "message data") if data else {}
    fallback = {"bucket": attributes.get("bucketId"), "name": attributes.get("objectId"),
                "generation": attributes.get("objectGeneration")}
    return Notification(message_id=message_id, event_type=event_type,
                        object=_stored_object({**fallback, **resource}))


def from_push_envelope(body: Mapping[str, Any]) -> Notification:
    """A Pub/Sub push request body: ``{"message": {"data", "attributes", "messageId"}}``."""
    message = body.get("message")
    if not isinstance(message, dict):
        raise MalformedNotification("push envelope has no message object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise MalformedNotification("message attributes are not an object")
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise MalformedNotification("message data is not valid base64") from exc
    message_id = message.get("messageId") or message.get("message_id")
    return from_pubsub_message(data, attributes, str(message_id) if message_id else None)


def from_cloudevent(headers: Mapping[str, str], body: bytes) -> Notification:
    """An Eventarc CloudEvent: binary mode (``ce-*`` headers, body = object data) or
    structured mode (``application/cloudevents+json``, the whole event in the body)."""
    if "ce-specversion" in headers:
        event = {k[3:]: v for k, v in headers.items() if k.startswith("ce-")}
        data: Any = body
    else:
        event = _json_object(body, "CloudEvent")
        data = event.get("data")
        if data is None and "data_base64" in event:
            data = _b64(event["data_base64"])
    event_type, event_id = event.get("type"), event.get("id")
    if not event_type or not event_id:
        raise MalformedNotification("CloudEvent needs a type and an id")
    if event_type not in (CLOUDEVENT_FINALIZE, CLOUDEVENT_PUBSUB):
        return Notification(message_id=str(event_id), event_type=str(event_type))
    if isinstance(data, bytes | str):
        data = _json_object(data, "CloudEvent data")
    if not isinstance(data, dict):
        raise MalformedNotification("CloudEvent data is not an object")
    if event_type == CLOUDEVENT_PUBSUB:  # a GCS notification relayed from its topic
        return from_push_envelope(data)
    return Notification(message_id=str(event_id), event_type=str(event_type),
                        object=_stored_object(data))


def _stored_object(resource: Mapping[str, Any]) -> StoredObject:
    bucket, name, generation = (resource.get(k) for k in ("bucket", "name", "generation"))
    if not bucket or not name or generation in (None, ""):
        raise MalformedNotification("object needs a bucket, a name and a generation")
    try:
        return StoredObject(bucket=str(bucket), name=str(name), generation=int(generation),
                            size=int(resource["size"]) if resource.get("size") else None,
                            content_type=resource.get("contentType"))
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise MalformedNotification("object generation or size is not a whole number") from exc


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNotification(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedNotification(f"{what} is not a JSON object")
    return value


def _b64(text: Any) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise MalformedNotification("data_base64 is not valid base64") from exc
