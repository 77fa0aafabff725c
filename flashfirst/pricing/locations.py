"""Agent Platform prices by location: the ``global`` endpoint bills the list prices, a
regional one (``us-central1``, ``europe-west4`` …) about 10% more.

The table's ``platform_locations`` section holds this as data (a regional multiplier, and
any regional row Google publishes outright, which wins over the multiplier for the days
it covers); a run on the Agent Platform gets the table of its location, so the engine, the
batch runner, ``mode=auto``, the estimate and the cost stage all price by it. The
Developer API has no locations: its table is left as it is."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from flashfirst.pricing.prices import ModelPrices, PriceTable, TierPrices
from flashfirst.user_input import UserInput

GLOBAL = "global"


class PlatformLocations(UserInput):
    source: str = Field(description="Where the regional premium was read.")
    read_on: str
    regional_multiplier: Decimal = Field(
        description="Token rates at a regional endpoint, as a multiple of global's.")
    regional_rows: dict[str, list[ModelPrices]] = Field(
        default_factory=dict, description="Regional rows Google publishes, per model; a "
        "global row whose effective_from matches one is replaced by it.")


def for_location(table: PriceTable, location: str) -> PriceTable:
    """The table a call served at ``location`` is billed by."""
    if location == GLOBAL or table.platform_locations is None:
        return table
    spec = PlatformLocations.model_validate(table.platform_locations)
    models = {}
    for model, rows in table.models.items():
        published = {r.effective_from: r for r in spec.regional_rows.get(model, [])}
        models[model] = [_filled(table, model, published[r.effective_from])
                         if r.effective_from in published
                         else _scaled(r, spec.regional_multiplier) for r in rows]
    return table.model_copy(update={
        "models": models,
        "version": f"{table.version}, {location} (regional: ×{spec.regional_multiplier} "
                   "on global's token rates)"})


def _filled(table: PriceTable, model: str, row: ModelPrices) -> ModelPrices:
    if row.cached_input is None:
        return row.model_copy(update={"cached_input": row.input * table.cached_share(model),
                                      "cached_input_assumed": True})
    return row


def _scaled(row: ModelPrices, m: Decimal) -> ModelPrices:
    """Every token rate times ``m``; cache storage stays at global's (no regional figure)."""
    def times(value: Decimal | None) -> Decimal | None:
        return None if value is None else value * m

    long = row.long_context
    return row.model_copy(update={
        "input": row.input * m, "output": row.output * m,
        "cached_input": times(row.cached_input), "audio_input": times(row.audio_input),
        "cached_audio_input": times(row.cached_audio_input),
        "long_context": long.model_copy(update={
            "input": long.input * m, "output": long.output * m,
            "cached_input": long.cached_input * m}) if long else None,
        "tiers": {tier: _scaled_tier(own, m) for tier, own in row.tiers.items()},
        "source": f"{row.source}; ×{m} at a regional endpoint (platform_locations)"})


def _scaled_tier(own: TierPrices, m: Decimal) -> TierPrices:
    return own.model_copy(update={
        "input": own.input * m, "output": own.output * m,
        "cached_input": None if own.cached_input is None else own.cached_input * m,
        "audio_input": None if own.audio_input is None else own.audio_input * m})

