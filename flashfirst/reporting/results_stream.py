"""Where a run's results go as chunks finish: each made final (its source, its media,
its backend), spooled for results.jsonl and folded into the report's counts and costs,
then let go. Memory no longer grows with the results a run holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flashfirst.items import ItemResult
from flashfirst.planning.thinking_figures import ThinkingFigures
from flashfirst.reporting.ledger import CostTally
from flashfirst.reporting.results_spool import ResultSpool
from flashfirst.reporting.tally import ReportTally


class RunTally:
    """What the report is folded from: its counts, its costs, the thinking figures."""

    def __init__(self, costs: CostTally) -> None:
        self.report = ReportTally()
        self.costs = costs
        self.figures = ThinkingFigures()

    def add(self, results: list[ItemResult]) -> None:
        for r in results:
            self.report.add(r)
            self.costs.add(r)
        self.figures.add_run(results)


class ResultStream:
    """The sink chunks hand their results to (``tasks/inference.py``)."""

    def __init__(self, tally: RunTally, finish: Callable[[list[ItemResult]], list[ItemResult]]
                 ) -> None:
        self.tally = tally
        self.spool = ResultSpool()
        self._finish = finish

    def add(self, results: Iterable[ItemResult]) -> None:
        finished = self._finish(list(results))
        self.spool.write(finished)
        self.tally.add(finished)
