"""Implicit caching: a repeated prefix above the model's minimum is reported as cached
within 5 minutes of the emulator's clock, without any cache object; never for Batch or
beside an explicit cache; Argon refuses explicit caches.

Minimums: 4,096 tokens on 3.x and Argon, 2,048 on 2.5 (ai.google.dev/gemini-api/docs/
caching, 2026-10-13); 5 minutes and part-granular prefixes: CONTRACT-11. Text is 4
characters a token (ai.google.dev/gemini-api/docs/tokens)."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

G3 = "gemini-3.8-flash"
LITE = "gemini-2.5-flash-lite"


def _context(tokens: int) -> str:
    return "c" * (4 * tokens)


def _usage(client: genai.Client, model: str, context: str, question: str,
           **config: object) -> types.GenerateContentResponseUsageMetadata:
    return client.models.generate_content(model=model, contents=[context, question],
                                          config=config or None).usage_metadata


def test_second_request_with_the_same_prefix_is_a_hit(emulator: EmbeddedEmulator,
                                                      genai_client: genai.Client):
    context = _context(4100)  # 16,400 characters: 4,100 tokens, above 3.8 Flash's 4,096
    first = _usage(genai_client, G3, context, "What is first?")  # 14 chars: 4 tokens
    assert first.cached_content_token_count is None
    emulator.control.advance_clock(240)
    second = _usage(genai_client, G3, context, "And what is second?")  # 19 chars: 5 tokens
    assert second.cached_content_token_count == 4100  # the shared part, not the question
    assert second.prompt_token_count == 4100 + 5  # cached tokens stay inside the prompt
    assert [(d.modality.value, d.token_count) for d in second.cache_tokens_details] == [
        ("TEXT", 4100)]
    emulator.control.advance_clock(240)  # 8 min after the first, 4 after the last use
    assert _usage(genai_client, G3, context, "Third?").cached_content_token_count == 4100
    assert emulator.stats.usage[G3].cached_tokens == 2 * 4100


def test_no_hit_after_five_minutes_or_below_the_minimum(emulator: EmbeddedEmulator,
                                                        genai_client: genai.Client):
    context = _context(4100)
    _usage(genai_client, G3, context, "one")
    emulator.control.advance_clock(301)
    assert _usage(genai_client, G3, context, "two").cached_content_token_count is None
    small = _context(4000)  # 4,000 tokens: below 4,096 on 3.8 Flash ...
    _usage(genai_client, G3, small, "one")
    assert _usage(genai_client, G3, small, "two").cached_content_token_count is None
    _usage(genai_client, LITE, small, "one")  # ... above 2,048 on 2.5 Flash-Lite
    assert _usage(genai_client, LITE, small, "two").cached_content_token_count == 4000
    other = _context(4099) + "x"  # same length, other text: no shared prefix
    assert _usage(genai_client, G3, other, "two").cached_content_token_count is None


def test_no_implicit_hit_in_batch_or_beside_an_explicit_cache(emulator: EmbeddedEmulator,
                                                              genai_client: genai.Client):
    context = _context(4200)
    _usage(genai_client, G3, context, "warm")
    job = genai_client.batches.create(model=G3, src=[
        {"contents": [{"parts": [{"text": context}, {"text": "q"}], "role": "user"}]}])
    emulator.control.advance_clock(10)
    answer = genai_client.batches.get(name=job.name).dest.inlined_responses[0].response
    assert answer.usage_metadata.cached_content_token_count is None
    cache = genai_client.caches.create(model=G3, config=types.CreateCachedContentConfig(
        contents=[_context(5000)]))
    with_cache = genai_client.models.generate_content(
        model=G3, contents=[context, "q"], config={"cached_content": cache.name})
    assert with_cache.usage_metadata.cached_content_token_count == 5000  # the explicit only


def test_argon_caches_implicitly_but_refuses_explicit_caches(genai_client: genai.Client):
    context = _context(4100)
    _usage(genai_client, "gemini-4-argon", context, "one")
    assert _usage(genai_client, "gemini-4-argon", context,
                  "two").cached_content_token_count == 4100
    with pytest.raises(errors.ClientError) as info:
        genai_client.caches.create(model="gemini-4-argon", config=types.CreateCachedContentConfig(
            contents=[_context(5000)]))
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert "not supported by models/gemini-4-argon" in info.value.message


def test_streamed_hit_reports_cached_tokens_on_the_last_chunk_only(genai_client: genai.Client):
    context = _context(4100)
    _usage(genai_client, G3, context, "one")
    chunks = list(genai_client.models.generate_content_stream(model=G3,
                                                              contents=[context, "two"]))
    assert [c.usage_metadata.cached_content_token_count for c in chunks] == [
        None] * (len(chunks) - 1) + [4100]
