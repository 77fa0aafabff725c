"""What the autopilot may choose from, per task: (model, thinking) pairs the run can send
today, weakest first, the strongest last.

By default every model the catalogue serves today under its own id (not shut down, not
silently re-routed to another, not paid-tier-only on a free-tier project) and the price
table prices today, each at the policy's thinking values as that model takes them (two
values that send the same thing counted once): the Gemini 4 family and any model added
to the data files enter without a code change. A task's ``candidates`` narrows them;
each must pass the same tests, or the policy is refused naming the field. Order: by the
catalogue's tier (Flash-Lite, Flash, Pro), then price, then thinking; the run's own Pro
model closes the list at its most thinking, so the strongest candidate is the top of the
escalation ladder the user configured."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from flashfirst.autopilot.policy import AutopilotPolicy, CandidateSpec
from flashfirst.errors import ConfigError, ThinkingNotSupported
from flashfirst.gemini.catalogue import Catalogue, ModelInfo
from flashfirst.gemini.thinking import sent, thinking_config
from flashfirst.items import TaskKind
from flashfirst.pricing.prices import PriceTable
from flashfirst.settings import ModelCatalogue, ModelTier


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


def _model_problem(model: str, catalogue: Catalogue, prices: PriceTable, day: date,
                   paid_tier: bool) -> str | None:
    info = catalogue.find(model)
    if info is None:
        return f"model {model!r} is not in the model catalogue"
    if info.retired_on(day):
        return f"model {model!r} was shut down on {info.shutdown}"
    if (served := catalogue.served_id(model, day)) != model:
        return f"model {model!r} is served by {served} since {info.served_by_since}"
    if not prices.knows(model) or not any(r.in_force(day) for r in prices.rows(model)):
        return f"model {model!r} has no price row in force on {day}"
    if info.paid_tier_only and not paid_tier:
        return f"model {model!r} is not served on the free tier (quota_tier free)"
    return None


def _problem(spec: CandidateSpec, catalogue: Catalogue, prices: PriceTable, day: date,
             paid_tier: bool) -> str | None:
    if problem := _model_problem(spec.model, catalogue, prices, day, paid_tier):
        return problem
    try:
        thinking_config(spec.thinking, catalogue.get(spec.model))
    except ThinkingNotSupported as exc:
        return f"thinking {spec.thinking!r}: {exc}"
    return None


def _build(spec: CandidateSpec, catalogue: Catalogue) -> Candidate:
    info = catalogue.get(spec.model)
    record = sent(spec.thinking, thinking_config(spec.thinking, info), info)
    sends = ("model default" if record.at_default else
             f"budget {record.budget}" if record.budget is not None else f"level {record.level}")
    return Candidate(model=spec.model, thinking=spec.thinking, tier=ModelTier(info.tier),
                     sends=sends)


def task_candidates(task: TaskKind, policy: AutopilotPolicy, models: ModelCatalogue,
                    catalogue: Catalogue, prices: PriceTable, day: date,
                    paid_tier: bool = True) -> list[Candidate]:
    """The task's candidates, weakest first; raises ``AutopilotPolicyError`` naming the
    policy field of a candidate it cannot use."""
    own = policy.tasks.get(task)
    if own is not None and own.candidates is not None:
        out = []
        for i, spec in enumerate(own.candidates):
            if problem := _problem(spec, catalogue, prices, day, paid_tier):
                raise AutopilotPolicyError(
                    f"routing policy autopilot.tasks.{task.value}.candidates[{i}]: {problem}")
            out.append(_build(spec, catalogue))
        return _unique(out)
    served = [m for m in catalogue.models
              if _model_problem(m.id, catalogue, prices, day, paid_tier) is None]
    for i, value in enumerate(policy.thinking):  # a value no model takes is a policy error
        if not any(_takes(m, value) for m in served):
            raise AutopilotPolicyError(f"routing policy autopilot.thinking[{i}]: {value!r} "
                                       "is taken by none of the models served today")
    top = models.by_tier(ModelTier.PRO).id
    order = list(ModelTier)

    def weakest_first(m: ModelInfo) -> tuple:
        return (m.id == top, order.index(ModelTier(m.tier)),
                prices.for_model(m.id, day).input, m.id)

    out = [_build(CandidateSpec(model=m.id, thinking=value), catalogue)
           for m in sorted(served, key=weakest_first)
           for value in policy.thinking if _takes(m, value)]
    return _unique(out)


def _takes(model: ModelInfo, thinking: str) -> bool:
    try:
        thinking_config(thinking, model)
    except ThinkingNotSupported:
        return False
    return True


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in candidates:
        if (c.model, c.sends) not in seen:
            seen.add((c.model, c.sends))
            out.append(c)
    return out
