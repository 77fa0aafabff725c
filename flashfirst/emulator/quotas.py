"""Per-model RPM and input-TPM over a sliding window (60 s, as the API counts; shorter
in tests that want a quota storm to pass quickly), requests per day (the day ends at
midnight Pacific time: ai.google.dev/gemini-api/docs/rate-limits, "RPD quotas reset at
midnight Pacific time"), and the Priority tier's own limit. A refused call does not use
quota; the retry delay is when the window (or the day) frees."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.wire.errors import quota_exceeded

PACIFIC = ZoneInfo("America/Los_Angeles")


def quota_day(now: float) -> tuple[date, float]:
    """The Pacific date of ``now`` and the seconds left until it ends."""
    local = datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                PACIFIC)
    return local.date(), midnight.timestamp() - now


class QuotaWindows:
    """Not thread-safe by itself: the emulator calls it under its lock."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._calls: defaultdict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._priority: defaultdict[str, deque[float]] = defaultdict(deque)
        self._days: Counter[tuple[str, date]] = Counter()

    def admit(self, model: EmulatedModel, tokens: int, now: float,
              stamp_lag_s: float = 0.0) -> None:
        """Count the call or raise the 429 the API would answer; ``stamp_lag_s``: counted
        from that much after ``now`` (``EmulatorConfig.quota_stamp_lag_s``)."""
        day, left_s = quota_day(now)
        if self._days[(model.id, day)] >= model.rpd:
            raise quota_exceeded(model.id, "requests_per_day", model.rpd, left_s)
        window = self._calls[model.id]
        while window and window[0][0] <= now - self.window_s:
            window.popleft()
        if len(window) >= model.rpm:
            delay = window[len(window) - model.rpm][0] + self.window_s - now
            raise quota_exceeded(model.id, "requests", model.rpm, delay)
        used = sum(n for _, n in window)
        if used + tokens > model.tpm:
            raise quota_exceeded(model.id, "input_tokens", model.tpm,
                                 self._token_delay(window, used, tokens, model.tpm, now))
        window.append((now + stamp_lag_s, tokens))
        self._days[(model.id, day)] += 1

    def _token_delay(self, window: deque[tuple[float, int]], used: int, tokens: int, tpm: int,
                     now: float) -> float:
        if tokens > tpm:  # never fits; the API still says "retry in a minute"
            return self.window_s
        for started, n in window:
            used -= n
            if used + tokens <= tpm:
                return started + self.window_s - now
        return self.window_s

    def admit_priority(self, model_id: str, limit_rpm: int, now: float) -> bool:
        """True when a Priority call fits the Priority limit; else it is served Standard."""
        window = self._priority[model_id]
        while window and window[0] <= now - self.window_s:
            window.popleft()
        if len(window) >= limit_rpm:
            return False
        window.append(now)
        return True
