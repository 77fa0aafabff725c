"""The emulator's webhooks through the unmodified SDK (``client.webhooks.*``), and its
deliveries to a real HTTP receiver: signed per Standard Webhooks on batch job end, at least
once (retried while the receiver answers non-2xx, duplicated when the fault knob asks)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable

import jwt
import pytest
from fixtures.webhooks import Receiver
from google import genai
from standardwebhooks import Webhook

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-2.5-flash-lite"


def one_request_batch(client: genai.Client, **config: object) -> str:
    job = client.batches.create(model=FLASH, src=[{"contents": [
        {"parts": [{"text": "hello"}], "role": "user"}]}], config=config or None)
    assert job.name
    return job.name


def verified(secret: str) -> Callable[[tuple[dict[str, str], bytes]], dict]:
    return lambda delivery: Webhook(secret).verify(delivery[1], delivery[0])


def test_a_created_webhook_shows_its_signing_secret_once(genai_client: genai.Client,
                                                          receiver: Receiver) -> None:
    created = genai_client.webhooks.create(name="batches-done", uri=receiver.url,
                                           subscribed_events=["batch.succeeded"])

    assert created.new_signing_secret and created.new_signing_secret.startswith("whsec_")
    assert created.id and created.state == "enabled"
    fetched = genai_client.webhooks.get(created.id)
    listed = genai_client.webhooks.list()
    assert fetched.new_signing_secret is None
    assert [w.id for w in listed.webhooks or []] == [created.id]
    assert created.new_signing_secret not in fetched.model_dump_json()
    assert created.new_signing_secret not in listed.model_dump_json()


def test_a_webhook_can_be_updated_and_deleted(genai_client: genai.Client,
                                              receiver: Receiver) -> None:
    created = genai_client.webhooks.create(uri=receiver.url,
                                           subscribed_events=["batch.succeeded"])

    updated = genai_client.webhooks.update(
        created.id, subscribed_events=["batch.succeeded", "batch.failed"],
        update_mask="subscribed_events")
    genai_client.webhooks.delete(created.id)

    assert updated.subscribed_events == ["batch.succeeded", "batch.failed"]
    assert not (genai_client.webhooks.list().webhooks or [])


def test_a_webhook_with_an_unknown_event_is_refused(genai_client: genai.Client,
                                                    receiver: Receiver) -> None:
    with pytest.raises(Exception, match="batch.finished"):
        genai_client.webhooks.create(uri=receiver.url, subscribed_events=["batch.finished"])


def test_a_ping_reaches_the_receiver_signed(genai_client: genai.Client,
                                            receiver: Receiver) -> None:
    created = genai_client.webhooks.create(uri=receiver.url,
                                           subscribed_events=["batch.succeeded"])

    genai_client.webhooks.ping(created.id)

    [ping] = receiver.wait_for(1)
    assert verified(created.new_signing_secret)(ping)["type"] == "webhook.ping"


def test_a_batch_job_end_is_delivered_signed_with_its_name_and_user_metadata(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 30})
    created = genai_client.webhooks.create(uri=receiver.url,
                                           subscribed_events=["batch.succeeded"])
    name = one_request_batch(genai_client, webhook_config={
        "user_metadata": {"run_id": "run-7"}})
    time.sleep(0.5)
    assert receiver.received == []  # still running: nothing to say yet

    emulator.control.advance_clock(31)

    [delivery] = receiver.wait_for(1)
    body = verified(created.new_signing_secret)(delivery)
    assert body["type"] == "batch.succeeded"
    assert body["data"]["name"] == name
    assert body["data"]["user_metadata"] == {"run_id": "run-7"}


def test_only_subscribed_events_are_delivered(emulator: EmbeddedEmulator,
                                              genai_client: genai.Client,
                                              receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0, "outcome": "FAILED"})
    genai_client.webhooks.create(uri=receiver.url, subscribed_events=["batch.succeeded"])
    failed_hook = genai_client.webhooks.create(uri=receiver.url + "?failed",
                                               subscribed_events=["batch.failed"])

    name = one_request_batch(genai_client)

    [delivery] = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1
    body = verified(failed_hook.new_signing_secret)(delivery)
    assert (body["type"], body["data"]["name"]) == ("batch.failed", name)


def test_a_receiver_answering_errors_gets_the_same_delivery_again_until_it_takes_it(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0},
                               webhooks={"retry_base_s": 0.2})
    receiver.statuses = [503, 500, 429]
    created = genai_client.webhooks.create(uri=receiver.url,
                                           subscribed_events=["batch.succeeded"])
    started = time.monotonic()

    one_request_batch(genai_client)

    deliveries = receiver.wait_for(4)
    elapsed = time.monotonic() - started
    assert len({headers["webhook-id"] for headers, _ in deliveries}) == 1
    assert all(verified(created.new_signing_secret)(d) for d in deliveries)
    assert elapsed >= 0.2 + 0.4 + 0.8  # backoff doubles between attempts
    time.sleep(0.6)
    assert len(receiver.received) == 4  # taken: no more attempts


def test_the_duplicate_knob_delivers_the_same_webhook_id_twice(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0},
                               webhooks={"duplicate_share": 1.0})
    genai_client.webhooks.create(uri=receiver.url, subscribed_events=["batch.succeeded"])

    one_request_batch(genai_client)

    first, second = receiver.wait_for(2)
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    assert json.loads(first[1]) == json.loads(second[1])


def test_the_drop_knob_loses_the_job_end(emulator: EmbeddedEmulator,
                                         genai_client: genai.Client,
                                         receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0},
                               webhooks={"drop_share": 1.0})
    genai_client.webhooks.create(uri=receiver.url, subscribed_events=["batch.succeeded"])

    name = one_request_batch(genai_client)

    time.sleep(1.0)
    assert receiver.received == []
    assert genai_client.batches.get(name=name).state.name == "JOB_STATE_SUCCEEDED"


def test_a_job_with_webhook_uris_is_delivered_there_as_a_jwt_checked_by_published_keys(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    genai_client.webhooks.create(uri=receiver.url + "?static",
                                 subscribed_events=["batch.succeeded"])
    dynamic_uri = receiver.url + "?dynamic"

    name = one_request_batch(genai_client, webhook_config={
        "uris": [dynamic_uri], "user_metadata": {"run_id": "run-9"}})

    [(headers, body)] = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1  # the job's URIs replace the registered webhooks
    keys = jwt.PyJWKClient(f"{emulator.base_url}/.well-known/gemini-webhooks-jwks.json")
    token = headers["webhook-signature"]
    claims = jwt.decode(token, keys.get_signing_key_from_jwt(token).key,
                        algorithms=["RS256"], audience=dynamic_uri)
    assert claims["webhook_id"] == headers["webhook-id"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    assert claims["body_sha256"] == digest
    event = json.loads(body)
    assert (event["type"], event["data"]["name"]) == ("batch.succeeded", name)
    assert event["data"]["user_metadata"] == {"run_id": "run-9"}


def test_a_background_interactions_end_is_delivered_to_the_subscribed_webhook(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(latency_scale=1.0)
    created = genai_client.webhooks.create(
        uri=receiver.url, subscribed_events=["interaction.completed", "interaction.cancelled"])
    running = genai_client.interactions.create(model=FLASH, input="hello", background=True)
    assert running.status == "in_progress"
    genai_client.interactions.create(model=FLASH, input="not in the background")
    cancelled = genai_client.interactions.create(model=FLASH, input="stop", background=True)
    genai_client.interactions.cancel(cancelled.id)

    emulator.control.advance_clock(600)  # well past the call's latency

    bodies = [verified(created.new_signing_secret)(d) for d in receiver.wait_for(2)]
    time.sleep(0.5)
    assert len(receiver.received) == 2  # the foreground call's end is no event
    assert sorted((b["type"], b["data"]["id"], b["data"]["status"]) for b in bodies) == sorted([
        ("interaction.completed", running.id, "completed"),
        ("interaction.cancelled", cancelled.id, "cancelled")])


def test_a_background_interaction_with_webhook_uris_is_delivered_there_as_a_jwt(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    genai_client.webhooks.create(uri=receiver.url + "?static",
                                 subscribed_events=["interaction.completed"])

    interaction = genai_client.interactions.create(
        model=FLASH, input="hello", background=True,
        webhook_config={"uris": [receiver.url], "user_metadata": {"run_id": "run-11"}})

    [(headers, body)] = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1  # its own URIs replace the registered webhooks
    assert headers["webhook-signature"].count(".") == 2  # a JWT
    event = json.loads(body)
    assert (event["type"], event["data"]["id"]) == ("interaction.completed", interaction.id)
    assert event["data"]["user_metadata"] == {"run_id": "run-11"}
