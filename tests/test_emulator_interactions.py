"""The emulator's Interactions API, through the unmodified google-genai SDK over HTTP."""

from __future__ import annotations

import pytest
from fixtures.emulator import client_for
from google import genai
from google.genai import types
from google.genai._interactions_errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
)
from google.genai.client import AsyncClient

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-3.8-flash"
PROMPT = "Summarise the meeting notes in three sentences."


def no_retry_client(emulator: EmbeddedEmulator) -> genai.Client:
    """The interactions client retries 429 and 5xx by default; a test wants the first."""
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(
        base_url=emulator.base_url, api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1)))


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
def test_an_interaction_answers_as_generate_content_does_for_the_same_request(
        emulator: EmbeddedEmulator, api_version: str) -> None:
    with client_for(emulator.base_url, api_version=api_version) as client:
        interaction = client.interactions.create(model=FLASH, input=PROMPT)
        generated = client.models.generate_content(model=FLASH, contents=PROMPT)

    assert interaction.status == "completed"
    assert interaction.output_text == generated.text
    usage, meta = interaction.usage, generated.usage_metadata
    assert usage.total_input_tokens == meta.prompt_token_count
    assert usage.total_output_tokens == meta.candidates_token_count
    assert usage.total_thought_tokens == meta.thoughts_token_count
    assert usage.total_tokens == meta.total_token_count
    assert usage.input_tokens_by_modality[0].modality == "text"
    assert usage.input_tokens_by_modality[0].tokens == meta.prompt_token_count
    assert interaction.service_tier == "standard"
    assert emulator.control.stats().calls["interactions"][FLASH] == 1


def test_a_stored_interaction_is_read_back_then_gone_after_delete(
        genai_client: genai.Client) -> None:
    created = genai_client.interactions.create(model=FLASH, input=PROMPT)

    read = genai_client.interactions.get(created.id)
    assert (read.id, read.status, read.output_text) == (created.id, "completed",
                                                         created.output_text)
    genai_client.interactions.delete(created.id)
    with pytest.raises(NotFoundError) as raised:
        genai_client.interactions.get(created.id)
    assert raised.value.body["error"]["code"] == "not_found"


def test_store_false_keeps_nothing_to_read_back(genai_client: genai.Client) -> None:
    created = genai_client.interactions.create(model=FLASH, input=PROMPT, store=False)

    assert created.output_text
    with pytest.raises(NotFoundError):
        genai_client.interactions.get(created.id)
    with pytest.raises(NotFoundError):
        genai_client.interactions.create(model=FLASH, input="And then?",
                                         previous_interaction_id=created.id)


def test_a_follow_up_turn_reads_the_earlier_turn_as_cached_input(
        genai_client: genai.Client) -> None:
    first = genai_client.interactions.create(model=FLASH, input=PROMPT)
    alone = genai_client.interactions.create(model=FLASH, input="Now in French.", store=False)
    second = genai_client.interactions.create(model=FLASH, input="Now in French.",
                                              previous_interaction_id=first.id)

    earlier = first.usage.total_input_tokens + first.usage.total_output_tokens
    assert second.usage.total_input_tokens == earlier + alone.usage.total_input_tokens
    assert second.usage.total_cached_tokens == earlier
    assert second.previous_interaction_id == first.id


