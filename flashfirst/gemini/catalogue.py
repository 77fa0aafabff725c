"""The model catalogue as data: what each Gemini model is, until when, and what it takes.

Settings choose which id fills each tier; this says what an id is (family, dates,
caching, thinking control, media rules) and which model really serves it on a given day.
The packaged ``data/models.json`` cites its pages; ``FLASHFIRST_MODEL_CATALOGUE_PATH``
replaces it with a file of the same shape.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from flashfirst.errors import ConfigError, RetiredModel, UnknownModelError
from flashfirst.gemini.token_rules import MediaRules
from flashfirst.user_input import UserInput


class ThinkingLevel(StrEnum):
    """Gemini 3/4's ``thinking_level`` values (the SDK's ``types.ThinkingLevel``), least
    to most: ``xhigh`` exists on some Gemini 4 models (Hydrogen, Neon)."""

    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"


class ThinkingControl(UserInput):
    control: Literal["budget", "level"]
    levels: list[ThinkingLevel] = Field(default_factory=list, description="Level models.")
    budget_ranges: list[tuple[int, int]] = Field(
        default_factory=list, description="Budget models: inclusive ranges accepted.")
    dynamic: bool = Field(False, description="Budget -1 (the model decides) is accepted.")
    default: str = Field(description="What the model does when the request says nothing.")

    def allowed(self) -> str:
        """The accepted values, as an error message names them."""
        if self.control == "level":
            return "thinking_level " + ", ".join(lv.value for lv in self.levels)
        ranges = [f"{lo}" if lo == hi else f"{lo}..{hi}" for lo, hi in self.budget_ranges]
        return "thinking_budget " + " or ".join(ranges + (["-1 (dynamic)"] if self.dynamic
                                                           else []))

    def accepts_budget(self, budget: int) -> bool:
        if budget == -1:
            return self.dynamic
        return any(lo <= budget <= hi for lo, hi in self.budget_ranges)


class ModelInfo(UserInput):
    id: str
    tier: Literal["flash_lite", "flash", "pro"]
    family: str = Field(description="'2.5', '3' or '4': decides token rules and controls.")
    status: Literal["ga", "preview", "deprecated", "retired"]
    released: date | None = None
    deprecated: date | None = None
    shutdown: date | None = Field(None, description="From this UTC day, served by replacement.")
    replacement: str | None = None
    served_by: str | None = Field(None, description="Silently re-routed to this model...")
    served_by_since: date | None = Field(None, description="...since this day.")
    context_window: int
    output_token_limit: int = Field(
        65_536, description="Output tokens (thoughts included) one non-streaming call may "
        "return: what a larger max_output_tokens can grow to.")
    explicit_cache: bool
    explicit_cache_min: int | None = None
    implicit_cache_min: int | None = None
    service_tiers: list[str]
    batch: bool
    paid_tier_only: bool = Field(False, description="Not served on the free tier.")
    unstated: list[str] = Field(
        default_factory=list, description="Facts of this row no Google page read states "
        "(e.g. 'flex', 'priority', 'batch'): the row holds what the code assumes then.")
    notice_days: int | None = Field(
        None, description="Short-lifecycle GA: at least this many days' deprecation notice.")
    successor: str | None = Field(
        None, description="The model Google names as this one's successor (the id stays "
        "served; unlike 'replacement', nothing is re-routed).")
    successor_named_on: date | None = None
    thinking: ThinkingControl
    media_rules: Literal["gemini-2", "gemini-3"]
    document_inputs: list[str] = Field(
        default_factory=list, description="File types taken besides PDF and text, by "
        "extension (Office and OpenDocument on Gemini 4 Hydrogen and Carbon).")
    source: str
    read_on: str

    def retired_on(self, day: date) -> bool:
        return self.shutdown is not None and day >= self.shutdown

    def rerouted_on(self, day: date) -> bool:
        return self.served_by is not None and (self.served_by_since is None
                                               or day >= self.served_by_since)


class Catalogue(UserInput):
    version: str
    notes: str = ""
    models: list[ModelInfo]

    def get(self, model_id: str) -> ModelInfo:
        bare = model_id.removeprefix("models/")
        for m in self.models:
            if m.id == bare:
                return m
        raise UnknownModelError(bare, f"the model catalogue (version {self.version})")

    def find(self, model_id: str) -> ModelInfo | None:
        try:
            return self.get(model_id)
        except UnknownModelError:
            return None

    def served_id(self, model_id: str, day: date | None = None) -> str:
        """The model that answers a request for ``model_id`` on ``day`` (today, UTC):
        a retired id's replacement, a re-routed id's new model, followed to the end."""
        day = day or today()
        current, seen = model_id.removeprefix("models/"), set()
        while current not in seen:
            seen.add(current)
            info = self.find(current)
            if info is None:
                return current
            if info.retired_on(day) and info.replacement:
                current = info.replacement
            elif info.rerouted_on(day) and info.served_by:
                current = info.served_by
            else:
                return current
        raise ConfigError(f"model catalogue: replacements of {model_id!r} form a loop")

    def served(self, model_id: str, day: date | None = None) -> ModelInfo:
        return self.get(self.served_id(model_id, day))


def today() -> date:
    return datetime.now(UTC).date()


def retirement_notice(catalogue: Catalogue, model_id: str, day: date | None = None
                      ) -> tuple[str, bool] | None:
    """(message, retired) for a model that is retired, retiring or re-routed; else None."""
    day = day or today()
    info = catalogue.find(model_id)
    if info is None:
        return None
    served = catalogue.served_id(model_id, day)
    if info.retired_on(day):
        return (f"{model_id} was shut down on {info.shutdown}: Google serves it by {served} "
                f"and bills {served}'s rates", True)
    if info.shutdown is not None:
        return (f"{model_id} shuts down on {info.shutdown}; its replacement is "
                f"{info.replacement or 'not named'}", False)
    if served != model_id:
        return (f"{model_id} is served by {served} since {info.served_by_since} "
                f"(billed at {served}'s rates)", False)
    return None


@lru_cache(maxsize=8)
def _load(path: Path | None) -> Catalogue:
    where = str(path) if path else "packaged models.json"
    try:
        text = (path.read_text() if path else
                resources.files("flashfirst.data").joinpath("models.json").read_text())
        return Catalogue.model_validate(json.loads(text))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"model catalogue {where}: {exc}") from exc


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The packaged catalogue, or the user's file of the same shape."""
    return _load(path)


def media_rules_of(catalogue: Catalogue, model: str, day: date | None = None) -> MediaRules:
    """The token-rule family of the model that will serve ``model`` (Gemini 3's rules for
    an id the catalogue does not know: every model released since is on them)."""
    info = catalogue.find(catalogue.served_id(model, day))
    return MediaRules(info.media_rules) if info is not None else MediaRules.GEMINI_3


def check_run_models(catalogue: Catalogue, model_ids: list[str], *, allow_retired: bool,
                     day: date | None = None) -> list[str]:
    """Notices for the run's models, said before the first call; a retired one stops the
    run unless the user insists (``allow_retired``)."""
    notices, retired = [], []
    for model_id in dict.fromkeys(model_ids):
        notice = retirement_notice(catalogue, model_id, day)
        if notice is None:
            continue
        message, is_retired = notice
        notices.append(message)
        if is_retired:
            retired.append(message)
    if retired and not allow_retired:
        raise RetiredModel("; ".join(retired) + ". Choose a served model "
                           "(FLASHFIRST_MODELS__<TIER>__ID) or insist with --allow-retired "
                           "(FLASHFIRST_ALLOW_RETIRED=true)")
    return notices

