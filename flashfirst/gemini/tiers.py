"""The three tiers escalation climbs (Flash-Lite, Flash, Pro) and the model each runs, with
your project's limits: the part of the settings that names models."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from flashfirst.errors import UnknownModelError
from flashfirst.user_input import UserInput


class ModelTier(StrEnum):
    """Cheapest first: the order escalation climbs."""

    FLASH_LITE = "flash_lite"
    FLASH = "flash"
    PRO = "pro"

    def next_up(self) -> ModelTier | None:
        order = list(ModelTier)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


class ModelSpec(UserInput):
    """The model chosen for a tier, with the limits of your project.

    Google no longer publishes per-model RPM/TPM
    (https://ai.google.dev/gemini-api/docs/rate-limits, read 2026-10): the defaults are
    the last published Tier 1 figures; set yours from AI Studio. What a model is (family,
    dates, cache minimums, thinking) comes from the model catalogue (``catalogue.py``)."""

    id: str = Field(description="The model id the API knows.")
    rpm: int = Field(1000, gt=0, description="Requests per minute allowed for this model.")
    tpm: int = Field(1_000_000, gt=0, description="Input tokens per minute allowed.")
    concurrency: int = Field(32, gt=0, description="Requests in flight at once, at most.")
    min_cache_tokens: int | None = Field(
        None, ge=0, description="Smallest context the API caches; unset: the model "
        "catalogue's minimum (none where the model has no explicit caching).")
    context_window: int = Field(1_048_576, gt=0, description="Input tokens the model takes.")


_TIERS = tuple(ModelTier)

# Models served today (README "Models": price, capability, GA or preview of each).
_DEFAULT_MODELS: dict[str, dict[str, object]] = {
    "flash_lite": {"id": "gemini-2.5-flash-lite", "rpm": 4000, "tpm": 4_000_000},
    "flash": {"id": "gemini-3.8-flash", "rpm": 1000, "tpm": 1_000_000},
    "pro": {"id": "gemini-3.1-pro-preview", "rpm": 150, "tpm": 2_000_000},
}


class ModelCatalogue(UserInput):
    flash_lite: ModelSpec = ModelSpec(**_DEFAULT_MODELS["flash_lite"])
    flash: ModelSpec = ModelSpec(**_DEFAULT_MODELS["flash"])
    pro: ModelSpec = ModelSpec(**_DEFAULT_MODELS["pro"])

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_overrides(cls, data: object) -> object:
        """``FLASHFIRST_MODELS__PRO__RPM=10`` changes the rate, not the whole entry."""
        if isinstance(data, dict):
            return {
                tier: {**defaults, **data[tier]} if isinstance(data.get(tier), dict)
                else data.get(tier, defaults)
                for tier, defaults in _DEFAULT_MODELS.items()
            }
        return data

    def by_tier(self, tier: ModelTier) -> ModelSpec:
        return getattr(self, tier.value)

    def tier_of(self, model_id: str) -> ModelTier:
        for tier in _TIERS:  # a tuple: iterating the enum costs more, once per call sent
            if getattr(self, tier.value).id == model_id:
                return tier
        raise UnknownModelError(model_id, "the model catalogue (FLASHFIRST_MODELS__*)")

    def spec(self, model_id: str, tier: ModelTier | None = None) -> ModelSpec:
        """The tier model's spec; for a model no tier names but a route puts in ``tier``
        (the autopilot routes to any model the catalogue serves), that tier's limits under
        its own id (so it gets its own limiter), with the catalogue's cache minimum."""
        try:
            return self.by_tier(self.tier_of(model_id))
        except UnknownModelError:
            if tier is None:
                raise
        return self.by_tier(tier).model_copy(update={"id": model_id, "min_cache_tokens": None})

    @property
    def all(self) -> list[ModelSpec]:
        return [self.by_tier(t) for t in ModelTier]
