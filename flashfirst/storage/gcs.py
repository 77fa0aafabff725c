"""A bucket as an object store, through the real google-cloud-storage client.

An object only becomes visible when its upload finishes, large objects go up and down in
chunks (resumable uploads), and credentials come from the environment (ADC, or
``STORAGE_EMULATOR_HOST`` for an emulator), never from code.

Transient failures (connection refused or reset, 429, 5xx) are retried with the client's
own exponential backoff (``google.cloud.storage.retry.DEFAULT_RETRY``, which 3.x applies to
uploads too) for up to ``retry_s`` seconds, shorter pauses than its default so a bucket
that is back is used within seconds; a call still failing then is a StorageError naming
the URI. Our unconditional writes put whole self-contained objects (an answer under its
content key, a run's results by its one writer), so a repeat writes the same bytes again.
A compare-and-swap write repeated after a lost response can meet its own first write and
fail its precondition (Google documents this for conditional retries): the claim then
reads as lost, never as won twice."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from flashfirst.errors import StorageError
from flashfirst.storage.protocol import ObjectInfo, PreconditionFailed
from flashfirst.storage.uris import split_gcs

if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.cloud import storage as gcs

CHUNK = 8 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads require
T = TypeVar("T")


class GcsStore:
    """``gs://bucket/name``. One client, made on first use (importing and authenticating
    cost time that local-only runs never pay)."""

    def __init__(self, project: str | None = None, retry_s: float = 120.0) -> None:
        self._project = project
        self._retry_s = retry_s

    @cached_property
    def _client(self) -> gcs.Client:
        import google.auth.exceptions
        from google.cloud import storage as gcs_mod

        try:
            return gcs_mod.Client(project=self._project)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise StorageError(
                "no Google credentials for gs:// URIs: set GOOGLE_APPLICATION_CREDENTIALS, run "
                "`gcloud auth application-default login`, or STORAGE_EMULATOR_HOST for an emulator"
            ) from exc

    @cached_property
    def _retry(self) -> Retry | None:
        """The client's transient-failure policy, with our deadline; None: no retries."""
        from google.cloud.storage.retry import DEFAULT_RETRY

        if self._retry_s <= 0:
            return None
        return DEFAULT_RETRY.with_delay(initial=0.25, maximum=4.0).with_timeout(self._retry_s)

    def _blob(self, uri: str, generation: int | None = None) -> gcs.Blob:
        bucket, name = split_gcs(uri)
        if not name:
            raise StorageError(f"{uri}: no object name in URI")
        return self._client.bucket(bucket).blob(name, generation=generation)

    # -- reading -------------------------------------------------------------------------

    def exists(self, uri: str, generation: int | None = None) -> bool:
        return self._guard(uri, lambda: self._blob(uri, generation).exists(retry=self._retry))

    def stat(self, uri: str) -> ObjectInfo:
        blob = self._blob(uri)
        self._guard(uri, lambda: blob.reload(retry=self._retry))
        return _info(uri, blob)

    def read_bytes(self, uri: str, generation: int | None = None) -> bytes:
        return self._guard(uri, lambda: self._blob(uri, generation).download_as_bytes(
            retry=self._retry), generation)

    @contextlib.contextmanager
    def open_read(self, uri: str, generation: int | None = None) -> Iterator[IO[bytes]]:
        blob = self._blob(uri, generation)
        if generation is None:
            self._guard(uri, lambda: blob.reload(retry=self._retry))  # pins the generation
            blob = self._blob(uri, blob.generation)
        reader = self._guard(uri, lambda: blob.open("rb", chunk_size=CHUNK, retry=self._retry),
                             generation)
        with reader:
            yield _GuardedReader(reader, uri, generation)

    def download_to(self, uri: str, path: Path, generation: int | None = None) -> None:
        blob = self._blob(uri, generation)
        blob.chunk_size = CHUNK
        self._guard(uri, lambda: blob.download_to_filename(str(path), retry=self._retry),
                    generation)

    @contextlib.contextmanager
    def local_copy(self, uri: str, generation: int | None = None) -> Iterator[Path]:
        """Streamed down into a temporary folder, removed afterwards."""
        suffix = Path(split_gcs(uri)[1]).suffix
        with tempfile.TemporaryDirectory(prefix="flashfirst-") as tmpdir:
            path = Path(tmpdir) / f"object{suffix}"
            self.download_to(uri, path, generation)
            yield path

    def list_objects(self, prefix_uri: str) -> list[ObjectInfo]:
        bucket, prefix = split_gcs(prefix_uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        blobs = self._guard(prefix_uri, lambda: list(self._client.list_blobs(
            bucket, prefix=prefix or None, retry=self._retry)))
        infos = [_info(f"gs://{bucket}/{b.name}", b) for b in blobs if not b.name.endswith("/")]
        return sorted(infos, key=lambda i: i.uri)

    # -- writing -------------------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None,
                    if_generation_match: int | None = None) -> int:
        blob = self._blob(uri)
        self._guard(uri, lambda: blob.upload_from_string(
            data, content_type=content_type or "application/octet-stream",
            if_generation_match=if_generation_match, retry=self._retry))
        return int(blob.generation)

    def write_stream(self, uri: str, stream: IO[bytes], content_type: str | None = None) -> int:
        blob = self._blob(uri)
        blob.chunk_size = CHUNK
        self._guard(uri, lambda: blob.upload_from_file(stream, content_type=content_type,
                                                       retry=self._retry))
        return int(blob.generation)

    def delete(self, uri: str, if_generation_match: int | None = None) -> None:
        from google.api_core import exceptions as gexc

        def remove() -> None:
            with contextlib.suppress(gexc.NotFound):  # gone already, or on a retry
                self._blob(uri).delete(if_generation_match=if_generation_match,
                                       retry=self._retry)
        self._guard(uri, remove)

    def delete_folder(self, prefix_uri: str) -> None:
        for info in self.list_objects(prefix_uri):
            self.delete(info.uri)

    # -- errors --------------------------------------------------------------------------

    def _guard(self, uri: str, fn: Callable[[], T], generation: int | None = None) -> T:
        """Run one client call, turning its errors into a StorageError naming ``uri``."""
        from google.api_core import exceptions as gexc

        try:
            return fn()
        except gexc.NotFound as exc:
            raise StorageError(self._not_found(uri, generation)) from exc
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(f"{uri}: generation precondition failed") from exc
        except gexc.RetryError as exc:
            raise StorageError(f"{uri}: still failing after {self._retry_s:g} s of retries: "
                               f"{exc.cause}") from exc
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"{uri}: {exc.code} {exc.message}") from exc
        except FileNotFoundError as exc:
            raise StorageError(f"{uri}: no such file") from exc
        except OSError as exc:
            raise StorageError(f"{uri}: {exc.strerror or exc}") from exc

    def _not_found(self, uri: str, generation: int | None) -> str:
        bucket = split_gcs(uri)[0]
        with contextlib.suppress(Exception):
            if not self._client.bucket(bucket).exists(retry=self._retry):
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


def _info(uri: str, blob: gcs.Blob) -> ObjectInfo:
    return ObjectInfo(uri=uri, size=blob.size or 0, generation=int(blob.generation),
                      content_type=blob.content_type, updated=blob.updated)
