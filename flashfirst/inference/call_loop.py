"""One event loop per process that every chunk of the fan-out sends its calls on.

A Prefect task runner gives each async task run its own thread and event loop. The SDK
keeps one connection pool per loop, so a chunk on its own loop opened a fresh pool (new
connections, a new TLS context) and its calls never shared a wake-up with the other
chunks'; the rate limiter handed slots across loops through their self-pipes. With the
calls of every chunk on one loop, the chunks in flight form one continuous window of
calls: a chunk waiting on its slowest item holds nothing back, the next chunk's items are
already queued at the limiter, and the connections stay open from chunk to chunk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class CallLoop:
    """A daemon thread running one event loop, started on first use."""

    def __init__(self, name: str = "flashfirst-calls") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name=self._name,
                                 daemon=True).start()
                self._loop = loop
            return self._loop

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the shared loop from any loop; cancelling the caller cancels
        it there too (a cancelled Prefect task sends nothing more)."""
        loop = self.loop()
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the shared loop and wait for it from a thread with no loop of
        its own (a sync task: Prefect gives an async one a new loop and a new API client
        with it, about 50 ms of CPU per task run); an exception here cancels it there."""
        loop = self.loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            coro.close()
            raise RuntimeError("CallLoop.call blocks: await CallLoop.run from a loop")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise


CALLS = CallLoop()  # the process's
