"""A sequence of pydantic models held as zlib-compressed blocks of JSON lines, so that what
a run holds per item (its work item, its job, its report line) is a few dozen bytes rather
than a ~1.5-2 KB object: a run of a million items fits a worker. It still reads as a
sequence, pickles (task and process boundaries) and validates from a list; ``blocks()``
hands out one block's objects at a time, for work that goes over every item."""

from __future__ import annotations

import typing
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, GetCoreSchemaHandler, TypeAdapter
from pydantic_core import core_schema

M = TypeVar("M", bound=BaseModel)

BLOCK = 1024  # lines per compressed block: compresses well, cheap to read one back


class Packed(Sequence[M], Generic[M]):
    """Appended to as items come; read back in the order they came. ``Packed(Model)``;
    as a field, ``Packed[Model]``."""

    model: type[M]  # a subclass for one model may set it instead of passing it

    def __init__(self, model: type[M] | None = None, items: Iterable[M] = ()) -> None:
        if model is not None:
            self.model = model
        self._blocks: list[bytes] = []
        self._tail: list[bytes] = []
        self._cached: tuple[int, list[bytes]] | None = None
        self.extend(items)

    def append(self, item: M) -> None:
        self._tail.append(item.model_dump_json().encode())
        if len(self._tail) == BLOCK:
            self._blocks.append(zlib.compress(b"\n".join(self._tail)))
            self._tail = []

    def extend(self, items: Iterable[M]) -> None:
        for item in items:
            self.append(item)

    def clear(self) -> None:
        self._blocks, self._tail, self._cached = [], [], None

    def json_lines(self) -> Iterator[bytes]:
        """Each item's JSON, in order, one block decompressed at a time."""
        for n in range(len(self._blocks)):
            yield from self._block(n)
        yield from self._tail

    def blocks(self) -> Iterator[list[M]]:
        """The items a block at a time: only one block's objects exist at once."""
        for n in range(len(self._blocks)):
            yield [self.model.model_validate_json(j) for j in self._block(n)]
        if self._tail:
            yield [self.model.model_validate_json(j) for j in self._tail]

    def _block(self, n: int) -> list[bytes]:
        if self._cached is None or self._cached[0] != n:
            self._cached = (n, zlib.decompress(self._blocks[n]).split(b"\n"))
        return self._cached[1]

    def __iter__(self) -> Iterator[M]:
        return (self.model.model_validate_json(j) for j in self.json_lines())

    def __len__(self) -> int:
        return len(self._blocks) * BLOCK + len(self._tail)

    @overload
    def __getitem__(self, i: int) -> M: ...
    @overload
    def __getitem__(self, i: slice) -> list[M]: ...
    def __getitem__(self, i: int | slice) -> M | list[M]:
        if isinstance(i, slice):
            return [self[n] for n in range(*i.indices(len(self)))]
        block, at = self._where(i)
        raw = self._tail[at] if block == len(self._blocks) else self._block(block)[at]
        return self.model.model_validate_json(raw)

    def replace(self, changed: dict[int, M]) -> None:
        """Put new items at some positions, each block rewritten once."""
        by_block: dict[int, list[tuple[int, M]]] = {}
        for i, item in changed.items():
            block, at = self._where(i)
            by_block.setdefault(block, []).append((at, item))
        for block, items in by_block.items():
            lines = self._tail if block == len(self._blocks) else list(self._block(block))
            for at, item in items:
                lines[at] = item.model_dump_json().encode()
            if block < len(self._blocks):
                self._blocks[block] = zlib.compress(b"\n".join(lines))
                self._cached = None

    def _where(self, i: int) -> tuple[int, int]:
        n = i + len(self) if i < 0 else i
        if not 0 <= n < len(self):
            raise IndexError(i)
        return divmod(n, BLOCK)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                         strict=True))

    __hash__ = None  # type: ignore[assignment] - mutable, like a list

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} {self.model.__name__})"

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "_blocks": self._blocks, "_tail": self._tail,
                "_cached": None}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        model = _model_of(cls, source)
        as_list = TypeAdapter(list[model])

        def validate(value: Any) -> Packed:
            if isinstance(value, Packed) and value.model is model:
                return value
            if isinstance(value, (str, bytes)):
                raise ValueError(f"{model.__name__} items are a list, not a string")
            packed = cls() if getattr(cls, "model", None) is model else cls(model)
            packed.extend(as_list.validate_python(list(value)))
            return packed

        items = core_schema.list_schema(handler.generate_schema(model))
        return core_schema.no_info_plain_validator_function(
            validate, json_schema_input_schema=items,
            serialization=core_schema.plain_serializer_function_ser_schema(
                list,
                return_schema=items, when_used="always"))


def _model_of(cls: type, source: Any) -> type[BaseModel]:
    """The model a ``Packed[Model]`` annotation or a one-model subclass holds."""
    args = typing.get_args(source)
    if args and isinstance(args[0], type):
        return args[0]
    model = getattr(cls, "model", None)
    if model is None:
        raise TypeError(f"{cls.__name__} needs its model: Packed[Model]")
    return model
