"""Storage by URI: local paths and ``gs://bucket/prefix`` behind one small interface.

Writes are atomic (a local temp file renamed into place; a GCS object only becomes
visible when its upload finishes), large objects are streamed through files rather than
held in memory, and GCS credentials come from the environment (ADC, or
``STORAGE_EMULATOR_HOST`` for an emulator), never from code.

Every object has a *generation*: GCS's own, or for a local file its modification time in
nanoseconds (kept strictly increasing by our writes). Reading "generation N" never returns a
later overwrite in its place: GCS serves the old bytes (while that generation exists), a local
file that changed since raises :class:`StorageError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from flashfirst.errors import StorageError

if TYPE_CHECKING:
    from google.cloud import storage as gcs

_CHUNK = 8 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads require
_COPY_BUFFER = 1024 * 1024
T = TypeVar("T")


class PreconditionFailed(StorageError):
    """The object's generation was not the one the write (or delete) expected."""


class ObjectInfo(BaseModel, frozen=True):
    """What a listing says about one object: enough to decide whether it is new."""

    uri: str
    size: int
    generation: int
    content_type: str | None = None
    updated: datetime | None = None


def is_gcs(uri: str) -> bool:
    return uri.startswith("gs://")


def join(base: str, *parts: str) -> str:
    """Join URI segments with ``/`` (never the OS separator: the result may be gs://)."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def browser_url(uri: str) -> str:
    """Where a person opens the object: the Cloud Console's authenticated URL for gs://,
    a file:// URL for local paths."""
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        return f"https://storage.cloud.google.com/{bucket}/{name}"
    return Path(uri).resolve().as_uri()


def split_gcs(uri: str) -> tuple[str, str]:
    if not is_gcs(uri):
        raise StorageError(f"{uri}: not a gs:// URI")
    bucket, _, name = uri[len("gs://"):].partition("/")
    if not bucket:
        raise StorageError(f"{uri}: no bucket in URI")
    return bucket, name


