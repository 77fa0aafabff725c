"""The few operations a store offers, whatever holds the bytes (a folder, a bucket).

Every object has a *generation*: GCS's own, or for a local file its modification time in
nanoseconds (kept strictly increasing by our writes). Reading "generation N" never returns a
later overwrite in its place."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from pydantic import BaseModel

from flashfirst.errors import StorageError


class PreconditionFailed(StorageError):
    """The object's generation was not the one the write (or delete) expected."""


class ObjectInfo(BaseModel, frozen=True):
    """What a listing says about one object: enough to decide whether it is new."""

    uri: str
    size: int
    generation: int
    content_type: str | None = None
    updated: datetime | None = None


class ObjectStore(Protocol):
    """One kind of storage. Every failure is a :class:`StorageError` naming the URI; a
    compare-and-swap that loses is a :class:`PreconditionFailed`."""

    def exists(self, uri: str, generation: int | None = None) -> bool: ...

    def stat(self, uri: str) -> ObjectInfo: ...

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes: ...

    def open_read(self, uri: str,
                  generation: int | None = None) -> AbstractContextManager[IO[bytes]]:
        """A chunked reader pinned to one generation."""
        ...

    def download_to(self, uri: str, path: Path, generation: int | None = None) -> None:
        """Stream the object into ``path`` (the caller makes that atomic)."""
        ...

    def local_copy(self, uri: str,
                   generation: int | None = None) -> AbstractContextManager[Path]: ...

    def list_objects(self, prefix_uri: str) -> list[ObjectInfo]:
        """The objects under a prefix (treated as a folder), sorted by URI."""
        ...

    def write_bytes(self, uri: str, data: bytes, content_type: str | None,
                    if_generation_match: int | None) -> int:
        """Atomic write; returns the new generation. ``if_generation_match`` (0: only if
        absent) makes it a compare-and-swap."""
        ...

    def write_stream(self, uri: str, stream: IO[bytes], content_type: str | None) -> int:
        """Chunked copy; a stream failing midway leaves nothing (or the previous version)."""
        ...

    def delete(self, uri: str, if_generation_match: int | None) -> None:
        """Idempotent: a missing object is not an error."""
        ...

    def delete_folder(self, prefix_uri: str) -> None:
        """Every object under a prefix (treated as a folder), and the folder; idempotent."""
        ...
