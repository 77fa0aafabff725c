"""Pull mode against the Pub/Sub emulator: the same notifications, filter, de-duplication
and event as the bridge, read from a subscription instead of pushed."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from fixtures.gcs import GcsEmulator
from fixtures.prefect import PrefectGate, PrefectServer
from fixtures.pubsub import NOTIFY_TOPIC, gcs_notification
from flashfirst.deployments.dispatch import Announcer
from flashfirst.deployments.pubsub_pull import NotificationPuller, Pulled
from google.cloud import pubsub_v1

from flashfirst.inputs.seen_objects import SeenObjects
from flashfirst.storage import Storage


class Recorder:
    """Stands in for flashfirst.tasks.object_events.emit_confirmed; ``arrived`` is set on
    each event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.arrived = threading.Event()

    def __call__(self, **event: Any) -> dict[str, Any]:
        self.events.append(event)
        self.arrived.set()
        return event


def publish(topic: str, data: bytes, attributes: dict[str, str]) -> str:
    return pubsub_v1.PublisherClient().publish(topic, data, **attributes).result()


def pull_until(puller: NotificationPuller, count: int, deadline_s: float = 30) -> list[Pulled]:
    """Pull until ``count`` messages were taken (the emulator may hand them out in parts)."""
    taken: list[Pulled] = []
    end = time.monotonic() + deadline_s
    while len(taken) < count:
        assert time.monotonic() < end, f"only {len(taken)} of {count} messages arrived"
        taken += puller.pull_once(max_messages=10, timeout=5)
    return taken


def test_pulled_notifications_emit_once_per_object_version(
        pubsub_topic: str, pull_subscription: str) -> None:
    emitted = Recorder()
    puller = NotificationPuller(pull_subscription,
                                Announcer(SeenObjects(), bucket="uploads", emit=emitted))
    publish(pubsub_topic, *gcs_notification("uploads", "in/a.mp4", 7))
    publish(pubsub_topic, *gcs_notification("uploads", "in/a.mp4", 7))  # at-least-once
    publish(pubsub_topic, *gcs_notification("uploads", "in/a.mp4", 7, event_type="OBJECT_DELETE"))
    publish(pubsub_topic, *gcs_notification("elsewhere", "in/b.mp4", 1))

    taken = pull_until(puller, 4)

    assert sorted(p.handled.status for p in taken if p.handled) == [
        "duplicate", "emitted", "ignored", "ignored"]
    assert [e["resource"]["prefect.resource.id"] for e in emitted.events] == [
        "gcs.object.uploads/in/a.mp4#7"]


def test_an_unreadable_message_is_not_acked_so_pubsub_delivers_it_again(
        pubsub_topic: str, pull_subscription: str) -> None:
    emitted = Recorder()
    puller = NotificationPuller(pull_subscription, Announcer(SeenObjects(), emit=emitted))
    message_id = publish(pubsub_topic, b"{not json", {"eventType": "OBJECT_FINALIZE"})

    first = pull_until(puller, 1)
    again = pull_until(puller, 1)

    assert first == again == [Pulled(message_id=message_id, handled=None)]
    assert emitted.events == []


def test_streaming_pull_emits_as_messages_arrive(pubsub_topic: str,
                                                 pull_subscription: str) -> None:
    emitted = Recorder()
    future = NotificationPuller(pull_subscription,
                                Announcer(SeenObjects(), emit=emitted)).serve()
    try:
        publish(pubsub_topic, *gcs_notification("uploads", "in/c.wav", 3))
        assert emitted.arrived.wait(timeout=30), "no event from the streaming pull"
    finally:
        future.cancel()
        future.result()
    assert emitted.events[0]["resource"]["gcs.uri"] == "gs://uploads/in/c.wav"


def test_an_upload_pulled_from_its_subscription_becomes_a_prefect_event(
        gcs_notifying_server: GcsEmulator, prefect_api: PrefectServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    subscription = f"projects/test-project/subscriptions/pull-{uuid.uuid4().hex[:8]}"
    pubsub_v1.SubscriberClient().create_subscription(name=subscription, topic=NOTIFY_TOPIC)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_notifying_server.url)
    name = f"pulled/{uuid.uuid4().hex}.txt"
    generation = Storage().write_text(f"gs://uploads/{name}", "hello")
    puller = NotificationPuller(subscription,
                                Announcer(SeenObjects(), bucket="uploads", prefix="pulled/"))

    taken = pull_until(puller, 1)

    assert [p.handled.status for p in taken if p.handled] == ["emitted"]
    [event] = prefect_api.wait_for_events("gcs.object.finalized",
                                          f"gcs.object.uploads/{name}#{generation}")
    assert event["resource"]["gcs.uri"] == f"gs://uploads/{name}"


def test_while_prefect_is_down_a_pulled_message_is_nacked_and_delivered_again(
        pubsub_topic: str, pull_subscription: str, prefect_gate: PrefectGate,
        prefect_server: PrefectServer) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    name = f"in/{uuid.uuid4().hex}.mp4"
    message_id = publish(pubsub_topic, *gcs_notification("uploads", name, 1))
    puller = NotificationPuller(pull_subscription, Announcer(SeenObjects(), bucket="uploads"))
    with temporary_settings({PREFECT_API_URL: prefect_gate.api_url}):
        refused = pull_until(puller, 1)  # nothing listens where Prefect should be
        prefect_gate.open()
        taken = pull_until(puller, 1)

    assert refused == [Pulled(message_id=message_id, handled=None)]
    assert [(p.message_id, p.handled.status if p.handled else None) for p in taken] == [
        (message_id, "emitted")]
    [event] = prefect_server.wait_for_events("gcs.object.finalized",
                                             f"gcs.object.uploads/{name}#1")
    assert event["resource"]["gcs.uri"] == f"gs://uploads/{name}"
