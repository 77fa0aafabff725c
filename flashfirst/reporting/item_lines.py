"""The report's per-item lines, held packed (``flashfirst/packed.py``) rather than as
objects: a line object is ~1.5 KB, a packed line a few dozen bytes, so a report of a
million items fits a worker and still reads as a list (``RunReport.items``). Bytes, not a
file: the report crosses task and process boundaries (Dask) and outlives the run."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from flashfirst.failures import FailureKind
from flashfirst.items import ServiceTier, TaskKind
from flashfirst.packed import Packed


class ItemLine(BaseModel):
    id: str
    task: TaskKind
    models: list[str]
    served_models: list[str] = Field(
        default_factory=list, description="The model that answered each attempt.")
    service_tier: ServiceTier | None
    cost_usd: float
    escalated: bool
    reused: bool
    error: str | None
    failure_kind: FailureKind | None = None
    cost_provisional: bool = Field(False, description="A call of this item was priced by a "
                                   "stand-in row: the table lacks the model that served.")


class ItemLines(Packed[ItemLine]):
    """Appended to as results come; read back in the order they came."""

    model = ItemLine

    def __init__(self, lines: Iterable[ItemLine] = ()) -> None:
        super().__init__(items=lines)
