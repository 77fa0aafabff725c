"""The bridge's HTTP contract, in-process: what it accepts, refuses, ignores and
de-duplicates. Events go to a recorder here, for speed; tests/test_bridge_e2e.py sends them
to a real Prefect server, and meets it down (503, Pub/Sub delivers again)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flashfirst.deployments.bridge import BridgeSettings, create_bridge_app
from starlette.testclient import TestClient

from flashfirst.errors import ConfigError
from flashfirst.inputs.seen_objects import SeenObjects, StoredObject

TOKEN = "s3cret-token-for-tests"


class Recorder:
    """Stands in for flashfirst.tasks.object_events.emit_confirmed: keeps what would have been
    emitted."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failing = False

    def __call__(self, **event: Any) -> dict[str, Any] | None:
        if self.failing:
            return None  # an emit that reports, rather than raises, a refused event
        self.events.append(event)
        return event


@pytest.fixture
def emitted() -> Recorder:
    return Recorder()


def make_client(emitted: Recorder, **settings: Any) -> TestClient:
    config = BridgeSettings(token=TOKEN, **{"bucket": "uploads", **settings})
    return TestClient(create_bridge_app(config, emit=emitted))


@pytest.fixture
def client(emitted: Recorder) -> TestClient:
    return make_client(emitted, prefix="incoming/")


def push(name: str = "incoming/a.mp4", generation: int = 7, bucket: str = "uploads",
         message_id: str = "m-1", event_type: str = "OBJECT_FINALIZE") -> dict[str, Any]:
    resource = {"bucket": bucket, "name": name, "generation": str(generation), "size": "1024",
                "contentType": "video/mp4"}
    return {"message": {
        "data": base64.b64encode(json.dumps(resource).encode()).decode(),
        "attributes": {"eventType": event_type, "bucketId": bucket, "objectId": name,
                       "objectGeneration": str(generation), "payloadFormat": "JSON_API_V1"},
        "messageId": message_id, "publishTime": "2026-11-28T02:28:49.581Z"},
        "subscription": "projects/test-project/subscriptions/gcs-events-push"}


def cloudevent(name: str = "incoming/a.mp4", generation: int = 7,
               kind: str = "google.cloud.storage.object.v1.finalized") -> tuple[dict, dict]:
    """Eventarc's binary mode: attributes in ce-* headers, the object as the body."""
    headers = {"ce-specversion": "1.0", "ce-id": f"ce-{generation}", "ce-type": kind,
               "ce-source": "//storage.googleapis.com/projects/_/buckets/uploads",
               "ce-subject": f"objects/{name}", "content-type": "application/json"}
    data = {"bucket": "uploads", "name": name, "generation": str(generation), "size": "1024",
            "contentType": "video/mp4"}
    return headers, data


EXPECTED_RESOURCE = {
    "prefect.resource.id": "gcs.object.uploads/incoming/a.mp4#7",
    "gcs.uri": "gs://uploads/incoming/a.mp4",
    "gcs.bucket": "uploads",
    "gcs.name": "incoming/a.mp4",
    "gcs.generation": "7",
}


def test_a_push_notification_emits_the_object_event(client: TestClient,
                                                    emitted: Recorder) -> None:
    response = client.post(f"/notifications?token={TOKEN}", json=push())

    assert response.status_code == 200
    assert response.json()["status"] == "emitted"
    [event] = emitted.events
    assert event["event"] == "gcs.object.finalized"
    assert event["resource"] == EXPECTED_RESOURCE
    assert event["payload"] == {
        "bucket": "uploads", "name": "incoming/a.mp4", "generation": "7", "size": 1024,
        "content_type": "video/mp4", "uri": "gs://uploads/incoming/a.mp4"}


def test_an_eventarc_cloudevent_in_binary_mode_emits_the_same_event(
        client: TestClient, emitted: Recorder) -> None:
    headers, data = cloudevent()

    response = client.post("/notifications", headers={**headers, "authorization":
                                                      f"Bearer {TOKEN}"}, json=data)

    assert response.status_code == 200
    assert [e["resource"] for e in emitted.events] == [EXPECTED_RESOURCE]


def test_an_eventarc_cloudevent_in_structured_mode_emits_the_same_event(
        client: TestClient, emitted: Recorder) -> None:
    headers, data = cloudevent()
    event = {k[3:]: v for k, v in headers.items() if k.startswith("ce-")} | {"data": data}

    response = client.post(f"/notifications?token={TOKEN}", content=json.dumps(event),
                           headers={"content-type": "application/cloudevents+json"})

    assert response.status_code == 200
    assert [e["resource"] for e in emitted.events] == [EXPECTED_RESOURCE]


