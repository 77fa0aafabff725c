"""The autopilot's task groups: which items it may route, and per group its candidates,
evidence, items left and why an earlier choice is looked at again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flashfirst.autopilot.candidates import Candidate
from flashfirst.autopilot.decision import Decision, Status
from flashfirst.autopilot.evidence import EvidenceBook, price_signature
from flashfirst.autopilot.policy import AutopilotPolicy
from flashfirst.inference.job import InferenceJob
from flashfirst.items import ServiceTier
from flashfirst.pricing.prices import PriceTable


def group_of(job: InferenceJob) -> str:
    return f"{job.item.task.value}:{job.item.kind.value}"


def why_held(job: InferenceJob, policy: AutopilotPolicy) -> str | None:
    """Why an item stays on the policy's route, or None when the autopilot may route it."""
    item = job.item
    if item.model or item.thinking:
        return "its model or thinking is set on the item"
    if job.route.service_tier is ServiceTier.BATCH:
        return "batch mode: the autopilot measures online calls"
    if (item.response_schema is None and item.check is None
            and policy.check_for(item.task) is None and not policy.agreement_for(item.task)):
        return ("free text without a check: nothing measures its quality, so it stays on the "
                "policy's route (give the task a check, autopilot.tasks.<task>.check, or "
                "judge it by agreement with its strongest candidate, "
                "autopilot.tasks.<task>.agreement: true)")
    return None


class Group:
    """A task group's candidates, evidence and items left."""

    def __init__(self, key: str, floor: float, candidates: list[Candidate],
                 static: Candidate | None, jobs: list[InferenceJob]) -> None:
        self.key, self.floor, self.candidates, self.static = key, floor, candidates, static
        self.waiting = list(jobs)
        self.prompt_mean = sum(j.est_prompt_tokens for j in jobs) // max(1, len(jobs))
        self.last_choice: str | None = None
        self.reopened: list[str] = []
        self.explored_usd = Decimal(0)
        self.explore_blocked = 0
        self.explored_keys: set[str] = set()  # candidates measured in this run
        self.reference: Candidate | None = None  # judged by agreement with it
        self.dropped: dict[str, str] = {}  # candidate → why the API refused it this run

    def note_reopened(self, book: EvidenceBook, prices: PriceTable, day: date) -> None:
        """Say why an earlier run's choice is looked at again: a new candidate model, a
        price row changed since measured, the chosen one's pass rate drifted below."""
        seen = set(book.models_seen.get(self.key, []))
        if seen:
            for model in sorted({c.model for c in self.candidates} - seen):
                self.reopened.append(f"new candidate model {model}")
        for cand in self.candidates:
            m = book.get(self.key, cand.key)
            if m.price_row is None:
                continue
            row = prices.for_model(cand.model, day)
            if price_signature(row) != m.price_row:
                self.reopened.append(f"price row of {cand.model} changed (in force from "
                                     f"{row.effective_from or 'open'}): re-priced "
                                     f"{cand.key}'s measured tokens")
        self.last_choice = book.chosen.get(self.key)

    def note_drift(self, decision: Decision) -> None:
        """The choice of an earlier run or wave no longer shows the floor: re-opened."""
        before = self.last_choice
        if before is not None and not (decision.floor_met and decision.choice.key == before):
            a = next((a for a in decision.assessed if a.candidate.key == before), None)
            if a is not None and a.status is not Status.MEETS:
                self.reopened.append(f"drift: {before}'s recent pass rate ({a.passes}/{a.n}, "
                                     f"upper bound {a.upper:.3f}) no longer shows the floor")
        self.last_choice = decision.choice.key if decision.floor_met else None
