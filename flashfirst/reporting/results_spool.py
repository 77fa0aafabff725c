"""A run's results as they come, one JSON line each in a local file rather than in
memory: results.jsonl is written from it at the end, by id as before, and a run of a
million items keeps only their ids and offsets."""

from __future__ import annotations

import atexit
import os
import tempfile
from collections.abc import Iterable, Iterator

from flashfirst.items import ItemResult


class ResultSpool:
    """Appended to as chunks finish; picklable (a path and an index), so the task that
    writes results.jsonl may run in another process on the same machine."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="flashfirst-results-", suffix=".jsonl")
        os.close(fd)
        # A flow that dies before writing results.jsonl leaves no spool behind (the
        # answers it paid for are in the run's answer log, not here).
        atexit.register(self.discard)
        self.index: list[tuple[str, int, int]] = []  # (id, offset, length)
        self._end = 0

    def write(self, results: Iterable[ItemResult]) -> None:
        with open(self.path, "ab") as out:
            for r in results:
                line = r.model_dump_json().encode() + b"\n"
                out.write(line)
                self.index.append((r.id, self._end, len(line)))
                self._end += len(line)

    def lines_by_id(self) -> Iterator[bytes]:
        """Every line, sorted by item id (as results.jsonl has always been)."""
        with open(self.path, "rb") as spool:
            for _, offset, length in sorted(self.index, key=lambda e: e[0]):
                spool.seek(offset)
                yield spool.read(length)

    def discard(self) -> None:
        """The spool's file is gone once results.jsonl is written."""
        if os.path.exists(self.path):
            os.remove(self.path)
        atexit.unregister(self.discard)
