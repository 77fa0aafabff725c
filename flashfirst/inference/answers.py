"""Answers already paid for, kept by what determines them, so no one pays twice."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from flashfirst.errors import StorageError
from flashfirst.items import ItemResult
from flashfirst.prompts import prompt_for
from flashfirst.storage import Storage, join

if TYPE_CHECKING:
    from flashfirst.inference.engine import InferenceJob


def answer_key(*, identity: str, model: str, prompt: str, schema: dict | None,
               check: str | None, context_hash: str | None) -> str:
    """Everything that changes the answer, nothing that doesn't (tier, run id)."""
    blob = json.dumps(
        {"identity": identity, "model": model, "prompt": prompt, "schema": schema,
         "check": check, "context": context_hash},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def job_key(job: InferenceJob, context_hash: str | None) -> str:
    item = job.item
    return answer_key(identity=job.identity, model=job.route.model, prompt=prompt_for(item),
                      schema=item.response_schema, check=item.check, context_hash=context_hash)


class AnswerStore:
    """Per backend (``client.backend_id``): an emulator's answer is never found by a run
    against Google, nor one project's by another's."""

    def __init__(self, storage: Storage, root: str, backend: str) -> None:
        self._storage = storage
        self._root = join(root, "answers", backend)

    def _uri(self, key: str) -> str:
        return join(self._root, key[:2], f"{key}.json")

    def has(self, key: str) -> bool:
        return self._storage.exists(self._uri(key))

    def get(self, key: str) -> ItemResult | None:
        try:
            if not self._storage.exists(self._uri(key)):
                return None
            return ItemResult.model_validate_json(self._storage.read_bytes(self._uri(key)))
        except (StorageError, ValueError):
            return None  # unreadable entry: call again rather than fail the item

    def put(self, key: str, result: ItemResult) -> None:
        self._storage.write_text(self._uri(key), result.model_dump_json(),
                                 content_type="application/json")
