"""What the autopilot may choose from, per task: (model, thinking) pairs the run can send
today, weakest first.

A candidate model must be one the run's tiers name (FLASHFIRST_MODELS__<TIER>__ID: the
engine's rate limits and the escalation ladder are per tier), be in the catalogue, not
be retired, and have a price row in force today; its thinking must be a value the model
takes. The Gemini 4 family enters as a tier's model. Defaults: every tier model at each
of the policy's thinking values, two values that send the same thing counted once."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from flashfirst.autopilot.policy import AutopilotPolicy, CandidateSpec
from flashfirst.catalogue import Catalogue
from flashfirst.errors import ConfigError, ThinkingNotSupported, UnknownModelError
from flashfirst.items import TaskKind
from flashfirst.prices import PriceTable
from flashfirst.settings import ModelCatalogue, ModelTier
from flashfirst.thinking import sent, thinking_config


class AutopilotPolicyError(ConfigError):
    """The autopilot's policy names something the run cannot use; refused before any call."""


class Candidate(BaseModel):
    model: str
    thinking: str
    tier: ModelTier
    sends: str  # what reaches the model (ThinkingSent.label without the ask)

    @property
    def key(self) -> str:
        return f"{self.model}@{self.thinking}"


def _problem(spec: CandidateSpec, models: ModelCatalogue, catalogue: Catalogue,
             prices: PriceTable, day: date) -> str | None:
    info = catalogue.find(spec.model)
    if info is None:
        return f"model {spec.model!r} is not in the model catalogue"
    if info.retired_on(day):
        return f"model {spec.model!r} was shut down on {info.shutdown}"
    if not prices.knows(spec.model) or not any(r.in_force(day) for r in prices.rows(spec.model)):
        return f"model {spec.model!r} has no price row in force on {day}"
    try:
        models.tier_of(spec.model)
    except UnknownModelError:
        return (f"model {spec.model!r} is not one of the run's tier models "
                f"({', '.join(m.id for m in models.all)}): set it as a tier's model "
                "(FLASHFIRST_MODELS__<TIER>__ID)")
    try:
        thinking_config(spec.thinking, info)
    except ThinkingNotSupported as exc:
        return f"thinking {spec.thinking!r}: {exc}"
    return None


def _build(spec: CandidateSpec, models: ModelCatalogue, catalogue: Catalogue) -> Candidate:
    info = catalogue.get(spec.model)
    record = sent(spec.thinking, thinking_config(spec.thinking, info), info)
    sends = ("model default" if record.at_default else
             f"budget {record.budget}" if record.budget is not None else f"level {record.level}")
    return Candidate(model=spec.model, thinking=spec.thinking,
                     tier=models.tier_of(spec.model), sends=sends)


def task_candidates(task: TaskKind, policy: AutopilotPolicy, models: ModelCatalogue,
                    catalogue: Catalogue, prices: PriceTable, day: date) -> list[Candidate]:
    """The task's candidates, weakest first (tier, then the order of thinking values);
    raises ``AutopilotPolicyError`` naming the policy field of a candidate it cannot use."""
    own = policy.tasks.get(task)
    if own is not None and own.candidates is not None:
        out = []
        for i, spec in enumerate(own.candidates):
            if problem := _problem(spec, models, catalogue, prices, day):
                raise AutopilotPolicyError(
                    f"routing policy autopilot.tasks.{task.value}.candidates[{i}]: {problem}")
            out.append(_build(spec, models, catalogue))
        return _unique(out)
    for i, value in enumerate(policy.thinking):
        for tier in ModelTier:  # a thinking value no tier model takes is a policy error
            spec = CandidateSpec(model=models.by_tier(tier).id, thinking=value)
            problem = _problem(spec, models, catalogue, prices, day)
            if problem and problem.startswith("thinking"):
                continue
            break
        else:
            raise AutopilotPolicyError(f"routing policy autopilot.thinking[{i}]: {value!r} "
                                       "is taken by none of the run's tier models")
    out = []
    for tier in ModelTier:
        for value in policy.thinking:
            spec = CandidateSpec(model=models.by_tier(tier).id, thinking=value)
            if _problem(spec, models, catalogue, prices, day) is None:
                out.append(_build(spec, models, catalogue))
    return _unique(out)


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in candidates:
        if (c.model, c.sends) not in seen:
            seen.add((c.model, c.sends))
            out.append(c)
    return out