def test_an_eventarc_trigger_on_the_notification_topic_emits_the_same_event(
        client: TestClient, emitted: Recorder) -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "//pubsub.googleapis.com/",
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished"}

    response = client.post(f"/notifications?token={TOKEN}", headers=headers, json=push())

    assert response.json()["status"] == "emitted"
    assert [e["resource"] for e in emitted.events] == [EXPECTED_RESOURCE]


def test_a_request_without_a_token_gets_401_and_emits_nothing(
        client: TestClient, emitted: Recorder) -> None:
    response = client.post("/notifications", json=push())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert emitted.events == []


@pytest.mark.parametrize("how", ["query", "bearer"])
def test_a_wrong_token_gets_403_emits_nothing_and_echoes_no_secret(
        client: TestClient, emitted: Recorder, how: str) -> None:
    wrong = "guessed-token-123"
    if how == "query":
        response = client.post(f"/notifications?token={wrong}", json=push())
    else:
        response = client.post("/notifications", json=push(),
                               headers={"authorization": f"Bearer {wrong}"})

    assert response.status_code == 403
    assert emitted.events == []
    assert wrong not in response.text and TOKEN not in response.text


@pytest.mark.parametrize(("body", "complaint"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a Pub/Sub push envelope"),
    (b'{"subscription": "s"}', "no message"),
    (json.dumps({"message": {"data": "%%% not base64 %%%",
                             "attributes": {"eventType": "OBJECT_FINALIZE"}}}).encode(),
     "not valid base64"),
    (json.dumps({"message": {"data": base64.b64encode(b"{oops").decode(),
                             "attributes": {"eventType": "OBJECT_FINALIZE"}}}).encode(),
     "message data is not JSON"),
    (json.dumps({"message": {"data": "", "attributes": {}}}).encode(), "no eventType"),
    (json.dumps({"message": {"data": base64.b64encode(b'{"bucket": "uploads"}').decode(),
                             "attributes": {"eventType": "OBJECT_FINALIZE"}}}).encode(),
     "needs a bucket, a name and a generation"),
    (json.dumps(push() | {"message": push()["message"] | {"attributes": {
        "eventType": "OBJECT_FINALIZE"}, "data": base64.b64encode(json.dumps(
            {"bucket": "uploads", "name": "incoming/a", "generation": "seven"}).encode()
        ).decode()}}).encode(), "not a whole number"),
])
def test_a_malformed_request_gets_400_saying_why_and_emits_nothing(
        client: TestClient, emitted: Recorder, body: bytes, complaint: str) -> None:
    response = client.post(f"/notifications?token={TOKEN}", content=body,
                           headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert complaint in response.json()["error"]
    assert emitted.events == []


def test_a_cloudevent_without_an_id_gets_400(client: TestClient, emitted: Recorder) -> None:
    headers, data = cloudevent()
    del headers["ce-id"]

    response = client.post(f"/notifications?token={TOKEN}", headers=headers, json=data)

    assert response.status_code == 400
    assert emitted.events == []


@pytest.mark.parametrize(("request_body", "reason"), [
    (push(event_type="OBJECT_DELETE"), "event type OBJECT_DELETE"),
    (push(event_type="OBJECT_METADATA_UPDATE"), "event type OBJECT_METADATA_UPDATE"),
    (push(bucket="someone-elses"), "other bucket"),
    (push(name="outgoing/report.json"), "outside the prefix"),
])
def test_other_events_are_acknowledged_but_emit_nothing(
        client: TestClient, emitted: Recorder, request_body: dict, reason: str) -> None:
    response = client.post(f"/notifications?token={TOKEN}", json=request_body)

    assert response.status_code == 200  # a 2xx, so Pub/Sub does not deliver it again
    assert response.json()["status"] == "ignored"
    assert response.json()["reason"] == reason
    assert emitted.events == []


def test_a_deleted_cloudevent_is_acknowledged_but_emits_nothing(
        client: TestClient, emitted: Recorder) -> None:
    headers, data = cloudevent(kind="google.cloud.storage.object.v1.deleted")

    response = client.post(f"/notifications?token={TOKEN}", headers=headers, json=data)

    assert response.json()["status"] == "ignored"
    assert emitted.events == []


def test_the_bridges_own_marker_objects_never_trigger_it(emitted: Recorder) -> None:
    client = make_client(emitted, prefix="", marker_root="gs://uploads/state/seen")

    for name in [".flashfirst/bridge-seen/ab/abcdef", "state/seen/12/1234"]:
        response = client.post(f"/notifications?token={TOKEN}", json=push(name=name))
        assert response.json()["reason"] == "our own state object"
    assert emitted.events == []


def test_a_redelivered_notification_emits_once(client: TestClient, emitted: Recorder) -> None:
    url = f"/notifications?token={TOKEN}"
    first = client.post(url, json=push(message_id="m-1"))
    same_message = client.post(url, json=push(message_id="m-1"))
    same_object_other_message = client.post(url, json=push(message_id="m-2"))

    assert first.json()["status"] == "emitted"
    assert same_message.json()["status"] == "duplicate"
    assert same_object_other_message.json()["status"] == "duplicate"
    assert len(emitted.events) == 1


def test_a_new_generation_of_the_same_name_is_a_new_event(client: TestClient,
                                                          emitted: Recorder) -> None:
    url = f"/notifications?token={TOKEN}"
    client.post(url, json=push(generation=7, message_id="m-1"))
    client.post(url, json=push(generation=8, message_id="m-2"))

    assert [e["resource"]["gcs.generation"] for e in emitted.events] == ["7", "8"]


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_a_restarted_bridge_remembers_what_it_announced(
        emitted: Recorder, where: str, request: pytest.FixtureRequest) -> None:
    root = (f"gs://{request.getfixturevalue('gcs_bucket')}/.flashfirst/bridge-seen"
            if where == "gcs" else str(request.getfixturevalue("tmp_path") / "seen"))
    before_restart = make_client(emitted, marker_root=root)
    after_restart = make_client(emitted, marker_root=root)

    first = before_restart.post(f"/notifications?token={TOKEN}", json=push(message_id="m-1"))
    again = after_restart.post(f"/notifications?token={TOKEN}", json=push(message_id="m-9"))

    assert (first.json()["status"], again.json()["status"]) == ("emitted", "duplicate")
    assert len(emitted.events) == 1


def test_when_prefect_does_not_take_the_event_pubsub_is_asked_to_deliver_again(
        client: TestClient, emitted: Recorder) -> None:
    # The object is not remembered as announced; with a real server that is down, see
    # test_bridge_e2e.py::test_while_prefect_is_down_the_bridge_answers_503_and_pubsub_...
    emitted.failing = True
    refused = client.post(f"/notifications?token={TOKEN}", json=push())
    emitted.failing = False
    redelivered = client.post(f"/notifications?token={TOKEN}", json=push())

    assert refused.status_code == 503
    assert redelivered.json()["status"] == "emitted"
    assert len(emitted.events) == 1


def test_health_counts_what_the_bridge_did(client: TestClient) -> None:
    client.post(f"/notifications?token={TOKEN}", json=push())
    client.post(f"/notifications?token={TOKEN}", json=push())
    client.post("/notifications", json=push())

    assert client.get("/healthz").json()["counts"] == {
        "emitted": 1, "duplicate": 1, "rejected": 1}


def test_the_bridge_refuses_to_start_without_a_token(emitted: Recorder) -> None:
    with pytest.raises(ConfigError, match="FLASHFIRST_BRIDGE_TOKEN"):
        create_bridge_app(BridgeSettings(token=None), emit=emitted)


def test_settings_come_from_the_environment_and_hide_the_token(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHFIRST_BRIDGE_TOKEN", TOKEN)
    monkeypatch.setenv("FLASHFIRST_BRIDGE_BUCKET", "uploads")
    monkeypatch.setenv("FLASHFIRST_BRIDGE_PREFIX", "incoming/")
    monkeypatch.setenv("FLASHFIRST_BRIDGE_PORT", "9090")

    settings = BridgeSettings()

    assert (settings.bucket, settings.prefix, settings.port) == ("uploads", "incoming/", 9090)
    assert settings.token is not None and settings.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_memory_alone_forgets_old_objects_but_markers_do_not(tmp_path) -> None:
    def version(i: int) -> StoredObject:
        return StoredObject(bucket="uploads", name=f"incoming/{i}.mp4", generation=1)

    memory_only = SeenObjects(memory_size=2)
    durable = SeenObjects(memory_size=2, marker_root=str(tmp_path / "seen"))
    for seen in (memory_only, durable):
        assert all(seen.claim(version(i)) for i in range(3))

    assert memory_only.claim(version(0)) is True  # pushed out of the bounded memory
    assert durable.claim(version(0)) is False
