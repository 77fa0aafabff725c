"""What a run cost, what the naive way would have cost, and which lever saved what.

The savings are a waterfall over the same calls, so the levers add up exactly to the
difference between baseline and actual:

    naive    every item on Pro at default thinking, standard tier, no cache, media as
             the user gave it
  → routed   each call on the model it actually used (escalations included), at default
             thinking
  → thinking with the thoughts the calls really spent at the setting sent, plus the
             calibration sample's own calls (at the standard price, like every step
             before the service tier)
  → media    with the prepared media's tokens instead of the original's
  → implicit with the tokens Gemini's implicit cache discounted (cached tokens reported
             without a cache object) at the cached rate
  → cached   with explicit caches' tokens at the cached rate too, plus writes and storage
  → actual   at the service tier that actually served each call (Flex, Batch, …)

"Default thinking" is observed for a call sent at the default; for a call sent lower it
is the calibration sample's mean thoughts per item for that task and model
(``flashfirst.planning.calibration``). Without a sample it is not known: those calls keep their
own thoughts in naive and routed, and the thinking lever reads "not measured".

Every call is priced as the model that served it (``Attempt.billed_model``) by the price
row in force when it was made (``Attempt.called_at``); when the table has no row for that
model, by the stand-in row ``flashfirst.pricing.priced_as`` picks, and its cost is provisional.

The lower bound prices the same answers as if every item had gone once to the
cheapest model, at the batch price, without thinking tokens and without paying for
cache writes or storage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from flashfirst.caching.record import CacheRecord
from flashfirst.gemini.catalogue import Catalogue, load_catalogue
from flashfirst.gemini.token_rules import Modality, TokenCount
from flashfirst.items import Attempt, ItemResult, ServiceTier, Usage
from flashfirst.planning.calibration import CalibrationGroup, calibration_groups
from flashfirst.pricing.priced_as import price_row_model
from flashfirst.pricing.prices import PriceTable, usd
from flashfirst.settings import ModelCatalogue, ModelTier


class Step(StrEnum):
    """The waterfall's steps, naive → actual (the module's docstring says what each is)."""

    NAIVE = "naive"
    ROUTED = "routed"
    THINKING = "thinking"
    MEDIA = "media"
    IMPLICIT = "implicit"
    CACHED = "cached"
    ACTUAL = "actual"


class LeverName(StrEnum):
    """Each lever is the saving between two steps; these names are in every report."""

    ROUTING = "routing"
    THINKING = "thinking"
    MEDIA = "media"
    CACHING = "caching"
    IMPLICIT = "caching (implicit)"
    SERVICE_TIER = "service tier"


class Lever(BaseModel):
    name: LeverName
    saving_usd: float
    explanation: str
    measured: bool = Field(True, description="False: the saving was not observed (shown as "
                           "'not measured', never as a number).")


class ThinkingEstimate(BaseModel):
    """The thinking lever as an estimate: from a sample, with its size and spread."""

    sample_calls: int = 0
    below_default_calls: int = Field(0, description="Calls sent below default thinking.")
    unmeasured_calls: int = Field(0, description="Of those, calls no sample covers.")
    calibration_usd: float = Field(0.0, description="The sample's calls at the standard "
                                   "price (their tier discount is the service-tier lever's).")
    low_usd: float = Field(0.0, description="The saving had every item thought like the "
                           "sample's least thoughtful one.")
    high_usd: float = Field(0.0, description="... like its most thoughtful one.")
    groups: list[CalibrationGroup] = Field(default_factory=list)


class ModelCost(BaseModel):
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    cost_usd: float = 0.0
    priced_as: str | None = Field(None, description="Set when these calls were priced by "
                                  "another model's row (the table lacks this one's).")


class CostSummary(BaseModel):
    actual_usd: float
    naive_usd: float
    lower_bound_usd: float
    calls_usd: float = Field(description="Model calls at the tier that served them.")
    cache_write_usd: float
    cache_storage_usd: float
    levers: list[Lever]
    per_model: list[ModelCost]
    thinking: ThinkingEstimate = Field(default_factory=ThinkingEstimate)

    @property
    def saving_usd(self) -> float:
        return usd(Decimal(str(self.naive_usd)) - Decimal(str(self.actual_usd)))


class MediaDelta(BaseModel):
    """An item's prompt tokens for its media as given vs. as prepared."""

    before: TokenCount
    after: TokenCount


