"""Per-model request and token rate limits, enforced before a call is sent.

The windows mirror Google's per-minute quotas (RPM, input TPM) so the quota is used
fully and 429s stay rare. When a 429 says the real quota is lower than configured (a
shared project, a lower tier), the limiter learns it: the requests the server accepted in
the current window become the ceiling, sending pauses for the server's retry delay, and
the ceiling is probed upwards again only after several quiet windows, a little at a time.

Thread-safe, because Prefect runs chunks of the fan-out in worker threads each with its
own event loop; one limiter per model is shared by all of them in a process. Waiting for a
concurrency slot is a future woken by ``release`` (no polling). Across processes and flow
runs the limit is shared through Prefect global concurrency limits (``tasks/inference.py``).
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
_MARGIN_S = 1.0
_QUIET_WINDOWS_BEFORE_PROBE = 5
_PROBE_STEP = 0.05


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
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self.request_ceiling = float(spec.rpm)
        self.token_ceiling = float(spec.tpm)
        self._last_throttle = float("-inf")
        self._paused_until = 0.0
        self.stats = LimiterStats()

    async def acquire(self, tokens: int) -> Ticket:
        start = self._clock()
        loop = asyncio.get_running_loop()
        while True:
            ticket, wait, slot = self._try_acquire(tokens, loop)
            if ticket is not None:
                self.stats.waited_s += self._clock() - start
                return ticket
            if slot is not None:
                try:
                    await slot  # woken by a release
                except asyncio.CancelledError:
                    if slot.done() and not slot.cancelled():
                        with self._lock:
                            self._wake_one()  # pass the free slot on
                    raise
            else:
                await asyncio.sleep(wait)

    def release(self, ticket: Ticket, actual_tokens: int | None = None,
                refused: bool = False) -> None:
        """Free the concurrency slot. A refused call (429) used no quota: take it out of
        the windows; an answered one corrects the token estimate with the real count."""
        with self._lock:
            self._inflight -= 1
            if refused:
                if ticket.sent_at in self._requests:
                    self._requests.remove(ticket.sent_at)
                if ticket.entry in self._tokens:
                    self._tokens.remove(ticket.entry)
                    self._token_sum -= ticket.entry[1]
            elif actual_tokens is not None and ticket.entry:
                self._token_sum += actual_tokens - ticket.entry[1]
                ticket.entry[1] = float(actual_tokens)
            self._wake_one()

    def on_success(self) -> None:
        """After quiet windows, probe a little above a learned ceiling."""
        with self._lock:
            now = self._clock()
            quiet = now - self._last_throttle > _QUIET_WINDOWS_BEFORE_PROBE * self._window
            if quiet and self.request_ceiling < self.spec.rpm:
                self.request_ceiling = min(float(self.spec.rpm), self.request_ceiling + max(
                    1.0, self.request_ceiling * _PROBE_STEP))
                self._last_throttle = now  # the next probe waits for quiet again
            if quiet and self.token_ceiling < self.spec.tpm:
                self.token_ceiling = min(float(self.spec.tpm),
                                         self.token_ceiling * (1 + _PROBE_STEP))

    def on_throttled(self, retry_after_s: float | None, quota: str | None = None,
                     learn: bool = True) -> None:
        """A 429 (or a shed Flex call): pause for the server's delay and, for a 429, take
        what the server accepted this window as the real quota."""
        with self._lock:
            now = self._clock()
            self.stats.throttled += 1
            self._expire(now)
            if learn:
                self._last_throttle = now
                if quota and "token" in quota.lower():
                    self.token_ceiling = max(1.0, min(self.token_ceiling, self._token_sum))
                else:
                    self.request_ceiling = max(1.0, min(self.request_ceiling,
                                                        float(len(self._requests))))
            if retry_after_s:
                self._paused_until = max(self._paused_until, now + retry_after_s)

    def _try_acquire(self, tokens: int, loop: asyncio.AbstractEventLoop
                     ) -> tuple[Ticket | None, float, asyncio.Future[None] | None]:
        with self._lock:
            now = self._clock()
            self._expire(now)
            if now < self._paused_until:
                return None, self._paused_until - now, None
            if self._inflight >= self.spec.concurrency:
                slot: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, slot))
                return None, 0.0, slot
            if len(self._requests) >= int(self.request_ceiling):
                return None, self._requests[0] + self._window + self._margin - now, None
            if self._tokens and self._token_sum + tokens > self.token_ceiling:
                return None, self._token_wait(tokens, now), None
            self._requests.append(now)
            entry = [now, float(tokens)]
            self._tokens.append(entry)
            self._token_sum += tokens
            self._inflight += 1
            self.stats.calls += 1
            return Ticket(sent_at=now, entry=entry), 0.0, None

    def _wake_one(self) -> None:
        while self._waiters:
            loop, slot = self._waiters.popleft()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, slot)
                return

    def _expire(self, now: float) -> None:
        horizon = now - self._window - self._margin
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._tokens and self._tokens[0][0] <= horizon:
            self._token_sum -= self._tokens.popleft()[1]

    def _token_wait(self, tokens: int, now: float) -> float:
        """Seconds until enough of the window expires for ``tokens`` more."""
        excess = self._token_sum + tokens - self.token_ceiling
        for sent, n in self._tokens:
            excess -= n
            if excess <= 0:
                return sent + self._window + self._margin - now
        return self._window


def _resolve(slot: asyncio.Future[None]) -> None:
    if not slot.done():
        slot.set_result(None)


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
