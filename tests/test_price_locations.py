"""The Agent Platform bills a regional endpoint about 10% above ``global``: the table of a
run's location prices its calls, its estimate and its naive baseline; the Developer API's
table has no location."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.mode import choose_modes
from flashfirst.items import Route, ServiceTier, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import RoutingPolicy
from flashfirst.pricing.locations import for_location
from flashfirst.pricing.prices import load_price_table
from flashfirst.run.context import run_context
from flashfirst.settings import BackendSettings, InferenceSettings, ModelTier, Settings

DEC, JAN = date(2026, 12, 2), date(2027, 1, 2)


def test_a_regional_endpoint_bills_googles_regional_row_or_ten_percent_more():
    table = load_price_table()
    regional = for_location(table, "europe-west4")
    published = regional.for_model("gemini-3.8-flash", DEC)
    assert (published.input, published.output, published.cached_input) == (
        Decimal("0.825"), Decimal("4.125"), Decimal("0.0825"))
    # No regional row published for 2027 or for 2.5 Flash-Lite: global's times 1.1.
    assert regional.for_model("gemini-3.8-flash", JAN).input == \
        table.for_model("gemini-3.8-flash", JAN).input * Decimal("1.1")
    lite, lite_global = (t.for_model("gemini-2.5-flash-lite", DEC) for t in (regional, table))
    assert (lite.input, lite.output) == (lite_global.input * Decimal("1.1"),
                                         lite_global.output * Decimal("1.1"))
    assert lite.cache_storage_per_hour == lite_global.cache_storage_per_hour
    # Batch stays half of the location's standard price.
    assert regional.rates(published, ServiceTier.BATCH).input == Decimal("0.4125")
    assert for_location(table, "global") is table


def platform(base_url: str, root: Path, location: str) -> Settings:
    return Settings(backend=BackendSettings(kind="vertex", vertex_project="acme-ml",
                                            vertex_location=location, base_url=base_url),
                    storage_root=str(root), inference=InferenceSettings(calibration_share=0))


def test_the_developer_api_table_has_no_location(emulator: EmbeddedEmulator, tmp_path: Path):
    developer = Settings(backend=BackendSettings(base_url=emulator.base_url),
                         storage_root=str(tmp_path))
    regional = platform(emulator.base_url, tmp_path, "us-central1")
    assert run_context(developer).prices.for_model("gemini-3.8-flash", DEC).input == \
        Decimal("0.75")
    assert run_context(regional).prices.for_model("gemini-3.8-flash", DEC).input == \
        Decimal("0.825")


@pytest.mark.usefixtures("prefect_api")
def test_the_same_run_costs_ten_percent_more_in_a_region_than_on_global(
        emulator: EmbeddedEmulator, tmp_path: Path):
    items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
    reports, estimates = {}, {}
    for location in ("global", "us-central1"):
        settings = platform(emulator.base_url, tmp_path / location, location)
        estimates[location] = analyze_with(AnalyzeParams(items=items, estimate_only=True),
                                           settings)
        reports[location] = analyze_with(AnalyzeParams(
            items=items, output=str(tmp_path / location / "out")), settings)

    g, r = reports["global"], reports["us-central1"]
    assert g.items_ok == r.items_ok == 3 and g.generate_calls == r.generate_calls == 3
    assert r.costs.actual_usd == pytest.approx(g.costs.actual_usd * 1.1, rel=1e-6)
    assert r.costs.naive_usd == pytest.approx(g.costs.naive_usd * 1.1, rel=1e-6)
    assert estimates["us-central1"].usd == pytest.approx(estimates["global"].usd * 1.1,
                                                         rel=1e-6)


def test_mode_auto_weighs_the_platforms_batch_price_at_its_location(
        emulator: EmbeddedEmulator, tmp_path: Path):
    route = Route(model="gemini-3.8-flash", tier=ModelTier.FLASH, reason="test")
    jobs = [InferenceJob(item=WorkItem(id=f"n{i}", text="late parcel"), route=route,
                         identity=f"id{i}", est_prompt_tokens=1000) for i in range(500)]
    developer = Settings(backend=BackendSettings(base_url=emulator.base_url),
                         storage_root=str(tmp_path))
    choices = {name: choose_modes(jobs, run_context(s).prices, s, RoutingPolicy().service_tier,
                                  None)["gemini-3.8-flash"]
               for name, s in (("developer", developer),
                               ("regional", platform(emulator.base_url, tmp_path, "us-east4")))}
    dev, regional = choices["developer"], choices["regional"]
    assert regional.tier is dev.tier is ServiceTier.BATCH
    assert regional.batch_usd == pytest.approx(dev.batch_usd * 1.1, rel=1e-6)
    assert regional.batch_usd == pytest.approx(regional.standard_usd / 2, rel=1e-6)
