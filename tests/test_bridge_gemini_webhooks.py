"""Gemini webhook deliveries against the bridge in its own process, emitting to a real
Prefect server: what is accepted (signed, rotated), what is stored once (redeliveries),
and what is refused, counted and never emitted (unsigned, mis-signed, replayed, oversized,
not JSON, unknown events). Deliveries are signed here as Gemini signs them (Standard
Webhooks, HMAC-SHA256), with the ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fixtures.prefect import PrefectServer
from fixtures.pubsub import Bridge, running_bridge
from standardwebhooks import Webhook


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


OLD_SECRET, NEW_SECRET, FOREIGN_SECRET = new_secret(), new_secret(), new_secret()


@pytest.fixture(scope="module")
def bridge(prefect_server: PrefectServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """The bridge mid-rotation: it holds the old and the new secret."""
    secrets = f"{OLD_SECRET} {NEW_SECRET}"
    with running_bridge(prefect_server.api_url, tmp_path_factory.mktemp("gemini-bridge"),
                        extra_env={"FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET": secrets}
                        ) as running:
        yield running


def job_ended(name: str, event_type: str = "batch.succeeded",
              user_metadata: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"type": event_type, "timestamp": datetime.now(UTC).isoformat(),
                       "data": {"name": name, "state": "BATCH_STATE_SUCCEEDED",
                                "user_metadata": user_metadata or {}}}).encode()


def signed(body: bytes, *secrets: str, webhook_id: str | None = None,
           at: datetime | None = None) -> dict[str, str]:
    """Standard Webhooks headers with one ``v1,`` signature per secret."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signatures = " ".join(Webhook(s).sign(webhook_id, at, body.decode()) for s in secrets)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json"}


def deliver(bridge: Bridge, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{bridge.url}/gemini-webhooks", content=body, headers=headers,
                      timeout=30)


def a_batch() -> str:
    return f"batches/{uuid.uuid4().hex[:12]}"


def test_a_signed_batch_delivery_becomes_a_prefect_event_naming_the_job(
        bridge: Bridge, prefect_server: PrefectServer) -> None:
    name = a_batch()
    body = job_ended(name, user_metadata={"run_id": "run-42", "items": 3})

    response = deliver(bridge, body, signed(body, NEW_SECRET))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "emitted"
    [event] = prefect_server.wait_for_events("gemini.batch.succeeded", f"gemini.batch.{name}")
    assert event["resource"]["gemini.name"] == name
    assert event["payload"]["user_metadata"] == {"run_id": "run-42", "items": 3}
    assert NEW_SECRET not in json.dumps(event)


@pytest.mark.parametrize("event_type", ["batch.failed", "batch.expired", "batch.cancelled",
                                        "interaction.completed", "interaction.failed"])
def test_each_job_end_has_its_own_prefect_event_name(
        bridge: Bridge, prefect_server: PrefectServer, event_type: str) -> None:
    kind = event_type.split(".")[0]
    name = f"{kind}-{uuid.uuid4().hex[:8]}"
    body = job_ended(name, event_type)

    assert deliver(bridge, body, signed(body, OLD_SECRET)).status_code == 200

    prefect_server.wait_for_events(f"gemini.{event_type}", f"gemini.{kind}.{name}")


def test_a_delivery_signed_during_a_rotation_is_accepted_by_either_signature(
        bridge: Bridge, prefect_server: PrefectServer) -> None:
    name = a_batch()
    body = job_ended(name)

    # Gemini signs with the secret it rotates away from and the new one; one we never
    # held comes first and must not spoil the match.
    response = deliver(bridge, body, signed(body, FOREIGN_SECRET, NEW_SECRET))

    assert response.status_code == 200, response.text
    prefect_server.wait_for_events("gemini.batch.succeeded", f"gemini.batch.{name}")


