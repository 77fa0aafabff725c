"""Progress of long work, for whoever listens (a terminal bar, a Prefect artifact)."""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, int, int], None]  # (stage, done, total)

_listeners: list[Listener] = []
_lock = threading.Lock()
_counts: dict[str, list[int]] = {}


def listen(listener: Listener) -> Callable[[], None]:
    with _lock:
        _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def start(stage: str, total: int) -> None:
    with _lock:
        _counts[stage] = [0, total]
    _emit(stage)


def advance(stage: str, n: int = 1) -> None:
    with _lock:
        if stage not in _counts:
            return
        _counts[stage][0] += n
    _emit(stage)


def _emit(stage: str) -> None:
    with _lock:
        done, total = _counts[stage]
        listeners = list(_listeners)
    for listener in listeners:
        listener(stage, done, total)
