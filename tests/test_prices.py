"""Pricing every field of usage metadata, checked against hand-computed dollars."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from flashfirst.errors import ConfigError, UnknownModelError
from flashfirst.gemini.token_rules import Modality
from flashfirst.items import ServiceTier, Usage
from flashfirst.pricing.prices import load_price_table

PRICES = load_price_table()
LAST_DAY_OF_2_5 = date(2026, 11, 30)  # 2.5 Pro and Flash rows are in force until then


def flash_usage() -> Usage:
    # 10,000 prompt tokens of which 6,000 cached; 2,000 are audio, 1,000 of those cached.
    return Usage(prompt_tokens=10_000, cached_tokens=6_000, candidates_tokens=500,
                 thoughts_tokens=300,
                 prompt_by_modality={Modality.TEXT: 8_000, Modality.AUDIO: 2_000},
                 cached_by_modality={Modality.TEXT: 5_000, Modality.AUDIO: 1_000})


def test_flash_call_prices_every_field_once():
    # 3,000 text × 0.30 + 1,000 audio × 1.00 + 5,000 cached text × 0.03
    # + 1,000 cached audio × 0.10 + (500 + 300 thoughts) × 2.50 = 4,150 per 1M → $0.00415
    cost = PRICES.price_call("gemini-2.5-flash", flash_usage(), ServiceTier.STANDARD,
                             at=LAST_DAY_OF_2_5)
    assert cost == Decimal("0.00415")


# Batch: the rest halved, cache reads at the standard cached rate (docs/batch-api, read
# 2026-12-01): (900 + 1,000 + 2,000) × 0.5 + (150 + 100) = 2,200 per 1M → $0.0022.
@pytest.mark.parametrize(("tier", "expected"), [
    # Flex/Batch: uncached input and output halved, cache reads at the standard cached
    # rate (batch guide, https://ai.google.dev/gemini-api/docs/batch-api: hits pay "the
    # standard context caching rates"): (3,000 × 0.30 + 1,000 × 1.00 + 800 × 2.50) / 2
    # = 1,950, + 5,000 × 0.03 + 1,000 × 0.10 = 250 → 2,200 per 1M.
    (ServiceTier.FLEX, "0.0022"), (ServiceTier.BATCH, "0.0022"),
    # Priority 1.8× on everything (priority-inference page): 4,150 × 1.8 = 7,470 per 1M.
    (ServiceTier.PRIORITY, "0.00747"),
])
def test_the_serving_tier_sets_the_price(tier, expected):
    assert PRICES.price_call("gemini-2.5-flash", flash_usage(), tier,
                             at=LAST_DAY_OF_2_5) == Decimal(expected)


def test_a_tiers_published_row_replaces_the_multiplier():
    # 3.8 Flash Priority as published (priority-inference page, copy 2026-09-04):
    # $1.35 in / $6.75 out / $0.135 cached. 4,000 uncached × 1.35 + 6,000 cached × 0.135
    # + 800 × 6.75 = 5,400 + 810 + 5,400 = 11,610 per 1M.
    usage = Usage(prompt_tokens=10_000, cached_tokens=6_000, candidates_tokens=500,
                  thoughts_tokens=300)
    cost = PRICES.price_call("gemini-3.8-flash", usage, ServiceTier.PRIORITY,
                             at=date(2026, 12, 1))
    assert cost == Decimal("0.01161")


@pytest.mark.parametrize(("day", "expected"), [
    # pricing page: $0.75 in / $3.75 out through 2026-12-31, then $1.50 / $7.50.
    # 1,000,000 in + 100,000 out: 0.75 + 0.375 = 1.125; from 2027-01-01: 1.50 + 0.75 = 2.25.
    (date(2026, 12, 31), "1.125"), (date(2027, 1, 1), "2.25"),
])
def test_a_call_is_priced_by_the_row_in_force_on_its_day(day, expected):
    cost = PRICES.price_tokens("gemini-3.8-flash", input_tokens=1_000_000,
                               output_tokens=100_000, at=day)
    assert cost == Decimal(expected)


def test_the_call_time_is_read_in_utc():
    # 2026-12-31 23:30 in New York is 2027-01-01 04:30 UTC: the new row.
    eve = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    row = PRICES.for_model("gemini-3.8-flash", at=eve)
    assert row.input == Decimal("1.50")


def test_argon_doubled_on_2026_12_01():
    # pricing page: $2 / $10 until 2026-11-30, $4 / $20 from 2026-12-01.
    assert PRICES.for_model("gemini-4-argon", date(2026, 11, 30)).input == Decimal("2.00")
    assert PRICES.for_model("gemini-4-argon", date(2026, 12, 1)).output == Decimal("20.00")


def test_3_1_pro_prompt_above_200k_is_priced_at_its_long_context_rates():
    # 250,000 × 4.00 + 1,000 × 18 = 1,018,000 per 1M → $1.018
    long = Usage(prompt_tokens=250_000, candidates_tokens=1_000)
    assert PRICES.price_call("gemini-3.1-pro-preview", long, ServiceTier.STANDARD,
                             at=date(2026, 12, 1)) == Decimal("1.018")


def test_a_day_without_a_row_is_an_error_naming_model_and_day():
    with pytest.raises(ConfigError, match=r"gemini-4-argon.*2026-01-01"):
        PRICES.for_model("gemini-4-argon", date(2026, 1, 1))


def test_prices_lists_todays_rows_the_next_change_and_stale_rows():
    today = date(2026, 12, 1)
    in_force = PRICES.in_force_on(today)
    assert in_force["gemini-3.8-flash"].input == Decimal("0.75")
    assert in_force["gemini-4-argon"].input == Decimal("4.00")
    model, row = PRICES.next_changes(today)[0]
    assert row.effective_from == date(2027, 1, 1) and model.startswith("gemini-3.")
    # Rows read before 2026-10-01 (61+ days before): e.g. 3.1 Pro read 2026-09-20.
    stale = {m for m, _ in PRICES.stale(today, 60)}
    assert "gemini-3.1-pro-preview" in stale and "gemini-3.8-flash" not in stale


def test_an_undated_table_in_the_old_format_still_loads(tmp_path: Path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({
        "version": "old", "tier_multipliers": {"standard": 1.0},
        "models": {"m": {"source": "s", "read_on": "2026-03", "input": 1.0, "output": 2.0,
                         "cached_input": 0.1, "cache_storage_per_hour": 1.0}}}))
    table = load_price_table(path)
    assert table.price_tokens("m", input_tokens=1_000_000, output_tokens=0) == Decimal("1.0")


def test_pro_prompt_above_200k_is_priced_at_the_long_context_rates():
    long = Usage(prompt_tokens=250_000, candidates_tokens=1_000, thoughts_tokens=1_000)
    at_threshold = long.model_copy(update={"prompt_tokens": 200_000})
    # 250,000 × 2.50 + 2,000 × 15 = 655,000 per 1M; at the threshold: 200,000 × 1.25 + 2,000 × 10
    assert PRICES.price_call("gemini-2.5-pro", long, ServiceTier.STANDARD,
                             at=LAST_DAY_OF_2_5) == Decimal("0.655")
    assert PRICES.price_call("gemini-2.5-pro", at_threshold, ServiceTier.STANDARD,
                             at=LAST_DAY_OF_2_5) == Decimal("0.27")


def test_cached_tokens_are_not_billed_twice():
    # promptTokenCount includes the cached tokens: all 4,096 cached → only the cached rate.
    usage = Usage(prompt_tokens=4_096, cached_tokens=4_096, candidates_tokens=0)
    assert PRICES.price_call("gemini-2.5-pro", usage, ServiceTier.STANDARD,
                             at=LAST_DAY_OF_2_5) == Decimal("0.000512")  # 4,096 × 0.125


def test_cache_storage_and_write_follow_the_table():
    assert PRICES.cache_storage("gemini-2.5-pro", 100_000, 1800,
                                at=LAST_DAY_OF_2_5) == Decimal("0.225")
    assert PRICES.cache_write("gemini-2.5-pro", 100_000, at=LAST_DAY_OF_2_5) == Decimal("0.125")


def test_unknown_model_is_an_error_not_a_zero_cost():
    with pytest.raises(UnknownModelError, match="gemini-9-ultra"):
        PRICES.price_call("gemini-9-ultra", Usage(prompt_tokens=1), ServiceTier.STANDARD)


def test_every_row_cites_its_source_and_date():
    for model, rows in PRICES.models.items():
        for row in rows:
            assert row.source.startswith("https://ai.google.dev/"), model
            assert row.read_date is not None, model


def test_a_users_price_file_replaces_the_packaged_table(tmp_path: Path):
    data = json.loads((Path(__file__).parents[1] / "flashfirst/data/prices.json").read_text())
    data["models"]["gemini-2.5-flash"][0]["input"] = 1.0
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    table = load_price_table(path)
    assert table.price_tokens("gemini-2.5-flash", input_tokens=1_000_000, output_tokens=0,
                              at=LAST_DAY_OF_2_5) == Decimal("1.0")


def test_a_broken_price_file_names_itself(tmp_path: Path):
    path = tmp_path / "prices.json"
    path.write_text('{"version": "x"}')
    with pytest.raises(ConfigError, match=str(path)):
        load_price_table(path)


def test_retired_models_rows_end_on_their_shutdown_day():
    # 2.5 Pro and 2.5 Flash were shut down on 2026-12-01: from that day Google serves
    # them by their replacements at the replacements' rates, so their own rows end.
    assert "gemini-2.5-pro" in PRICES.in_force_on(date(2026, 11, 30))
    on_the_day_after = PRICES.in_force_on(date(2026, 12, 2))
    assert "gemini-2.5-pro" not in on_the_day_after
    assert "gemini-2.5-flash" not in on_the_day_after
    assert "gemini-2.5-flash-lite" in on_the_day_after


def test_hydrogen_is_flat_over_its_whole_window():
    # $1.50 in / $7.50 out / $0.075 cached, no long-context tier: 900,000 prompt tokens of
    # which 100,000 cached, 10,000 out: 800,000 × 1.50 + 100,000 × 0.075 + 10,000 × 7.50
    # = 1,200,000 + 7,500 + 75,000 = 1,282,500 per 1M.
    usage = Usage(prompt_tokens=900_000, cached_tokens=100_000, candidates_tokens=4_000,
                  thoughts_tokens=6_000)
    assert PRICES.price_call("gemini-4-hydrogen", usage, ServiceTier.STANDARD,
                             at=date(2026, 12, 2)) == Decimal("1.2825")


@pytest.mark.parametrize(("day", "expected"), [
    # Carbon $2 / $10 through 2026-11-30, $4 / $20 from 2026-12-01; cached at 5% of input.
    # 1,000,000 in (of which 200,000 cached) + 100,000 out:
    # 800,000 × 2 + 200,000 × 0.10 + 100,000 × 10 = 2,620,000 → $2.62; doubled from 12-01.
    (date(2026, 11, 30), "2.62"), (date(2026, 12, 1), "5.24"),
])
def test_carbon_doubles_on_2026_12_01(day, expected):
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=200_000, candidates_tokens=100_000)
    assert PRICES.price_call("gemini-4-carbon", usage, ServiceTier.STANDARD,
                             at=day) == Decimal(expected)


def test_gemini_4_reads_its_cache_at_5_percent_where_google_shows_no_cached_rate():
    neon = PRICES.for_model("gemini-4-neon", date(2026, 12, 2))
    assert (neon.input, neon.output, neon.cached_input) == (Decimal(3), Decimal(15),
                                                            Decimal("0.15"))
    assert neon.cached_input_assumed and neon.cache_storage_per_hour is None
    hydrogen = PRICES.for_model("gemini-4-hydrogen", date(2026, 12, 2))
    assert hydrogen.cached_input == Decimal("0.075") and not hydrogen.cached_input_assumed


def test_a_users_row_without_a_cached_rate_takes_its_familys_share(tmp_path: Path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        "version": "mine", "tier_multipliers": {"standard": 1.0},
        "assumed_cached_share": {"gemini-": 0.10, "gemini-4-": 0.05},
        "models": {m: [{"source": "s", "read_on": "2026-12-02", "input": 2.0, "output": 8.0}]
                   for m in ("gemini-4-x", "gemini-3.9-flash")}}))
    table = load_price_table(path)
    assert table.for_model("gemini-4-x").cached_input == Decimal("0.1")
    assert table.for_model("gemini-3.9-flash").cached_input == Decimal("0.2")
    path.write_text(json.dumps({
        "version": "mine", "tier_multipliers": {"standard": 1.0},
        "models": {"other-1": [{"source": "s", "read_on": "2026-12-02", "input": 2.0,
                                "output": 8.0}]}}))
    with pytest.raises(ConfigError, match="other-1.*assumed_cached_share"):
        load_price_table(path)


def test_3_8_flash_costs_hydrogens_list_price_from_2027_with_twice_its_cached_rate():
    flash = PRICES.for_model("gemini-3.8-flash", date(2027, 1, 1))
    hydrogen = PRICES.for_model("gemini-4-hydrogen", date(2027, 1, 1))
    assert (flash.input, flash.output) == (hydrogen.input, hydrogen.output)
    assert flash.cached_input == 2 * hydrogen.cached_input == Decimal("0.15")
