"""Registering the project's static Gemini webhook once: the bridge's ``/gemini-webhooks``
subscribed to the end of batch jobs and interactions.

The signing secret exists in exactly one answer (the create call's); it is handed back as a
``SecretStr`` for the caller to put where the bridge reads it, never logged. Registering a
URI that already has a webhook creates nothing: its secret cannot be shown again (rotate it
with ``client.webhooks.rotate_signing_secret`` if it was lost)."""

from __future__ import annotations

from google import genai
from pydantic import BaseModel, SecretStr

from flashfirst.errors import ConfigError

JOB_END_EVENTS = ["batch.succeeded", "batch.failed", "batch.expired",
                  "interaction.completed", "interaction.failed"]


class Registered(BaseModel):
    webhook_id: str
    created: bool
    secret: SecretStr | None = None  # only when created


def register_webhook(client: genai.Client, uri: str,
                     events: list[str] | None = None) -> Registered:
    """The webhook delivering ``events`` to ``uri``: the existing one, or a new one."""
    if not uri.startswith("https://") and not uri.startswith("http://127.0.0.1"):
        raise ConfigError(f"webhook URI {uri!r}: Gemini delivers to public https:// URLs")
    listed = client.webhooks.list()
    for hook in listed.webhooks or []:
        if hook.uri == uri and hook.id:
            return Registered(webhook_id=hook.id, created=False)
    created = client.webhooks.create(uri=uri, subscribed_events=events or JOB_END_EVENTS,
                                     name="flashfirst-bridge")
    if not created.id or not created.new_signing_secret:
        raise ConfigError("webhooks.create answered without an id or a signing secret")
    return Registered(webhook_id=created.id, created=True,
                      secret=SecretStr(created.new_signing_secret))
