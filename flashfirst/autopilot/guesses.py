"""What the autopilot assumes before it has measured: the policy's own route as a
candidate (the reference for the saving line) and a candidate's cost per call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flashfirst.autopilot.candidates import Candidate
from flashfirst.autopilot.evidence import EvidenceBook
from flashfirst.autopilot.groups import Group
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.gemini.thinking import sent, thinking_config
from flashfirst.inference.job import InferenceJob
from flashfirst.items import ServiceTier, Usage
from flashfirst.planning.router import RoutingPolicy
from flashfirst.planning.thinking_figures import ThinkingFigures, assumed_thoughts
from flashfirst.pricing.prices import PriceTable

_PROMPT_GUESS = 1000  # prompt tokens per call when no item says and nothing is measured
_OUTPUT_GUESS = 200  # answer tokens per call before any is measured


def static_candidate(job: InferenceJob, candidates: list[Candidate], routing: RoutingPolicy,
                     catalogue: Catalogue) -> Candidate | None:
    """The policy's own route for the group, as a candidate (for the saving line)."""
    thinking = routing.thinking_for(job.item) or "default"
    for c in candidates:
        if c.model == job.route.model and c.thinking == thinking:
            return c
    info = catalogue.find(job.route.model)
    if info is None:
        return None
    try:
        record = sent(thinking, thinking_config(thinking, info), info)
    except Exception:  # noqa: BLE001 - a policy thinking the model refuses: no reference
        return None
    return Candidate(model=job.route.model, thinking=thinking, tier=job.route.tier,
                     sends="model default" if record.at_default else record.label())


def guessed_cost(group: Group, cand: Candidate, book: EvidenceBook, catalogue: Catalogue,
                 figures: ThinkingFigures, prices: PriceTable, day: date) -> Decimal:
    """A call's cost before it is measured: the group's prompt size, answers as long as
    measured on any candidate, thoughts as earlier runs measured or assumed."""
    measured = [m for m in book.groups.get(group.key, {}).values() if m.calls]
    calls = sum(m.calls for m in measured)
    prompt = group.prompt_mean or (sum(m.prompt_tokens for m in measured) // calls
                                   if calls else _PROMPT_GUESS)
    output = sum(m.output_tokens for m in measured) // calls if calls else _OUTPUT_GUESS
    info = catalogue.get(cand.model)
    record = sent(cand.thinking, thinking_config(cand.thinking, info), info)
    fig = figures.measured(group.key.split(":")[0], cand.model, record)
    thoughts = round(fig.mean) if fig else assumed_thoughts(record, info)
    return prices.price_call(cand.model, Usage(
        prompt_tokens=prompt, candidates_tokens=output, thoughts_tokens=thoughts),
        ServiceTier.STANDARD, day)