def summarize_costs(results: Iterable[ItemResult], caches: list[CacheRecord],
                    media: dict[str, MediaDelta], prices: PriceTable,
                    catalogue: ModelCatalogue, models: Catalogue | None = None
                    ) -> CostSummary:
    """``models``: what serves a retired id (the baseline's Pro and the lower bound's
    cheapest model are priced as what would serve them that day)."""
    tally = CostTally(media, prices, catalogue, models)
    for result in results:
        tally.add(result)
    return tally.summary(caches)


class _BelowDefault:
    """Calls of one (task, model) sent below default thinking, priced with no thoughts
    (``base``), per thought (``rate``) and as sent (``own``): a call's price is linear in
    its thoughts, so the calibration sample's mean, known only when the run ends, prices
    them all at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.base = self.rate = self.own = Decimal(0)

    def add(self, own: Decimal, per_thought: Decimal, thoughts: int) -> None:
        """One call: its price as sent, the price of one thought, the thoughts it spent."""
        self.calls += 1
        self.base += own - thoughts * per_thought
        self.rate += per_thought
        self.own += own

    def at(self, thoughts: int) -> Decimal:
        return self.base + thoughts * self.rate


class CostTally:
    """The waterfall folded one result at a time, so a run's results need not be held:
    everything but the thinking lever is summed as it comes; calls below default thinking
    wait, as sums per (task, model), for the calibration sample's figures."""

    def __init__(self, media: dict[str, MediaDelta], prices: PriceTable,
                 catalogue: ModelCatalogue, models: Catalogue | None = None) -> None:
        self.media, self.prices, self.models = media, prices, models or load_catalogue()
        self.steps: defaultdict[Step, Decimal] = defaultdict(Decimal)
        self.per_model: dict[str, ModelCost] = {}
        self.samples: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        self.below: defaultdict[tuple[str, str], _BelowDefault] = defaultdict(_BelowDefault)
        self.naive_below: defaultdict[tuple[str, str], _BelowDefault] = defaultdict(
            _BelowDefault)
        self.calibration = self.lower = Decimal(0)
        self.implicit_tokens = 0
        self.pro, self.cheapest = catalogue.pro.id, catalogue.by_tier(ModelTier.FLASH_LITE).id

    def add(self, result: ItemResult) -> None:
        if result.reused or not result.attempts:
            return
        prices, steps, standard = self.prices, self.steps, ServiceTier.STANDARD
        task, delta = result.task.value, self.media.get(result.id)
        for attempt in result.attempts:
            model, at, usage = _row_model(attempt, prices, self.models), attempt.called_at, \
                attempt.usage
            # Each usage is copied once and each distinct price computed once: this runs
            # for every call of a run.
            uncached = _uncached(usage)
            sent = uncached if delta is None \
                else _uncached(_with_original_media(usage, delta))
            as_sent = prices.price_call(model, sent, standard, at)
            steps[Step.THINKING] += as_sent
            if attempt.thinking.at_default:
                steps[Step.ROUTED] += as_sent
            else:
                self.below[(task, attempt.billed_model)].add(
                    as_sent, prices.per_output_token(model, sent, standard, at),
                    usage.thoughts_tokens)
            media = as_sent if delta is None \
                else prices.price_call(model, uncached, standard, at)
            steps[Step.MEDIA] += media
            implicit = attempt.cached_content is None and usage.cached_tokens > 0
            self.implicit_tokens += usage.cached_tokens if implicit else 0
            cached = prices.price_call(model, usage, standard, at) \
                if usage.cached_tokens or usage.cached_by_modality else media
            steps[Step.IMPLICIT] += cached if implicit else media
            steps[Step.CACHED] += cached
            actual = cached if attempt.service_tier_served is standard \
                else prices.price_call(model, usage, attempt.service_tier_served, at)
            steps[Step.ACTUAL] += actual
            _add(self.per_model, attempt, actual, model)
        if (calib := result.calibration) is not None:  # paid: part of the actual cost
            self.samples[(task, calib.billed_model)].append(calib.usage.thoughts_tokens)
            # At the standard price from the thinking step on (its Flex/Batch discount
            # belongs to the service-tier lever), at the price paid in actual.
            calib_model = _row_model(calib, prices, self.models)
            standard_cost = prices.price_call(calib_model, calib.usage, standard,
                                              calib.called_at)
            self.calibration += standard_cost
            for step in (Step.THINKING, Step.MEDIA, Step.IMPLICIT, Step.CACHED):
                steps[step] += standard_cost
            cost = prices.price_call(calib_model, calib.usage,
                                     calib.service_tier_served, calib.called_at)
            steps[Step.ACTUAL] += cost
            _add(self.per_model, calib, cost, calib_model)
        last = result.attempts[-1]
        day = last.called_at.date() if last.called_at else None
        pro = price_row_model(self.pro, None, day, prices, self.models)
        sent = _uncached(_with_original_media(last.usage, delta))
        naive = prices.price_call(pro, sent, standard, last.called_at)
        if last.thinking.at_default:
            steps[Step.NAIVE] += naive
        else:
            self.naive_below[(task, last.billed_model)].add(
                naive, prices.per_output_token(pro, sent, standard, last.called_at),
                sent.thoughts_tokens)
        self.lower += prices.price_call(price_row_model(self.cheapest, None, day, prices,
                                                        self.models),
                                        _as_output_of(last.usage), ServiceTier.BATCH,
                                        last.called_at)

    def summary(self, caches: list[CacheRecord]) -> CostSummary:
        prices, steps = self.prices, self.steps.copy()
        groups = calibration_groups(self.samples)
        for key, calls in self.naive_below.items():
            group = groups.get(key)
            steps[Step.NAIVE] += calls.at(round(group.mean)) if group else calls.own
        estimate = self._thinking_estimate(groups, steps)
        # A cache is priced by the row in force the day it was created, as calls are.
        write = sum((prices.cache_write(c.model, c.tokens, c.created_at) for c in caches
                     if c.created_by_run), Decimal(0))
        storage = sum((prices.cache_storage(c.model, c.tokens, c.billed_seconds(),
                                            c.created_at) for c in caches), Decimal(0))
        steps[Step.CACHED] += write + storage
        calls = steps[Step.ACTUAL]
        steps[Step.ACTUAL] += write + storage
        return CostSummary(
            actual_usd=usd(steps[Step.ACTUAL]), naive_usd=usd(steps[Step.NAIVE]),
            lower_bound_usd=usd(self.lower), calls_usd=usd(calls), cache_write_usd=usd(write),
            cache_storage_usd=usd(storage), levers=_levers(steps, estimate, self.implicit_tokens),
            per_model=sorted(self.per_model.values(), key=lambda m: -m.cost_usd),
            thinking=estimate)

    def _thinking_estimate(self, groups: dict[tuple[str, str], CalibrationGroup],
                           steps: defaultdict[Step, Decimal]) -> ThinkingEstimate:
        """The routed step's calls below default thinking at the sample's mean (their own
        thoughts where no sample covers them), and the lever's bounds from the sample's
        least and most thoughtful item."""
        below = unmeasured = 0
        low = high = Decimal(0)
        for key, calls in self.below.items():
            group = groups.get(key)
            below += calls.calls
            if group is None:
                unmeasured += calls.calls
                steps[Step.ROUTED] += calls.own
                continue
            steps[Step.ROUTED] += calls.at(round(group.mean))
            low += calls.at(group.low) - calls.own
            high += calls.at(group.high) - calls.own
        return ThinkingEstimate(
            sample_calls=sum(g.n for g in groups.values()), below_default_calls=below,
            unmeasured_calls=unmeasured, calibration_usd=usd(self.calibration),
            low_usd=usd(low - self.calibration), high_usd=usd(high - self.calibration),
            groups=sorted(groups.values(), key=lambda g: (g.task, g.model)))


