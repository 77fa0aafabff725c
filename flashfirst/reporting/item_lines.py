"""The report's per-item lines, held as zlib-compressed blocks of JSON lines rather than
as objects: a line object is ~1.5 KB, a compressed line a few dozen bytes, so a report of
a million items fits a worker and still reads as a list (``RunReport.items``). Bytes, not
a file: the report crosses task and process boundaries (Dask) and outlives the run."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from pydantic import BaseModel, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic_core import core_schema

from flashfirst.failures import FailureKind
from flashfirst.items import ServiceTier, TaskKind

_BLOCK = 1024  # lines per compressed block: compresses well, cheap to read one back


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


class ItemLines(Sequence[ItemLine]):
    """Appended to as results come; read back in the order they came."""

    def __init__(self, lines: Iterable[ItemLine] = ()) -> None:
        self._blocks: list[bytes] = []
        self._tail: list[bytes] = []
        self._cached: tuple[int, list[bytes]] | None = None
        for line in lines:
            self.append(line)

    def append(self, line: ItemLine) -> None:
        self._tail.append(line.model_dump_json().encode())
        if len(self._tail) == _BLOCK:
            self._blocks.append(zlib.compress(b"\n".join(self._tail)))
            self._tail = []

    def json_lines(self) -> Iterator[bytes]:
        """Each line's JSON, in order, one block decompressed at a time."""
        for n in range(len(self._blocks)):
            yield from self._block(n)
        yield from self._tail

    def _block(self, n: int) -> list[bytes]:
        if self._cached is None or self._cached[0] != n:
            self._cached = (n, zlib.decompress(self._blocks[n]).split(b"\n"))
        return self._cached[1]

    def __iter__(self) -> Iterator[ItemLine]:
        return (ItemLine.model_validate_json(j) for j in self.json_lines())

    def __len__(self) -> int:
        return len(self._blocks) * _BLOCK + len(self._tail)

    @overload
    def __getitem__(self, i: int) -> ItemLine: ...
    @overload
    def __getitem__(self, i: slice) -> list[ItemLine]: ...
    def __getitem__(self, i: int | slice) -> ItemLine | list[ItemLine]:
        if isinstance(i, slice):
            return [self[n] for n in range(*i.indices(len(self)))]
        n = i + len(self) if i < 0 else i
        if not 0 <= n < len(self):
            raise IndexError(i)
        block, at = divmod(n, _BLOCK)
        raw = self._tail[at] if block == len(self._blocks) else self._block(block)[at]
        return ItemLine.model_validate_json(raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                         strict=True))

    __hash__ = None  # type: ignore[assignment] - mutable, like a list

    def __repr__(self) -> str:
        return f"ItemLines({len(self)} lines)"

    def __getstate__(self) -> dict[str, Any]:
        return {"_blocks": self._blocks, "_tail": self._tail, "_cached": None}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _as_item_lines, serialization=core_schema.plain_serializer_function_ser_schema(
                lambda lines: [line.model_dump(mode="json") for line in lines],
                when_used="always"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return handler(core_schema.list_schema(ItemLine.__pydantic_core_schema__))


_LIST = TypeAdapter(list[ItemLine])


def _as_item_lines(value: Any) -> ItemLines:
    """An ``ItemLines`` as it is; a list (report.json read back, a report built by hand)
    validated as item lines."""
    if isinstance(value, ItemLines):
        return value
    if isinstance(value, (str, bytes)):
        raise ValueError("item lines are a list, not a string")
    return ItemLines(_LIST.validate_python(list(value)))
