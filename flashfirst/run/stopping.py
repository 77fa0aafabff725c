"""Stopping a run well: one stop request per process, set by Ctrl-C, SIGTERM or a Prefect
cancellation, read before every model call is dispatched.

After a stop no new call is sent; calls in flight get ``grace_s`` to answer (their answers
are stored as any other), then are abandoned. Synchronous waits (a batch job's polling)
sleep on :meth:`StopRequest.sleep`, async ones race :meth:`StopRequest.wait`, so a stop
wakes them at once instead of after their timer.

The signal handler itself only writes a byte to a pipe: a watcher thread makes the
request (locks, event loops), so a signal landing while the main thread holds one of
those locks cannot deadlock it. A second signal exits at once (after the hooks that must
run even then, such as stopping a server this process started).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from flashfirst.errors import FlashfirstError
from flashfirst.failures import Failure, FailureKind

T = TypeVar("T")
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + signal, as shells report


class RunStopped(FlashfirstError):
    """This call is not sent: the run was asked to stop."""


class CallAbandoned(FlashfirstError):
    """A call in flight did not answer within the stop's grace; it was given up."""


class StopRequest:
    """Whether (and why) this process's runs were asked to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                asyncio.Future[None]] = (
            weakref.WeakKeyDictionary())
        self.kind: FailureKind | None = None
        self.reason = ""
        self.signal: int | None = None  # the signal that asked, if one did

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, kind: FailureKind, reason: str, signum: int | None = None) -> bool:
        """Ask every run of this process to stop; False when it already was."""
        with self._lock:
            if self._event.is_set():
                return False
            self.kind, self.reason, self.signal = kind, reason, signum
            self._event.set()
            waiters = list(self._shared.items())
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)
        return True

    def reset(self) -> None:
        """Forget a stop (a long-lived process starting its next run)."""
        with self._lock:
            self._event.clear()
            self.kind, self.reason, self.signal = None, "", None

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less if a stop comes; True when stopped."""
        return self._event.wait(seconds)

    def future(self) -> asyncio.Future[None]:
        """The running loop's one stop future, done once a stop is requested, shared by
        every wait on the loop (one future, not one a call), so it must never be
        cancelled: wait on it with ``asyncio.wait`` or a done callback."""
        loop = asyncio.get_running_loop()
        with self._lock:
            future = self._shared.get(loop)
            if future is None or (future.done() and not self._event.is_set()):  # reset
                future = self._shared[loop] = loop.create_future()
                if self._event.is_set():
                    future.set_result(None)
            return future

    async def wait(self) -> None:
        """Return when a stop is requested."""
        await asyncio.wait((self.future(),))

    def failure(self) -> Failure:
        """Why an item was not sent."""
        return Failure(kind=self.kind or FailureKind.INTERRUPTED, message=(
            f"not sent: {self.reason or 'the run was stopped'}; run again to send it "
            "(answers already paid for are reused)"))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


STOP = StopRequest()  # the process's; runs read it, signals and cancellations set it


async def unless_stopped(stop: StopRequest, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` (a wait for a slot, a backoff) unless a stop comes first: then
    it is cancelled and :class:`RunStopped` raised."""
    return await _until_stop(stop, awaitable, 0.0, lambda: RunStopped(stop.reason))


async def within_grace(stop: StopRequest, awaitable: Awaitable[T], grace_s: float) -> T:
    """Await a call already sent; once a stop is requested it has ``grace_s`` more to
    answer, then it is cancelled and :class:`CallAbandoned` raised."""
    return await _until_stop(stop, awaitable, grace_s, lambda: CallAbandoned(
        f"no answer within the {grace_s:g} s grace after the stop; the call was abandoned "
        "(it may be billed) and is sent again by the next run"))


async def _until_stop(stop: StopRequest, awaitable: Awaitable[T], grace_s: float,
                      error: Callable[[], Exception]) -> T:
    """One task and a callback on the loop's stop future (every call sent goes through
    here, so it stays light): a stop cancels the task, after ``grace_s`` if given."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)
    stopped = stop.future()
    by_stop = False
    timer: asyncio.TimerHandle | None = None

    def end() -> None:
        nonlocal by_stop
        if not task.done():
            by_stop = True
            task.cancel()  # what it held (a gate's slot) is given back by its own cleanup

    def on_stop(_: asyncio.Future[None]) -> None:
        nonlocal timer
        if grace_s > 0:
            timer = loop.call_later(grace_s, end)
        else:
            end()

    stopped.add_done_callback(on_stop)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if by_stop and (current is None or not current.cancelling()):
            raise error() from None
        raise
    finally:
        stopped.remove_done_callback(on_stop)
        if timer is not None:
            timer.cancel()


# -- signals --------------------------------------------------------------------------

_hard_exit_hooks: list[Callable[[], None]] = []
_announcers: list[Callable[[int], None]] = []  # the outermost install's, for nested ones
_pipe: tuple[int, int] | None = None
_pipe_lock = threading.Lock()


def at_hard_exit(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` if a second signal ends the process at once; returns its remover."""
    _hard_exit_hooks.append(hook)
    return lambda: _hard_exit_hooks.remove(hook) if hook in _hard_exit_hooks else None


def _watch(read_fd: int, stop: StopRequest) -> None:
    while True:
        data = os.read(read_fd, 1)
        if not data:
            return
        signum = data[0]
        stop.request(FailureKind.INTERRUPTED,
                     f"the run was stopped by {SIGNAL_NAMES.get(signum, f'signal {signum}')}",
                     signum)


def _write_fd(stop: StopRequest) -> int:
    global _pipe
    with _pipe_lock:
        if _pipe is None:
            _pipe = os.pipe()
            threading.Thread(target=_watch, args=(_pipe[0], stop), daemon=True,
                             name="flashfirst-stop").start()
        return _pipe[1]


@contextlib.contextmanager
def stop_on_signals(announce: Callable[[int], None] | None = None,
                    stop: StopRequest = STOP) -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM ask the run to stop (the first) or end the process
    at once (a second one, with 128 + the signal). Only the main thread can take signals:
    elsewhere this changes nothing. ``announce`` is told of the first signal (in the
    signal handler: keep it to an ``os.write``)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    write_fd = _write_fd(stop)
    seen: list[int] = []
    if announce is not None:
        _announcers.append(announce)
    told = list(_announcers[-1:])

    def on_signal(signum: int, _frame: object) -> None:
        if seen or stop.requested and stop.signal is not None:
            for hook in list(_hard_exit_hooks):
                with contextlib.suppress(Exception):
                    hook()
            os._exit(EXIT_CODES.get(signum, 128 + signum))
        seen.append(signum)
        os.write(write_fd, bytes([signum]))
        for tell in told:
            tell(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if announce is not None:
            _announcers.remove(announce)