def test_background_interaction_is_in_progress_until_its_latency_has_passed(
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    emulator.control.configure(latency_scale=1.0)

    created = genai_client.interactions.create(model=FLASH, input=PROMPT, background=True)
    assert created.status == "in_progress"
    assert genai_client.interactions.get(created.id).status == "in_progress"
    emulator.control.advance_clock(600)
    done = genai_client.interactions.get(created.id)
    assert done.status == "completed"
    assert done.output_text and done.usage.total_output_tokens > 0


def test_cancel_stops_a_background_interaction_but_not_a_finished_one(
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    emulator.control.configure(latency_scale=1.0)
    running = genai_client.interactions.create(model=FLASH, input=PROMPT, background=True)

    assert genai_client.interactions.cancel(running.id).status == "cancelled"
    emulator.control.advance_clock(600)
    assert genai_client.interactions.get(running.id).status == "cancelled"
    with pytest.raises(BadRequestError):
        genai_client.interactions.create(model=FLASH, input="more",
                                         previous_interaction_id=running.id)
    emulator.control.configure(latency_scale=0.0)
    finished = genai_client.interactions.create(model=FLASH, input=PROMPT)
    with pytest.raises(BadRequestError):
        genai_client.interactions.cancel(finished.id)


def test_background_without_store_is_refused(genai_client: genai.Client) -> None:
    with pytest.raises(BadRequestError) as raised:
        genai_client.interactions.create(model=FLASH, input=PROMPT, background=True,
                                         store=False)
    assert "store" in raised.value.body["error"]["message"]


def test_streamed_events_carry_the_same_answer_and_usage(genai_client: genai.Client) -> None:
    whole = genai_client.interactions.create(model=FLASH, input=PROMPT, store=False)
    events = list(genai_client.interactions.create(model=FLASH, input=PROMPT, stream=True))

    kinds = [event.event_type for event in events]
    assert kinds[:2] == ["interaction.created", "interaction.status_update"]
    assert kinds[-1] == "interaction.completed"
    assert kinds.count("step.start") == kinds.count("step.stop") == len(whole.steps)
    text = "".join(e.delta.text for e in events
                   if e.event_type == "step.delta" and e.delta.type == "text")
    assert text == whole.output_text
    signatures = [e.delta.signature for e in events
                  if e.event_type == "step.delta" and e.delta.type == "thought_signature"]
    assert signatures and signatures[0] == whole.steps[0].signature
    completed = events[-1].interaction
    assert completed.status == "completed"
    assert completed.usage.total_output_tokens == whole.usage.total_output_tokens


def test_requests_above_the_rate_limit_get_429_with_retry_info(
        emulator: EmbeddedEmulator) -> None:
    emulator.control.configure(models={FLASH: {"rpm": 1}})
    with no_retry_client(emulator) as client:
        client.interactions.create(model=FLASH, input=PROMPT)
        with pytest.raises(RateLimitError) as raised:
            client.interactions.create(model=FLASH, input=PROMPT)

    error = raised.value.body["error"]
    assert error["code"] == "rate_limit_exceeded"
    retry = [d for d in error["details"] if d["@type"].endswith("RetryInfo")]
    assert retry and retry[0]["retryDelay"].endswith("s")


def test_service_tier_is_reported_back(genai_client: genai.Client) -> None:
    flex = genai_client.interactions.create(model=FLASH, input=PROMPT, service_tier="flex")
    priority = genai_client.interactions.create(model=FLASH, input=PROMPT,
                                                service_tier="priority")
    assert (flex.service_tier, priority.service_tier) == ("flex", "priority")
    with pytest.raises(BadRequestError):
        genai_client.interactions.create(model=FLASH, input=PROMPT, service_tier="deferred")


def test_an_explicit_cache_is_reported_as_cached_input(genai_client: genai.Client) -> None:
    manual = "Section of the operating manual. " * 900
    cache = genai_client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text=manual)])],
        ttl="600s"))

    interaction = genai_client.interactions.create(model=FLASH, input="What does it say?",
                                                   cached_content=cache.name)
    assert interaction.usage.total_cached_tokens == cache.usage_metadata.total_token_count
    assert interaction.usage.total_input_tokens > interaction.usage.total_cached_tokens


def test_thinking_level_and_summaries_follow_the_models_rules(
        genai_client: genai.Client) -> None:
    low = genai_client.interactions.create(model=FLASH, input=PROMPT,
                                           generation_config={"thinking_level": "low"})
    high = genai_client.interactions.create(
        model=FLASH, input=PROMPT,
        generation_config={"thinking_level": "high", "thinking_summaries": "auto"})

    assert 0 < low.usage.total_thought_tokens < high.usage.total_thought_tokens
    thought = high.steps[0]
    assert thought.type == "thought" and thought.signature and thought.summary
    with pytest.raises(BadRequestError) as raised:  # 3.8 Flash has no minimal level
        genai_client.interactions.create(model=FLASH, input=PROMPT,
                                         generation_config={"thinking_level": "minimal"})
    assert "minimal" in raised.value.body["error"]["message"].lower()


def test_a_low_output_cap_leaves_the_interaction_incomplete(
        genai_client: genai.Client) -> None:
    capped = genai_client.interactions.create(model=FLASH, input=PROMPT,
                                              generation_config={"max_output_tokens": 40})
    assert capped.status == "incomplete"
    assert capped.usage.total_output_tokens + capped.usage.total_thought_tokens <= 40


def test_errors_come_in_the_interactions_shape(emulator: EmbeddedEmulator) -> None:
    with no_retry_client(emulator) as client:
        with pytest.raises(NotFoundError) as unknown_model:
            client.interactions.create(model="gemini-0-nonexistent", input=PROMPT)
        with pytest.raises(BadRequestError) as no_input:
            client.interactions.create(model=FLASH, input="")
    with genai.Client(api_key="wrong-key", http_options=types.HttpOptions(
            base_url=emulator.base_url, api_version="v1beta")) as wrong:
        emulator.control.configure(api_key="test-key")
        with pytest.raises(AuthenticationError) as bad_key:
            wrong.interactions.create(model=FLASH, input=PROMPT)

    assert unknown_model.value.body["error"]["code"] == "model_not_found"
    assert no_input.value.body["error"]["code"] == "invalid_request"
    assert "wrong-key" not in str(bad_key.value.body)


async def test_the_async_client_creates_and_streams_interactions(
        async_genai_client: AsyncClient) -> None:
    created = await async_genai_client.interactions.create(model=FLASH, input=PROMPT)
    stream = await async_genai_client.interactions.create(model=FLASH, input=PROMPT,
                                                          stream=True)
    text = "".join([e.delta.text async for e in stream
                    if e.event_type == "step.delta" and e.delta.type == "text"])
    assert created.status == "completed" and text == created.output_text
