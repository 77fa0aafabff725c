"""A run's results as they come, one JSON line each in a local file rather than in
memory: results.jsonl is written from it at the end, by id as before, and a run of a
million items keeps only their ids and, in arrays, their lines' places (8 bytes an item,
not a tuple of three objects)."""

from __future__ import annotations

import atexit
import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator

from flashfirst.items import ItemResult


class ResultSpool:
    """Appended to as chunks finish; picklable (a path, the ids and their places), so the
    task that writes results.jsonl may run in another process on the same machine."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="flashfirst-results-", suffix=".jsonl")
        os.close(fd)
        # A flow that dies before writing results.jsonl leaves no spool behind (the
        # answers it paid for are in the run's answer log, not here).
        atexit.register(self.discard)
        self.ids: list[str] = []
        self._ends = array("q")  # where each line ends: line i is [ends[i-1], ends[i])

    def write(self, results: Iterable[ItemResult]) -> None:
        with open(self.path, "ab") as out:
            for r in results:
                line = r.model_dump_json().encode() + b"\n"
                out.write(line)
                self.ids.append(r.id)
                self._ends.append((self._ends[-1] if self._ends else 0) + len(line))

    def lines_by_id(self) -> Iterator[bytes]:
        """Every line, sorted by item id (as results.jsonl has always been)."""
        with open(self.path, "rb") as spool:
            ends = self._ends
            for i in sorted(range(len(self.ids)), key=self.ids.__getitem__):
                start = ends[i - 1] if i else 0
                spool.seek(start)
                yield spool.read(ends[i] - start)

    def discard(self) -> None:
        """The spool's file is gone once results.jsonl is written."""
        if os.path.exists(self.path):
            os.remove(self.path)
        atexit.unregister(self.discard)
