"""``flashfirst models``: the backend's models.list against the catalogue, so a catalogue
gone stale is noticed (served ids it lacks, rows no longer listed, successors Google has
named); and a run says once that its tier's model has a named successor, as a warning
from the day the successor costs no more per token.

Successor: the Gemini 4 Hydrogen developer guide migrates from Gemini 3.8 Flash
(docs.cloud.google.com/…/guides/gemini-4-hydrogen, read 2026-12-02)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.emulator.config import EmulatedModel, default_models
from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.gemini.listing import models_listing, served_models
from flashfirst.gemini.successors import successor_notices
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import Settings


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_the_emulator_lists_its_models_on_both_api_versions(emulator: EmbeddedEmulator,
                                                            version: str):
    names = [m["name"] for m in httpx.get(f"{emulator.base_url}/{version}/models")
             .json()["models"]]
    assert "models/gemini-4-hydrogen" in names and "models/gemini-3.8-flash" in names


def test_models_names_served_ids_the_catalogue_lacks_and_rows_no_longer_listed(
        emulator: EmbeddedEmulator, genai_client):
    # A catalogue row the backend does not list (3.1 Flash-Lite, withheld here) is named.
    served = [m for m in default_models()
              if m.id not in {"gemini-4-argon", "gemini-3.1-flash-lite"}]
    emulator.control.configure(models=[*served, EmulatedModel(id="gemini-4-xenon",
                                                               family="4")])
    listing = models_listing(load_catalogue(), served_models(genai_client), date(2026, 12, 2))

    assert listing.not_in_catalogue == ["gemini-4-xenon"]
    not_listed = {n.model: n.note for n in listing.not_listed}
    assert "stale" in not_listed["gemini-4-argon"]
    assert "gemini-3.1-flash-lite" in not_listed
    assert [(s.model, s.successor) for s in listing.successors] == [
        ("gemini-3.8-flash", "gemini-4-hydrogen")]
    assert emulator.stats.calls_to("models.list") >= 1


def test_the_models_command_prints_the_comparison(emulator: EmbeddedEmulator, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFIRST_")}
    env["FLASHFIRST_BACKEND__BASE_URL"] = emulator.base_url
    exe = Path(sys.executable).with_name("flashfirst")
    text = subprocess.run([str(exe), "models"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "gemini-3.8-flash → gemini-4-hydrogen (named 2026-11-12)" in text.stdout
    assert "Every model served is in the catalogue." in text.stdout
    as_json = subprocess.run([str(exe), "models", "--json"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=300)
    assert json.loads(as_json.stdout)["not_in_catalogue"] == []


def test_the_successor_notice_warns_from_the_day_it_costs_no_more():
    # 3.8 Flash $0.75 / $3.75 through 2026-12-31, $1.50 / $7.50 from 2027-01-01;
    # Hydrogen $1.50 / $7.50 throughout.
    tiers = {"flash_lite": "gemini-2.5-flash-lite", "flash": "gemini-3.8-flash",
             "pro": "gemini-3.8-flash"}  # the same model in two tiers: one notice
    catalogue, prices = load_catalogue(), load_price_table()
    [today] = successor_notices(catalogue, prices, tiers, date(2026, 12, 2))
    [new_year] = successor_notices(catalogue, prices, tiers, date(2027, 1, 1))
    assert not today.switch_now and "costs more per token" in today.message
    assert new_year.switch_now
    assert "consider FLASHFIRST_MODELS__FLASH__ID=gemini-4-hydrogen" in new_year.message
    assert new_year.message.startswith("gemini-3.8-flash: Google named gemini-4-hydrogen its "
                                       "successor on 2026-11-12")


@pytest.mark.usefixtures("prefect_api")
def test_a_run_says_once_that_its_flash_models_successor_is_named(
        run_settings: Settings, emulator: EmbeddedEmulator, caplog: pytest.LogCaptureFixture):
    items = [WorkItem(id=f"q{i}", task=TaskKind.SUMMARIZE, text=f"Note {i}.",
                      model="gemini-3.8-flash") for i in range(3)]
    with caplog.at_level(logging.INFO):
        report = analyze_with(AnalyzeParams(items=items), run_settings)
    assert report.items_ok == 3
    notices = [r for r in caplog.records
               if "named gemini-4-hydrogen its successor" in r.getMessage()]
    assert len(notices) == 1 and notices[0].getMessage().startswith("model: gemini-3.8-flash")
    # A warning only once switching costs no more (2027-01-01); a note before.
    switch = date.today() >= date(2027, 1, 1)
    assert notices[0].levelno == (logging.WARNING if switch else logging.INFO)