class Storage:
    """Reads and writes by URI. One instance per run; it holds the GCS client."""

    def __init__(self, project: str | None = None) -> None:
        self._project = project

    @cached_property
    def _gcs(self) -> gcs.Client:
        import google.auth.exceptions
        from google.cloud import storage as gcs_mod

        try:
            return gcs_mod.Client(project=self._project)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise StorageError(
                "no Google credentials for gs:// URIs: set GOOGLE_APPLICATION_CREDENTIALS, run "
                "`gcloud auth application-default login`, or STORAGE_EMULATOR_HOST for an emulator"
            ) from exc

    def _blob(self, uri: str, generation: int | None = None) -> gcs.Blob:
        bucket, name = split_gcs(uri)
        if not name:
            raise StorageError(f"{uri}: no object name in URI")
        return self._gcs.bucket(bucket).blob(name, generation=generation)

    # -- reading -------------------------------------------------------------------------

    def exists(self, uri: str, generation: int | None = None) -> bool:
        """Is the object (that very version, when a generation is given) there?"""
        if is_gcs(uri):
            return self._guard(uri, lambda: self._blob(uri, generation).exists())
        path = Path(uri)
        if generation is None:
            return path.is_file()
        return path.is_file() and path.stat().st_mtime_ns == generation

    def stat(self, uri: str) -> ObjectInfo:
        """Size and current generation of one object (StorageError if missing)."""
        if is_gcs(uri):
            blob = self._blob(uri)
            self._guard(uri, blob.reload)
            return _gcs_info(uri, blob)
        return self._guard(uri, lambda: _local_info(Path(uri)))

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes:
        """The whole object in memory: for small objects; stream large ones (`open_read`)."""
        if is_gcs(uri):
            return self._guard(uri, lambda: self._blob(uri, generation).download_as_bytes(),
                               generation)
        with self.open_read(uri, generation) as f:
            return f.read()

    def read_text(self, uri: str, generation: int | None = None) -> str:
        return self.read_bytes(uri, generation).decode("utf-8")

    @contextlib.contextmanager
    def open_read(self, uri: str, generation: int | None = None) -> Iterator[IO[bytes]]:
        """A file-like reader fetching the object in chunks, pinned to one generation so a
        concurrent overwrite never mixes two versions' bytes."""
        if is_gcs(uri):
            blob = self._blob(uri, generation)
            if generation is None:
                self._guard(uri, blob.reload)  # pins blob.generation to the current one
                blob = self._blob(uri, blob.generation)
            reader = self._guard(uri, lambda: blob.open("rb", chunk_size=_CHUNK), generation)
            with reader:
                yield _GuardedReader(reader, uri, generation)
            return
        f = self._guard(uri, lambda: open(uri, "rb"))  # noqa: SIM115 - closed below
        with f:
            if generation is not None:
                _check_local_generation(uri, os.fstat(f.fileno()).st_mtime_ns, generation)
            yield f

    def download_file(self, uri: str, dest: Path, generation: int | None = None) -> Path:
        """Stream the object to ``dest`` (atomically: a partial download never shows)."""
        with self._atomic_local(str(dest)) as tmp:
            if is_gcs(uri):
                blob = self._blob(uri, generation)
                blob.chunk_size = _CHUNK
                self._guard(uri, lambda: blob.download_to_filename(str(tmp)), generation)
            else:
                with self.open_read(uri, generation) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, _COPY_BUFFER)
        return dest

    @contextlib.contextmanager
    def local_copy(self, uri: str, generation: int | None = None) -> Iterator[Path]:
        """A local path holding the object's bytes (streamed down for gs://)."""
        if not is_gcs(uri):
            path = Path(uri)
            if not path.is_file():
                raise StorageError(f"{uri}: no such file")
            if generation is not None:
                _check_local_generation(uri, path.stat().st_mtime_ns, generation)
            yield path
            return
        suffix = Path(split_gcs(uri)[1]).suffix
        with tempfile.TemporaryDirectory(prefix="flashfirst-") as tmpdir:
            yield self.download_file(uri, Path(tmpdir) / f"object{suffix}", generation)

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of the objects/files under a prefix or folder, sorted."""
        return [info.uri for info in self.list_objects(prefix_uri)]

    def list_objects(self, prefix_uri: str) -> list[ObjectInfo]:
        """The objects/files under a prefix (treated as a folder) with their generations."""
        if is_gcs(prefix_uri):
            bucket, prefix = split_gcs(prefix_uri)
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            blobs = self._guard(prefix_uri, lambda: list(
                self._gcs.list_blobs(bucket, prefix=prefix or None)))
            infos = [_gcs_info(f"gs://{bucket}/{b.name}", b)
                     for b in blobs if not b.name.endswith("/")]
            return sorted(infos, key=lambda i: i.uri)
        root = Path(prefix_uri)
        if not root.is_dir():
            raise StorageError(f"{prefix_uri}: not a folder")
        files = (p for p in root.rglob("*") if p.is_file() and not _is_temp(p))
        return sorted((_local_info(p) for p in files), key=lambda i: i.uri)

    # -- writing -------------------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None,
                    if_generation_match: int | None = None) -> int:
        """Write atomically; returns the new generation. ``if_generation_match`` makes it a
        compare-and-swap (0: only if absent), raising :class:`PreconditionFailed` otherwise."""
        if is_gcs(uri):
            blob = self._blob(uri)
            self._guard(uri, lambda: blob.upload_from_string(
                data, content_type=content_type or "application/octet-stream",
                if_generation_match=if_generation_match))
            return int(blob.generation)
        def write() -> int:
            with self._atomic_local(uri, if_generation_match) as tmp:
                tmp.write_bytes(data)
            return Path(uri).stat().st_mtime_ns
        return self._guard(uri, write)

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
        with self._guard(str(local), lambda: open(local, "rb")) as f:
            return self.write_stream(uri, f, content_type)

    def write_stream(self, uri: str, stream: IO[bytes], content_type: str | None = None) -> int:
        """Copy a readable stream to ``uri`` in chunks, never holding it whole. If the stream
        fails midway nothing appears (an unfinished GCS resumable upload is no object)."""
        if is_gcs(uri):
            blob = self._blob(uri)
            blob.chunk_size = _CHUNK
            self._guard(uri, lambda: blob.upload_from_file(stream, content_type=content_type))
            return int(blob.generation)
        def copy() -> int:
            with self._atomic_local(uri) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(stream, out, _COPY_BUFFER)
            return Path(uri).stat().st_mtime_ns
        return self._guard(uri, copy)

    def delete(self, uri: str, if_generation_match: int | None = None) -> None:
        """Remove the object; a missing one is not an error (deleting is idempotent)."""
        if is_gcs(uri):
            from google.api_core import exceptions as gexc

            with contextlib.suppress(gexc.NotFound):
                self._blob(uri).delete(if_generation_match=if_generation_match)
            return
        path = Path(uri)
        if if_generation_match is None:
            path.unlink(missing_ok=True)
            return
        with _local_lock(path):
            if path.exists():
                _check_precondition(uri, path.stat().st_mtime_ns, if_generation_match)
            path.unlink(missing_ok=True)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _atomic_local(uri: str, if_generation_match: int | None = None) -> Iterator[Path]:
        """Yield a temp file beside ``uri``; on success it replaces ``uri`` in one rename."""
        dest = Path(uri)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.",
                                            suffix=".tmp")
        except OSError as exc:
            raise StorageError(f"{uri}: {exc.strerror or exc}") from exc
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            checked = if_generation_match is not None
            with _local_lock(dest) if checked else contextlib.nullcontext():
                old = dest.stat().st_mtime_ns if dest.exists() else 0
                if if_generation_match is not None:
                    _check_precondition(uri, old, if_generation_match)
                if old and tmp.stat().st_mtime_ns <= old:  # coarse clocks: keep it increasing
                    os.utime(tmp, ns=(old + 1, old + 1))
                if if_generation_match == 0:
                    _link_new(tmp, dest, uri)
                else:
                    os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def _guard(self, uri: str, fn: Callable[[], T], generation: int | None = None) -> T:
        """Run one storage call, turning client errors into a StorageError naming ``uri``."""
        from google.api_core import exceptions as gexc

        try:
            return fn()
        except gexc.NotFound as exc:
            raise StorageError(self._not_found(uri, generation)) from exc
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(f"{uri}: generation precondition failed") from exc
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"{uri}: {exc.code} {exc.message}") from exc
        except FileNotFoundError as exc:
            raise StorageError(f"{uri}: no such file") from exc
        except OSError as exc:
            raise StorageError(f"{uri}: {exc.strerror or exc}") from exc

    def _not_found(self, uri: str, generation: int | None) -> str:
        if not is_gcs(uri):
            return f"{uri}: no such file"
        bucket = split_gcs(uri)[0]
        with contextlib.suppress(Exception):
            if not self._gcs.bucket(bucket).exists():
                return f"{uri}: no such bucket {bucket!r}"
        if generation is not None:
            return f"{uri}: no generation {generation} of this object"
        return f"{uri}: no such object"


class _GuardedReader:
    """A GCS reader whose client errors surface as StorageError naming the URI."""

    def __init__(self, reader: IO[bytes], uri: str, generation: int | None) -> None:
        self._reader, self._uri, self._generation = reader, uri, generation

    def read(self, size: int = -1) -> bytes:
        from google.api_core import exceptions as gexc

        try:
            return self._reader.read(size)
        except gexc.NotFound as exc:
            raise StorageError(f"{self._uri}: object (generation {self._generation}) "
                               "disappeared while reading") from exc

    def __getattr__(self, name: str) -> object:
        return getattr(self._reader, name)


@contextlib.contextmanager
def _local_lock(path: Path) -> Iterator[None]:
    """Serialise compare-and-swap writes to one local file across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".flashfirst.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _link_new(tmp: Path, dest: Path, uri: str) -> None:
    """Put ``tmp`` at ``dest`` only if ``dest`` does not exist (atomic, unlike a check)."""
    try:
        os.link(tmp, dest)
    except FileExistsError as exc:
        raise PreconditionFailed(f"{uri}: already exists") from exc


def _check_precondition(uri: str, current: int, expected: int) -> None:
    if current != expected:
        raise PreconditionFailed(f"{uri}: generation is {current or 'absent'}, expected "
                                 f"{expected or 'absent'}")


def _check_local_generation(uri: str, current: int, wanted: int) -> None:
    if current != wanted:
        raise StorageError(f"{uri}: generation {wanted} is gone (the file changed since; "
                           "local files keep no old versions)")


def _is_temp(path: Path) -> bool:
    return path.name == ".flashfirst.lock" or (
        path.name.startswith(".") and path.name.endswith(".tmp"))


def _local_info(path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(uri=str(path), size=st.st_size, generation=st.st_mtime_ns,
                      updated=datetime.fromtimestamp(st.st_mtime, UTC))


def _gcs_info(uri: str, blob: gcs.Blob) -> ObjectInfo:
    return ObjectInfo(uri=uri, size=blob.size or 0, generation=int(blob.generation),
                      content_type=blob.content_type, updated=blob.updated)
