"""A batch job's end travels the real way: the SDK creates the webhook (or gives the job
its own URI) on the emulator, the emulator delivers to the bridge in its own process, and
the bridge stores the Prefect event on a real Prefect server."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fixtures.emulator import client_for
from fixtures.prefect import PrefectGate, PrefectServer
from fixtures.pubsub import running_bridge
from google import genai

from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig

FLASH = "gemini-2.5-flash-lite"


@pytest.fixture
def emulator() -> Iterator[EmbeddedEmulator]:
    # Job names follow the seed: a fresh one per test keeps the session's Prefect events apart.
    config = EmulatorConfig(latency_scale=0, seed=uuid.uuid4().int % 10**9)
    config.batch.pending_s = config.batch.running_s = 0
    with EmbeddedEmulator(config) as emu:
        yield emu


def one_request_batch(client: genai.Client, **config: object) -> str:
    job = client.batches.create(model=FLASH, src=[{"contents": [
        {"parts": [{"text": f"hello {uuid.uuid4().hex}"}], "role": "user"}]}],
        config=config or None)
    assert job.name
    return job.name


def test_a_static_webhook_turns_the_end_of_a_batch_job_into_one_prefect_event(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    client = client_for(emulator.base_url)
    created = client.webhooks.create(uri="http://127.0.0.1:9/not-yet",
                                     subscribed_events=["batch.succeeded", "batch.failed"])
    # The secret goes into the bridge's settings, as a user would put it there.
    env = {"FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET": created.new_signing_secret}
    emulator.control.configure(webhooks={"duplicate_share": 1.0})
    with running_bridge(prefect_server.api_url, tmp_path_factory.mktemp("bridge"),
                        extra_env=env) as bridge:
        client.webhooks.update(created.id, uri=f"{bridge.url}/gemini-webhooks",
                               update_mask="uri")

        name = one_request_batch(client, webhook_config={"user_metadata": {"run_id": "r1"}})

        [event] = prefect_server.wait_for_events("gemini.batch.succeeded",
                                                 f"gemini.batch.{name}")
        assert event["payload"]["user_metadata"] == {"run_id": "r1"}
        deadline = time.monotonic() + 10
        while bridge.stats().get("gemini_duplicate", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bridge.stats().get("gemini_duplicate") == 1  # the knob's second copy
        assert bridge.stats().get("gemini_emitted") == 1
        assert created.new_signing_secret not in bridge.log.read_text()


def test_a_dynamic_webhook_is_verified_against_the_published_keys(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    client = client_for(emulator.base_url)
    jwks = f"{emulator.base_url}/.well-known/gemini-webhooks-jwks.json"
    with running_bridge(prefect_server.api_url, tmp_path_factory.mktemp("bridge"),
                        extra_env={"FLASHFIRST_BRIDGE_GEMINI_JWKS_URL": jwks}) as bridge:
        uri = f"{bridge.url}/gemini-webhooks"

        name = one_request_batch(client, webhook_config={
            "uris": [uri], "user_metadata": {"run_id": "r2"}})

        [event] = prefect_server.wait_for_events("gemini.batch.succeeded",
                                                 f"gemini.batch.{name}")
        assert event["payload"]["user_metadata"] == {"run_id": "r2"}
        # A JWT with the published key's id, signed by another key, is refused.
        kid = httpx.get(jwks, timeout=10).json()["keys"][0]["kid"]
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        body = b'{"type": "batch.succeeded", "data": {"name": "batches/forged"}}'
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
        token = jwt.encode({"iat": int(time.time()), "webhook_id": "msg_forged",
                            "body_sha256": digest, "aud": uri}, other, algorithm="RS256",
                           headers={"kid": kid})
        forged = httpx.post(uri, content=body, timeout=30, headers={
            "webhook-id": "msg_forged", "webhook-timestamp": str(int(time.time())),
            "webhook-signature": token})
        assert forged.status_code == 403
        assert bridge.stats().get("gemini_bad_signature") == 1


def test_while_prefect_is_down_the_bridge_answers_503_and_the_retried_delivery_lands_once(
        emulator: EmbeddedEmulator, prefect_gate: PrefectGate, prefect_server: PrefectServer,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    client = client_for(emulator.base_url)
    created = client.webhooks.create(uri="http://127.0.0.1:9/not-yet",
                                     subscribed_events=["batch.succeeded"])
    env = {"FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET": created.new_signing_secret}
    emulator.control.configure(webhooks={"retry_base_s": 0.3, "retry_max_s": 1.0})
    with running_bridge(prefect_gate.api_url, tmp_path_factory.mktemp("bridge"),
                        extra_env=env) as bridge:
        client.webhooks.update(created.id, uri=f"{bridge.url}/gemini-webhooks",
                               update_mask="uri")

        name = one_request_batch(client)

        # Nothing listens where Prefect should be: the bridge refuses (503), the emulator
        # delivers again and again, and nothing is acknowledged.
        deadline = time.monotonic() + 60
        while bridge.stats().get("gemini_failed", 0) < 2:
            assert time.monotonic() < deadline, bridge.stats()
            time.sleep(0.1)
        assert bridge.stats().get("gemini_emitted", 0) == 0
        prefect_gate.open()  # the server is back

        [event] = prefect_server.wait_for_events("gemini.batch.succeeded",
                                                 f"gemini.batch.{name}")
        assert bridge.stats().get("gemini_emitted") == 1
    assert event["resource"]["gemini.name"] == name


def test_a_background_interactions_end_becomes_a_gemini_interaction_event(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    client = client_for(emulator.base_url)
    jwks = f"{emulator.base_url}/.well-known/gemini-webhooks-jwks.json"
    with running_bridge(prefect_server.api_url, tmp_path_factory.mktemp("bridge"),
                        extra_env={"FLASHFIRST_BRIDGE_GEMINI_JWKS_URL": jwks}) as bridge:
        interaction = client.interactions.create(
            model=FLASH, input=f"hello {uuid.uuid4().hex}", background=True,
            webhook_config={"uris": [f"{bridge.url}/gemini-webhooks"],
                            "user_metadata": {"run_id": "r4"}})

        [event] = prefect_server.wait_for_events("gemini.interaction.completed",
                                                 f"gemini.interaction.{interaction.id}")
    assert event["payload"]["user_metadata"] == {"run_id": "r4"}
    assert event["resource"]["gemini.kind"] == "interaction"
