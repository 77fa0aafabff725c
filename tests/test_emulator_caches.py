"""Explicit caches: minimum size, cached-token reporting, model binding, TTL and expiry,
listing, deletion, and the storage time they are billed for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-2.5-flash-lite"  # stays served as itself (2.5 Flash retired 2026-12-01)


def _context(tokens: int) -> str:
    return "c" * (4 * tokens)  # 4 characters a token


def _cache(client: genai.Client, tokens: int, model: str = FLASH, **config: object):
    return client.caches.create(model=model, config=types.CreateCachedContentConfig(
        contents=[_context(tokens)], **config))


def test_cache_below_the_model_minimum_is_refused_like_the_api(genai_client: genai.Client):
    with pytest.raises(errors.ClientError) as info:
        _cache(genai_client, 2047)
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert info.value.message == ("Cached content is too small. total_token_count=2047, "
                                  "min_total_token_count=2048")
    assert _cache(genai_client, 2048).usage_metadata.total_token_count == 2048
    with pytest.raises(errors.ClientError) as gemini3:
        _cache(genai_client, 4000, model="gemini-3.8-flash")
    assert "min_total_token_count=4096" in gemini3.value.message


def test_generate_with_cache_reports_cached_tokens_inside_prompt_tokens(
        genai_client: genai.Client):
    cache = _cache(genai_client, 3000, system_instruction="Be brief.", display_name="ctx")
    assert cache.name.startswith("cachedContents/") and cache.display_name == "ctx"
    assert cache.model == f"models/{FLASH}"
    assert cache.usage_metadata.total_token_count == 3000 + 3  # "Be brief." is 3 tokens
    response = genai_client.models.generate_content(
        model=FLASH, contents="What is it?", config={"cached_content": cache.name})
    usage = response.usage_metadata
    assert usage.cached_content_token_count == 3003
    assert usage.prompt_token_count == 3003 + 3
    assert [(d.modality.value, d.token_count) for d in usage.cache_tokens_details] == [
        ("TEXT", 3003)]


def test_cache_holds_media_counted_from_the_uploaded_file(genai_client: genai.Client,
                                                          emulator_media: dict[str, Path]):
    video = genai_client.files.upload(file=emulator_media["clip3s"])
    cache = genai_client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=[types.Part.from_uri(file_uri=video.uri, mime_type="video/mp4"),
                  _context(1200)]))
    assert cache.usage_metadata.total_token_count == 3 * 258 + 3 * 32 + 1200


def test_cache_is_bound_to_its_model(genai_client: genai.Client):
    cache = _cache(genai_client, 2100)
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model="gemini-3.6-flash", contents="q",
                                             config={"cached_content": cache.name})
    assert info.value.code == 400 and "has to be the same" in info.value.message


def test_cache_cannot_be_combined_with_a_system_instruction(genai_client: genai.Client):
    cache = _cache(genai_client, 2100)
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=FLASH, contents="q",
            config={"cached_content": cache.name, "system_instruction": "again"})
    assert info.value.code == 400


def test_unknown_and_expired_caches(emulator: EmbeddedEmulator, genai_client: genai.Client):
    with pytest.raises(errors.ClientError) as unknown:
        genai_client.caches.get(name="cachedContents/doesnotexist")
    assert unknown.value.code == 404
    with pytest.raises(errors.ClientError) as unknown_use:
        genai_client.models.generate_content(model=FLASH, contents="q",
                                             config={"cached_content": "cachedContents/nope"})
    assert unknown_use.value.code == 403
    cache = _cache(genai_client, 2100, ttl="60s")
    emulator.control.advance_clock(61)
    with pytest.raises(errors.ClientError) as expired:
        genai_client.caches.get(name=cache.name)
    assert expired.value.code == 404
    with pytest.raises(errors.ClientError) as expired_use:
        genai_client.models.generate_content(model=FLASH, contents="q",
                                             config={"cached_content": cache.name})
    assert expired_use.value.code == 403
    assert emulator.stats.cache_expirations == 1


def test_default_ttl_is_an_hour_and_only_expiry_updates(emulator: EmbeddedEmulator,
                                                        genai_client: genai.Client):
    cache = _cache(genai_client, 2100)
    assert (cache.expire_time - cache.create_time) == dt.timedelta(hours=1)
    longer = genai_client.caches.update(name=cache.name,
                                        config=types.UpdateCachedContentConfig(ttl="7200s"))
    assert longer.expire_time - cache.create_time >= dt.timedelta(hours=2)
    emulator.control.advance_clock(3700)  # past the first expiry, not the new one
    assert genai_client.caches.get(name=cache.name).name == cache.name
    at = dt.datetime.fromtimestamp(emulator.control.now() + 10, tz=dt.UTC)
    pinned = genai_client.caches.update(
        name=cache.name, config=types.UpdateCachedContentConfig(expire_time=at))
    assert abs((pinned.expire_time - at).total_seconds()) < 0.01
    emulator.control.advance_clock(11)
    with pytest.raises(errors.ClientError):
        genai_client.caches.get(name=cache.name)


def test_list_pages_and_delete(emulator: EmbeddedEmulator, genai_client: genai.Client):
    names = [_cache(genai_client, 2048 + i).name for i in range(3)]
    pager = genai_client.caches.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert [c.name for c in pager] == names
    genai_client.caches.delete(name=names[1])
    assert [c.name for c in genai_client.caches.list()] == [names[0], names[2]]
    with pytest.raises(errors.ClientError) as info:
        genai_client.caches.delete(name=names[1])
    assert info.value.code == 404
    stats = emulator.stats
    assert (stats.cache_creations, stats.cache_deletions, stats.live_caches) == (3, 1, 2)


def test_storage_is_billed_from_creation_to_deletion(emulator: EmbeddedEmulator,
                                                     genai_client: genai.Client):
    cache = _cache(genai_client, 4000)
    emulator.control.advance_clock(1800)  # half an hour × 4000 tokens
    genai_client.caches.delete(name=cache.name)
    emulator.control.advance_clock(7200)  # deleted: no more storage
    stats = emulator.stats
    assert stats.storage_token_hours == pytest.approx(2000, rel=1e-3)
    assert stats.storage_token_hours_by_model[FLASH] == pytest.approx(2000, rel=1e-3)
