"""``mode=auto``: Batch, Flex or Standard per model, from the item count, the deadline and
the price table, with the reason in words.

Batch and Flex cost the same (50% off, https://ai.google.dev/gemini-api/docs/optimization,
read 2026-11-28), so the price decides against Standard and the time decides between the
two: Flex answers in 1-15 minutes but holds a worker and the model's RPM for the whole run;
Batch answers within its 24 h target and holds nothing, so it wins for large runs with a
day to spare."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from pydantic import BaseModel

from flashfirst.inference.job import InferenceJob
from flashfirst.items import ServiceTier
from flashfirst.planning.router import ServiceTierPolicy
from flashfirst.pricing.estimate import assumed_output_tokens
from flashfirst.pricing.prices import PriceTable, usd
from flashfirst.settings import Settings


class ModeChoice(BaseModel):
    model: str
    items: int
    tier: ServiceTier
    batch_usd: float
    flex_usd: float
    standard_usd: float
    reason: str

    def summary(self) -> str:
        return (f"{self.model}: {self.items:,} items, {self.reason}: {self.tier.value}, "
                f"Batch ${self.batch_usd:.4f} vs Flex ${self.flex_usd:.4f} vs Standard "
                f"${self.standard_usd:.4f}")


def choose_modes(jobs: Iterable[InferenceJob], prices: PriceTable, settings: Settings,
                 policy: ServiceTierPolicy, deadline_s: float | None,
                 context_tokens: int = 0) -> dict[str, ModeChoice]:
    """One choice per model the jobs are routed to (costs at assumed output sizes)."""
    # Sums and counts as the jobs go by: ``jobs`` may be packed, never all objects at once.
    standard: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for j in jobs:
        standard[j.route.model] += prices.price_tokens(
            j.route.model, input_tokens=j.est_prompt_tokens + context_tokens,
            output_tokens=assumed_output_tokens(j))
        counts[j.route.model] += 1
    return {model: _choose(model, standard[model], n, prices, settings, policy, deadline_s)
            for model, n in counts.items()}


def _choose(model: str, standard: Decimal, n: int, prices: PriceTable, settings: Settings,
            policy: ServiceTierPolicy, deadline_s: float | None) -> ModeChoice:
    costs = {tier: standard * prices.multiplier(tier)
             for tier in (ServiceTier.BATCH, ServiceTier.FLEX, ServiceTier.STANDARD)}
    cfg = settings.inference
    flex_latency = policy.flex_min_deadline_s
    # Flex still goes through the model's RPM: the last request starts after n / RPM min.
    flex_s = flex_latency + 60 * n / settings.models.spec(model).rpm
    when = "no deadline" if deadline_s is None else f"deadline {_duration(deadline_s)}"
    if deadline_s is not None and deadline_s < flex_latency:
        tier, why = ServiceTier.STANDARD, (f"{when} is under Flex's latency "
                                           f"({_duration(flex_latency)})")
    elif n >= cfg.batch_min_items and (deadline_s is None or deadline_s >= cfg.batch_turnaround_s):
        tier, why = ServiceTier.BATCH, (f"{when} allows Batch's {_duration(cfg.batch_turnaround_s)}"
                                        f" and {n:,} items ≥ {cfg.batch_min_items:,}: no worker "
                                        "held while waiting")
    elif deadline_s is None or deadline_s >= flex_s:
        tier, why = ServiceTier.FLEX, (f"{when} fits Flex (about {_duration(flex_s)} at "
                                       f"{settings.models.spec(model).rpm} RPM)")
    else:
        tier, why = ServiceTier.STANDARD, (f"{when} is shorter than Flex would take (about "
                                           f"{_duration(flex_s)})")
    return ModeChoice(model=model, items=n, tier=tier, reason=why,
                      batch_usd=usd(costs[ServiceTier.BATCH]),
                      flex_usd=usd(costs[ServiceTier.FLEX]),
                      standard_usd=usd(costs[ServiceTier.STANDARD]))


def apply_modes(jobs: list[InferenceJob], choices: dict[str, ModeChoice]) -> list[InferenceJob]:
    """The jobs with their chosen tier and the reason on their route."""
    out = []
    for job in jobs:
        choice = choices.get(job.route.model)
        if choice is None:
            out.append(job)
            continue
        route = job.route.model_copy(update={
            "service_tier": choice.tier,
            "reason": f"{job.route.reason.split('; ')[0]}; auto: {choice.reason}"})
        out.append(job.model_copy(update={"route": route}))
    return out


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
