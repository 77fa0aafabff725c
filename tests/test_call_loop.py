"""The fan-out's chunks run in task-runner threads, each with its own event loop; their
calls all go out on the process's one call loop, so they share one connection pool and
one window of calls, and a chunk that is cancelled stops its calls there too."""

from __future__ import annotations

import asyncio
import threading

import pytest

from flashfirst.inference.call_loop import CallLoop


def test_chunks_on_their_own_threads_send_on_one_loop() -> None:
    calls = CallLoop(name="test-calls")
    seen: list[tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]] = []

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def chunk() -> None:
        seen.append((asyncio.get_running_loop(), await calls.run(where())))

    threads = [threading.Thread(target=asyncio.run, args=(chunk(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert len(seen) == 3
    call_loops = {call_loop for _, call_loop in seen}
    assert len(call_loops) == 1  # one loop for every chunk's calls
    assert not call_loops & {own for own, _ in seen}  # and not any chunk's own


def test_a_cancelled_chunk_cancels_its_calls_on_the_call_loop() -> None:
    calls = CallLoop(name="test-calls")
    started, cancelled = threading.Event(), threading.Event()

    async def call_that_never_answers() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def chunk() -> None:
        await asyncio.wait_for(calls.run(call_that_never_answers()), timeout=0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(chunk())
    assert started.is_set()
    assert cancelled.wait(timeout=10)


def test_a_sync_chunk_waits_for_its_calls_on_the_one_loop() -> None:
    # A sync task run gets no loop (nor a new Prefect client) of its own; its calls still
    # go out on the shared loop, and one that fails raises in the chunk.
    calls = CallLoop(name="test-calls")

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def fails() -> None:
        raise ValueError("item 7: bad schema")

    assert calls.call(where()) is calls.loop()
    with pytest.raises(ValueError, match="item 7"):
        calls.call(fails())
