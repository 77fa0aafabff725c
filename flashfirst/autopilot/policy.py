"""What the routing policy's ``autopilot:`` section may say: off unless asked, a quality
floor per task, a bound on exploration's share of the run's spend, and the candidates.

Out-of-range values are refused when the policy is read (before any call), the message
naming the field (``autopilot.floor``, ``autopilot.max_exploration_share``, ...)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from flashfirst.inputs.checks import check_problem
from flashfirst.items import TaskKind
from flashfirst.user_input import UserInput


class CandidateSpec(UserInput):
    """A (model, thinking) the autopilot may route a task to."""

    model_config = ConfigDict(frozen=True)

    model: str
    thinking: str = Field("default", description="An effort (least, low, default, high, "
                          "max), a level or a budget the model takes.")

    @property
    def key(self) -> str:
        return f"{self.model}@{self.thinking}"


class TaskAutopilot(UserInput):
    """One task's own settings; unset fields take the section's."""

    floor: float | None = Field(None, gt=0, le=1, description="Least pass rate accepted.")
    candidates: list[CandidateSpec] | None = Field(
        None, description="Narrow the candidates, weakest first: the last is the strongest "
        "(used when none meets the floor).")
    agreement: bool | None = Field(
        None, description="Items without a check are judged by agreement with the task's "
        "strongest candidate (the reference) on the items sent to measure a candidate: "
        "schema answers as normalized JSON, text exactly. The reference calls are paid as "
        "exploration.")
    check: str | None = Field(None, description="A check for the task's items that carry "
                              "none ('regex:...' or a registered check).")

    @field_validator("check")
    @classmethod
    def _check_compiles(cls, v: str | None) -> str | None:
        if v is not None and (problem := check_problem(v)):
            raise ValueError(problem)
        return v


class AutopilotPolicy(UserInput):
    """The autopilot's policy. Candidates by default: every model the catalogue serves
    today and the price table prices today, at each of ``thinking`` it takes; a task's
    list narrows them."""

    enabled: bool = Field(False, description="Off unless asked (--autopilot).")
    floor: float = Field(0.9, gt=0, le=1, description="Least pass rate a route may have on "
                         "the evidence (lower confidence bound).")
    max_exploration_share: float = Field(
        0.2, ge=0, lt=1, description="Exploration's most share of the run's spend.")
    confidence: float = Field(0.9, ge=0.5, lt=1, description="One-sided confidence of the "
                              "Wilson score bounds a decision rests on.")
    max_samples: int = Field(80, ge=1, description="Calls per candidate after which an "
                             "undecided one counts as not meeting the floor.")
    wave: int = Field(8, ge=1, description="Items sent to a candidate per exploration step.")
    max_explored: int = Field(
        4, ge=1, description="Candidates newly measured per task and run, cheapest first: "
        "with a catalogue's worth of candidates, a small run is not all exploration; the "
        "next run measures the next ones (the evidence is kept).")
    window: int = Field(200, ge=10, description="Most recent outcomes kept per candidate: "
                        "older evidence ages out, so drift shows.")
    thinking: list[str] = Field(default_factory=lambda: ["least", "default", "high"],
                                description="Thinking values of the default candidates.")
    tasks: dict[TaskKind, TaskAutopilot] = Field(default_factory=dict)

    def floor_for(self, task: TaskKind) -> float:
        own = self.tasks.get(task)
        return own.floor if own is not None and own.floor is not None else self.floor

    def agreement_for(self, task: TaskKind) -> bool:
        own = self.tasks.get(task)
        return bool(own is not None and own.agreement)

    def check_for(self, task: TaskKind) -> str | None:
        own = self.tasks.get(task)
        return own.check if own is not None else None
