"""A run's budget shared by every chunk wherever it runs, at almost no cost a call.

Each chunk holds a lease: a slice of what is left of the run's budget, taken from the run
state (``flashfirst.run.state``). Calls spend from the lease in memory; a storage round
trip happens only when the lease is used up (a new slice, or the stop) and when the chunk
ends (what it spent is settled, the rest of its slice freed for the others). The whole run
therefore stops at its limit whatever the number of processes; as with a local budget, it
can pass the limit by the calls already in flight when the last slice ran out.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from flashfirst.inference.budget import Budget
from flashfirst.run.state import RunState


class BudgetLease(Budget):
    """This holder's part of a run's budget. ``spent`` is the run's spend as last known
    (all holders' reports plus this holder's own), for the message of a budget stop."""

    def __init__(self, state: RunState, limit_usd: float, holder: str | None = None) -> None:
        super().__init__(limit_usd)
        self._state = state
        self.holder = holder or uuid.uuid4().hex
        self._mine = Decimal(0)
        self._granted = Decimal(0)
        self._others = Decimal(0)
        self._exhausted = False
        self._open = False  # a lease of this holder is in the run state

    def add(self, cost: Decimal) -> None:
        with self._lock:
            self._mine += cost
            self.spent = self._others + self._mine

    @property
    def reached(self) -> bool:
        """Checked before each call: in memory while the lease lasts, then one round trip
        for a new slice; once none is left it stays reached."""
        with self._lock:
            if self._mine < self._granted:
                return False
            if self._exhausted or self.limit is None:
                return self._exhausted
            grant = self._state.lease_budget(self.holder, self.limit, self._mine)
            self._open = True
            self._granted = grant.granted
            self._others = grant.run_spent - self._mine
            self.spent = grant.run_spent
            self._exhausted = self._mine >= self._granted
            return self._exhausted

    def settle(self) -> None:
        with self._lock:
            if self._open:
                self._state.settle_budget(self.holder, self._mine)
                self._open = False
