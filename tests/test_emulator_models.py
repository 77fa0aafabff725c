"""The catalogue of today (CONTRACT-11): the model that serves a retired or re-routed id,
``modelVersion`` everywhere, the ``Date`` header on the emulator's clock, the served tier
in ``usageMetadata``, and thinking controls by family, through the real SDK.

Dates: 2.5 Pro and 2.5 Flash shut down on 2026-12-01 (deprecations page, second-hand copy
in the research file section 0); 3.7 Flash and 3.5 Flash are served by 3.8 / 3.6 Flash
since 2026-10-08 (release notes, research file 1.1). Thinking: thinking page, copy of
2026-09-25 (research file 1.8)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fixtures.emulator import set_clock
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

BEFORE = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
SHUTDOWN = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def _thinking(level: str | None = None, budget: int | None = None) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(thinking_config=types.ThinkingConfig(
        thinking_level=level, thinking_budget=budget))


@pytest.mark.parametrize(("requested", "served"), [
    ("gemini-2.5-pro", "gemini-3.8-flash"), ("gemini-2.5-flash", "gemini-3.5-flash-lite")])
def test_retired_id_is_served_by_its_replacement_from_the_shutdown_date(
        emulator: EmbeddedEmulator, genai_client: genai.Client, requested: str, served: str):
    set_clock(emulator, BEFORE)
    assert genai_client.models.generate_content(model=requested,
                                                contents="hi").model_version == requested
    set_clock(emulator, SHUTDOWN)
    answer = genai_client.models.generate_content(model=requested, contents="hi")
    assert answer.model_version == served
    chunks = list(genai_client.models.generate_content_stream(model=requested, contents="hi"))
    assert {c.model_version for c in chunks} == {served}
    # The replacement's thinking controls apply: Gemini 3 takes a budget only for
    # backwards compatibility, as a cap (emulator/generate/thinking.py), and never 0
    # (always thinks).
    capped = genai_client.models.generate_content(model=requested, contents="hi",
                                                  config=_thinking(budget=100))
    assert capped.usage_metadata.thoughts_token_count <= 100
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=requested, contents="hi",
                                             config=_thinking(budget=0))
    assert info.value.code == 400 and "only works in thinking mode" in info.value.message
    log = emulator.stats.request_log
    assert [(e.model_requested, e.model) for e in log if e.status == 200][-3:] == [
        (requested, served)] * 3


@pytest.mark.parametrize(("requested", "served"), [
    ("gemini-3.7-flash", "gemini-3.8-flash"), ("gemini-3.5-flash", "gemini-3.6-flash")])
def test_silent_reroute_reports_the_serving_model(genai_client: genai.Client, requested: str,
                                                  served: str):
    answer = genai_client.models.generate_content(model=requested, contents="hi")
    assert answer.model_version == served


def test_current_and_staying_models_serve_as_themselves(genai_client: genai.Client):
    for model in ("gemini-2.5-flash-lite", "gemini-3.8-flash", "gemini-3.6-flash",
                  "gemini-3.5-flash-lite", "gemini-3.1-pro-preview", "gemini-4-argon"):
        assert genai_client.models.generate_content(model=model,
                                                    contents="hi").model_version == model


def test_batch_results_carry_the_serving_model(emulator: EmbeddedEmulator,
                                               genai_client: genai.Client):
    set_clock(emulator, SHUTDOWN)
    inline = genai_client.batches.create(model="gemini-2.5-pro", src=[
        {"contents": [{"parts": [{"text": "one"}], "role": "user"}]}])
    line = json.dumps({"key": "k", "request": {"contents": [{"parts": [{"text": "two"}]}]}})
    source = genai_client.files.upload(file=io.BytesIO(line.encode()),
                                       config={"mime_type": "application/jsonl"})
    from_file = genai_client.batches.create(model="gemini-3.7-flash", src=source.name)
    emulator.control.advance_clock(3600)
    answers = genai_client.batches.get(name=inline.name).dest.inlined_responses
    assert answers[0].response.model_version == "gemini-3.8-flash"
    done = genai_client.batches.get(name=from_file.name)
    row = json.loads(genai_client.files.download(file=done.dest.file_name).decode())
    assert row["response"]["modelVersion"] == "gemini-3.8-flash"


def test_date_header_follows_the_emulator_clock(emulator: EmbeddedEmulator,
                                                genai_client: genai.Client):
    set_clock(emulator, datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC))
    first = genai_client.models.generate_content(model="gemini-3.8-flash", contents="hi")
    dated = parsedate_to_datetime(first.sdk_http_response.headers["date"])
    assert dated == datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    emulator.control.advance_clock(60)
    second = genai_client.models.generate_content(model="gemini-3.8-flash", contents="hi")
    assert parsedate_to_datetime(second.sdk_http_response.headers["date"]) == datetime(
        2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    health = httpx.get(f"{emulator.base_url}/_emulator/health")  # every answer, one Date
    assert len(health.headers.get_list("date")) == 1


def test_usage_metadata_names_the_served_tier(emulator: EmbeddedEmulator):
    raw = httpx.post(f"{emulator.base_url}/v1beta/models/gemini-3.8-flash:generateContent",
                     json={"contents": [{"parts": [{"text": "hi"}]}], "serviceTier": "flex"})
    assert raw.json()["usageMetadata"]["serviceTier"] == "flex"
    assert raw.headers["x-gemini-service-tier"] == "flex"


@pytest.mark.parametrize(("model", "config", "names"), [
    ("gemini-3.8-flash", _thinking(level="MINIMAL"), ["LOW, MEDIUM, HIGH"]),
    ("gemini-4-argon", _thinking(level="MINIMAL"), ["LOW, MEDIUM, HIGH"]),
    ("gemini-3.8-flash", _thinking(budget=0), ["thinking_level", "LOW, MEDIUM, HIGH"]),
    ("gemini-4-argon", _thinking(budget=2048), ["thinking_level", "LOW, MEDIUM, HIGH"]),
    ("gemini-3.6-flash", _thinking(level="LOW", budget=1024), ["only set one of"]),
    ("gemini-2.5-flash-lite", _thinking(level="LOW"), ["thinking_budget", "512..24576"]),
    ("gemini-2.5-flash-lite", _thinking(budget=100), ["0 (off), 512..24576 or -1"]),
    ("gemini-2.5-flash-lite", _thinking(budget=30_000), ["0 (off), 512..24576 or -1"]),
], ids=["3.8-minimal", "argon-minimal", "3.8-budget-off", "argon-budget", "both",
        "2.5-level", "2.5-budget-below", "2.5-budget-above"])
def test_thinking_control_the_model_does_not_take_is_refused_naming_the_allowed_values(
        genai_client: genai.Client, model: str, config: types.GenerateContentConfig,
        names: list[str]):
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=model, contents="hi", config=config)
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert all(n in info.value.message for n in names), info.value.message


def test_thought_tokens_grow_with_the_level_and_the_prompt(genai_client: genai.Client):
    def thoughts(level: str, prompt: str) -> int:
        usage = genai_client.models.generate_content(
            model="gemini-3.6-flash", contents=prompt, config=_thinking(level=level)
        ).usage_metadata
        assert usage.total_token_count == (usage.prompt_token_count
                                           + usage.candidates_token_count
                                           + usage.thoughts_token_count)
        return usage.thoughts_token_count

    short, long = "Explain.", "Explain this. " * 400
    by_level = [thoughts(level, short) for level in ("MINIMAL", "LOW", "MEDIUM", "HIGH")]
    assert by_level == sorted(by_level) and len(set(by_level)) == 4
    assert thoughts("LOW", long) > thoughts("LOW", short)
    assert thoughts("HIGH", short) == by_level[3]  # deterministic


def test_default_thinking_follows_the_model(genai_client: genai.Client):
    def thoughts(model: str) -> int | None:
        return genai_client.models.generate_content(model=model, contents="hi",
                                                    config=None).usage_metadata.thoughts_token_count

    assert thoughts("gemini-2.5-flash-lite") is None  # off by default on 2.5 Flash-Lite
    minimal = genai_client.models.generate_content(
        model="gemini-3.6-flash", contents="hi", config=_thinking(level="MINIMAL"))
    # 3.5 Flash-Lite defaults to MINIMAL, 3.1 Pro to HIGH: same prompt, fewer vs more.
    assert thoughts("gemini-3.5-flash-lite") < thoughts("gemini-3.1-pro-preview")
    assert minimal.usage_metadata.thoughts_token_count < thoughts("gemini-3.8-flash")


def test_a_script_for_the_requested_id_still_fires_after_the_reroute(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.add_script(model="gemini-3.7-flash", contains="SCRIPT", text="scripted")
    answer = genai_client.models.generate_content(model="gemini-3.7-flash", contents="SCRIPT")
    assert (answer.text, answer.model_version) == ("scripted", "gemini-3.8-flash")
    direct = genai_client.models.generate_content(model="gemini-3.8-flash", contents="SCRIPT")
    assert direct.text != "scripted"
