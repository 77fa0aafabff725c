"""The limiter's records and its hand-over of a slot: a call's stamp in the window, the
ticket a granted call holds, a waiter's future on its own loop (``ratelimit``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol


class _Limiter(Protocol):
    def release(self, ticket: Ticket, actual_tokens: int | None = None,
                refused: bool = False) -> None: ...


@dataclass(slots=True, eq=False)  # found in the window by identity, not by value
class Entry:
    sent: float  # its stamp: the grant, then when the server can have counted it
    tokens: float
    handed: float | None = None  # when the call was handed to the SDK to send
    answered: float | None = None


@dataclass(slots=True)
class Ticket:
    entry: Entry
    spend: list[float] | None = None  # its bucket in the spend window (SpendWindow.charge)
    spend_usd: float = 0.0  # its share of the bucket

    @property
    def sent_at(self) -> float:
        return self.entry.sent


@dataclass
class LimiterStats:
    calls: int = 0
    throttled: int = 0
    waited_s: float = 0.0


@dataclass
class Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Ticket]
    tokens: int
    cost: float
    queued: bool = True


def deliver(waiter: Waiter, ticket: Ticket | None, error: BaseException | None,
             limiter: _Limiter) -> None:
    """Resolve a waiter on its own loop; a grant nobody takes is given back."""
    def resolve() -> None:
        fut = waiter.future
        if fut.done():
            if ticket is not None:
                limiter.release(ticket, refused=True)
        elif error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(ticket)

    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is waiter.loop:
        resolve()  # no wake-up through the loop's self-pipe for our own thread
        return
    try:
        waiter.loop.call_soon_threadsafe(resolve)
    except RuntimeError:  # the loop is closed: nobody will take the grant
        if ticket is not None:
            limiter.release(ticket, refused=True)
