"""The model catalogue: what each id is, what serves it on a given day, what it takes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fixtures.catalogue import catalogue_with

from flashfirst.errors import ConfigError, ThinkingNotSupported
from flashfirst.gemini.catalogue import load_catalogue, retirement_notice
from flashfirst.gemini.thinking import thinking_config
from flashfirst.settings import Settings

CATALOGUE = load_catalogue()


def test_retired_ids_are_served_by_their_replacements_from_the_shutdown_day():
    # deprecations page (second-hand copy, 2026-11-10): shutdown 2026-12-01,
    # 2.5 Pro → 3.8 Flash, 2.5 Flash → 3.5 Flash-Lite; 2.5 Flash-Lite stays.
    assert CATALOGUE.served_id("gemini-2.5-pro", date(2026, 11, 30)) == "gemini-2.5-pro"
    assert CATALOGUE.served_id("gemini-2.5-pro", date(2026, 12, 1)) == "gemini-3.8-flash"
    assert CATALOGUE.served_id("models/gemini-2.5-flash",
                               date(2026, 12, 1)) == "gemini-3.5-flash-lite"
    assert CATALOGUE.served_id("gemini-2.5-flash-lite", date(2030, 1, 1)) == \
        "gemini-2.5-flash-lite"


def test_silently_rerouted_ids_are_served_by_the_newer_model_since_2026_10_08():
    # release notes of 2026-10-08: 3.7 Flash → 3.8 Flash, 3.5 Flash → 3.6 Flash.
    assert CATALOGUE.served_id("gemini-3.7-flash", date(2026, 10, 7)) == "gemini-3.7-flash"
    assert CATALOGUE.served_id("gemini-3.7-flash", date(2026, 10, 8)) == "gemini-3.8-flash"
    assert CATALOGUE.served_id("gemini-3.5-flash", date(2026, 12, 1)) == "gemini-3.6-flash"


def test_notices_say_retired_retiring_or_rerouted_and_name_the_model_that_serves():
    retired = retirement_notice(CATALOGUE, "gemini-2.5-flash", date(2026, 12, 1))
    assert retired is not None and retired[1] and "gemini-3.5-flash-lite" in retired[0]
    retiring = retirement_notice(CATALOGUE, "gemini-3.1-flash-lite", date(2026, 12, 1))
    assert retiring is not None and not retiring[1] and "2027-05-07" in retiring[0]
    assert retirement_notice(CATALOGUE, "gemini-3.8-flash", date(2026, 12, 1)) is None


def test_every_model_cites_its_page_and_date_and_every_replacement_is_known():
    for m in CATALOGUE.models:
        assert m.source.startswith("https://") and date.fromisoformat(m.read_on), m.id
        for other in (m.replacement, m.served_by):
            assert other is None or CATALOGUE.find(other) is not None, m.id


def test_settings_take_cache_minimums_from_the_catalogue():
    # caching page (2026-10-13): 4,096 on 3.x, 2,048 on 2.5.
    s = Settings()
    assert (s.models.flash.id, s.models.flash.min_cache_tokens) == ("gemini-3.8-flash", 4096)
    assert s.models.flash_lite.min_cache_tokens == 2048
    assert Settings(models={"flash": {"min_cache_tokens": 9000}}).models.flash.min_cache_tokens \
        == 9000


def test_a_users_catalogue_replaces_the_packaged_one(tmp_path: Path):
    path = catalogue_with(tmp_path, "gemini-3.8-flash", explicit_cache_min=8192)
    assert Settings(model_catalogue_path=path).models.flash.min_cache_tokens == 8192


def test_a_broken_catalogue_names_itself(tmp_path: Path):
    path = tmp_path / "models.json"
    path.write_text('{"version": "x", "models": [{"id": "m"}]}')
    with pytest.raises(ConfigError, match="models.json"):
        load_catalogue(path)


@pytest.mark.parametrize(("model", "asked", "budget", "level"), [
    ("gemini-2.5-flash-lite", "least", 0, None),      # budget 0 turns thinking off
    ("gemini-2.5-pro", "least", 128, None),           # 2.5 Pro cannot turn it off
    ("gemini-2.5-flash-lite", "-1", -1, None),
    ("gemini-3.8-flash", "least", None, "LOW"),       # 3.8 Flash has no minimal
    ("gemini-3.5-flash-lite", "least", None, "MINIMAL"),
    ("gemini-3.1-pro-preview", "high", None, "HIGH"),
    ("gemini-3.6-flash", "minimal", None, "MINIMAL"),
])
def test_thinking_is_what_the_model_takes_never_both(model, asked, budget, level):
    config = thinking_config(asked, CATALOGUE.get(model))
    assert config.thinking_budget == budget
    assert (config.thinking_level.value if config.thinking_level else None) == level


@pytest.mark.parametrize(("model", "asked", "allowed"), [
    ("gemini-3.8-flash", "minimal", "thinking_level low, medium, high"),
    ("gemini-3.8-flash", "0", "thinking_level low, medium, high"),
    ("gemini-2.5-pro", "0", "thinking_budget 128..32768 or -1 (dynamic)"),
    ("gemini-2.5-flash-lite", "100", "thinking_budget 0 or 512..24576 or -1 (dynamic)"),
    ("gemini-2.5-flash-lite", "medium", "thinking_budget 0 or 512..24576"),
])
def test_thinking_a_model_does_not_take_is_refused_naming_what_it_takes(model, asked, allowed):
    with pytest.raises(ThinkingNotSupported, match=allowed.replace(".", r"\.")
                       .replace("(", r"\(").replace(")", r"\)")):
        thinking_config(asked, CATALOGUE.get(model))


def test_default_thinking_sends_no_config():
    assert thinking_config(None, CATALOGUE.get("gemini-3.8-flash")) is None
    assert thinking_config("default", CATALOGUE.get("gemini-2.5-pro")) is None


def test_the_estimate_prices_a_retired_route_as_its_replacement():
    from flashfirst.inference.job import InferenceJob
    from flashfirst.items import Route, TaskKind, WorkItem
    from flashfirst.pricing.estimate import price_plan
    from flashfirst.pricing.prices import load_price_table
    from flashfirst.settings import ModelTier

    job = InferenceJob(item=WorkItem(id="c", task=TaskKind.CLASSIFY, text="x"), identity="c",
                       route=Route(model="gemini-2.5-pro", tier=ModelTier.PRO, reason="t"))
    estimate = price_plan([job], [1_000_000], 0, [], load_price_table(), None, CATALOGUE)
    # Served by 3.8 Flash from 2026-12-01: 1,000,000 × $0.75 + (20 assumed answer + 800
    # assumed thoughts at its default level, medium) × $3.75 = 753,075 per 1M (the test
    # runs on or after that day, before 2027).
    if date.today() < date(2027, 1, 1):
        assert estimate.per_model_usd == {"gemini-3.8-flash": 0.753075}
    else:
        assert estimate.per_model_usd == {"gemini-3.8-flash": 1.50615}


@pytest.mark.parametrize(("model", "levels", "default", "paid_only"), [
    # Hydrogen developer guide (Google, ko/ja copies read 2026-12-02): LOW, MEDIUM,
    # HIGH (default), XHIGH; Carbon's: LOW, MEDIUM (default), HIGH; Neon second-hand.
    ("gemini-4-hydrogen", ["low", "medium", "high", "xhigh"], "high", False),
    ("gemini-4-neon", ["low", "medium", "high", "xhigh"], "high", True),
    ("gemini-4-carbon", ["low", "medium", "high"], "medium", True),
    ("gemini-4-argon", ["low", "medium", "high"], "medium", False),
])
def test_gemini_4_caches_implicitly_only_and_thinks_by_its_own_levels(model, levels, default,
                                                                      paid_only):
    info = CATALOGUE.get(model)
    assert (info.family, info.explicit_cache, info.explicit_cache_min,
            info.implicit_cache_min) == ("4", False, None, 4096)
    assert [lv.value for lv in info.thinking.levels] == levels
    assert "minimal" not in levels and info.thinking.default == default
    assert info.paid_tier_only is paid_only
    # Tiers and Batch no Google page states are marked, not silently asserted.
    assert "batch" in info.unstated


def test_a_gemini_4_model_needs_no_cache_minimum_setting():
    s = Settings(models={"flash": {"id": "gemini-4-hydrogen"}})
    assert s.models.flash.min_cache_tokens is None  # no explicit caches to size


def test_google_names_hydrogen_as_3_8_flashs_successor():
    flash = CATALOGUE.get("gemini-3.8-flash")
    assert (flash.successor, str(flash.successor_named_on)) == ("gemini-4-hydrogen",
                                                                "2026-11-12")
    assert flash.shutdown is None  # nothing re-routed: a successor is advice
    for m in CATALOGUE.models:
        assert m.successor is None or CATALOGUE.find(m.successor) is not None, m.id


@pytest.mark.parametrize(("model", "asked", "level"), [
    ("gemini-4-hydrogen", "least", "LOW"),      # Gemini 4 refuses minimal: low is least
    ("gemini-4-hydrogen", "high", "HIGH"),      # high is high, not the level above it
    ("gemini-4-hydrogen", "max", "XHIGH"),      # the way to ask for xhigh by effort ...
    ("gemini-4-neon", "xhigh", "XHIGH"),        # ... or by name
    ("gemini-4-carbon", "max", "HIGH"),         # Carbon's top is high
    ("gemini-3.8-flash", "max", "HIGH"),
])
def test_gemini_4_efforts_map_to_its_levels(model, asked, level):
    assert thinking_config(asked, CATALOGUE.get(model)).thinking_level.value == level


@pytest.mark.parametrize(("model", "asked"), [
    ("gemini-4-hydrogen", "minimal"), ("gemini-4-neon", "minimal"),
    ("gemini-4-carbon", "xhigh"), ("gemini-4-argon", "xhigh"), ("gemini-4-hydrogen", "0"),
])
def test_levels_a_gemini_4_model_does_not_take_are_refused(model, asked):
    with pytest.raises(ThinkingNotSupported, match=f"{model}.*thinking_level low"):
        thinking_config(asked, CATALOGUE.get(model))


def test_max_is_the_largest_budget_on_2_5():
    assert thinking_config("max", CATALOGUE.get("gemini-2.5-pro")).thinking_budget == 32768
