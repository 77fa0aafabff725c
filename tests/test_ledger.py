"""The cost waterfall: baseline, levers and actual, checked against hand-computed sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flashfirst.caching.record import CacheRecord
from flashfirst.gemini.token_rules import Modality, TokenCount
from flashfirst.items import Attempt, ItemResult, ServiceTier, TaskKind, Usage
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.ledger import MediaDelta, summarize_costs
from flashfirst.settings import ModelCatalogue

# The 2.5 generation on 2026-11-28, before its shutdown: the figures below are the 2.5
# rows of https://ai.google.dev/gemini-api/docs/pricing (copy of 2026-10-07).
FLASH, LITE, PRO = "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"
CALLED_AT = datetime(2026, 11, 28, 12, tzinfo=UTC)
CATALOGUE_2_5 = ModelCatalogue(flash={"id": FLASH}, pro={"id": PRO})


def attempt(model: str, tier: ServiceTier, *, cached_content: str | None = "cachedContents/x",
            **usage: object) -> Attempt:
    return Attempt(model=model, service_tier_requested=tier, service_tier_served=tier,
                   usage=Usage(**usage), ok=True, called_at=CALLED_AT,
                   cached_content=cached_content)


@pytest.fixture
def scenario():
    text_item = ItemResult(id="a", task=TaskKind.SUMMARIZE, attempts=[attempt(
        FLASH, ServiceTier.FLEX, prompt_tokens=5_000, cached_tokens=4_000,
        candidates_tokens=200, thoughts_tokens=100,
        prompt_by_modality={Modality.TEXT: 5_000}, cached_by_modality={Modality.TEXT: 4_000})])
    video_item = ItemResult(id="b", task=TaskKind.SUMMARIZE, attempts=[attempt(
        FLASH, ServiceTier.STANDARD, prompt_tokens=1_000, candidates_tokens=100,
        prompt_by_modality={Modality.VIDEO: 660, Modality.TEXT: 340})])
    escalated = ItemResult(id="c", task=TaskKind.CLASSIFY, escalated=True, attempts=[
        attempt(LITE, ServiceTier.STANDARD, prompt_tokens=1_000, candidates_tokens=50),
        attempt(FLASH, ServiceTier.STANDARD, prompt_tokens=1_000, candidates_tokens=60)])
    reused = ItemResult(id="d", task=TaskKind.SUMMARIZE, reused=True, attempts=[attempt(
        FLASH, ServiceTier.STANDARD, prompt_tokens=99_999, candidates_tokens=9_999)])
    media = {"b": MediaDelta(
        before=TokenCount(by_modality={Modality.VIDEO: 2_580, Modality.AUDIO: 320}),
        after=TokenCount(by_modality={Modality.VIDEO: 660}))}
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    cache = CacheRecord(name="cachedContents/x", model=FLASH, content_hash="h", tokens=4_000,
                        created_by_run=True, created_at=t0, expire_at=t0 + timedelta(hours=1),
                        deleted_at=t0 + timedelta(seconds=600))
    return [text_item, video_item, escalated, reused], [cache], media


def test_baseline_levers_and_actual_match_hand_computed_dollars(scenario):
    results, caches, media = scenario
    s = summarize_costs(results, caches, media, load_price_table(), CATALOGUE_2_5)
    # Per 1M tokens. naive, all on Pro uncached with original media:
    #   a 5,000×1.25 + 300×10 = 9,250; b (1,000+1,920+320)×1.25 + 100×10 = 5,050;
    #   c 1,000×1.25 + 60×10 = 1,850 → 16,150
    assert s.naive_usd == pytest.approx(0.01615, abs=1e-9)
    # actual: a at Flex: (1,000×0.30 + 300×2.5)/2 = 525, its cache reads at the standard
    #   cached rate (batch-api page) 4,000×0.03 = 120 → 645; b 550; c 120 + 450;
    #   cache write 4,000×0.30 = 1,200; storage 4,000×1.0×600/3600 = 666.667
    assert s.actual_usd == pytest.approx(0.003631667, abs=1e-9)
    assert s.cache_write_usd == pytest.approx(0.0012, abs=1e-9)
    assert s.cache_storage_usd == pytest.approx(0.000666667, abs=1e-9)
    levers = {lv.name: lv.saving_usd for lv in s.levers}
    assert levers["routing"] == pytest.approx(0.011884, abs=1e-9)  # 16,150 − 4,266
    assert levers["media"] == pytest.approx(0.000896, abs=1e-9)  # b: 1,446 − 550
    # One cached call does not pay for a cache write: the lever says so, negative.
    assert levers["caching"] == pytest.approx(-0.000786667, abs=1e-9)
    assert levers["service tier"] == pytest.approx(0.000525, abs=1e-9)  # a: 1,170 − 645


def test_levers_add_up_exactly_to_the_saving(scenario):
    results, caches, media = scenario
    s = summarize_costs(results, caches, media, load_price_table(), CATALOGUE_2_5)
    assert sum(lv.saving_usd for lv in s.levers) == pytest.approx(
        s.naive_usd - s.actual_usd, abs=1e-9)


def test_lower_bound_is_the_cheapest_model_at_batch_price(scenario):
    results, caches, media = scenario
    s = summarize_costs(results, caches, media, load_price_table(), CATALOGUE_2_5)
    # a (1,000×0.10 + 200×0.40)/2 + 4,000×0.01 (cache reads unhalved in Batch) = 130;
    # b (1,000×0.10 + 100×0.40)/2 = 70; c (1,000×0.10 + 60×0.40)/2 = 62 → 262 per 1M
    assert s.lower_bound_usd == pytest.approx(0.000262, abs=1e-9)
    assert s.lower_bound_usd <= s.actual_usd


def test_reused_answers_cost_nothing_in_this_run(scenario):
    results, caches, media = scenario
    s = summarize_costs(results, caches, media, load_price_table(), CATALOGUE_2_5)
    flash = next(m for m in s.per_model if m.model == FLASH)
    assert flash.calls == 3  # a, b and c's escalation; d was answered by an earlier run


def test_implicit_cache_hits_are_priced_cached_and_shown_as_their_own_lever():
    # 3.8 Flash on 2026-12-01 (pricing page: $0.75 in / $0.075 cached / $3.75 out).
    # 10,000 prompt tokens, 8,192 of them an implicit hit (no cache object):
    # 1,808 × 0.75 + 8,192 × 0.075 + 100 × 3.75 = 1,356 + 614.4 + 375 = 2,345.4 per 1M;
    # uncached it would be 10,000 × 0.75 + 375 = 7,875: the implicit lever saves 5,529.6.
    hit = Attempt(model="gemini-3.8-flash", service_tier_requested=ServiceTier.STANDARD,
                  service_tier_served=ServiceTier.STANDARD, ok=True,
                  called_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
                  usage=Usage(prompt_tokens=10_000, cached_tokens=8_192, candidates_tokens=100))
    s = summarize_costs([ItemResult(id="x", task=TaskKind.SUMMARIZE, attempts=[hit])], [], {},
                        load_price_table(), ModelCatalogue())
    levers = {lv.name: lv for lv in s.levers}
    assert s.actual_usd == pytest.approx(0.0023454, abs=1e-9)
    assert levers["caching (implicit)"].saving_usd == pytest.approx(0.0055296, abs=1e-9)
    assert "8,192 tokens" in levers["caching (implicit)"].explanation
    assert levers["caching"].saving_usd == 0
