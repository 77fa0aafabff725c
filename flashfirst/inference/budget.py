"""The run's spend limit as every call sees it: the online engine and the batch runner
check it before paying and add each call's price to it."""

from __future__ import annotations

import threading
from decimal import Decimal


class Budget:
    """Running spend shared by every call of a run; dispatch stops when it is reached."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit = Decimal(str(limit_usd)) if limit_usd is not None else None
        self.spent = Decimal(0)
        self._lock = threading.Lock()

    def add(self, cost: Decimal) -> None:
        with self._lock:
            self.spent += cost

    @property
    def reached(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    def settle(self) -> None:
        """The holder is done with it: a shared budget takes back what was not spent
        (``flashfirst.inference.shared_budget``); a local one has nothing to return."""
