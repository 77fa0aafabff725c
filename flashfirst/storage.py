"""Storage by URI: local paths and ``gs://bucket/prefix`` behind one small interface.

Writes are atomic (a local temp file renamed into place; a GCS object only becomes
visible when its upload finishes), large objects are streamed through files rather than
held in memory, and GCS credentials come from the environment (ADC, or
``STORAGE_EMULATOR_HOST`` for an emulator), never from code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from flashfirst.errors import StorageError

if TYPE_CHECKING:
    from google.cloud import storage as gcs

_CHUNK = 8 * 1024 * 1024


def is_gcs(uri: str) -> bool:
    return uri.startswith("gs://")


def join(base: str, *parts: str) -> str:
    """Join URI segments with ``/`` (never the OS separator: the result may be gs://)."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


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
        from google.cloud import storage as gcs_mod

        return gcs_mod.Client(project=self._project)

    def _blob(self, uri: str, generation: int | None = None) -> gcs.Blob:
        bucket, name = split_gcs(uri)
        return self._gcs.bucket(bucket).blob(name, generation=generation)

    def exists(self, uri: str) -> bool:
        if is_gcs(uri):
            return self._guard(uri, lambda: self._blob(uri).exists())
        return Path(uri).exists()

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes:
        if is_gcs(uri):
            return self._guard(uri, lambda: self._blob(uri, generation).download_as_bytes())
        return self._guard(uri, lambda: Path(uri).read_bytes())

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        if is_gcs(uri):
            self._guard(uri, lambda: self._blob(uri).upload_from_string(
                data, content_type=content_type or "application/octet-stream"))
            return
        with self._atomic_local(uri) as tmp:
            tmp.write_bytes(data)

    def write_text(self, uri: str, text: str, content_type: str = "text/plain") -> None:
        self.write_bytes(uri, text.encode("utf-8"), content_type=f"{content_type}; charset=utf-8")

    def upload_file(self, local: Path, uri: str, content_type: str | None = None) -> None:
        """Copy a local file to ``uri`` streaming (resumable upload on GCS)."""
        if is_gcs(uri):
            def upload() -> None:
                blob = self._blob(uri)
                blob.chunk_size = _CHUNK
                blob.upload_from_filename(str(local), content_type=content_type)
            self._guard(uri, upload)
            return
        with self._atomic_local(uri) as tmp:
            shutil.copyfile(local, tmp)

    @contextlib.contextmanager
    def local_copy(self, uri: str, generation: int | None = None) -> Iterator[Path]:
        """A local path holding the object's bytes (streamed down for gs://)."""
        if not is_gcs(uri):
            path = Path(uri)
            if not path.exists():
                raise StorageError(f"{uri}: no such file")
            yield path
            return
        suffix = Path(split_gcs(uri)[1]).suffix
        with tempfile.TemporaryDirectory(prefix="flashfirst-") as tmpdir:
            dest = Path(tmpdir) / f"object{suffix}"
            self._guard(uri, lambda: self._blob(uri, generation).download_to_filename(str(dest)))
            yield dest

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of the objects/files under a prefix or folder, sorted."""
        if is_gcs(prefix_uri):
            bucket, prefix = split_gcs(prefix_uri)
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            blobs = self._guard(prefix_uri, lambda: list(
                self._gcs.list_blobs(bucket, prefix=prefix or None)))
            return sorted(f"gs://{bucket}/{b.name}" for b in blobs if not b.name.endswith("/"))
        root = Path(prefix_uri)
        if not root.is_dir():
            raise StorageError(f"{prefix_uri}: not a folder")
        return sorted(str(p) for p in root.rglob("*") if p.is_file())

    def delete(self, uri: str) -> None:
        if is_gcs(uri):
            self._guard(uri, lambda: self._blob(uri).delete())
        else:
            Path(uri).unlink(missing_ok=True)

    @staticmethod
    @contextlib.contextmanager
    def _atomic_local(uri: str) -> Iterator[Path]:
        dest = Path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _guard(uri: str, fn):  # noqa: ANN001, ANN205 - thin wrapper
        from google.api_core import exceptions as gexc

        try:
            return fn()
        except gexc.NotFound as exc:
            raise StorageError(f"{uri}: not found") from exc
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"{uri}: {exc.code} {exc.message}") from exc
        except OSError as exc:
            raise StorageError(f"{uri}: {exc.strerror or exc}") from exc