def _levers(steps: defaultdict[Step, Decimal], estimate: ThinkingEstimate,
            implicit_tokens: int) -> list[Lever]:
    return [
        Lever(name=LeverName.ROUTING, saving_usd=usd(steps[Step.NAIVE] - steps[Step.ROUTED]),
              explanation="Flash first instead of Pro for every item; escalations included"),
        _thinking_lever(steps[Step.ROUTED] - steps[Step.THINKING], estimate),
        Lever(name=LeverName.MEDIA, saving_usd=usd(steps[Step.THINKING] - steps[Step.MEDIA]),
              explanation="fewer media tokens from the reduction policies (1 fps and 16 kHz "
                          "alone save bytes, not tokens)"),
        Lever(name=LeverName.CACHING, saving_usd=usd(steps[Step.IMPLICIT] - steps[Step.CACHED]),
              explanation="shared context in explicit caches at the cached rate, net of "
                          "cache writes and storage"),
        Lever(name=LeverName.IMPLICIT, saving_usd=usd(steps[Step.MEDIA] - steps[Step.IMPLICIT]),
              explanation=f"{implicit_tokens:,} tokens of repeated prefixes Gemini "
                          "discounted on its own (cachedContentTokenCount without a cache "
                          "object), at the cached rate"),
        Lever(name=LeverName.SERVICE_TIER, saving_usd=usd(steps[Step.CACHED] - steps[Step.ACTUAL]),
              explanation="Flex and Batch at half price (Priority costs more)"),
    ]


