"""The upload path with every part real: an object written to the GCS emulator is published
by it to the Pub/Sub emulator, pushed to the bridge (its own process), and stored as a
Prefect event by a Prefect server (its own process)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from fixtures.prefect import PrefectGate, PrefectServer
from fixtures.pubsub import Bridge, gcs_notification, running_bridge
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


def test_while_prefect_is_down_the_bridge_answers_503_and_pubsub_delivers_again(
        prefect_gate: PrefectGate, prefect_server: PrefectServer, pubsub_topic: str,
        tmp_path: Path) -> None:
    subscriber = pubsub_v1.SubscriberClient()
    subscription = pubsub_topic.replace("/topics/", "/subscriptions/") + "-push"
    name = f"incoming/{uuid.uuid4().hex}.txt"
    with running_bridge(prefect_gate.api_url, tmp_path) as bridge:
        subscriber.create_subscription(request={
            "name": subscription, "topic": pubsub_topic, "ack_deadline_seconds": 10,
            "push_config": {"push_endpoint": bridge.endpoint}})
        try:
            data, attributes = gcs_notification("uploads", name, 1, size=5)
            pubsub_v1.PublisherClient().publish(pubsub_topic, data, **attributes).result()

            # Nothing listens where Prefect should be: each push is refused, so the
            # subscription keeps the message and pushes it again.
            wait_for(lambda: bridge.stats().get("failed", 0) >= 2)
            assert bridge.stats().get("emitted", 0) == 0
            prefect_gate.open()  # the server is back
            [event] = prefect_server.wait_for_events(FINALIZED, f"gcs.object.uploads/{name}#1")
            wait_for(lambda: bridge.stats().get("emitted", 0) == 1)
        finally:
            subscriber.delete_subscription(subscription=subscription)
    assert event["resource"]["gcs.uri"] == f"gs://uploads/{name}"
    assert "could not announce" in bridge.log.read_text()


def wait_for(condition: Callable[[], bool], deadline_s: float = 60) -> None:
    """Poll a condition that becomes true when the asynchronous delivery happened."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.1)
