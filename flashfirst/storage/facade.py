"""``Storage``: reads and writes by URI, handing each to the store its scheme names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING

from flashfirst.storage.gcs import GcsStore
from flashfirst.storage.local import LocalStore, atomic_file, local_guard
from flashfirst.storage.protocol import ObjectInfo, ObjectStore, PreconditionFailed
from flashfirst.storage.uris import is_gcs

if TYPE_CHECKING:
    from flashfirst.settings import Settings


class Storage:
    """Local paths and ``gs://bucket/prefix`` behind one interface. One instance per run:
    it holds the GCS client, made on the first gs:// call."""

    def __init__(self, project: str | None = None, retry_s: float = 120.0) -> None:
        self._project, self._retry_s = project, retry_s
        self._local = LocalStore()

    @classmethod
    def for_settings(cls, settings: Settings) -> Storage:
        return cls(retry_s=settings.storage_retry_s)

    @cached_property
    def _gcs(self) -> GcsStore:
        return GcsStore(self._project, self._retry_s)

    def _store(self, uri: str) -> ObjectStore:
        return self._gcs if is_gcs(uri) else self._local

    # -- reading -------------------------------------------------------------------------

    def exists(self, uri: str, generation: int | None = None) -> bool:
        """Is the object (that very version, when a generation is given) there?"""
        return self._store(uri).exists(uri, generation)

    def stat(self, uri: str) -> ObjectInfo:
        """Size and current generation of one object (StorageError if missing)."""
        return self._store(uri).stat(uri)

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes:
        """The whole object in memory: for small objects; stream large ones (`open_read`)."""
        return self._store(uri).read_bytes(uri, generation)

    def read_text(self, uri: str, generation: int | None = None) -> str:
        return self.read_bytes(uri, generation).decode("utf-8")

    @contextmanager
    def open_read(self, uri: str, generation: int | None = None) -> Iterator[IO[bytes]]:
        """A file-like reader fetching the object in chunks, pinned to one generation so a
        concurrent overwrite never mixes two versions' bytes."""
        with self._store(uri).open_read(uri, generation) as reader:
            yield reader

    def download_file(self, uri: str, dest: Path, generation: int | None = None) -> Path:
        """Stream the object to ``dest`` (atomically: a partial download never shows)."""
        with atomic_file(str(dest)) as tmp:
            self._store(uri).download_to(uri, tmp, generation)
        return dest

    @contextmanager
    def local_copy(self, uri: str, generation: int | None = None) -> Iterator[Path]:
        """A local path holding the object's bytes (streamed down for gs://)."""
        with self._store(uri).local_copy(uri, generation) as path:
            yield path

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of the objects/files under a prefix or folder, sorted."""
        return [info.uri for info in self.list_objects(prefix_uri)]

    def list_objects(self, prefix_uri: str, missing_ok: bool = False) -> list[ObjectInfo]:
        """The objects/files under a prefix (treated as a folder) with their generations.
        A local folder that does not exist is an error unless ``missing_ok`` (then it lists
        as empty, as a GCS prefix without objects always does)."""
        if missing_ok and not is_gcs(prefix_uri) and not Path(prefix_uri).exists():
            return []
        return self._store(prefix_uri).list_objects(prefix_uri)

    # -- writing -------------------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None,
                    if_generation_match: int | None = None) -> int:
        """Write atomically; returns the new generation. ``if_generation_match`` makes it a
        compare-and-swap (0: only if absent), raising :class:`PreconditionFailed` otherwise."""
        return self._store(uri).write_bytes(uri, data, content_type, if_generation_match)

    def write_text(self, uri: str, text: str, content_type: str = "text/plain",
                   if_generation_match: int | None = None) -> int:
        return self.write_bytes(uri, text.encode("utf-8"), f"{content_type}; charset=utf-8",
                                if_generation_match)

    def write_if_absent(self, uri: str, data: bytes, content_type: str | None = None) -> bool:
        """Create the object only if nothing is there yet: True if this call created it.
        Two writers racing for the same URI: exactly one gets True (a claim)."""
        try:
            self.write_bytes(uri, data, content_type, if_generation_match=0)
        except PreconditionFailed:
            return False
        return True

    def upload_file(self, local: Path, uri: str, content_type: str | None = None) -> int:
        """Copy a local file to ``uri`` streaming (resumable upload on GCS)."""
        with local_guard(str(local), lambda: open(local, "rb")) as f:
            return self.write_stream(uri, f, content_type)

    def write_stream(self, uri: str, stream: IO[bytes], content_type: str | None = None) -> int:
        """Copy a readable stream to ``uri`` in chunks, never holding it whole. If the stream
        fails midway nothing appears (an unfinished GCS resumable upload is no object)."""
        return self._store(uri).write_stream(uri, stream, content_type)

    def delete(self, uri: str, if_generation_match: int | None = None) -> None:
        """Remove the object; a missing one is not an error (deleting is idempotent)."""
        self._store(uri).delete(uri, if_generation_match)

    def delete_folder(self, prefix_uri: str) -> None:
        """Remove everything under a prefix (a local folder with it); a missing one is fine."""
        self._store(prefix_uri).delete_folder(prefix_uri)
