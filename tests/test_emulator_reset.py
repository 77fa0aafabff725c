"""``control.reset()`` puts a running emulator back in its start state. The suite's
``emulator`` fixture hands one emulator to test after test and resets it in between, so
whatever reset leaves behind (a webhook, a quota window, a script) shows up in the next
test as a delivery, a 429 or an answer it never asked for."""

from __future__ import annotations

import io
import time

import pytest
from fixtures.webhooks import Receiver
from google import genai
from standardwebhooks import Webhook

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-2.5-flash-lite"


def one_request_batch(client: genai.Client) -> str:
    job = client.batches.create(model=FLASH, src=[{"contents": [
        {"parts": [{"text": "hello"}], "role": "user"}]}])
    assert job.name
    return job.name


def test_reset_forgets_webhooks_and_a_job_after_it_is_delivered_only_to_new_ones(
        emulator: EmbeddedEmulator, genai_client: genai.Client, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    genai_client.webhooks.create(uri=receiver.url + "?before",
                                 subscribed_events=["batch.succeeded"])
    first = one_request_batch(genai_client)
    receiver.wait_for(1)

    emulator.control.reset()

    assert not (genai_client.webhooks.list().webhooks or [])
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    after = genai_client.webhooks.create(uri=receiver.url + "?after",
                                         subscribed_events=["batch.succeeded"])
    second = one_request_batch(genai_client)
    assert second == first  # names start over, so the job's end must be announced anew
    _, delivery = receiver.wait_for(2)
    body = Webhook(after.new_signing_secret).verify(delivery[1], delivery[0])
    assert (body["type"], body["data"]["name"]) == ("batch.succeeded", second)


def test_reset_leaves_no_file_cache_batch_interaction_script_clock_config_or_quota_behind(
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    start_config = emulator.control.config
    emulator.control.configure(models={FLASH: {"rpm": 2, "min_cache_tokens": 0}},
                               batch={"pending_s": 3600})
    emulator.control.add_script(contains="hello", text="scripted")
    emulator.control.advance_clock(7 * 86400)
    file = genai_client.files.upload(file=_text_file(), config={"mime_type": "text/plain"})
    genai_client.caches.create(model=FLASH, config={"contents": ["a shared context"]})
    one_request_batch(genai_client)
    interaction = genai_client.interactions.create(model=FLASH, input="kept")
    assert genai_client.models.generate_content(model=FLASH, contents="hello").text \
        == "scripted"

    emulator.control.reset()

    assert emulator.stats.calls == {}
    assert emulator.control.config == start_config
    assert emulator.control.now() < time.time() + 3600
    assert list(genai_client.files.list()) == []
    assert list(genai_client.caches.list()) == []
    assert list(genai_client.batches.list()) == []
    assert emulator.control.stored_interactions() == []
    with pytest.raises(Exception, match="404|NOT_FOUND|not found"):
        genai_client.interactions.get(interaction.id)
    emulator.control.configure(models={FLASH: {"rpm": 1}})
    answer = genai_client.models.generate_content(model=FLASH, contents="hello")
    assert answer.text != "scripted"  # and no 429: the minute's one request is free again
    again = genai_client.files.upload(file=_text_file(), config={"mime_type": "text/plain"})
    assert again.name == file.name  # names start over


def _text_file() -> io.BytesIO:
    return io.BytesIO(b"a few words to upload")