def _thinking_lever(saving: Decimal, e: ThinkingEstimate) -> Lever:
    if e.below_default_calls == 0:
        return Lever(name=LeverName.THINKING, saving_usd=usd(saving),
                     explanation="every call at its model's default thinking: nothing to save")
    if e.sample_calls == 0:
        return Lever(name=LeverName.THINKING, saving_usd=0.0, measured=False,
                     explanation=f"not measured: {e.below_default_calls} calls sent below "
                     "default thinking and no calibration sample (calibration_share 0)")
    spread = "; ".join(f"{g.task} on {g.model}: n={g.n}, {g.mean:,.0f} ± {g.sd:,.0f} "
                       f"thoughts/item at default" for g in e.groups)
    partial = (f"; {e.unmeasured_calls} calls no sample covers are left out"
               if e.unmeasured_calls else "")
    return Lever(name=LeverName.THINKING, saving_usd=usd(saving),
                 explanation=f"thinking below each model's default, an estimate from "
                 f"{e.sample_calls} calibration calls ({spread}); range "
                 f"${e.low_usd:,.6f} to ${e.high_usd:,.6f}; net of the sample's own "
                 f"${e.calibration_usd:,.6f}{partial}")


def _row_model(attempt: Attempt, prices: PriceTable, models: Catalogue) -> str:
    """The row a call is priced by: its served model's, or the stand-in the engine used
    (worked out again, so answers stored before ``priced_as`` existed price the same)."""
    day = attempt.called_at.date() if attempt.called_at else None
    return price_row_model(attempt.model, attempt.served_model, day, prices, models)


def _with_original_media(usage: Usage, delta: MediaDelta | None) -> Usage:
    """The same call had the media been sent as the user gave it."""
    if delta is None:
        return usage
    by_modality = dict(usage.prompt_by_modality)
    extra = 0
    for modality in set(delta.before.by_modality) | set(delta.after.by_modality):
        diff = delta.before.by_modality.get(modality, 0) - delta.after.by_modality.get(modality, 0)
        by_modality[modality] = max(0, by_modality.get(modality, 0) + diff)
        extra += diff
    return usage.model_copy(update={"prompt_tokens": max(0, usage.prompt_tokens + extra),
                                    "prompt_by_modality": by_modality})


def _uncached(usage: Usage) -> Usage:
    return usage.model_copy(update={"cached_tokens": 0, "cached_by_modality": {}})


def _as_output_of(usage: Usage) -> Usage:
    """Lower bound: the shared context fully cached, only the answer's tokens out."""
    return usage.model_copy(update={
        "cached_tokens": usage.cached_tokens,
        "cached_by_modality": dict(usage.cached_by_modality),
        "thoughts_tokens": 0,
    })


def _add(per_model: dict[str, ModelCost], attempt: Attempt, cost: Decimal, priced_as: str
         ) -> None:
    """Per model that served (and was billed)."""
    m = per_model.setdefault(attempt.billed_model, ModelCost(model=attempt.billed_model))
    if priced_as != attempt.billed_model:
        m.priced_as = priced_as
    m.calls += 1
    m.prompt_tokens += attempt.usage.prompt_tokens
    m.cached_tokens += attempt.usage.cached_tokens
    m.output_tokens += attempt.usage.candidates_tokens
    m.thoughts_tokens += attempt.usage.thoughts_tokens
    m.cost_usd = usd(Decimal(str(m.cost_usd)) + cost)


__all__ = ["CostSummary", "Lever", "LeverName", "MediaDelta", "ModelCost", "Modality",
           "ThinkingEstimate", "summarize_costs"]
