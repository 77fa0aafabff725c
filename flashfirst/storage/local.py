"""A folder as an object store: writes are a temp file renamed into place, compare-and-swap
writes hold a lock file beside the object, a file's generation is its mtime in ns."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

from flashfirst.errors import StorageError
from flashfirst.storage.protocol import ObjectInfo, PreconditionFailed

COPY_BUFFER = 1024 * 1024
T = TypeVar("T")


class LocalStore:
    """Local paths. Local files keep no old versions: asking for a generation that changed
    since is an error, never the newer bytes."""

    def exists(self, uri: str, generation: int | None = None) -> bool:
        path = Path(uri)
        if generation is None:
            return path.is_file()
        return path.is_file() and path.stat().st_mtime_ns == generation

    def stat(self, uri: str) -> ObjectInfo:
        return local_guard(uri, lambda: _info(Path(uri)))

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes:
        with self.open_read(uri, generation) as f:
            return f.read()

    @contextlib.contextmanager
    def open_read(self, uri: str, generation: int | None = None) -> Iterator[IO[bytes]]:
        f = local_guard(uri, lambda: open(uri, "rb"))  # noqa: SIM115 - closed below
        with f:
            if generation is not None:
                _check_generation(uri, os.fstat(f.fileno()).st_mtime_ns, generation)
            yield f

    def download_to(self, uri: str, path: Path, generation: int | None = None) -> None:
        with self.open_read(uri, generation) as src, open(path, "wb") as out:
            shutil.copyfileobj(src, out, COPY_BUFFER)

    @contextlib.contextmanager
    def local_copy(self, uri: str, generation: int | None = None) -> Iterator[Path]:
        """The file itself: nothing to copy."""
        path = Path(uri)
        if not path.is_file():
            raise StorageError(f"{uri}: no such file")
        if generation is not None:
            _check_generation(uri, path.stat().st_mtime_ns, generation)
        yield path

    def list_objects(self, prefix_uri: str) -> list[ObjectInfo]:
        root = Path(prefix_uri)
        if not root.is_dir():
            raise StorageError(f"{prefix_uri}: not a folder")
        files = (p for p in root.rglob("*") if p.is_file() and not _is_temp(p))
        return sorted((_info(p) for p in files), key=lambda i: i.uri)

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None,
                    if_generation_match: int | None = None) -> int:
        def write() -> int:
            with atomic_file(uri, if_generation_match) as tmp:
                tmp.write_bytes(data)
            return Path(uri).stat().st_mtime_ns
        return local_guard(uri, write)

    def write_stream(self, uri: str, stream: IO[bytes], content_type: str | None = None) -> int:
        def copy() -> int:
            with atomic_file(uri) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(stream, out, COPY_BUFFER)
            return Path(uri).stat().st_mtime_ns
        return local_guard(uri, copy)

    def delete(self, uri: str, if_generation_match: int | None = None) -> None:
        path = Path(uri)
        if if_generation_match is None:
            path.unlink(missing_ok=True)
            return
        with _lock(path):
            if path.exists():
                _check_precondition(uri, path.stat().st_mtime_ns, if_generation_match)
            path.unlink(missing_ok=True)

    def delete_folder(self, prefix_uri: str) -> None:
        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):  # gone already
                shutil.rmtree(prefix_uri)  # lock files included
        local_guard(prefix_uri, remove)


def local_guard(uri: str, fn: Callable[[], T]) -> T:
    """Run one file operation, turning OS errors into a StorageError naming ``uri``."""
    try:
        return fn()
    except FileNotFoundError as exc:
        raise StorageError(f"{uri}: no such file") from exc
    except OSError as exc:
        raise StorageError(f"{uri}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def atomic_file(uri: str, if_generation_match: int | None = None) -> Iterator[Path]:
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
        with _lock(dest) if checked else contextlib.nullcontext():
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


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
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


def _check_generation(uri: str, current: int, wanted: int) -> None:
    if current != wanted:
        raise StorageError(f"{uri}: generation {wanted} is gone (the file changed since; "
                           "local files keep no old versions)")


def _is_temp(path: Path) -> bool:
    return path.name == ".flashfirst.lock" or (
        path.name.startswith(".") and path.name.endswith(".tmp"))


def _info(path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(uri=str(path), size=st.st_size, generation=st.st_mtime_ns,
                      updated=datetime.fromtimestamp(st.st_mtime, UTC))
