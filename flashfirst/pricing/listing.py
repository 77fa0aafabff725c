"""What ``flashfirst prices`` shows: the rows in force on a day, the next changes, the
rows whose source was read long ago (re-read them: Google changes prices with notice), and
the models that served earlier runs but have no row (their costs were provisional)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from pydantic import BaseModel, Field

from flashfirst.pricing.prices import ModelPrices, PriceTable
from flashfirst.pricing.unpriced_seen import RunUnpriced, UnpricedRecords


class PriceLine(BaseModel):
    model: str
    input: float
    output: float
    cached_input: float
    cache_storage_per_hour: float | None
    effective_from: date | None
    effective_until: date | None
    read_on: str
    source: str

    @classmethod
    def of(cls, model: str, row: ModelPrices) -> PriceLine:
        return cls(model=model, input=float(row.input), output=float(row.output),
                   cached_input=float(row.cached_input),
                   cache_storage_per_hour=None if row.cache_storage_per_hour is None
                   else float(row.cache_storage_per_hour),
                   effective_from=row.effective_from, effective_until=row.effective_until,
                   read_on=row.read_on, source=row.source)

    def text(self) -> str:
        storage = "—" if self.cache_storage_per_hour is None else f"{self.cache_storage_per_hour:g}"
        span = f"{self.effective_from or '…'} – {self.effective_until or '…'}"
        return (f"{self.model:<24} in {self.input:<6g} out {self.output:<6g} cached "
                f"{self.cached_input:<7g} storage/h {storage:<5} {span} (read {self.read_on})")


class UnpricedLine(BaseModel):
    """A model that served earlier runs on one backend with no row in this table."""

    model: str
    backend: str
    requested: list[str]
    priced_as: list[str]
    runs: int
    calls: int
    last_seen: datetime
    last_report: str | None

    def text(self) -> str:
        return (f"{self.model} served {', '.join(self.requested)} ({self.backend}): "
                f"{self.calls} calls in {self.runs} runs, last on {self.last_seen:%Y-%m-%d}, "
                f"priced provisionally as {', '.join(self.priced_as)}; last report "
                f"{self.last_report or 'not kept'}")


class PriceListing(BaseModel):
    day: date
    table_version: str
    in_force: list[PriceLine]
    next_changes: list[PriceLine]
    stale_days: int
    stale: list[PriceLine]
    unpriced_seen: list[UnpricedLine] = Field(
        default_factory=list, description="Models that served earlier runs (records under "
        "the storage root) and that this table still lacks.")
    unreadable_records: list[str] = Field(default_factory=list)

    def text(self) -> str:
        lines = [f"Prices in force on {self.day} (table {self.table_version}; USD per 1M "
                 "tokens, storage per 1M tokens per hour):"]
        lines += [f"  {p.text()}" for p in self.in_force]
        if self.next_changes:
            first = self.next_changes[0].effective_from
            lines.append(f"Next change on {first}:")
            lines += [f"  {p.text()}" for p in self.next_changes if p.effective_from == first]
        else:
            lines.append("No change announced.")
        if self.stale:
            lines.append(f"Read more than {self.stale_days} days ago (re-check the source):")
            lines += [f"  {p.model}: read {p.read_on}, {p.source}" for p in self.stale]
        if self.unpriced_seen:
            lines.append("Served earlier runs but missing from this table (their costs are "
                         "provisional; add rows in a table of your own, "
                         "FLASHFIRST_PRICE_TABLE_PATH):")
            lines += [f"  {u.text()}" for u in self.unpriced_seen]
        lines += [f"Unreadable record of unpriced models: {uri}"
                  for uri in self.unreadable_records]
        return "\n".join(lines)


def price_listing(table: PriceTable, day: date, stale_days: int,
                  seen: UnpricedRecords | None = None) -> PriceListing:
    seen = seen or UnpricedRecords(runs=[])
    return PriceListing(
        day=day, table_version=table.version,
        in_force=[PriceLine.of(m, r) for m, r in sorted(table.in_force_on(day).items())],
        next_changes=[PriceLine.of(m, r) for m, r in table.next_changes(day)],
        stale_days=stale_days,
        stale=[PriceLine.of(m, r) for m, r in table.stale(day, stale_days)],
        unpriced_seen=unpriced_lines(seen.runs, table), unreadable_records=seen.unreadable)


def unpriced_lines(runs: list[RunUnpriced], table: PriceTable) -> list[UnpricedLine]:
    """Per model and backend, the runs' records of models ``table`` still has no row for
    (``runs`` oldest first: the last one's report is the one to read)."""
    by_model: dict[tuple[str, str], list[RunUnpriced]] = defaultdict(list)
    for run in runs:
        for served in {p.served for p in run.models if not table.knows(p.served)}:
            by_model[(served, run.backend)].append(run)
    lines = []
    for (served, backend), seen in sorted(by_model.items()):
        prices = [p for run in seen for p in run.models if p.served == served]
        lines.append(UnpricedLine(
            model=served, backend=backend, requested=sorted({p.requested for p in prices}),
            priced_as=sorted({p.priced_as for p in prices}), runs=len(seen),
            calls=sum(p.calls for p in prices), last_seen=seen[-1].finished_at,
            last_report=seen[-1].report_uri))
    return lines
