"""Models that served earlier runs but were missing from the price table, kept in storage
so ``flashfirst prices`` can name them until the table has their rows.

One small file per run that saw any (``<storage_root>/prices/unpriced/<run_id>.json``):
runs never write the same object, so concurrent runs need no lock."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from flashfirst.errors import StorageError
from flashfirst.reporting.report import ProvisionalPrice, RunReport
from flashfirst.storage import Storage, join


class RunUnpriced(BaseModel):
    """What one run saw: the models the table lacked and how their calls were priced."""

    run_id: str
    backend: str
    finished_at: datetime
    price_table_version: str
    report_uri: str | None
    models: list[ProvisionalPrice]


def unpriced_folder(root: str) -> str:
    return join(root, "prices", "unpriced")


def record_unpriced(storage: Storage, root: str, report: RunReport) -> None:
    """Remember this run's provisionally priced models (nothing when there are none)."""
    if not report.provisional_prices:
        return
    seen = RunUnpriced(run_id=report.run_id, backend=report.backend,
                       finished_at=report.finished_at,
                       price_table_version=report.price_table_version,
                       report_uri=report.output_uri, models=report.provisional_prices)
    storage.write_text(join(unpriced_folder(root), f"{report.run_id}.json"),
                       seen.model_dump_json(), content_type="application/json")


class UnpricedRecords(BaseModel):
    runs: list[RunUnpriced]
    unreadable: list[str] = Field(default_factory=list, description="Records that would "
                                  "not load (damaged, or another version's), by URI.")


def load_unpriced(storage: Storage, root: str) -> UnpricedRecords:
    """Every run's record, oldest first; a damaged record is named, not fatal."""
    records = UnpricedRecords(runs=[])
    for info in storage.list_objects(unpriced_folder(root), missing_ok=True):
        try:
            records.runs.append(RunUnpriced.model_validate_json(storage.read_bytes(info.uri)))
        except (StorageError, ValidationError):
            records.unreadable.append(info.uri)
    records.runs.sort(key=lambda r: r.finished_at)
    return records
