"""Per-model request and token rate limits, enforced before a call is sent.

The windows mirror Google's per-minute quotas (RPM, input TPM) so the quota is used
fully and 429s stay rare; the share of the quota we allow ourselves adapts (AIMD): a 429
halves it and pauses sending for the server's retry delay, each success wins a little
back. Thread-safe, because Prefect runs chunks of the fan-out in worker threads each
with its own event loop; one limiter per model is shared by all of them in a process.
(Across processes and flow runs the limit is shared through a Prefect global concurrency
limit, see ``tasks/inference.py``.)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from flashfirst.settings import ModelSpec

WINDOW_S = 60.0
# Our clock starts the window a little before the server sees the request.
_MARGIN_S = 0.25
_POLL_S = 0.005
_MIN_FACTOR = 0.05


@dataclass
class Ticket:
    sent_at: float
    entry: list[float] = field(default_factory=list)  # [time, tokens] in the token window


@dataclass
class LimiterStats:
    calls: int = 0
    throttled: int = 0
    waited_s: float = 0.0


class ModelLimiter:
    def __init__(self, spec: ModelSpec, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._window = window_s
        self._margin = min(_MARGIN_S, window_s / 20)
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: deque[float] = deque()
        self._tokens: deque[list[float]] = deque()
        self._token_sum = 0.0
        self._inflight = 0
        self.factor = 1.0
        self._paused_until = 0.0
        self.stats = LimiterStats()

    async def acquire(self, tokens: int) -> Ticket:
        start = self._clock()
        while True:
            ticket, wait = self._try_acquire(tokens)
            if ticket is not None:
                self.stats.waited_s += self._clock() - start
                return ticket
            await asyncio.sleep(max(wait, _POLL_S))

    def release(self, ticket: Ticket, actual_tokens: int | None = None) -> None:
        """Free the concurrency slot; correct the token estimate with the real count."""
        with self._lock:
            self._inflight -= 1
            if actual_tokens is not None and ticket.entry:
                self._token_sum += actual_tokens - ticket.entry[1]
                ticket.entry[1] = float(actual_tokens)

    def on_success(self) -> None:
        """Additive increase: about one more request per window, per window of successes."""
        with self._lock:
            allowed = max(1.0, self.spec.rpm * self.factor)
            self.factor = min(1.0, self.factor + 1.0 / (self.spec.rpm * allowed))

    def on_throttled(self, retry_after_s: float | None) -> None:
        """A 429 (or a shed 503): send less, and nothing until the server's delay passes."""
        with self._lock:
            self.stats.throttled += 1
            self.factor = max(_MIN_FACTOR, self.factor / 2)
            if retry_after_s:
                self._paused_until = max(self._paused_until, self._clock() + retry_after_s)

    def _try_acquire(self, tokens: int) -> tuple[Ticket | None, float]:
        with self._lock:
            now = self._clock()
            self._expire(now)
            if now < self._paused_until:
                return None, self._paused_until - now
            if self._inflight >= self.spec.concurrency:
                return None, _POLL_S
            rpm = max(1, int(self.spec.rpm * self.factor))
            if len(self._requests) >= rpm:
                return None, self._requests[0] + self._window + self._margin - now
            tpm = self.spec.tpm * self.factor
            if self._tokens and self._token_sum + tokens > tpm:
                return None, self._token_wait(tokens, tpm, now)
            self._requests.append(now)
            entry = [now, float(tokens)]
            self._tokens.append(entry)
            self._token_sum += tokens
            self._inflight += 1
            self.stats.calls += 1
            return Ticket(sent_at=now, entry=entry), 0.0

    def _expire(self, now: float) -> None:
        horizon = now - self._window - self._margin
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._tokens and self._tokens[0][0] <= horizon:
            self._token_sum -= self._tokens.popleft()[1]

    def _token_wait(self, tokens: int, tpm: float, now: float) -> float:
        """Seconds until enough of the window expires for ``tokens`` more."""
        excess = self._token_sum + tokens - tpm
        for sent, n in self._tokens:
            excess -= n
            if excess <= 0:
                return sent + self._window + self._margin - now
        return _POLL_S


class Limiters:
    """One limiter per model and limits; a process shares one registry (``PROCESS``)."""

    def __init__(self) -> None:
        self._limiters: dict[tuple, ModelLimiter] = {}
        self._lock = threading.Lock()

    def for_model(self, spec: ModelSpec, window_s: float = WINDOW_S) -> ModelLimiter:
        key = (spec.id, spec.rpm, spec.tpm, spec.concurrency, window_s)
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = ModelLimiter(spec, window_s)
            return self._limiters[key]

    def throttled(self) -> int:
        with self._lock:
            return sum(lim.stats.throttled for lim in self._limiters.values())


PROCESS = Limiters()
