"""The emulator serves the Gemini 4 family as its guides describe it, through the real SDK:
no explicit caches (400, and a ``cachedContent`` naming one is a 400 too), implicit
caching from 4,096 tokens, thinking levels LOW / MEDIUM / HIGH (the default on Hydrogen
and Neon) / XHIGH (not on Carbon), no MINIMAL, and an answer starved by a low
``max_output_tokens`` with its thoughts billed.

Sources (read 2026-12-02): the Gemini 4 Hydrogen and Carbon developer guides,
docs.cloud.google.com/gemini-enterprise-agent-platform/models/guides/gemini-4-hydrogen
and …/gemini-4-carbon (ko, ja copies); Neon second-hand (apidog, laozhang)."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

FAMILY = ("gemini-4-hydrogen", "gemini-4-neon", "gemini-4-carbon")


def _thoughts(client: genai.Client, model: str, level: str | None) -> int:
    config = (types.GenerateContentConfig(thinking_config=types.ThinkingConfig(
        thinking_level=level)) if level else None)
    usage = client.models.generate_content(model=model, contents="Plan the week.",
                                           config=config).usage_metadata
    return usage.thoughts_token_count or 0


@pytest.mark.parametrize("model", FAMILY)
def test_gemini_4_refuses_explicit_caches_and_requests_naming_one(
        genai_client: genai.Client, model: str):
    with pytest.raises(errors.ClientError) as created:
        genai_client.caches.create(model=model, config=types.CreateCachedContentConfig(
            contents=["c" * 4 * 5000]))
    assert (created.value.code, created.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(errors.ClientError) as used:
        genai_client.models.generate_content(
            model=model, contents="hi", config={"cached_content": "cachedContents/any"})
    assert used.value.code == 400  # not a missing cache (403/404): the field is refused
    assert f"cachedContent is not supported by models/{model}" in used.value.message


@pytest.mark.parametrize("model", FAMILY)
def test_gemini_4_caches_implicitly_from_4096_tokens(genai_client: genai.Client, model: str):
    def cached(context: str, question: str) -> int | None:
        return genai_client.models.generate_content(
            model=model, contents=[context, question]).usage_metadata.cached_content_token_count

    big, small = "c" * 4 * 4100, "s" * 4 * 4000  # 4,100 and 4,000 tokens
    cached(big, "one")
    assert cached(big, "two") == 4100
    cached(small, "one")
    assert cached(small, "two") is None


@pytest.mark.parametrize("model", ["gemini-4-hydrogen", "gemini-4-neon"])
def test_hydrogen_and_neon_think_at_high_by_default_and_take_xhigh(
        genai_client: genai.Client, model: str):
    medium, high, xhigh = (_thoughts(genai_client, model, lv) for lv in
                           ("MEDIUM", "HIGH", "XHIGH"))
    default = _thoughts(genai_client, model, None)
    assert medium < high < xhigh
    assert abs(default - high) < 32 and default - medium > 32  # high, within the jitter


def test_carbon_thinks_at_medium_by_default(genai_client: genai.Client):
    medium, high = (_thoughts(genai_client, "gemini-4-carbon", lv) for lv in ("MEDIUM", "HIGH"))
    assert abs(_thoughts(genai_client, "gemini-4-carbon", None) - medium) < 32 < high - medium


@pytest.mark.parametrize(("model", "level"), [
    ("gemini-4-hydrogen", "MINIMAL"), ("gemini-4-neon", "MINIMAL"),
    ("gemini-4-carbon", "MINIMAL"), ("gemini-4-carbon", "XHIGH")])
def test_levels_a_gemini_4_model_does_not_take_are_a_400(genai_client: genai.Client,
                                                          model: str, level: str):
    with pytest.raises(errors.ClientError) as info:
        _thoughts(genai_client, model, level)
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert f"thinking_level {level} is not supported by models/{model}" in info.value.message


def test_a_low_cap_starves_the_answer_and_bills_the_thoughts(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    answer = genai_client.models.generate_content(
        model="gemini-4-hydrogen", contents="Plan the week.",
        config=types.GenerateContentConfig(max_output_tokens=64))
    assert answer.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert not answer.text
    usage = answer.usage_metadata
    assert usage.thoughts_token_count == 64 and not usage.candidates_token_count
    assert usage.total_token_count == usage.prompt_token_count + 64
    assert emulator.stats.usage["gemini-4-hydrogen"].thoughts_tokens == 64  # billed
