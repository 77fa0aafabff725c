"""Wall time per stage of a run, for the report."""

from __future__ import annotations

import time

from flashfirst.reporting.report import StageLine
from flashfirst.reporting.stages import Stage


class StageClock:
    """``mark(stage)`` closes the span since the previous mark under that stage's name."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._spans: dict[Stage, float] = {}

    def mark(self, stage: Stage) -> None:
        now = time.monotonic()
        self._spans[stage] = self._spans.get(stage, 0.0) + now - self._last
        self._last = now

    def seconds(self, stage: Stage) -> float:
        return self._spans.get(stage, 0.0)

    def lines(self) -> list[StageLine]:
        return [StageLine(stage=s, seconds=round(t, 3)) for s, t in self._spans.items()]
