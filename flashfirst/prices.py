"""The versioned price table and the pricing of one call, one cache, one estimate.

Money is computed in ``Decimal`` so per-lever savings add up exactly to the difference
between baseline and actual; it leaves this module as ``float`` USD in reports.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from flashfirst.errors import ConfigError, UnknownModelError
from flashfirst.items import ServiceTier, Usage
from flashfirst.token_rules import Modality

MILLION = Decimal(1_000_000)


class LongContextPrices(BaseModel):
    """Prices applied to a whole call whose prompt is above the threshold."""

    threshold_tokens: int
    input: Decimal
    output: Decimal
    cached_input: Decimal


class ModelPrices(BaseModel):
    source: str = Field(description="Where the row was read.")
    read_on: str = Field(description="When it was read.")
    input: Decimal
    output: Decimal = Field(description="Also thinking tokens.")
    cached_input: Decimal
    cache_storage_per_hour: Decimal
    audio_input: Decimal | None = None
    cached_audio_input: Decimal | None = None
    long_context: LongContextPrices | None = None


class PriceTable(BaseModel):
    version: str
    currency: str = "USD"
    notes: str = ""
    tier_multipliers: dict[ServiceTier, Decimal]
    cached_input_tier_multipliers: dict[ServiceTier, Decimal] = Field(
        default_factory=dict, description="Where cache reads are not discounted like the "
        "rest of a tier's call; a tier missing here uses tier_multipliers.")
    models: dict[str, ModelPrices]

    def for_model(self, model: str) -> ModelPrices:
        try:
            return self.models[model.removeprefix("models/")]
        except KeyError:
            raise UnknownModelError(model, f"the price table (version {self.version})") from None

    def multiplier(self, tier: ServiceTier) -> Decimal:
        return self.tier_multipliers.get(tier, Decimal(1))

    def cached_multiplier(self, tier: ServiceTier) -> Decimal:
        return self.cached_input_tier_multipliers.get(tier, self.multiplier(tier))

    def price_call(self, model: str, usage: Usage, tier: ServiceTier) -> Decimal:
        """USD for one call from its usage metadata, at the tier that served it.

        ``prompt_tokens`` includes cached tokens, so cached ones are taken out of the
        input charge rather than billed twice; thoughts are billed as output."""
        row = self.for_model(model)
        rates = _Rates.of(row, long=_is_long(row, usage.prompt_tokens))
        cached_audio = usage.cached_by_modality.get(Modality.AUDIO, 0)
        prompt_audio = usage.prompt_by_modality.get(Modality.AUDIO, 0)
        uncached_audio = max(0, prompt_audio - cached_audio)
        uncached = max(0, usage.prompt_tokens - usage.cached_tokens)
        cost = (
            (uncached - uncached_audio) * rates.input
            + uncached_audio * rates.audio_input
            + (usage.candidates_tokens + usage.thoughts_tokens) * rates.output
        )
        cached = ((usage.cached_tokens - cached_audio) * rates.cached_input
                  + cached_audio * rates.cached_audio_input)
        return (cost * self.multiplier(tier) + cached * self.cached_multiplier(tier)) / MILLION

    def price_tokens(
        self, model: str, *, input_tokens: int, output_tokens: int, audio_tokens: int = 0,
        cached_tokens: int = 0, tier: ServiceTier = ServiceTier.STANDARD,
    ) -> Decimal:
        """Counterfactual pricing (baselines, estimates) from plain counts."""
        usage = Usage(
            prompt_tokens=input_tokens + cached_tokens, cached_tokens=cached_tokens,
            candidates_tokens=output_tokens,
            prompt_by_modality={Modality.AUDIO: audio_tokens} if audio_tokens else {},
        )
        return self.price_call(model, usage, tier)

    def cache_storage(self, model: str, tokens: int, seconds: float) -> Decimal:
        row = self.for_model(model)
        hours = Decimal(str(max(0.0, seconds))) / Decimal(3600)
        return Decimal(tokens) * row.cache_storage_per_hour * hours / MILLION

    def cache_write(self, model: str, tokens: int) -> Decimal:
        """Creating a cache bills its tokens once at the input rate."""
        return Decimal(tokens) * self.for_model(model).input / MILLION


class _Rates(BaseModel):
    input: Decimal
    output: Decimal
    cached_input: Decimal
    audio_input: Decimal
    cached_audio_input: Decimal

    @classmethod
    def of(cls, row: ModelPrices, long: bool) -> _Rates:
        base = row.long_context if long and row.long_context else row
        # Long-context rows carry no audio rate: the long text rate applies.
        audio = row.audio_input if row.audio_input is not None and not long else base.input
        cached_audio = (row.cached_audio_input if row.cached_audio_input is not None
                        and not long else base.cached_input)
        return cls(input=base.input, output=base.output, cached_input=base.cached_input,
                   audio_input=audio, cached_audio_input=cached_audio)


def _is_long(row: ModelPrices, prompt_tokens: int) -> bool:
    return row.long_context is not None and prompt_tokens > row.long_context.threshold_tokens


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
