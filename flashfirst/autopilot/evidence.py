"""What the autopilot measured, kept across runs so later runs exploit it.

Per task group (task and media kind) and candidate: the most recent pass/fail outcomes
(a window, so old evidence ages out and drift shows), every call's tokens (so a cost per
call is re-priced by today's price row, the thoughts measured included) and the price
row in force when last measured (a changed row re-opens the choice). Stored under the
storage root at ``autopilot/<backend>/evidence.json``, merged by compare-and-swap so two
runs finishing together both count."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from flashfirst.items import ServiceTier, Usage
from flashfirst.pricing.prices import ModelPrices, PriceTable
from flashfirst.run.state import SharedDocument
from flashfirst.storage import Storage, join


class Measured(BaseModel):
    """One candidate's evidence for one task group."""

    outcomes: list[bool] = Field(default_factory=list, description="Most recent last.")
    calls: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    price_row: str | None = Field(None, description="The row in force when last measured.")
    last_seen: date | None = None

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def passes(self) -> int:
        return sum(self.outcomes)

    def mean_usage(self) -> Usage | None:
        if not self.calls:
            return None
        return Usage(prompt_tokens=round(self.prompt_tokens / self.calls),
                     candidates_tokens=round(self.output_tokens / self.calls),
                     thoughts_tokens=round(self.thoughts_tokens / self.calls))

    def cost_per_call(self, model: str, prices: PriceTable, day: date) -> Decimal | None:
        usage = self.mean_usage()
        return None if usage is None else prices.price_call(model, usage, ServiceTier.STANDARD,
                                                            day)

    def add(self, passed: bool, usage: Usage, window: int) -> None:
        self.outcomes = [*self.outcomes, passed][-window:]
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.output_tokens += usage.candidates_tokens
        self.thoughts_tokens += usage.thoughts_tokens


class EvidenceBook(BaseModel):
    """``groups[group][candidate key]``; ``models_seen[group]``: the candidate models a
    group has been decided among (a new one re-opens the choice)."""

    groups: dict[str, dict[str, Measured]] = Field(default_factory=dict)
    models_seen: dict[str, list[str]] = Field(default_factory=dict)
    chosen: dict[str, str] = Field(default_factory=dict, description="The last choice per "
                                   "group that met the floor (drift is checked against it).")

    def get(self, group: str, key: str) -> Measured:
        return self.groups.get(group, {}).get(key) or Measured()

    def merge(self, delta: EvidenceBook, window: int) -> EvidenceBook:
        """This book with ``delta``'s outcomes and tokens added (another run's included)."""
        for group, per in delta.groups.items():
            mine = self.groups.setdefault(group, {})
            for key, m in per.items():
                have = mine.setdefault(key, Measured())
                have.outcomes = [*have.outcomes, *m.outcomes][-window:]
                have.calls += m.calls
                have.prompt_tokens += m.prompt_tokens
                have.output_tokens += m.output_tokens
                have.thoughts_tokens += m.thoughts_tokens
                have.price_row = m.price_row or have.price_row
                have.last_seen = m.last_seen or have.last_seen
        for group, seen in delta.models_seen.items():
            self.models_seen[group] = sorted(set(self.models_seen.get(group, [])) | set(seen))
        self.chosen.update(delta.chosen)
        return self


def price_signature(row: ModelPrices) -> str:
    return f"{row.effective_from or '-'}|{row.input}|{row.output}"


class EvidenceStore:
    def __init__(self, storage: Storage, root: str, backend: str) -> None:
        self._shared: SharedDocument[EvidenceBook] = SharedDocument(
            storage, join(root, "autopilot", backend, "evidence.json"), EvidenceBook,
            EvidenceBook)

    def load(self) -> EvidenceBook:
        return self._shared.read()

    def add(self, delta: EvidenceBook, window: int) -> EvidenceBook:
        return self._shared.update(lambda book: book.merge(delta, window))
