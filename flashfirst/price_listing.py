"""What ``flashfirst prices`` shows: the rows in force on a day, the next changes, and the
rows whose source was read long ago (re-read them: Google changes prices with notice)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from flashfirst.prices import ModelPrices, PriceTable


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


class PriceListing(BaseModel):
    day: date
    table_version: str
    in_force: list[PriceLine]
    next_changes: list[PriceLine]
    stale_days: int
    stale: list[PriceLine]

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
        return "\n".join(lines)


def price_listing(table: PriceTable, day: date, stale_days: int) -> PriceListing:
    return PriceListing(
        day=day, table_version=table.version,
        in_force=[PriceLine.of(m, r) for m, r in sorted(table.in_force_on(day).items())],
        next_changes=[PriceLine.of(m, r) for m, r in table.next_changes(day)],
        stale_days=stale_days,
        stale=[PriceLine.of(m, r) for m, r in table.stale(day, stale_days)])
