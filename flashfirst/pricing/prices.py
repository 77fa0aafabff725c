"""The dated price table and the pricing of one call, one cache, one estimate.

Rows carry the days they are in force; a call is priced by the row in force on the day
it was made (the ``Date`` of its response), so a run on the eve of a price change and one
the day after are each right without a release. Money is computed in ``Decimal`` so
per-lever savings add up exactly to the difference between baseline and actual; it
leaves this module as ``float`` USD in reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from flashfirst.errors import ConfigError, UnknownModelError
from flashfirst.gemini.token_rules import Modality
from flashfirst.items import ServiceTier, Usage
from flashfirst.user_input import UserInput

MILLION = Decimal(1_000_000)
When = date | datetime | None


class LongContextPrices(UserInput):
    """Prices applied to a whole call whose prompt is above the threshold."""

    threshold_tokens: int
    input: Decimal
    output: Decimal
    cached_input: Decimal


class TierPrices(UserInput):
    """A service tier's own published prices (instead of the table's multiplier)."""

    source: str = ""
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    audio_input: Decimal | None = None


class ModelPrices(UserInput):
    source: str = Field(description="Where the row was read.")
    read_on: str = Field(description="When it was read (YYYY-MM-DD).")
    effective_from: date | None = Field(None, description="First UTC day in force.")
    effective_until: date | None = Field(None, description="Last UTC day in force.")
    input: Decimal
    output: Decimal = Field(description="Also thinking tokens.")
    cached_input: Decimal | None = Field(
        None, description="Unset where Google shows no cached rate: the input rate times "
        "the family's assumed share (PriceTable.assumed_cached_share), filled at load.")
    cached_input_assumed: bool = Field(False, description="cached_input is the family's "
                                       "assumed share, not a published figure.")
    cache_storage_per_hour: Decimal | None = Field(
        None, description="None: the model has no explicit caches to store.")
    audio_input: Decimal | None = None
    cached_audio_input: Decimal | None = None
    long_context: LongContextPrices | None = None
    tiers: dict[ServiceTier, TierPrices] = Field(default_factory=dict)

    def in_force(self, day: date) -> bool:
        return ((self.effective_from is None or self.effective_from <= day)
                and (self.effective_until is None or day <= self.effective_until))

    @property
    def read_date(self) -> date | None:
        try:
            return date.fromisoformat(self.read_on[:10])
        except ValueError:
            return None


class PriceTable(UserInput):
    version: str
    currency: str = "USD"
    unit: str = Field("per 1M tokens", description="What the rates are per (for readers).")
    notes: str = ""
    tier_multipliers: dict[ServiceTier, Decimal]
    cache_read_multipliers: dict[ServiceTier, Decimal] | None = Field(
        None, description="Cached-token multipliers per tier; unset: tier_multipliers.")
    assumed_cached_share: dict[str, Decimal] = Field(
        default_factory=dict, description="Cached rate as a share of the input rate where a "
        "row gives none, per model-id prefix (the longest matching prefix wins): a family's "
        "discount, e.g. 'gemini-4-': 0.05, 'gemini-': 0.10.")
    models: dict[str, list[ModelPrices]]
    platform_locations: dict | None = Field(
        None, description="Agent Platform prices by location (price_locations.py reads it).")

    @model_validator(mode="after")
    def _assume_unpublished_cached_rates(self) -> PriceTable:
        for model, rows in self.models.items():
            for row in rows:
                if row.cached_input is None:
                    row.cached_input = row.input * self.cached_share(model)
                    row.cached_input_assumed = True
        return self

    def cached_share(self, model: str) -> Decimal:
        """The family's assumed cached share for ``model`` (longest prefix)."""
        prefixes = [p for p in self.assumed_cached_share if model.startswith(p)]
        if not prefixes:
            raise ValueError(f"{model}: a row without cached_input needs an "
                             "assumed_cached_share entry matching its id")
        return self.assumed_cached_share[max(prefixes, key=len)]

    @field_validator("models", mode="before")
    @classmethod
    def _one_row_is_a_list(cls, v: object) -> object:
        """Undated tables (one row a model, the old format) still load."""
        if isinstance(v, dict):
            return {k: row if isinstance(row, list) else [row] for k, row in v.items()}
        return v

    def knows(self, model: str) -> bool:
        return model.removeprefix("models/") in self.models

    def rows(self, model: str) -> list[ModelPrices]:
        try:
            return self.models[model.removeprefix("models/")]
        except KeyError:
            raise UnknownModelError(model, f"the price table (version {self.version})") from None

    def for_model(self, model: str, at: When = None) -> ModelPrices:
        """The row in force on ``at``'s UTC day (today when None)."""
        day = _day(at)
        for row in self.rows(model):
            if row.in_force(day):
                return row
        raise ConfigError(f"price table (version {self.version}) has no row for {model} in "
                          f"force on {day}: add one with effective_from/effective_until")

    def multiplier(self, tier: ServiceTier) -> Decimal:
        return self.tier_multipliers.get(tier, Decimal(1))

    def cache_read_multiplier(self, tier: ServiceTier) -> Decimal:
        table = self.cache_read_multipliers
        return table.get(tier, Decimal(1)) if table is not None else self.multiplier(tier)

    def price_call(self, model: str, usage: Usage, tier: ServiceTier, at: When = None
                   ) -> Decimal:
        """USD for one call from its usage metadata, at the tier that served it, by the
        row in force when it was made.

        ``prompt_tokens`` includes cached tokens, so cached ones are taken out of the
        input charge rather than billed twice; thoughts are billed as output."""
        row = self.for_model(model, at)
        rates = self.rates(row, tier, long=_is_long(row, usage.prompt_tokens))
        cached_audio = usage.cached_by_modality.get(Modality.AUDIO, 0)
        prompt_audio = usage.prompt_by_modality.get(Modality.AUDIO, 0)
        uncached_audio = max(0, prompt_audio - cached_audio)
        uncached = max(0, usage.prompt_tokens - usage.cached_tokens)
        cost = (
            (uncached - uncached_audio) * rates.input
            + uncached_audio * rates.audio_input
            + (usage.cached_tokens - cached_audio) * rates.cached_input
            + cached_audio * rates.cached_audio_input
            + (usage.candidates_tokens + usage.thoughts_tokens) * rates.output
        )
        return cost / MILLION

    def per_output_token(self, model: str, usage: Usage, tier: ServiceTier, at: When = None
                         ) -> Decimal:
        """USD of one more output (or thought) token on this call: what ``price_call``
        adds for it."""
        row = self.for_model(model, at)
        return self.rates(row, tier, long=_is_long(row, usage.prompt_tokens)).output / MILLION

    def price_tokens(
        self, model: str, *, input_tokens: int, output_tokens: int, audio_tokens: int = 0,
        cached_tokens: int = 0, tier: ServiceTier = ServiceTier.STANDARD, at: When = None,
    ) -> Decimal:
        """Counterfactual pricing (baselines, estimates) from plain counts."""
        usage = Usage(
            prompt_tokens=input_tokens + cached_tokens, cached_tokens=cached_tokens,
            candidates_tokens=output_tokens,
            prompt_by_modality={Modality.AUDIO: audio_tokens} if audio_tokens else {},
        )
        return self.price_call(model, usage, tier, at)

    def cache_storage(self, model: str, tokens: int, seconds: float, at: When = None
                      ) -> Decimal:
        row = self.for_model(model, at)
        if row.cache_storage_per_hour is None:
            return Decimal(0)  # no explicit caches on this model: nothing is stored
        hours = Decimal(str(max(0.0, seconds))) / Decimal(3600)
        return Decimal(tokens) * row.cache_storage_per_hour * hours / MILLION

    def cache_write(self, model: str, tokens: int, at: When = None) -> Decimal:
        """Creating a cache bills its tokens once at the input rate."""
        return Decimal(tokens) * self.for_model(model, at).input / MILLION

    def rates(self, row: ModelPrices, tier: ServiceTier, *, long: bool = False) -> _Rates:
        """Per-1M rates of one row at one tier: the tier's published row where there is
        one, else the standard row times the table's multipliers."""
        base = row.long_context if long and row.long_context else row
        # Long-context rows carry no audio rate: the long text rate applies.
        audio = row.audio_input if row.audio_input is not None and not long else base.input
        cached_audio = (row.cached_audio_input if row.cached_audio_input is not None
                        and not long else base.cached_input)
        m, c = self.multiplier(tier), self.cache_read_multiplier(tier)
        rates = _Rates(input=base.input * m, output=base.output * m,
                       cached_input=base.cached_input * c, audio_input=audio * m,
                       cached_audio_input=cached_audio * c)
        own = row.tiers.get(tier)
        if own is not None and not long:
            rates.input, rates.output = own.input, own.output
            rates.audio_input = own.audio_input if own.audio_input is not None else own.input
            if own.cached_input is not None:
                rates.cached_input = rates.cached_audio_input = own.cached_input
        return rates

    # --- what the table says about time: for `flashfirst prices` ---

    def in_force_on(self, day: date) -> dict[str, ModelPrices]:
        return {m: row for m, rows in self.models.items() for row in rows if row.in_force(day)}

    def next_changes(self, day: date) -> list[tuple[str, ModelPrices]]:
        """Rows that start after ``day``, soonest first."""
        later = [(m, r) for m, rows in self.models.items() for r in rows
                 if r.effective_from is not None and r.effective_from > day]
        return sorted(later, key=lambda mr: (mr[1].effective_from, mr[0]))

    def stale(self, day: date, days: int) -> list[tuple[str, ModelPrices]]:
        """Rows in force on ``day`` last read more than ``days`` days before it."""
        return [(m, r) for m, r in sorted(self.in_force_on(day).items())
                if r.read_date is None or (day - r.read_date).days > days]


@dataclass(slots=True)
class _Rates:
    """Per-1M rates, built per priced call: a plain record, not a validated model."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    audio_input: Decimal
    cached_audio_input: Decimal


def _is_long(row: ModelPrices, prompt_tokens: int) -> bool:
    return row.long_context is not None and prompt_tokens > row.long_context.threshold_tokens


def _day(at: When) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return (at.astimezone(UTC) if at.tzinfo else at).date()
    return at


def load_price_table(path: Path | None = None) -> PriceTable:
    """The packaged table, or the user's file (same format) when given."""
    try:
        if path is None:
            text = resources.files("flashfirst.data").joinpath("prices.json").read_text()
            where = "packaged prices.json"
        else:
            text, where = path.read_text(), str(path)
        return PriceTable.model_validate(json.loads(text))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"price table {where if path is None else path}: {exc}") from exc


def usd(amount: Decimal) -> float:
    """To report float, rounded to a billionth of a dollar."""
    return float(round(amount, 9))
