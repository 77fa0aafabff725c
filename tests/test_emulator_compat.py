"""What the emulator accepts because Google does, as people write Gemini calls today:
a thinking budget on Gemini 3 (backwards compatibility), lenient request JSON, and media
by public URL or YouTube link. Through the unmodified SDK or raw HTTP to the emulator."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

PRO3 = "gemini-3.1-pro-preview"
LONG = "Plan the warehouse move step by step. " * 400  # thinks well past small budgets


def _budget(budget: int) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=budget))


def test_gemini_3_takes_a_thinking_budget_for_backwards_compatibility(
        genai_client: genai.Client) -> None:
    unasked = genai_client.models.generate_content(model=PRO3, contents=LONG)
    small = genai_client.models.generate_content(model=PRO3, contents=LONG,
                                                 config=_budget(600))
    dynamic = genai_client.models.generate_content(model=PRO3, contents=LONG,
                                                   config=_budget(-1))

    assert 0 < small.usage_metadata.thoughts_token_count <= 600
    assert unasked.usage_metadata.thoughts_token_count > 600
    # -1 (dynamic) is the model's own default thinking: the same answer as not asking.
    assert dynamic.usage_metadata.thoughts_token_count == \
        unasked.usage_metadata.thoughts_token_count
    assert dynamic.text == unasked.text


@pytest.mark.parametrize(("model", "budget", "words"), [
    (PRO3, 0, "only works in thinking mode"),  # thinking cannot be turned off on Gemini 3
    ("gemini-4-argon", 1024, "thinking_budget is not supported"),  # Gemini 4: levels only
])
def test_budgets_gemini_does_not_take_are_still_refused(
        genai_client: genai.Client, model: str, budget: int, words: str) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=model, contents="hi",
                                             config=_budget(budget))
    assert info.value.code == 400 and words in info.value.message


def test_a_budget_and_a_level_together_are_still_a_400(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=PRO3, contents="hi", config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_budget=1024,
                                                     thinking_level="LOW")))
    assert info.value.code == 400 and "only set one" in info.value.message


def _post(emulator: EmbeddedEmulator, body: bytes) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/v1beta/models/gemini-3.8-flash:generateContent",
                      content=body, headers={"x-goog-api-key": "k",
                                             "content-type": "application/json"})


def test_a_body_written_by_hand_as_googles_front_end_reads_it_is_answered(
        emulator: EmbeddedEmulator) -> None:
    # A trailing comma and a raw newline inside a string, as curl cells in Google's
    # cookbook send them (emulator/lenient_json.py names the evidence).
    hand_written = (b'{"contents": [{"parts": [{"text": "Two lines:\nfirst, then second",},],},],'
                    b' "generationConfig": {"maxOutputTokens": 8000,},}')
    answer = _post(emulator, hand_written)
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidates"][0]["content"]["parts"][0]["text"]
    strict = _post(emulator, b'{"contents": [{"parts": [{"text": "Two lines:\\nfirst, then '
                             b'second"}]}], "generationConfig": {"maxOutputTokens": 8000}}')
    assert strict.json()["usageMetadata"] == answer.json()["usageMetadata"]


@pytest.mark.parametrize("body", [
    b'{"contents": [{"parts": [{"text": "hi"},,]}]}',  # a doubled comma
    b'{"contents": [{"parts": [{"text": "hi"}]}] // a comment\n}',
    b'{"contents": [{"parts": [{"text": "hi"}]}]',  # truncated
    b"{contents: [{parts: [{text: 'hi'}]}]}",  # bare keys, single quotes: not known
], ids=["double-comma", "comment", "truncated", "bare-keys"])
def test_what_is_still_not_json_is_refused_in_googles_words(emulator: EmbeddedEmulator,
                                                            body: bytes) -> None:
    answer = _post(emulator, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert answer.json()["error"]["message"].startswith("Invalid JSON payload received.")
