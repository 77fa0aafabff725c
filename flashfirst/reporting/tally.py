"""The report's counts folded one result at a time, as chunks finish: a run's results go
to results.jsonl as they come (``flashfirst/reporting/results_spool.py``) and are never
held whole to be reported, so memory does not grow with them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal

from flashfirst.failures import FailureKind
from flashfirst.items import Attempt, ItemMedia, ItemResult
from flashfirst.pricing.prices import usd
from flashfirst.reporting.fit import fit_line
from flashfirst.reporting.item_lines import ItemLine, ItemLines
from flashfirst.reporting.report import (
    FirstPass,
    ProvisionalPrice,
    ServedBy,
    TaskEscalation,
)


class ReportTally:
    """Per item, model, task and thinking setting, what the report counts."""

    def __init__(self) -> None:
        self.total = self.ok = self.reused = self.generate_calls = self.cache_hit_calls = 0
        self.failures: dict[str, str] = {}
        self.kinds: Counter[FailureKind] = Counter()
        self.routing: Counter[str] = Counter()
        self.served: Counter[tuple[str, str, str | None]] = Counter()
        self.provisional: defaultdict[tuple[str, str, str], list] = defaultdict(_calls_and_usd)
        self.escalation: defaultdict[str, list[int]] = defaultdict(_two_counts)
        self.first: defaultdict[tuple[str, str], list[int]] = defaultdict(_two_counts)
        self.fitted: list[tuple[str, str]] = []
        self.media: list[tuple[str, ItemMedia]] = []
        self.items = ItemLines()

    def add(self, r: ItemResult) -> None:
        self.total += 1
        self.ok += r.ok
        self.items.append(item_line(r))
        if r.failure:
            self.failures[r.id] = r.failure.message
            self.kinds[r.failure.kind] += 1
        if r.route is not None:
            self.routing[r.route.model] += 1
        if r.media is not None:
            self.media.append((r.id, r.media))
            if (line := fit_line(r)) is not None:
                self.fitted.append((r.id, line))
        if r.reused:
            self.reused += 1
            return
        self.generate_calls += len(r.attempts) + int(r.calibration is not None)
        for a in r.attempts:
            self.cache_hit_calls += bool(a.usage.cached_tokens)
            if a.served_model and a.served_model != a.model:
                self.served[(a.model, a.served_model, a.priced_as)] += 1
        for a in _calls(r):
            if a.priced_as:
                group = self.provisional[(a.model, a.billed_model, a.priced_as)]
                group[0] += 1
                group[1] += Decimal(str(a.cost_usd))
        if r.attempts:
            self.escalation[r.task.value][0] += 1
            self.escalation[r.task.value][1] += int(r.escalated)
            first = self.first[(r.task.value, r.attempts[0].thinking.label())]
            first[0] += 1
            first[1] += int(r.attempts[0].ok)

    def failure_kinds(self) -> dict[FailureKind, int]:
        """Failed items by kind, most frequent first."""
        return dict(self.kinds.most_common())

    def served_by(self) -> list[ServedBy]:
        return [ServedBy(requested=req, served=srv, calls=n, priced_as=row)
                for (req, srv, row), n in sorted(self.served.items(),
                                                 key=lambda kv: str(kv[0]))]

    def provisional_prices(self) -> list[ProvisionalPrice]:
        """Calls priced by a stand-in row, by requested, served and stand-in model."""
        return [ProvisionalPrice(served=srv, requested=req, priced_as=row, calls=n,
                                 cost_usd=usd(total))
                for (req, srv, row), (n, total) in sorted(self.provisional.items())]

    def escalations(self) -> list[TaskEscalation]:
        return [TaskEscalation(task=t, items=n, escalated=e)
                for t, (n, e) in sorted(self.escalation.items())]

    def first_pass(self) -> list[FirstPass]:
        return [FirstPass(task=t, setting=s, items=n, passed_first=ok)
                for (t, s), (n, ok) in sorted(self.first.items())]

    def fit_lines(self) -> list[str]:
        """One line per fitted item, by id."""
        return [line for _, line in sorted(self.fitted, key=lambda f: f[0])]


def item_line(r: ItemResult) -> ItemLine:
    return ItemLine(id=r.id, task=r.task, models=r.models,
                    served_models=[a.billed_model for a in r.attempts],
                    service_tier=r.attempts[-1].service_tier_served if r.attempts else None,
                    cost_usd=0.0 if r.reused else round(r.cost_usd, 9),
                    escalated=r.escalated, reused=r.reused, error=r.error,
                    failure_kind=r.failure.kind if r.failure else None,
                    cost_provisional=not r.reused and any(a.priced_as for a in _calls(r)))


def first_pass_by_setting(results: Iterable[ItemResult]) -> list[FirstPass]:
    """Per task and first thinking setting: how many passed validation first time."""
    tally = ReportTally()
    for r in results:
        tally.add(r)
    return tally.first_pass()


def _calls_and_usd() -> list:
    return [0, Decimal(0)]  # a function, not a lambda: a tally is pickled to Dask workers


def _two_counts() -> list[int]:
    return [0, 0]


def _calls(r: ItemResult) -> list[Attempt]:
    """Every paid call of an item: its attempts and its calibration call."""
    return [*r.attempts, *([r.calibration] if r.calibration else [])]
