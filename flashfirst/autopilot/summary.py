"""What the report says about the autopilot: per task group the candidates with their
evidence, the choice and why, exploration's spend, and the saving against the policy's
static route, as one more lever line."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from flashfirst.autopilot.decision import Assessed
from flashfirst.autopilot.groups import Group
from flashfirst.autopilot.pilot import Autopilot
from flashfirst.pricing.prices import usd


class CandidateLine(BaseModel):
    candidate: str
    sends: str
    n: int
    passes: int
    pass_rate: float | None
    lower: float
    upper: float
    cost_per_call_usd: float
    cost_measured: bool = Field(description="False: estimated from tokens (not yet called).")
    cost_per_pass_usd: float | None
    status: str

    @classmethod
    def of(cls, a: Assessed) -> CandidateLine:
        return cls(candidate=a.candidate.key, sends=a.candidate.sends, n=a.n, passes=a.passes,
                   pass_rate=a.pass_rate, lower=round(a.lower, 4), upper=round(a.upper, 4),
                   cost_per_call_usd=round(a.cost_per_call, 8), cost_measured=a.cost_measured,
                   cost_per_pass_usd=round(a.cost_per_pass, 8) if a.cost_per_pass else None,
                   status=a.status.value)


class TaskLine(BaseModel):
    group: str = Field(description="task:media kind")
    floor: float
    candidates: list[CandidateLine]
    choice: str
    floor_met: bool
    enough_evidence: bool = Field(True, description="False: too little measured yet, the "
                                  "task stays on the policy's route.")
    why: str
    reopened: list[str] = Field(default_factory=list)
    dropped: dict[str, str] = Field(default_factory=dict, description="Candidates the API "
                                    "refused in this run (their items went elsewhere), why.")
    items: int
    explored_items: int
    exploration_usd: float
    spend_usd: float
    passing: int
    policy_route: str | None
    policy_cost_per_pass_usd: float | None
    policy_sample: str
    saving_usd: float

    @property
    def state(self) -> str | None:
        """What a reader must know about the choice: None when it meets the floor."""
        if self.floor_met:
            return None
        return "floor NOT met" if self.enough_evidence else "not enough evidence yet"


class AutopilotReport(BaseModel):
    bound: str = "one-sided Wilson score bound"
    confidence: float
    max_exploration_share: float
    tasks: list[TaskLine]
    held: dict[str, str] = Field(default_factory=dict, description="Items left on the "
                                 "policy's route, and why.")
    run_spend_usd: float
    exploration_usd: float
    exploration_share: float
    saving_vs_policy_usd: float

    def lever_line(self) -> str:
        floors = "; ".join(f"{t.group} → {t.choice}" + (f" ({t.state})" if t.state else "")
                           for t in self.tasks) or "no task under the autopilot"
        saving = self.saving_vs_policy_usd
        said = (f"saved ${saving:,.6f}" if saving >= 0 else f"cost ${-saving:,.6f} more")
        return (f"autopilot: {said} vs the policy's static "
                f"route ({floors}); exploration ${self.exploration_usd:,.6f} = "
                f"{self.exploration_share:.1%} of the run (max "
                f"{self.max_exploration_share:.0%})")


def summarize(pilot: Autopilot) -> AutopilotReport:
    pilot.remember_choices()
    lines = [_task_line(pilot, g) for g in pilot.groups.values()]
    spent = pilot.spent
    return AutopilotReport(
        confidence=pilot.ap.confidence, max_exploration_share=pilot.ap.max_exploration_share,
        tasks=lines, held=dict(pilot.held_why), run_spend_usd=usd(spent),
        exploration_usd=usd(pilot.explored),
        exploration_share=float(pilot.explored / spent) if spent else 0.0,
        saving_vs_policy_usd=round(sum(t.saving_usd for t in lines), 8))


def _task_line(pilot: Autopilot, group: Group) -> TaskLine:
    decision = pilot.decision(group)
    mine = [(r, cand, explore) for i, (key, cand, explore) in pilot.assignments.items()
            if key == group.key and (r := pilot.results.get(i)) is not None]
    paid = [(r, c, e) for r, c, e in mine if not r.reused and r.attempts]
    spend = sum((Decimal(str(r.cost_usd)) for r, _, _ in paid), Decimal(0))
    passing = sum(1 for r, _, _ in paid if r.ok)
    per_pass, sample = _policy_cost_per_pass(pilot, group, paid)
    # Items sent on the policy's own route save nothing against it, by definition.
    moved = [(r, c) for r, c, _ in paid if group.static is None or c.key != group.static.key]
    moved_spend = sum((Decimal(str(r.cost_usd)) for r, _ in moved), Decimal(0))
    saving = (per_pass * sum(1 for r, _ in moved if r.ok) - moved_spend
              if per_pass is not None else Decimal(0))
    return TaskLine(
        group=group.key, floor=group.floor,
        candidates=[CandidateLine.of(a) for a in decision.assessed],
        choice=decision.choice.key, floor_met=decision.floor_met,
        enough_evidence=decision.enough_evidence, why=decision.why,
        reopened=group.reopened, dropped=group.dropped, items=len(mine),
        explored_items=sum(1 for _, _, e in mine if e),
        exploration_usd=usd(group.explored_usd), spend_usd=usd(spend), passing=passing,
        policy_route=group.static.key if group.static else None,
        policy_cost_per_pass_usd=usd(per_pass) if per_pass is not None else None,
        policy_sample=sample, saving_usd=usd(saving))


def _policy_cost_per_pass(pilot: Autopilot, group: Group, paid: list) -> tuple[Decimal | None,
                                                                             str]:
    """The static route's cost per passing answer: measured when the autopilot has its
    evidence, else priced from this run's tokens with its thoughts as measured in earlier
    runs or assumed (and every answer assumed to pass: a saving's lower bound)."""
    static = group.static
    if static is None:
        return None, "the policy's route is not a candidate the run can price"
    measured = pilot.book.get(group.key, static.key)
    cost = measured.cost_per_call(static.model, pilot.prices, pilot.day)
    if cost is not None and measured.passes:
        rate = Decimal(measured.passes) / measured.n
        return cost / rate, (f"measured: {measured.passes}/{measured.n} passed, "
                             f"{measured.calls} calls priced by today's row")
    return pilot.guessed_cost(group, static), (
        "estimated: not called by the autopilot; this run's prompt and answer tokens at "
        f"{static.model}'s price with its thoughts from earlier runs or assumed, every "
        "answer assumed to pass")
