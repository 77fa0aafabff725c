"""Runs that submitted their batches and ended without waiting: what a collector needs to
finish them (the run's parameters and its jobs), kept in storage by the run's content.

Finishing one is running the same work again: the batch ledger makes that re-attach to
the submitted jobs, so nothing is created or paid for twice. The API key is never here:
the collector uses its own worker's settings."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from flashfirst.params import AnalyzeParams
from flashfirst.storage import Storage, join


class ParkedRun(BaseModel):
    key: str
    run_id: str = Field(description="The run that submitted the jobs.")
    backend: str
    params: AnalyzeParams
    jobs: list[str] = Field(description="Batch jobs the run is waiting for.")
    parked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def parked_key(params: AnalyzeParams, backend: str) -> str:
    blob = backend + "\n" + params.model_dump_json(exclude={"collect_later"})
    return hashlib.sha256(blob.encode()).hexdigest()


class ParkedRuns:
    def __init__(self, storage: Storage, root: str) -> None:
        self._storage = storage
        self._root = join(root, "parked-runs")

    def _uri(self, key: str) -> str:
        return join(self._root, f"{key}.json")

    def put(self, run: ParkedRun) -> None:
        self._storage.write_text(self._uri(run.key), run.model_dump_json(),
                                 content_type="application/json")

    def forget(self, key: str) -> None:
        self._storage.delete(self._uri(key))

    def all(self, backend: str) -> list[ParkedRun]:
        """This backend's parked runs, oldest first."""
        runs = [ParkedRun.model_validate_json(self._storage.read_bytes(uri))
                for uri in self._storage.list(self._root) if uri.endswith(".json")]
        return sorted((r for r in runs if r.backend == backend), key=lambda r: r.parked_at)
