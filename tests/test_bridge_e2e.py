"""The upload path with every part real: an object written to the GCS emulator is published
by it to the Pub/Sub emulator, pushed to the bridge (its own process), and stored as a
Prefect event by a Prefect server (its own process)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable

import httpx
from fixtures.prefect import PrefectServer
from fixtures.pubsub import Bridge, gcs_notification
from google.cloud import pubsub_v1

from flashfirst.storage import Storage, split_gcs

FINALIZED = "gcs.object.finalized"


def upload(bucket_uri: str, name: str, text: str = "hello") -> tuple[str, int]:
    """Write an object with the real client; returns (URI, generation)."""
    uri = f"{bucket_uri}/{name}"
    return uri, Storage().write_text(uri, text)


def resource_id(uri: str, generation: int) -> str:
    bucket, name = split_gcs(uri)
    return f"gcs.object.{bucket}/{name}#{generation}"


def test_an_upload_becomes_one_prefect_event_naming_the_object(
        uploads_bucket: str, bridge: Bridge, prefect_server: PrefectServer) -> None:
    uri, generation = upload(uploads_bucket, f"incoming/{uuid.uuid4().hex}.txt", "hello")

    [event] = prefect_server.wait_for_events(FINALIZED, resource_id(uri, generation))

    bucket, name = split_gcs(uri)
    assert event["resource"] == {
        "prefect.resource.id": resource_id(uri, generation), "gcs.uri": uri,
        "gcs.bucket": bucket, "gcs.name": name, "gcs.generation": str(generation)}
    assert event["payload"]["size"] == 5
    assert event["payload"]["content_type"].startswith("text/plain")


def test_a_redelivered_notification_adds_no_second_event(
        uploads_bucket: str, bridge: Bridge, prefect_server: PrefectServer) -> None:
    uri, generation = upload(uploads_bucket, f"incoming/{uuid.uuid4().hex}.txt")
    prefect_server.wait_for_events(FINALIZED, resource_id(uri, generation))
    duplicates_before = bridge.stats().get("duplicate", 0)

    # Pub/Sub delivers at least once: the same notification again, by the topic and direct.
    data, attributes = gcs_notification(*split_gcs(uri), generation, size=5)
    pubsub_v1.PublisherClient().publish(
        "projects/test-project/topics/gcs-events", data, **attributes).result()
    envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                            "messageId": "redelivered-1"}}
    direct = httpx.post(bridge.endpoint, json=envelope, timeout=30)
    wait_for(lambda: bridge.stats().get("duplicate", 0) >= duplicates_before + 2)

    # A later upload's event is stored after any duplicate would have been.
    later_uri, later_generation = upload(uploads_bucket, f"incoming/{uuid.uuid4().hex}.txt")
    prefect_server.wait_for_events(FINALIZED, resource_id(later_uri, later_generation))
    assert direct.json()["status"] == "duplicate"
    assert len(prefect_server.read_events(FINALIZED, resource_id(uri, generation))) == 1


def test_a_forged_notification_with_a_bad_token_is_refused_and_emits_nothing(
        uploads_bucket: str, bridge: Bridge, prefect_server: PrefectServer) -> None:
    forged_name = f"incoming/forged-{uuid.uuid4().hex}.txt"
    data, attributes = gcs_notification("uploads", forged_name, 1)
    envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                            "messageId": "forged-1"}}

    no_token = httpx.post(f"{bridge.url}/notifications", json=envelope, timeout=30)
    wrong = httpx.post(f"{bridge.url}/notifications?token=not-{bridge.token}", json=envelope,
                       timeout=30)

    later_uri, later_generation = upload(uploads_bucket, f"incoming/{uuid.uuid4().hex}.txt")
    prefect_server.wait_for_events(FINALIZED, resource_id(later_uri, later_generation))
    assert (no_token.status_code, wrong.status_code) == (401, 403)
    assert prefect_server.read_events(FINALIZED, resource_id(f"gs://uploads/{forged_name}",
                                                             1)) == []
    assert bridge.token not in bridge.log.read_text()  # neither the right one nor "not-..."


def wait_for(condition: Callable[[], bool], deadline_s: float = 60) -> None:
    """Poll a condition that becomes true when the asynchronous delivery happened."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.1)
