"""Batch jobs already submitted, kept in storage by what they answer and where.

The Batch API's create is not idempotent ("submit jobs once",
https://ai.google.dev/gemini-api/docs/batch-api): a job's name is written here the moment
``create`` returns, so a retried task, a retried flow run or a re-run of the same work
re-attaches to the job instead of paying for it again."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field

from flashfirst.errors import StorageError
from flashfirst.storage import Storage, join


class SubmittedJob(BaseModel):
    name: str = Field(description="The API's job name, e.g. batches/123.")
    part: int = Field(description="Which part of the split requests this job answers.")
    input_file: str | None = Field(None, description="files/… the JSONL went up as, if any.")


class BatchRecord(BaseModel):
    """One model's requests of one run, and the jobs that answer them."""

    run_key: str
    backend: str
    model: str
    request_keys: list[str] = Field(description="Answer keys, one per distinct request.")
    parts: int = Field(1, description="Jobs the requests were split into.")
    jobs: list[SubmittedJob] = Field(default_factory=list)
    settled: bool = Field(
        False, description="Answers collected and stored, or the job ended without any: a "
        "later run with the same requests submits afresh.")
    earlier_jobs: list[str] = Field(
        default_factory=list, description="Jobs of settled rounds of the same requests.")

    def job_for(self, part: int) -> SubmittedJob | None:
        return next((j for j in self.jobs if j.part == part), None)


def run_key(backend: str, model: str, request_keys: list[str]) -> str:
    """The content of one model's batch: the same requests on the same backend, the same
    key, whichever run, task try or item ids they come from."""
    blob = json.dumps({"backend": backend, "model": model, "requests": sorted(request_keys)},
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class BatchLedger:
    def __init__(self, storage: Storage, root: str) -> None:
        self._storage = storage
        self._root = join(root, "batches")

    def _uri(self, key: str) -> str:
        return join(self._root, f"{key}.json")

    def get(self, key: str) -> BatchRecord | None:
        try:
            if not self._storage.exists(self._uri(key)):
                return None
            return BatchRecord.model_validate_json(self._storage.read_bytes(self._uri(key)))
        except ValueError as exc:
            # A record we cannot read might name a live job: refuse rather than pay twice.
            raise StorageError(f"{self._uri(key)}: unreadable batch record ({exc}); "
                               "delete it to submit again") from exc

    def put(self, record: BatchRecord) -> None:
        self._storage.write_text(self._uri(record.run_key), record.model_dump_json(),
                                 content_type="application/json")

    def pending(self) -> list[BatchRecord]:
        """Every record not settled yet (for a collector that finishes them later)."""
        out = []
        for uri in self._storage.list(self._root):
            if uri.endswith(".json"):
                record = BatchRecord.model_validate_json(self._storage.read_bytes(uri))
                if not record.settled:
                    out.append(record)
        return out
