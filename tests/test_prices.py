"""Pricing every field of usage metadata, checked against hand-computed dollars."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from flashfirst.errors import ConfigError, UnknownModelError
from flashfirst.items import ServiceTier, Usage
from flashfirst.prices import load_price_table
from flashfirst.token_rules import Modality

PRICES = load_price_table()


def flash_usage() -> Usage:
    # 10,000 prompt tokens of which 6,000 cached; 2,000 are audio, 1,000 of those cached.
    return Usage(prompt_tokens=10_000, cached_tokens=6_000, candidates_tokens=500,
                 thoughts_tokens=300,
                 prompt_by_modality={Modality.TEXT: 8_000, Modality.AUDIO: 2_000},
                 cached_by_modality={Modality.TEXT: 5_000, Modality.AUDIO: 1_000})


def test_flash_call_prices_every_field_once():
    # 3,000 text × 0.30 + 1,000 audio × 1.00 + 5,000 cached text × 0.03
    # + 1,000 cached audio × 0.10 + (500 + 300 thoughts) × 2.50 = 4,150 per 1M → $0.00415
    cost = PRICES.price_call("gemini-2.5-flash", flash_usage(), ServiceTier.STANDARD)
    assert cost == Decimal("0.00415")


# Batch: the rest halved, cache reads at the standard cached rate (docs/batch-api, read
# 2026-12-01): (900 + 1,000 + 2,000) × 0.5 + (150 + 100) = 2,200 per 1M → $0.0022.
@pytest.mark.parametrize(("tier", "expected"), [
    (ServiceTier.FLEX, "0.002075"), (ServiceTier.BATCH, "0.0022"),
    (ServiceTier.PRIORITY, "0.0083"),
])
def test_the_serving_tier_sets_the_price(tier, expected):
    assert PRICES.price_call("gemini-2.5-flash", flash_usage(), tier) == Decimal(expected)


def test_pro_prompt_above_200k_is_priced_at_the_long_context_rates():
    long = Usage(prompt_tokens=250_000, candidates_tokens=1_000, thoughts_tokens=1_000)
    at_threshold = long.model_copy(update={"prompt_tokens": 200_000})
    # 250,000 × 2.50 + 2,000 × 15 = 655,000 per 1M; at the threshold: 200,000 × 1.25 + 2,000 × 10
    assert PRICES.price_call("gemini-2.5-pro", long, ServiceTier.STANDARD) == Decimal("0.655")
    assert PRICES.price_call("gemini-2.5-pro", at_threshold,
                             ServiceTier.STANDARD) == Decimal("0.27")


def test_cached_tokens_are_not_billed_twice():
    # promptTokenCount includes the cached tokens: all 4,096 cached → only the cached rate.
    usage = Usage(prompt_tokens=4_096, cached_tokens=4_096, candidates_tokens=0)
    assert PRICES.price_call("gemini-2.5-pro", usage,
                             ServiceTier.STANDARD) == Decimal("0.000512")  # 4,096 × 0.125


def test_cache_storage_and_write_follow_the_table():
    assert PRICES.cache_storage("gemini-2.5-pro", 100_000, 1800) == Decimal("0.225")
    assert PRICES.cache_write("gemini-2.5-pro", 100_000) == Decimal("0.125")


def test_unknown_model_is_an_error_not_a_zero_cost():
    with pytest.raises(UnknownModelError, match="gemini-9-ultra"):
        PRICES.price_call("gemini-9-ultra", Usage(prompt_tokens=1), ServiceTier.STANDARD)


def test_every_row_cites_its_source_and_date():
    for model, row in PRICES.models.items():
        assert row.source.startswith("https://ai.google.dev/"), model
        assert row.read_on, model


def test_a_users_price_file_replaces_the_packaged_table(tmp_path: Path):
    data = json.loads((Path(__file__).parents[1] / "flashfirst/data/prices.json").read_text())
    data["models"]["gemini-2.5-flash"]["input"] = 1.0
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    table = load_price_table(path)
    assert table.price_tokens("gemini-2.5-flash", input_tokens=1_000_000,
                              output_tokens=0) == Decimal("1.0")


def test_a_broken_price_file_names_itself(tmp_path: Path):
    path = tmp_path / "prices.json"
    path.write_text('{"version": "x"}')
    with pytest.raises(ConfigError, match=str(path)):
        load_price_table(path)
