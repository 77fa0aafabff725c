"""A stop racing a call: a wait for a slot ends at once, a call already sent gets its
grace, and a cancellation from outside stays a cancellation (not read as a stop)."""

from __future__ import annotations

import asyncio
import time

import pytest

from flashfirst.failures import FailureKind
from flashfirst.run.stopping import (
    CallAbandoned,
    RunStopped,
    StopRequest,
    unless_stopped,
    within_grace,
)


async def _stop_after(stop: StopRequest, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stop.request(FailureKind.INTERRUPTED, "test stop")


async def test_a_wait_ends_at_the_stop_and_a_sent_call_answers_within_its_grace() -> None:
    stop = StopRequest()
    asyncio.get_running_loop().create_task(_stop_after(stop, 0.05))
    started = time.monotonic()
    with pytest.raises(RunStopped):
        await unless_stopped(stop, asyncio.sleep(10))
    assert time.monotonic() - started < 2
    # Stopped already: a call answering within the grace is kept, a slower one abandoned.
    assert await within_grace(stop, asyncio.sleep(0.05, result="answer"), 1.0) == "answer"
    with pytest.raises(CallAbandoned):
        await within_grace(stop, asyncio.sleep(10), 0.1)


async def test_a_cancellation_from_outside_is_not_taken_for_a_stop() -> None:
    stop = StopRequest()
    waiting = asyncio.ensure_future(unless_stopped(stop, asyncio.sleep(10)))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not stop.requested
    # Many calls share the loop's one stop future and leave nothing on it behind them.
    await asyncio.gather(*(within_grace(stop, asyncio.sleep(0), 1.0) for _ in range(100)))
    assert not stop.future()._callbacks  # noqa: SLF001 - asyncio keeps them here
