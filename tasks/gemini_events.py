"""The Prefect event that announces the end of a Gemini job: built in this one place.

The bridge emits it for a verified Gemini webhook delivery; a deployment triggered by
``gemini.batch.*`` reads the job's name from the resource. Names are fixed (other tests and
users' triggers match them): ``gemini.batch.succeeded|failed|expired|cancelled`` and
``gemini.interaction.completed|failed|cancelled|requires_action``, about the resource
``gemini.batch.<name>`` (``gemini.interaction.<name>``), the job's name as the API gives it
(``batches/abc123``). The event id is derived from the delivery's ``webhook-id``: Prefect
stores one event per id, so a redelivery after a bridge restart still starts nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from flashfirst.tasks.object_events import Emit
from pydantic import BaseModel, Field

JobKind = Literal["batch", "interaction"]

#: Gemini's event types (``type`` in a delivery) we turn into Prefect events.
KNOWN_EVENTS: frozenset[str] = frozenset({
    "batch.succeeded", "batch.failed", "batch.expired", "batch.cancelled",
    "interaction.completed", "interaction.failed", "interaction.cancelled",
    "interaction.requires_action",
})


#: The Prefect events of a batch job's end, which the collect-on-webhook deployment expects.
BATCH_ENDED_EVENTS: list[str] = [f"gemini.{e}" for e in sorted(KNOWN_EVENTS)
                                 if e.startswith("batch.")]


class GeminiJobEnded(BaseModel, frozen=True):
    """One verified delivery: which job, how it ended, and what the submitter attached."""

    event_type: str = Field(description="Gemini's event type, e.g. batch.succeeded.")
    name: str = Field(min_length=1, description="The job's name, e.g. batches/abc123.")
    webhook_id: str = Field(min_length=1, description="The delivery's idempotency key.")
    user_metadata: dict[str, Any] = Field(default_factory=dict)
    state: str | None = Field(None, description="The job's state, when the delivery says.")

    @property
    def kind(self) -> JobKind:
        return "batch" if self.event_type.startswith("batch.") else "interaction"

    @property
    def prefect_event(self) -> str:
        return f"gemini.{self.event_type}"

    @property
    def resource_id(self) -> str:
        return f"gemini.{self.kind}.{self.name}"


def event_resource(ended: GeminiJobEnded) -> dict[str, str]:
    """Triggers match ``gemini.batch.*`` and template ``gemini.name``."""
    return {"prefect.resource.id": ended.resource_id, "gemini.name": ended.name,
            "gemini.kind": ended.kind}


def event_payload(ended: GeminiJobEnded) -> dict[str, Any]:
    return {"name": ended.name, "event_type": ended.event_type, "state": ended.state,
            "user_metadata": ended.user_metadata, "webhook_id": ended.webhook_id}


def event_id(ended: GeminiJobEnded) -> uuid.UUID:
    """Same delivery, same id: Prefect de-duplicates events by id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"gemini-webhook:{ended.webhook_id}")


def emit_gemini_job_ended(ended: GeminiJobEnded, emit: Emit) -> Any:
    """Announce ``ended`` to Prefect; returns what ``emit`` returns (None: not sent)."""
    return emit(event=ended.prefect_event, resource=event_resource(ended),
                payload=event_payload(ended), id=event_id(ended))
