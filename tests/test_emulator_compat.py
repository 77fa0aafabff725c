"""What the emulator accepts because Google does, as people write Gemini calls today:
a thinking budget on Gemini 3 (backwards compatibility), lenient request JSON, and media
by public URL or YouTube link. Through the unmodified SDK or raw HTTP to the emulator."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types
from google.genai._interactions_errors import BadRequestError

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
    # cookbook send them (emulator/wire/lenient_json.py names the evidence).
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


YOUTUBE = "https://www.youtube.com/watch?v=9hE5-98ZeCg"


def test_a_youtube_link_reads_as_the_stated_stand_in_clip(genai_client: genai.Client) -> None:
    def ask(uri: str, mime: str | None = None, fps: float | None = None) -> int:
        part = types.Part(file_data=types.FileData(file_uri=uri, mime_type=mime),
                          video_metadata=types.VideoMetadata(fps=fps) if fps else None)
        return genai_client.models.generate_content(
            model="gemini-2.5-flash-lite", contents=[part, "What happens?"]
        ).usage_metadata.prompt_token_count

    text_only = genai_client.models.count_tokens(
        model="gemini-2.5-flash-lite", contents="What happens?").total_tokens
    # 60 s at 1 fps: 60 frames of 258 tokens, and 60 s of audio at 32 a second (2.x rules).
    assert ask(YOUTUBE) - text_only == 60 * 258 + 60 * 32
    assert ask(YOUTUBE, fps=0.5) - text_only == 30 * 258 + 60 * 32
    assert ask("https://example.com/diagram.png") - text_only == 258 * 4  # 1024x1024: tiled
    with pytest.raises(errors.ClientError) as info:
        ask("https://example.com/page.html")
    assert info.value.code == 400 and "url_media" in info.value.message


def test_a_mapped_url_reads_the_local_file_as_its_upload_would(
        emulator: EmbeddedEmulator, genai_client: genai.Client, emulator_media) -> None:
    clip = emulator_media["clip3s"]
    url = "https://cdn.example.com/videos/clip.mp4"
    emulator.control.configure(url_media={url: str(clip)})
    uploaded = genai_client.files.upload(file=str(clip))
    by_url = genai_client.models.generate_content(model="gemini-3.8-flash", contents=[
        types.Part(file_data=types.FileData(file_uri=url, mime_type="video/mp4")), "Describe."])
    by_upload = genai_client.models.generate_content(model="gemini-3.8-flash", contents=[
        types.Part(file_data=types.FileData(file_uri=uploaded.uri, mime_type="video/mp4")),
        "Describe."])
    assert by_url.usage_metadata.prompt_token_count == \
        by_upload.usage_metadata.prompt_token_count
    assert {d.modality for d in by_url.usage_metadata.prompt_tokens_details} >= {
        types.MediaModality.VIDEO, types.MediaModality.AUDIO}


def test_a_youtube_link_works_on_the_interactions_api_too(genai_client: genai.Client) -> None:
    interaction = genai_client.interactions.create(
        model="gemini-3.8-flash", store=False,
        input=[{"type": "video", "uri": YOUTUBE}, {"type": "text", "text": "What happens?"}])
    by_modality = {m.modality: m.tokens for m in interaction.usage.input_tokens_by_modality}
    # Gemini 3 rules: 70 tokens a frame, 25 a second of audio, over the 60 s stand-in.
    assert (by_modality["video"], by_modality["audio"]) == (60 * 70, 60 * 25)


def test_a_25_model_takes_a_thinking_level_on_the_interactions_api(
        genai_client: genai.Client) -> None:
    lite = "gemini-2.5-flash-lite"  # thinks by budget on generateContent, off by default
    off = genai_client.interactions.create(model=lite, input=LONG, store=False)
    low = genai_client.interactions.create(model=lite, input=LONG, store=False,
                                           generation_config={"thinking_level": "low"})
    budget = genai_client.models.generate_content(model=lite, contents=LONG,
                                                  config=_budget(1024))
    assert off.usage.total_thought_tokens == 0
    assert 0 < low.usage.total_thought_tokens <= 1024
    assert low.usage.total_thought_tokens == budget.usage_metadata.thoughts_token_count
    with pytest.raises(BadRequestError) as info:
        genai_client.interactions.create(model=lite, input="hi", store=False,
                                         generation_config={"thinking_level": "minimal"})
    assert "LOW, MEDIUM, HIGH" in info.value.body["error"]["message"]
