"""One task group's choice from its evidence: the cheapest candidate whose pass rate is
shown to meet the floor (the lower Wilson bound at or above it), and which candidates
still need measuring before that choice is final.

A candidate is ``meets`` (lower bound >= floor), ``below`` (upper bound < floor: stopped
early, clearly below), ``undecided`` after ``max_samples`` calls (counts as not meeting:
never route below the floor on the evidence) or ``open``. Open candidates cheaper than
the best one that meets the floor are explored, cheapest first. With none meeting it, the
choice rests on how much is known: every candidate decided below the floor, or the
policy's own route shown below it, sends the task to its strongest candidate (the floor
is not met, with the evidence); too little measured to say either keeps the policy's
static route ("not enough evidence yet"), since a guess at the strongest would pay Pro
prices for nothing shown."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from flashfirst.autopilot.candidates import Candidate
from flashfirst.autopilot.evidence import Measured
from flashfirst.autopilot.stats import samples_to_show, wilson


class Status(StrEnum):
    MEETS = "meets floor"
    BELOW = "below floor"
    UNDECIDED = "undecided"
    OPEN = "open"
    REFERENCE = "reference"  # agreement's truth: the candidates are judged against it


class Assessed(BaseModel):
    candidate: Candidate
    n: int
    passes: int
    lower: float
    upper: float
    cost_per_call: float
    cost_measured: bool
    status: Status

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.n if self.n else None

    @property
    def cost_per_pass(self) -> float | None:
        """Cost per passing answer: a call's cost over the pass rate (None: none passed)."""
        rate = self.pass_rate
        return self.cost_per_call / rate if rate else None


class Decision(BaseModel):
    assessed: list[Assessed]  # weakest first, as the candidates
    floor: float
    choice: Candidate
    floor_met: bool
    enough_evidence: bool = True  # False: the choice is the policy's route, for want of it
    to_explore: list[Candidate]  # cheapest first
    why: str


def assess(candidate: Candidate, measured: Measured, cost: float, cost_measured: bool,
           floor: float, confidence: float, max_samples: int) -> Assessed:
    lower, upper = wilson(measured.passes, measured.n, confidence)
    if measured.n and lower >= floor:
        status = Status.MEETS
    elif measured.n and upper < floor:
        status = Status.BELOW
    elif measured.n >= max_samples:
        status = Status.UNDECIDED
    else:
        status = Status.OPEN
    return Assessed(candidate=candidate, n=measured.n, passes=measured.passes, lower=lower,
                    upper=upper, cost_per_call=cost, cost_measured=cost_measured,
                    status=status)


def decide(assessed: list[Assessed], floor: float, confidence: float, max_samples: int,
           static: Candidate | None = None) -> Decision:
    by_cost = sorted(assessed, key=lambda a: a.cost_per_call)
    meets = [a for a in by_cost if a.status is Status.MEETS]
    best = meets[0] if meets else None
    ceiling = best.cost_per_call if best else float("inf")
    to_explore = [a.candidate for a in by_cost
                  if a.status is Status.OPEN and a.cost_per_call < ceiling]
    conf = f"{confidence:.0%} one-sided Wilson bound"
    if best is not None:
        why = (f"cheapest candidate whose pass rate is shown to meet the floor {floor:.2f}: "
               f"{best.passes}/{best.n} passed, lower bound {best.lower:.3f} ({conf}), "
               f"${best.cost_per_call:.6f} a call")
        if to_explore:
            why += f"; cheaper ones still being measured: {', '.join(c.key for c in to_explore)}"
        return Decision(assessed=assessed, floor=floor, choice=best.candidate, floor_met=True,
                        to_explore=to_explore, why=why)
    mine = next((a for a in assessed if static is not None and a.candidate.key == static.key),
                None)
    if static is not None and any(a.status is Status.OPEN for a in assessed) and (
            mine is None or mine.status in (Status.OPEN, Status.REFERENCE)):
        need = samples_to_show(floor, confidence, max_samples)
        most = max((a.n for a in assessed if a.status is Status.OPEN), default=0)
        why = (f"not enough evidence yet: {most} measured, need {need} (all passing) on a "
               f"candidate to show the floor {floor:.2f} ({conf}); the policy's route "
               f"{static.key} is kept until then")
        return Decision(assessed=assessed, floor=floor, choice=static, floor_met=False,
                        enough_evidence=False, to_explore=to_explore, why=why)
    strongest = assessed[-1]
    if strongest.status is Status.REFERENCE:
        why = (f"no cheaper candidate is shown to agree with the reference route "
               f"{strongest.candidate.key} at the floor {floor:.2f} ({conf}): the reference "
               "answers")
        return Decision(assessed=assessed, floor=floor, choice=strongest.candidate,
                        floor_met=True, to_explore=to_explore, why=why)
    evidence = "; ".join(f"{a.candidate.key}: {a.passes}/{a.n}, upper {a.upper:.3f}"
                         for a in assessed if a.n) or "no candidate measured yet"
    why = (f"floor {floor:.2f} not met by any candidate on the evidence ({conf}; "
           f"{evidence}): the strongest candidate {strongest.candidate.key} is used")
    if mine is not None and mine.status is not Status.OPEN:
        why = (f"the policy's route {mine.candidate.key} is below the floor {floor:.2f} on "
               f"the evidence and no candidate is shown to meet it ({conf}; {evidence}): "
               f"the floor is not met, the strongest candidate {strongest.candidate.key} is "
               "used")
    return Decision(assessed=assessed, floor=floor, choice=strongest.candidate,
                    floor_met=False, to_explore=to_explore, why=why)