def test_a_redelivery_with_the_same_webhook_id_answers_200_and_stores_no_second_event(
        bridge: Bridge, prefect_server: PrefectServer) -> None:
    name = a_batch()
    body = job_ended(name)
    headers = signed(body, NEW_SECRET)
    assert deliver(bridge, body, headers).status_code == 200
    duplicates_before = bridge.stats().get("gemini_duplicate", 0)

    again = deliver(bridge, body, headers)

    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert bridge.stats()["gemini_duplicate"] == duplicates_before + 1
    # A later delivery's event is stored after a duplicate would have been.
    later = a_batch()
    later_body = job_ended(later)
    deliver(bridge, later_body, signed(later_body, NEW_SECRET))
    prefect_server.wait_for_events("gemini.batch.succeeded", f"gemini.batch.{later}")
    assert len(prefect_server.read_events("gemini.batch.succeeded",
                                          f"gemini.batch.{name}")) == 1


def _unsigned(body: bytes) -> dict[str, str]:
    return {"content-type": "application/json"}


def _mis_signed(body: bytes) -> dict[str, str]:
    return signed(body, FOREIGN_SECRET)


def _replayed(body: bytes) -> dict[str, str]:
    return signed(body, NEW_SECRET, at=datetime.now(UTC) - timedelta(minutes=6))


def _tampered(body: bytes) -> dict[str, str]:
    return signed(body.replace(b"}}", b', "extra": 1}}'), NEW_SECRET)


def _garbled_signature(body: bytes) -> dict[str, str]:
    return signed(body, NEW_SECRET) | {"webhook-signature": "v1 no-comma-here"}


@pytest.mark.parametrize(("case", "make_body", "make_headers", "status", "counted"), [
    ("unsigned", job_ended, _unsigned, 401, "gemini_unsigned"),
    ("mis-signed", job_ended, _mis_signed, 403, "gemini_bad_signature"),
    ("tampered body", job_ended, _tampered, 403, "gemini_bad_signature"),
    ("garbled signature", job_ended, _garbled_signature, 403, "gemini_bad_signature"),
    ("replayed", job_ended, _replayed, 403, "gemini_stale"),
    ("oversized", lambda n: job_ended(n, user_metadata={"x": "y" * 300_000}),
     lambda b: signed(b, NEW_SECRET), 413, "gemini_too_large"),
    ("not JSON", lambda n: f"<xml>{n}</xml>".encode(), lambda b: signed(b, NEW_SECRET), 400,
     "gemini_not_json"),
    ("unknown event", lambda n: job_ended(n, "video.generated"),
     lambda b: signed(b, NEW_SECRET), 422, "gemini_unknown_event"),
])
def test_a_bad_delivery_is_refused_counted_and_emits_nothing(
        bridge: Bridge, prefect_server: PrefectServer, case: str, make_body: Any,
        make_headers: Any, status: int, counted: str) -> None:
    name = a_batch()
    body = make_body(name)
    before = bridge.stats().get(counted, 0)

    response = deliver(bridge, body, make_headers(body))

    assert response.status_code == status, f"{case}: {response.text}"
    assert bridge.stats()[counted] == before + 1
    assert NEW_SECRET not in response.text and FOREIGN_SECRET not in response.text
    # A good delivery sent afterwards is stored; the refused one never is.
    later = a_batch()
    later_body = job_ended(later)
    deliver(bridge, later_body, signed(later_body, NEW_SECRET))
    prefect_server.wait_for_events("gemini.batch.succeeded", f"gemini.batch.{later}")
    for event in ("gemini.batch.succeeded", "gemini.video.generated"):
        assert prefect_server.read_events(event, f"gemini.batch.{name}") == []


def test_the_bridge_log_never_shows_the_signing_secret(bridge: Bridge) -> None:
    body = job_ended(a_batch())
    deliver(bridge, body, signed(body, FOREIGN_SECRET))

    log = bridge.log.read_text()
    assert "refused a Gemini webhook delivery" in log
    for secret in (OLD_SECRET, NEW_SECRET):
        assert secret not in log and secret.removeprefix("whsec_") not in log
