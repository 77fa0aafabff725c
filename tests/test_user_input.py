"""A misspelt key in anything a user writes is refused, naming the key, before any call:
routing policy, price table, model catalogue, flow parameters, manifest rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from flashfirst.errors import ConfigError
from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table

DATA = Path(__file__).resolve().parents[1] / "flashfirst" / "data"


def test_a_misspelt_key_in_the_routing_policy_is_refused_by_name(tmp_path: Path):
    policy = yaml.safe_load((DATA / "routing.yaml").read_text())
    policy["escalation"]["ladderr"] = policy["escalation"].pop("ladder", [])
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(policy))
    with pytest.raises(ConfigError, match="ladderr"):
        load_routing_policy(path)


def test_a_misspelt_key_in_a_service_tier_policy_is_refused(tmp_path: Path):
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump({"service_tier": {"flex_min_deadline": 60}}))
    with pytest.raises(ConfigError, match="flex_min_deadline"):
        load_routing_policy(path)


def test_a_misspelt_price_field_is_refused_by_name(tmp_path: Path):
    table = json.loads((DATA / "prices.json").read_text())
    row = next(iter(table["models"].values()))[0]
    row["cached_imput"] = "0.1"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    with pytest.raises(ConfigError, match="cached_imput"):
        load_price_table(path)


def test_a_misspelt_catalogue_field_is_refused_by_name(tmp_path: Path):
    catalogue = json.loads((DATA / "models.json").read_text())
    row = catalogue["models"][0]
    row["context_windw"] = 1
    path = tmp_path / "models.json"
    path.write_text(json.dumps(catalogue))
    with pytest.raises(ConfigError, match="context_windw"):
        load_catalogue(path)


def test_a_misspelt_flow_parameter_is_refused_by_name():
    with pytest.raises(ValidationError, match="media_polcy"):
        AnalyzeParams.model_validate({"source": "./inbox", "media_polcy": {"fps": 0.5}})
    with pytest.raises(ValidationError, match="system_instructions"):
        AnalyzeParams.model_validate({"source": "./inbox",
                                      "context": {"system_instructions": "be brief"}})


def test_the_packaged_tables_and_policy_still_load():
    assert load_routing_policy().escalation.ladder
    assert load_price_table().models
    assert load_catalogue().models
