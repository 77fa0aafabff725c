"""Per-model request and token rate limits and the project's spend limit, enforced before
a call is sent, on one clock.

The windows slide as the server's do (the emulator counts each call for 60 s from its
arrival, ``flashfirst/emulator/quotas.py``): the first window's whole quota goes out at
once, and each slot is handed to the next waiter exactly when the call that held it leaves
the window, so a run at the bound finishes within a latency of it. We stamp a call when
we grant it, the server when it arrives (seconds later in a burst): an answered call is
re-stamped at the latest moment it can have arrived. A 429 that names a limit below our
ceiling (``QuotaFailure``'s ``quotaValue``) is a lower quota (a lower tier): that limit
becomes the ceiling. A 429 while the window, counted by the server's stamps (the calls in
flight and those our clock let go a moment ago included), is full is our stamps running
ahead of the server's: that lag is learned from its ``RetryInfo`` and added to our stamps.
A 429 while the window is far from full (a shared project), or one no bounded lag explains,
lowers the ceiling to what the window holds; a learned ceiling is probed upwards again
only after several quiet windows (a 429 on a probe steps back).

Google's spend-based limit (a rolling 10 minutes, per project, by tier) is a third
dimension, shared by every model: a call waits while the spend of the window plus the
estimates of the calls in flight would pass it. A per-day quota that is used up stops the
model's dispatch until the day's reset (midnight Pacific) with :class:`QuotaExhausted`.

Thread-safe: the fan-out's calls share one loop (``call_loop``), but other callers (a
test, a tool) may wait from loops of their own; one limiter per model serves them all.
Waiters form one FIFO queue; a grant resolves the waiter's future on its own loop, and a
timer on the head waiter's loop fires when the window next frees (no polling). Across
processes and flow runs the limit is shared through Prefect global concurrency limits
(``tasks/inference.py``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable

from flashfirst.errors import QuotaExhausted
from flashfirst.inference.arrivals import ArrivalStamps
from flashfirst.inference.grants import Entry, LimiterStats, Ticket, Waiter, deliver
from flashfirst.inference.project_limits import (
    SPEND_WINDOW_S,
    SpendWindow,
    next_pacific_midnight,
)
from flashfirst.run.stopping import RunStopped, StopRequest
from flashfirst.settings import ModelSpec

WINDOW_S = 60.0
_QUIET_WINDOWS_BEFORE_PROBE = 5
_PROBE_STEP = 0.05
# A 429 with the window at least this full is our clock running ahead of the server's,
# not a lower quota.
_FULL = 0.9
_MAX_LAG_S = 2.0  # and at most half the window (tests shorten it)


class ModelLimiter:
    def __init__(self, spec: ModelSpec, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic,
                 spend: SpendWindow | None = None) -> None:
        self.spec = spec
        self._window = window_s
        self._clock = clock
        self._spend = spend or SpendWindow(None)
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._token_sum = 0.0
        self._inflight = 0
        self._waiters: deque[Waiter] = deque()
        self._timer: tuple[asyncio.AbstractEventLoop, float] | None = None
        self._lag = 0.0  # how far the server's stamps trail ours
        self._max_lag = min(_MAX_LAG_S, window_s / 2)
        # calls our clock let go within the last ``_max_lag``: the server may count them still
        self._recent: deque[Entry] = deque()
        self._avg_cost = 0.0
        self._arrivals = ArrivalStamps(window_s)
        self.request_ceiling = float(spec.rpm)
        self.token_ceiling = float(spec.tpm)
        self._last_throttle = float("-inf")
        self._learned_at = float("-inf")  # a 429 for a call sent before this is old news
        self._paused_until = 0.0
        self._stopped: QuotaExhausted | None = None
        self.stats = LimiterStats()

    # -- the waiting side -------------------------------------------------------------

    async def acquire(self, tokens: int, cost_usd: float = 0.0, stop: StopRequest | None = None
                      ) -> Ticket:
        """Wait for a slot in every window; ``cost_usd`` is the call's spend estimate. A
        free slot is granted without yielding to the loop, so a burst's first calls go out
        while the rest are still being built; a stop while waiting raises ``RunStopped``."""
        start = self._clock()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Ticket] = loop.create_future()
        waiter = Waiter(loop, fut, tokens, cost_usd)
        with self._lock:
            self._check_stopped()
            self._waiters.append(waiter)
        self._pump()  # a free slot resolves ``fut`` right here (same loop)
        try:
            # Woken by a grant (a release or the window's timer) or a stop, not by
            # polling; a window's wait re-checks once, should a timer die with a closed loop.
            wakes = (fut,) if stop is None or fut.done() else (fut, stop.future())
            while not fut.done():
                if stop is not None and stop.requested:
                    raise RunStopped(stop.reason)
                await asyncio.wait(wakes, timeout=self._window,
                                   return_when=asyncio.FIRST_COMPLETED)
                if not fut.done():
                    self._pump()
            ticket = fut.result()
        except BaseException:
            self._abandon(waiter)
            raise
        self.stats.waited_s += self._clock() - start
        return ticket

    def _abandon(self, waiter: Waiter) -> None:
        with self._lock:
            if waiter.queued:
                self._waiters.remove(waiter)
                waiter.queued = False
            self._timer = None  # the timer may have lived on this waiter's loop
        fut = waiter.future
        if not fut.done():
            fut.cancel()  # a grant on its way finds it cancelled and gives the slot back
        elif fut.done() and not fut.cancelled() and fut.exception() is None:
            self.release(fut.result(), refused=True)  # granted but never used
            return
        self._pump()  # the timer it dropped is armed again for the next waiter

    def release(self, ticket: Ticket, actual_tokens: int | None = None,
                refused: bool = False) -> None:
        """Free the concurrency slot. A refused call (429, or never sent) used no quota:
        take it out of the windows; an answered one corrects the estimates and is counted
        from when the server can have counted it (``arrivals``)."""
        entry = ticket.entry
        with self._lock:
            self._inflight -= 1
            if refused:
                try:
                    self._entries.remove(entry)
                    self._token_sum -= entry.tokens
                except ValueError:
                    pass  # already out of the window
            else:
                if actual_tokens is not None:
                    self._token_sum += actual_tokens - entry.tokens
                    entry.tokens = float(actual_tokens)
                self._entries = self._arrivals.answered(self._entries, entry, self._clock())
        if refused and ticket.spend is not None:
            self._spend.adjust(ticket.spend, -ticket.spend_usd)
            ticket.spend_usd = 0.0
        self._pump()

    def sending(self, ticket: Ticket) -> None:
        """The granted call is handed to the SDK now (after the budget's and the stop's
        checks, after our loop got round to it: seconds after the grant in a burst)."""
        ticket.entry.handed = self._clock()

    def record_cost(self, ticket: Ticket, cost_usd: float) -> None:
        """The call's real price replaces its estimate in the spend window."""
        if ticket.spend is None:
            return
        self._spend.adjust(ticket.spend, cost_usd - ticket.spend_usd)
        ticket.spend_usd = cost_usd
        # the spend estimate of the next calls: a running mean of real prices
        self._avg_cost = cost_usd if not self._avg_cost else (
            self._avg_cost + (cost_usd - self._avg_cost) * 0.1)

    # -- what the server said -----------------------------------------------------------

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

    @property
    def lag_s(self) -> float:
        """How much later than our stamps the server's window frees, as learned."""
        return self._lag

    def on_throttled(self, retry_after_s: float | None, quota: str | None = None,
                     learn: bool = True, quota_value: int | None = None,
                     sent_at: float | None = None) -> None:
        """A 429 (or a shed Flex call): pause for the server's delay and, for a 429, learn
        the quota it names when lower, else our lag behind a full window, else the real
        (lower) quota from what the window holds. ``sent_at``: the refused call's stamp
        (``Ticket.sent_at``); the 429s of calls sent before the last lesson teach nothing
        new (a window's turn refuses a burst of them at once)."""
        with self._lock:
            now = self._clock()
            self.stats.throttled += 1
            self._expire(now)
            sent = now if sent_at is None else sent_at
            if learn and sent >= self._learned_at:
                self._learned_at = now
                self._learn(now, retry_after_s, bool(quota and "token" in quota.lower()),
                            quota_value, sent)
            if retry_after_s:
                self._paused_until = max(self._paused_until, now + retry_after_s)
        self._pump()

    def _learn(self, now: float, retry_after_s: float | None, tokens: bool,
               quota_value: int | None, sent: float) -> None:
        ceiling = self.token_ceiling if tokens else self.request_ceiling
        if quota_value is not None and quota_value < ceiling:
            held = float(quota_value)  # the server said so
        elif self._lag_explains(now, retry_after_s, tokens, ceiling, quota_value is not None,
                                sent):
            return
        else:
            held = (self._token_sum + sum(e.tokens for e in self._recent) if tokens
                    else float(len(self._entries) + len(self._recent)))
        self._last_throttle = now
        if tokens:
            self.token_ceiling = max(1.0, min(ceiling, held))
        else:
            self.request_ceiling = max(1.0, min(ceiling, held))

    def _lag_explains(self, now: float, retry_after_s: float | None, tokens: bool,
                      ceiling: float, named: bool, sent: float) -> bool:
        """Learn the lag when the server's window, counted by its stamps (ours plus the
        calls our clock let go a moment ago), is full and a lag within bounds explains the
        429: the refused call, sent at ``sent``, would have fitted from ``now`` plus the
        server's delay (a longer lag is learned up to its bound, and the ceiling is looked
        at too). Below the configured quota with none named, we were probing: step back."""
        configured = self.spec.tpm if tokens else self.spec.rpm
        if retry_after_s is None or (ceiling < configured and not named):
            return False
        held = [*self._recent, *self._entries]
        used = sum(e.tokens for e in held) if tokens else float(len(held))
        if used < _FULL * ceiling:
            return False
        lag = self._lag + now + retry_after_s - sent
        self._lag = max(self._lag, min(lag, self._max_lag))
        return lag <= self._max_lag  # beyond it, a lag is no longer the likely cause

    def stop_for_the_day(self, quota: str) -> QuotaExhausted:
        """A per-day quota is used up: refuse this model's calls until the reset."""
        exhausted = QuotaExhausted(self.spec.id, quota, next_pacific_midnight(time.time()))
        with self._lock:
            self._stopped = exhausted
            waiters, self._waiters = list(self._waiters), deque()
            for w in waiters:
                w.queued = False
        for w in waiters:
            deliver(w, None, exhausted, self)
        return exhausted

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            if time.time() < self._stopped.until:
                raise self._stopped
            self._stopped = None

    # -- granting -----------------------------------------------------------------------

    def _pump(self) -> None:
        """Grant slots to waiters in order while every window has room; else arm a timer
        for the moment the head waiter fits."""
        grants: list[tuple[Waiter, Ticket]] = []
        arm: tuple[asyncio.AbstractEventLoop, float] | None = None
        with self._lock:
            now = self._clock()
            self._expire(now)
            while self._waiters:
                head = self._waiters[0]
                if self._inflight >= self.spec.concurrency:
                    break  # a release pumps again
                free_at, spend, cost = self._free_at(head, now), None, 0.0
                if free_at is None:
                    with self._spend.lock:
                        self._spend.expire(now)
                        cost = max(head.cost, self._avg_cost)
                        spend_at = self._spend.free_at(cost)
                        if spend_at is None and self._spend.limit_usd is not None:
                            spend = self._spend.charge(now, cost)
                    free_at = spend_at
                if free_at is not None:
                    timer = self._timer
                    if timer is None or free_at < timer[1] or timer[0] is not head.loop:
                        self._timer = arm = (head.loop, free_at)
                    break
                self._waiters.popleft()
                head.queued = False
                entry = Entry(now, float(head.tokens))
                self._entries.append(entry)
                self._token_sum += head.tokens
                self._inflight += 1
                self.stats.calls += 1
                grants.append((head, Ticket(entry, spend, cost if spend is not None else 0.0)))
        for waiter, ticket in grants:
            deliver(waiter, ticket, None, self)
        if arm is not None:
            loop, at = arm
            try:
                loop.call_soon_threadsafe(self._arm, loop, at)
            except RuntimeError:  # that loop just closed: its waiter is gone
                with self._lock:
                    self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        loop.call_later(max(0.0, at - self._clock()), self._fire, at)

    def _fire(self, at: float) -> None:
        with self._lock:
            if self._timer is not None and self._timer[1] == at:
                self._timer = None
        self._pump()

    def _free_at(self, waiter: Waiter, now: float) -> float | None:
        """When the head waiter fits the request and token windows (None: now)."""
        if now < self._paused_until:
            return self._paused_until
        if len(self._entries) >= int(self.request_ceiling):
            return self._entries[len(self._entries) - int(self.request_ceiling)].sent \
                + self._window + self._lag
        if self._entries and self._token_sum + waiter.tokens > self.token_ceiling:
            excess = self._token_sum + waiter.tokens - self.token_ceiling
            for e in self._entries:
                excess -= e.tokens
                if excess <= 0:
                    return e.sent + self._window + self._lag
            return now + self._window
        return None

    def _expire(self, now: float) -> None:
        horizon = now - self._window - self._lag
        entries, recent = self._entries, self._recent
        while entries and entries[0].sent <= horizon:
            entry = entries.popleft()
            self._token_sum -= entry.tokens
            recent.append(entry)
        while recent and recent[0].sent <= horizon - self._max_lag:
            recent.popleft()


class Limiters:
    """One limiter per model and limits, one spend window for the project; a process
    shares one registry (``PROCESS``)."""

    def __init__(self) -> None:
        self._limiters: dict[tuple, ModelLimiter] = {}
        self._spend: dict[tuple[float | None, float], SpendWindow] = {}
        self._lock = threading.Lock()

    def for_model(self, spec: ModelSpec, window_s: float = WINDOW_S,
                  spend_limit_usd: float | None = None,
                  spend_window_s: float = SPEND_WINDOW_S) -> ModelLimiter:
        key = (spec.id, spec.rpm, spec.tpm, spec.concurrency, window_s, spend_limit_usd,
               spend_window_s)
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                spend = self._spend.setdefault((spend_limit_usd, spend_window_s), SpendWindow(
                    spend_limit_usd, spend_window_s))
                limiter = self._limiters[key] = ModelLimiter(spec, window_s, spend=spend)
            return limiter

    def throttled(self) -> int:
        with self._lock:
            return sum(lim.stats.throttled for lim in self._limiters.values())


PROCESS = Limiters()
