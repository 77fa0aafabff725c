"""Remembering which object versions were already announced, so each starts one run.

:class:`StoredObject` is one version of one object, as every announcer (bridge, puller,
polling flow) names it.

:class:`SeenObjects` serves the bridge and the puller: a bounded in-memory memory (cheap,
catches Pub/Sub's redeliveries) plus, optionally, one durable marker per object version
created with "only if absent" (``ifGenerationMatch=0`` on GCS), so a restarted bridge, or
two bridges, never announce the same version twice.

:class:`SeenManifest` serves the polling flow: one JSON marker object listing the versions
seen under a prefix, updated by compare-and-swap on its generation so two overlapping polls
cannot both claim an object.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable

from pydantic import BaseModel, Field

from flashfirst.errors import StorageError
from flashfirst.run.context import environment_storage
from flashfirst.storage import ObjectInfo, PreconditionFailed, Storage, is_gcs, join, split_gcs

STATE_DIR = ".flashfirst"
"""Folder name for our own state; objects under it are never announced (no feedback loop)."""


class StoredObject(BaseModel, frozen=True):
    """One version of one object: a new generation is a new object to process."""

    bucket: str = Field(description="GCS bucket; empty for a local file.")
    name: str = Field(description="Object name in the bucket, or the local file's path.")
    generation: int = Field(ge=0)
    size: int | None = Field(None, ge=0)
    content_type: str | None = None

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}" if self.bucket else self.name

    @property
    def key(self) -> str:
        """Unique per object version: what de-duplication remembers."""
        return f"{self.uri}#{self.generation}"

    @classmethod
    def from_info(cls, info: ObjectInfo) -> StoredObject:
        bucket, name = split_gcs(info.uri) if is_gcs(info.uri) else ("", info.uri)
        return cls(bucket=bucket, name=name, generation=info.generation, size=info.size,
                   content_type=info.content_type)


def is_own_state(name: str) -> bool:
    return STATE_DIR in name.split("/")


class SeenObjects:
    """Claims object versions (and message ids) once; thread-safe."""

    def __init__(self, memory_size: int = 10_000, marker_root: str | None = None,
                 storage: Storage | None = None) -> None:
        self._memory: OrderedDict[str, None] = OrderedDict()
        self._memory_size = memory_size
        self._lock = threading.Lock()
        self.marker_root = marker_root.rstrip("/") if marker_root else None
        self._storage = storage or environment_storage()

    def claim(self, obj: StoredObject, message_id: str | None = None) -> bool:
        """True the first time this object version (or message) is seen, False after."""
        keys = [obj.key] + ([f"message:{message_id}"] if message_id else [])
        with self._lock:
            if any(k in self._memory for k in keys):
                return False
            for k in keys:
                self._remember(k)
        if self.marker_root is None:
            return True
        try:
            return self._storage.write_if_absent(self.marker_uri(obj), obj.key.encode())
        except Exception:
            self._forget(keys)
            raise

    def release(self, obj: StoredObject, message_id: str | None = None) -> None:
        """Undo a claim whose announcement failed, so a redelivery may try again."""
        self._forget([obj.key] + ([f"message:{message_id}"] if message_id else []))
        if self.marker_root is not None:
            self._storage.delete(self.marker_uri(obj))

    def marker_uri(self, obj: StoredObject) -> str:
        # Hashed: object names may hold "..", "#" or characters a local path cannot.
        digest = hashlib.sha256(obj.key.encode()).hexdigest()
        return join(self.marker_root or "", digest[:2], digest)

    def _remember(self, key: str) -> None:
        self._memory[key] = None
        while len(self._memory) > self._memory_size:
            self._memory.popitem(last=False)

    def _forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for k in keys:
                self._memory.pop(k, None)


class SeenManifest:
    """The set of object versions under a prefix already announced, in one marker object."""

    def __init__(self, marker_uri: str, storage: Storage | None = None) -> None:
        self.marker_uri = marker_uri
        self._storage = storage or environment_storage()

    def claim_new(self, current: list[StoredObject], attempts: int = 5,
                  skip_existing: bool = False) -> list[StoredObject]:
        """Record ``current`` as seen and return the versions no earlier poll had seen.

        Versions no longer listed are dropped from the record, so it stays as small as the
        listing. With ``skip_existing``, a first poll (no marker yet) claims nothing: the
        objects already there are taken as seen.
        """
        for _ in range(attempts):
            if (state := self._read()) is None:
                continue  # the marker changed between reading its generation and its bytes
            seen, generation = state
            new = [o for o in current if o.key not in seen]
            if generation == 0 and skip_existing:
                new = []
            if not new and generation != 0:
                return []
            try:
                self._write({o.key for o in current}, generation)
            except PreconditionFailed:
                continue  # an overlapping poll wrote first: re-read what it claimed
            return new
        raise PreconditionFailed(f"{self.marker_uri}: kept changing under {attempts} attempts")

    def release(self, objects: list[StoredObject], attempts: int = 5) -> None:
        """Forget versions whose announcement failed, so the next poll tries them again."""
        keys = {o.key for o in objects}
        for _ in range(attempts):
            if (state := self._read()) is None:
                continue
            seen, generation = state
            try:
                self._write(seen - keys, generation)
                return
            except PreconditionFailed:
                continue
        raise PreconditionFailed(f"{self.marker_uri}: kept changing under {attempts} attempts")

    def _read(self) -> tuple[set[str], int] | None:
        """The seen keys and the marker's generation (0: no marker yet); None if the
        marker changed while being read."""
        if not self._storage.exists(self.marker_uri):
            return set(), 0
        try:
            generation = self._storage.stat(self.marker_uri).generation
            record = json.loads(self._storage.read_bytes(self.marker_uri, generation))
        except StorageError:
            return None
        return set(record.get("seen", [])), generation

    def _write(self, seen: set[str], generation: int) -> None:
        body = json.dumps({"seen": sorted(seen)}, indent=0)
        self._storage.write_text(self.marker_uri, body, "application/json",
                                 if_generation_match=generation)
