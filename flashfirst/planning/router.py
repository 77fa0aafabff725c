"""Flash-first routing: a pure function from an item (and its size) to a Route."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from flashfirst.autopilot.policy import AutopilotPolicy
from flashfirst.errors import ConfigError
from flashfirst.gemini.thinking import effort_rank
from flashfirst.items import Route, Rung, ServiceTier, TaskKind, WorkItem
from flashfirst.probe import MediaKind
from flashfirst.settings import ModelCatalogue, ModelTier
from flashfirst.user_input import UserInput


class RuleCondition(UserInput):
    task: TaskKind | None = None
    kind: MediaKind | None = None
    min_prompt_tokens: int | None = Field(None, ge=0)

    def matches(self, item: WorkItem, prompt_tokens: int) -> bool:
        return (
            (self.task is None or item.task == self.task)
            and (self.kind is None or item.kind == self.kind)
            and (self.min_prompt_tokens is None or prompt_tokens >= self.min_prompt_tokens)
        )


class RoutingRule(UserInput):
    when: RuleCondition
    tier: ModelTier
    reason: str


class ServiceTierPolicy(UserInput):
    flex_min_deadline_s: float = Field(900, ge=0)
    allow_priority: bool = False
    priority_max_deadline_s: float = Field(60, ge=0)
    standard_reserve_s: float = Field(
        120, ge=0, description="A shed Flex call moves to Standard when less than this "
        "remains before the deadline.")


class EscalationStep(UserInput):
    """One rung: ``think`` retries the same model at ``thinking`` (skipped when the call
    already thought that much); ``model`` moves a tier up, at ``thinking`` or the task's."""

    step: Rung
    thinking: str | None = None


def _default_ladder() -> list[EscalationStep]:
    return [EscalationStep(step="think", thinking="default"), EscalationStep(step="model")]


class EscalationPolicy(UserInput):
    """What a failed validation may try next, cheapest first; at most two extra calls."""

    ladder: list[EscalationStep] = Field(default_factory=_default_ladder, max_length=2)
    tasks: dict[TaskKind, list[EscalationStep]] = Field(
        default_factory=dict, description="A task's own ladder (at most two steps).")

    @field_validator("tasks")
    @classmethod
    def _bounded(cls, v: dict[TaskKind, list[EscalationStep]]
                 ) -> dict[TaskKind, list[EscalationStep]]:
        for task, ladder in v.items():
            if len(ladder) > 2:
                raise ValueError(f"escalation ladder of {task.value} has {len(ladder)} "
                                 "steps; at most two extra attempts are allowed")
        return v

    def for_task(self, task: TaskKind) -> list[EscalationStep]:
        return self.tasks.get(task, self.ladder)


class Escalation(BaseModel):
    """The next call after a failed answer."""

    route: Route
    thinking: str | None
    step: Rung
    index: int = Field(description="Ladder position after this step.")


class RoutingPolicy(UserInput):
    default_tier: ModelTier = ModelTier.FLASH
    tasks: dict[TaskKind, ModelTier] = Field(default_factory=dict)
    rules: list[RoutingRule] = Field(default_factory=list)
    service_tier: ServiceTierPolicy = ServiceTierPolicy()
    thinking: dict[TaskKind, str] = Field(
        default_factory=dict, description="Thinking per task (an effort: least, low, "
        "default, high, max; or a level or budget), mapped per model; an item's own wins.")
    max_output_tokens: dict[TaskKind, int] = Field(
        default_factory=dict, description="maxOutputTokens per task (answer and thoughts "
        "share it); an item's own wins. Unset: the model's limit.")
    escalation: EscalationPolicy = EscalationPolicy()
    autopilot: AutopilotPolicy = Field(
        default_factory=AutopilotPolicy, description="Choose each task's model and thinking "
        "by measured cost per passing answer (flashfirst/autopilot/); off unless asked.")

    def thinking_for(self, item: WorkItem) -> str | None:
        return item.thinking or self.thinking.get(item.task)

    def max_output_for(self, item: WorkItem) -> int | None:
        return item.max_output_tokens or self.max_output_tokens.get(item.task)


def load_routing_policy(path: Path | None = None) -> RoutingPolicy:
    where = str(path) if path else "packaged routing.yaml"
    try:
        text = (path.read_text() if path else
                resources.files("flashfirst.data").joinpath("routing.yaml").read_text())
        return RoutingPolicy.model_validate(yaml.safe_load(text) or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"routing policy {where}: {exc}") from exc


def choose_service_tier(policy: ServiceTierPolicy, deadline_s: float | None,
                        batch: bool = False) -> tuple[ServiceTier, str]:
    if batch:
        return ServiceTier.BATCH, "batch mode: half price, results within 24 h"
    if deadline_s is None:
        return ServiceTier.STANDARD, "no deadline given"
    if deadline_s >= policy.flex_min_deadline_s:
        return ServiceTier.FLEX, (f"deadline {deadline_s:.0f}s allows Flex "
                                  f"(>= {policy.flex_min_deadline_s:.0f}s): half price")
    if policy.allow_priority and deadline_s <= policy.priority_max_deadline_s:
        return ServiceTier.PRIORITY, f"deadline {deadline_s:.0f}s is urgent: Priority"
    return ServiceTier.STANDARD, f"deadline {deadline_s:.0f}s too short for Flex"


def route(item: WorkItem, policy: RoutingPolicy, catalogue: ModelCatalogue, *,
          prompt_tokens: int = 0, deadline_s: float | None = None,
          batch: bool = False) -> Route:
    """Pick the cheapest model that does the job, and say why."""
    service_tier, tier_reason = choose_service_tier(policy.service_tier, deadline_s, batch)
    if item.model:
        tier = catalogue.tier_of(item.model)
        reason = "model set on the item"
    else:
        rule = next((r for r in policy.rules if r.when.matches(item, prompt_tokens)), None)
        if rule is not None:
            tier, reason = rule.tier, f"rule: {rule.reason}"
        elif item.task in policy.tasks:
            tier = policy.tasks[item.task]
            reason = f"task {item.task.value} → {tier.value}"
        else:
            tier, reason = policy.default_tier, "default tier"
    return Route(model=catalogue.by_tier(tier).id, tier=tier, service_tier=service_tier,
                 reason=f"{reason}; {tier_reason}")


def escalate(current: Route, catalogue: ModelCatalogue, why: str) -> Route | None:
    """The next tier up, once; None when already at the top."""
    up = current.tier.next_up()
    if up is None:
        return None
    return Route(model=catalogue.by_tier(up).id, tier=up, service_tier=current.service_tier,
                 reason=f"escalated from {current.model}: {why}")


def next_step(policy: RoutingPolicy, item: WorkItem, index: int, current: Route,
              asked: str | None, catalogue: ModelCatalogue, why: str) -> Escalation | None:
    """The first rung from ``index`` on that changes something: a think step only when it
    asks more than the call did, a model step only below the top tier."""
    ladder = policy.escalation.for_task(item.task)
    for i in range(index, len(ladder)):
        rung = ladder[i]
        if rung.step == "think":
            want, have = effort_rank(rung.thinking), effort_rank(asked)
            if want is not None and have is not None and want <= have:
                continue
            return Escalation(route=current.model_copy(update={
                "reason": f"{current.reason}; retried with thinking {rung.thinking}: {why}"}),
                thinking=rung.thinking, step="think", index=i + 1)
        up = escalate(current, catalogue, why)
        if up is None:
            continue
        return Escalation(route=up, thinking=rung.thinking or policy.thinking_for(item),
                          step="model", index=i + 1)
    return None
