"""The limits that are not one model's window: the project's spend on a rolling window
(Google's spend-based rate limit, shared by every model) and the reset of per-day quotas.
``ratelimit`` enforces them beside each model's requests and tokens."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

SPEND_WINDOW_S = 600.0
# Calls within this long of a bucket's first share it: a window holds at most 600 entries
# however high the rate (one each at 4,000 RPM would be 40,000), and the spend frees at
# most this much later than per call would.
SPEND_BUCKET_S = 1.0
QuotaTier = Literal["free", "tier1", "tier2", "tier3"]
# Spend-based rate limits on a rolling 10-minute window, per project: Tier 1 $10, Tier 2
# $50, Tier 3 $200; the free tier is not billed. https://ai.google.dev/gemini-api/docs/
# rate-limits (read 2026-11, research file §1.10).
SPEND_LIMIT_USD: dict[str, float | None] = {"free": None, "tier1": 10.0, "tier2": 50.0,
                                            "tier3": 200.0}
_PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass
class SpendWindow:
    """What the project spent in the last 10 minutes, plus estimates for calls in flight."""

    limit_usd: float | None
    window_s: float = SPEND_WINDOW_S
    # [latest call's time, usd, first call's time] a bucket: it expires with its latest
    entries: deque[list[float]] = field(default_factory=deque)
    total: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self.entries and self.entries[0][0] <= horizon:
            self.total -= self.entries.popleft()[1]

    def charge(self, now: float, cost: float) -> list[float]:
        """Count ``cost`` from ``now``; return its bucket (for ``adjust``). Caller holds
        the lock."""
        last = self.entries[-1] if self.entries else None
        if last is None or now - last[2] >= SPEND_BUCKET_S:
            last = [now, 0.0, now]
            self.entries.append(last)
        last[0] = max(last[0], now)
        last[1] += cost
        self.total += cost
        return last

    def adjust(self, bucket: list[float], delta: float) -> None:
        """A call's estimate corrected (its price known, or refused: no spend)."""
        with self.lock:
            bucket[1] += delta
            self.total += delta

    def free_at(self, cost: float) -> float | None:
        """When ``cost`` more fits (None: now); caller holds the lock and has expired."""
        if self.limit_usd is None or not self.entries or self.total + cost <= self.limit_usd:
            return None
        excess = self.total + cost - self.limit_usd
        for sent, usd, _ in self.entries:
            excess -= usd
            if excess <= 0:
                return sent + self.window_s
        return self.entries[-1][0] + self.window_s


def next_pacific_midnight(now: float) -> float:
    """Per-day quotas reset at midnight Pacific time (ai.google.dev/gemini-api/docs/
    rate-limits, research file §1.10)."""
    local = datetime.fromtimestamp(now, _PACIFIC)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp()


def spend_limit(tier: QuotaTier, override_usd: float | None = None) -> float | None:
    return override_usd if override_usd is not None else SPEND_LIMIT_USD[tier]
