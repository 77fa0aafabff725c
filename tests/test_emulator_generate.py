"""generateContent, streaming, countTokens and models, through the real SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import jsonschema
import pytest
from fixtures.emulator import client_for, set_clock
from google import genai
from google.genai import errors, types
from pydantic import BaseModel, Field

from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig, Script

FLASH = "gemini-3.8-flash"  # served as itself: no retirement or re-route (CONTRACT-11)
LITE = "gemini-2.5-flash-lite"  # the 2.5 model that stays: budget-controlled thinking


class Verdict(BaseModel):
    label: str = Field(json_schema_extra={"enum": ["spam", "ham"]})
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(min_length=1, max_length=3)
    count: int = Field(ge=10, le=12)
    flagged: bool
    note: str | None = None


def test_text_answer_bills_prompt_by_four_chars_and_reports_usage(genai_client: genai.Client):
    response = genai_client.models.generate_content(model=FLASH, contents="a" * 40)
    usage = response.usage_metadata
    # "about 4 characters a token" (ai.google.dev/gemini-api/docs/tokens): 40 / 4 = 10.
    assert usage.prompt_token_count == 10
    assert usage.candidates_token_count == -(-len(response.text) // 4)
    assert usage.thoughts_token_count and usage.thoughts_token_count > 0
    assert usage.total_token_count == (usage.prompt_token_count + usage.candidates_token_count
                                       + usage.thoughts_token_count)
    assert [(d.modality.value, d.token_count) for d in usage.prompt_tokens_details] == [
        ("TEXT", 10)]
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == FLASH and response.response_id


def test_same_request_same_answer_and_seed_changes_it(genai_client: genai.Client):
    first = genai_client.models.generate_content(model=FLASH, contents="Summarize the clip.")
    again = genai_client.models.generate_content(model=FLASH, contents="Summarize the clip.")
    other = genai_client.models.generate_content(model=FLASH, contents="Summarize the film.")
    assert first.text == again.text
    assert first.usage_metadata == again.usage_metadata
    assert other.text != first.text
    with EmbeddedEmulator(EmulatorConfig(seed=7)) as reseeded:
        client = client_for(reseeded.base_url)  # keep it: a dropped Client closes its HTTP
        seeded = client.models.generate_content(model=FLASH, contents="Summarize the clip.")
    assert seeded.text != first.text


def test_thinking_budget_zero_stops_thoughts_but_pro_refuses_it(emulator: EmbeddedEmulator,
                                                                genai_client: genai.Client):
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    response = genai_client.models.generate_content(model=LITE, contents="hi", config=config)
    assert response.usage_metadata.thoughts_token_count is None
    # 4,000 prompt tokens think past 512 (MEDIUM-like dynamic thinking): the budget caps them.
    capped = genai_client.models.generate_content(
        model=LITE, contents="a" * 16_000,
        config={"thinking_config": {"thinking_budget": 512}})
    assert capped.usage_metadata.thoughts_token_count == 512
    set_clock(emulator, datetime(2026, 11, 30, 12, tzinfo=UTC))  # 2.5 Pro before it retires
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model="gemini-2.5-pro", contents="hi", config=config)
    assert info.value.code == 400 and "only works in thinking mode" in info.value.message


def test_flash_lite_thinks_only_when_given_a_budget(genai_client: genai.Client):
    lite = LITE
    plain = genai_client.models.generate_content(model=lite, contents="hi")
    assert plain.usage_metadata.thoughts_token_count is None
    thinking = genai_client.models.generate_content(
        model=lite, contents="hi", config={"thinking_config": {"thinking_budget": 512}})
    assert 0 < thinking.usage_metadata.thoughts_token_count <= 512


def test_response_schema_answer_is_a_valid_instance(genai_client: genai.Client):
    config = types.GenerateContentConfig(response_mime_type="application/json",
                                         response_schema=Verdict)
    for prompt in ("one", "two", "three", "four"):
        response = genai_client.models.generate_content(model=FLASH, contents=prompt,
                                                        config=config)
        verdict = response.parsed
        assert isinstance(verdict, Verdict), response.text
        assert verdict.label in ("spam", "ham")
        assert 10 <= verdict.count <= 12 and 1 <= len(verdict.reasons) <= 3


def test_response_json_schema_answer_validates(genai_client: genai.Client):
    schema = {
        "type": "object",
        "$defs": {"item": {"type": "object", "properties": {
            "sku": {"type": "string", "minLength": 5},
            "qty": {"type": "integer", "exclusiveMinimum": 0, "maximum": 3}},
            "required": ["sku", "qty"]}},
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 2},
            "status": {"enum": ["open", "closed"]},
            "when": {"type": "string", "format": "date-time"},
            "total": {"type": ["number", "null"], "minimum": 5, "maximum": 6},
            "kind": {"anyOf": [{"type": "null"}, {"const": "fixed"}]},
        },
        "required": ["items", "status", "when", "total", "kind"],
    }
    response = genai_client.models.generate_content(
        model=FLASH, contents="order",
        config={"response_mime_type": "application/json", "response_json_schema": schema})
    answer = json.loads(response.text)
    jsonschema.validate(answer, schema)
    assert len(answer["items"]) >= 2


def test_scripted_answers_fire_by_rule_and_count(emulator: EmbeddedEmulator,
                                                 genai_client: genai.Client):
    emulator.control.add_script(contains="FORCE_INVALID", model=FLASH, text="not json", times=1)
    emulator.control.add_script(contains="BLOCK", finish_reason="SAFETY")
    config = {"response_mime_type": "application/json", "response_json_schema": {
        "type": "object", "properties": {"a": {"type": "string"}}}}
    first = genai_client.models.generate_content(model=FLASH, contents="FORCE_INVALID x",
                                                 config=config)
    second = genai_client.models.generate_content(model=FLASH, contents="FORCE_INVALID x",
                                                  config=config)
    assert first.text == "not json"
    assert json.loads(second.text).keys() == {"a"}
    other_model = genai_client.models.generate_content(model=LITE,
                                                       contents="FORCE_INVALID", config=config)
    assert other_model.text != "not json"
    blocked = genai_client.models.generate_content(model=FLASH, contents="BLOCK me")
    assert blocked.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert blocked.text is None


def test_scripted_error_status_is_raised_in_googles_format(emulator: EmbeddedEmulator,
                                                           genai_client: genai.Client):
    emulator.control.add_script(Script(contains="BAD", status=400, message="bad input"))
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="BAD request")
    assert (info.value.code, info.value.status, info.value.message) == (
        400, "INVALID_ARGUMENT", "bad input")
    assert emulator.stats.errors_by_status == {400: 1}


def test_max_output_tokens_truncates_with_thoughts_counted(genai_client: genai.Client):
    response = genai_client.models.generate_content(  # 2,000 prompt tokens: thinks past 512
        model=LITE, contents="w" * 8000,
        config={"max_output_tokens": 532, "thinking_config": {"thinking_budget": 512}})
    usage = response.usage_metadata
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert usage.thoughts_token_count == 512
    assert usage.candidates_token_count == 20 and len(response.text) == 80


def test_unknown_model_is_404_not_found(genai_client: genai.Client):
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model="gemini-9-ultra", contents="hi")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert "models/gemini-9-ultra is not found" in info.value.message


def test_stream_yields_chunks_with_full_usage_on_the_last(genai_client: genai.Client):
    whole = genai_client.models.generate_content(model=FLASH, contents="stream me")
    chunks = list(genai_client.models.generate_content_stream(model=FLASH, contents="stream me"))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == whole.text
    assert chunks[-1].usage_metadata == whole.usage_metadata
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


async def test_async_client_and_default_v1_path_work(emulator: EmbeddedEmulator):
    async with client_for(emulator.base_url, api_version=None).aio as v1:
        answers = [await v1.models.generate_content(model=FLASH, contents=f"q{i}")
                   for i in range(3)]
    assert all(a.text for a in answers)
    assert emulator.stats.calls_to("generateContent", FLASH) == 3


def test_count_tokens_with_contents_and_with_a_generate_request(emulator: EmbeddedEmulator,
                                                                genai_client: genai.Client):
    counted = genai_client.models.count_tokens(model=FLASH, contents="x" * 17)
    assert counted.total_tokens == 5  # ceil(17 / 4), the tokens page's 4 characters a token
    raw = httpx.post(f"{emulator.base_url}/v1beta/models/{FLASH}:countTokens",
                     json={"generateContentRequest": {
                         "model": f"models/{FLASH}",
                         "contents": [{"parts": [{"text": "x" * 8}]}],
                         "systemInstruction": {"parts": [{"text": "y" * 4}]}}})
    assert raw.status_code == 200
    assert raw.json()["totalTokens"] == 3  # 8 / 4 + 4 / 4: system instruction counts too


def test_models_get_and_list(genai_client: genai.Client):
    model = genai_client.models.get(model=FLASH)
    assert model.name == f"models/{FLASH}" and model.input_token_limit == 1_048_576
    assert "generateContent" in model.supported_actions
    names = [m.name for m in genai_client.models.list(config={"page_size": 2})]
    assert "models/gemini-2.5-pro" in names and "models/gemini-4-argon" in names
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.get(model="nope")
    assert info.value.code == 404


def test_required_api_key_is_checked_and_never_echoed():
    with EmbeddedEmulator(EmulatorConfig(api_key="right-key")) as emu:
        good = client_for(emu.base_url, api_key="right-key")
        assert good.models.generate_content(model=FLASH, contents="hi").text
        wrong = client_for(emu.base_url, api_key="wrong-key")
        with pytest.raises(errors.ClientError) as info:
            wrong.models.generate_content(model=FLASH, contents="hi")
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert "API key not valid" in info.value.message
    assert "wrong-key" not in json.dumps(info.value.details)


@pytest.mark.parametrize(("body", "message"), [
    ({}, "* GenerateContentRequest.contents: contents is not specified\n"),
    ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
    ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model"}]},
     "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n"),
    ({"contents": [{"role": "user", "parts": []}]},
     "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"),
    ({"contents": [{"role": "user", "parts": [{"text": "hi"}, {}]}]},
     "* GenerateContentRequest.contents[0].parts[1].data: required oneof field 'data' must "
     "have one initialized field\n"),
], ids=["no-contents", "empty-contents", "no-parts", "empty-parts", "empty-part"])
def test_missing_or_empty_required_fields_are_400_in_googles_words(
        emulator: EmbeddedEmulator, body: dict[str, object], message: str):
    # Google's wording as users quote it: vercel/ai#3775, langchain-ai/langchain-google#1393
    # (no contents), egoist/chatwise-releases#250 (empty parts), router-for-me/CLIProxyAPI
    # #1292 (a part with no data).
    for method in ("generateContent", "countTokens"):
        raw = httpx.post(f"{emulator.base_url}/v1beta/models/{FLASH}:{method}", json=body)
        assert raw.status_code == 400
        assert raw.json()["error"] == {"code": 400, "message": message,
                                       "status": "INVALID_ARGUMENT"}


def test_an_empty_part_through_the_sdk_is_refused(genai_client: genai.Client):
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=FLASH, contents=[types.Content(role="user", parts=[types.Part()])])
    assert info.value.code == 400 and "required oneof field 'data'" in info.value.message
    assert genai_client.models.generate_content(model=FLASH, contents="fine").text
