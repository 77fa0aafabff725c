"""Answers already paid for, kept by what determines them, so no one pays twice.

Local roots keep them in append-only logs, ``answers/log/<writer>.jsonl``, one line per
answer, one log per writer (a thread of a process: the chunks it runs, one after the
other), so writers never interleave and never wait for each other. Each line goes out in
one ``os.write`` on an ``O_APPEND`` descriptor before its result is reported: a killed
process loses nothing it reported and leaves at most a torn last line, which readers skip.
``sync()`` fsyncs the calling thread's log (a chunk calls it before returning). An index
in memory maps each key to its line, so a lookup is a dict hit and one ``pread``; it holds
a key as its 32 bytes and a line's place as one int (about 150 bytes an answer, not 280:
a million answers are a run's largest index);
``refresh()`` picks up what other processes appended since. Answers stored one file each
(``answers/ab/<key>.json``, the earlier format) are still read. ``gs://`` roots keep one
object per answer (GCS has no append).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path

from flashfirst.errors import StorageError
from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inference.job import InferenceJob
from flashfirst.inputs.prompts import prompt_for
from flashfirst.items import ItemResult
from flashfirst.storage import Storage, is_gcs, join

_PREFIX = b'{"k":"'
_KEY_LEN = 64  # sha256 hex
_MID = b'","r":'
_LINE_HEAD = len(_PREFIX) + _KEY_LEN + len(_MID)


def answer_key(*, identity: str, model: str, prompt: str, schema: dict | None,
               check: str | None, context_hash: str | None,
               thinking: dict | None = None, max_output_tokens: int | None = None,
               media_resolution: str | None = None) -> str:
    """Everything that changes the answer, nothing that doesn't (tier, run id, the cache's
    name: the context's content hash stands for it). ``thinking`` (the config sent),
    ``max_output_tokens`` and ``media_resolution`` (the level the media is seen at; the
    media's identity leaves it out, its files being the same) enter only when set, so
    answers stored without them keep their keys."""
    fields = {"identity": identity, "model": model, "prompt": prompt, "schema": schema,
              "check": check, "context": context_hash}
    if thinking:
        fields["thinking"] = thinking
    if max_output_tokens is not None:
        fields["max_output_tokens"] = max_output_tokens
    if media_resolution is not None:
        fields["media_resolution"] = media_resolution
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def job_key(job: InferenceJob, context_hash: str | None, *, thinking: dict | None = None,
            max_output_tokens: int | None = None) -> str:
    """The key of ``job`` on its route, at the media resolution its parts are sent at;
    ``request.request_key`` fills in the thinking and output cap its request carries."""
    item = job.item
    resolution = job.media_resolution
    return answer_key(identity=job.identity, model=job.route.model, prompt=prompt_for(item),
                      schema=item.response_schema, check=item.check, context_hash=context_hash,
                      thinking=thinking, max_output_tokens=max_output_tokens,
                      media_resolution=None if resolution in (None, MediaResolution.DEFAULT)
                      else resolution.value)


_LENGTH_BITS, _OFFSET_BITS = 32, 48


def _place(log: int, offset: int, length: int) -> int:
    """A line's log, offset and length as one int (one object an answer, not four)."""
    return (((log << _OFFSET_BITS) | offset) << _LENGTH_BITS) | length


def _unpack(place: int) -> tuple[int, int, int]:
    length = place & ((1 << _LENGTH_BITS) - 1)
    rest = place >> _LENGTH_BITS
    return rest >> _OFFSET_BITS, rest & ((1 << _OFFSET_BITS) - 1), length


def _digest(key: str | bytes) -> bytes | None:
    """The key's 32 bytes; None for what is not a key (a stray file, a torn line)."""
    try:
        digest = bytes.fromhex(key.decode("ascii") if isinstance(key, bytes) else key)
    except (ValueError, UnicodeDecodeError):
        return None
    return digest if len(digest) == _KEY_LEN // 2 else None


class AnswerStore:
    """Per backend (``client.backend_id``): an emulator's answer is never found by a run
    against Google, nor one project's by another's."""

    def __init__(self, storage: Storage, root: str, backend: str) -> None:
        self._storage = storage
        self._root = join(root, "answers", backend)
        self._local = not is_gcs(root)
        self._lock = threading.Lock()
        # digest -> the line's place, packed by _place (its log's number in _logs)
        self._index: dict[bytes, int] = {}
        self._logs: list[str] = []
        self._log_no: dict[str, int] = {}
        self._legacy: dict[bytes, str] = {}  # digest -> its file (the one-file format)
        self._read_upto: dict[str, int] = {}  # log file -> bytes indexed so far
        self._fds: dict[str, int] = {}
        self._tls = threading.local()  # this thread's log: (fd, path, pid, number)
        self._own: set[str] = set()  # logs written here: indexed as written
        self._open_fds: list[int] = []
        if self._local:
            self._index_legacy()
            self.refresh()

    _shared: dict[tuple[str, str], AnswerStore] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, root: str, backend: str, storage: Storage) -> AnswerStore:
        """One store per root in a process: the index is built once and brought up to date
        with what other processes appended each time it is fetched (a chunk, a run).
        ``storage``: the run's (``run_context``), built from its settings."""
        with cls._shared_lock:
            store = cls._shared.get((root, backend))
            if store is None:
                return cls._shared.setdefault((root, backend),
                                              cls(storage, root, backend))
        if store._local:
            store.refresh()
        return store

    @property
    def blocking(self) -> bool:
        """Reads and writes go over the network (a bucket): not on an event loop's thread."""
        return not self._local

    # -- reading -------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        if self._local:
            digest = _digest(key)  # one dict read each: atomic, no lock needed
            return digest is not None and (digest in self._index or digest in self._legacy)
        return self._storage.exists(self._uri(key))

    def get(self, key: str) -> ItemResult | None:
        if not self._local:
            try:
                return ItemResult.model_validate_json(self._storage.read_bytes(self._uri(key)))
            except (StorageError, ValueError):
                return None  # missing or unreadable: call again rather than fail the item
        digest = _digest(key)
        place = None if digest is None else self._index.get(digest)
        try:
            if place is None:
                legacy = None if digest is None else self._legacy.get(digest)
                return None if legacy is None \
                    else ItemResult.model_validate_json(Path(legacy).read_bytes())
            log, offset, length = _unpack(place)
            line = os.pread(self._fd(self._logs[log]), length, offset)
            return ItemResult.model_validate_json(line[_LINE_HEAD:].rstrip(b"\n")[:-1])
        except (OSError, ValueError):
            return None

    def refresh(self) -> None:
        """Index what was appended since the last look (by any process)."""
        logs = Path(self._root, "log")
        try:
            entries = [e for e in os.scandir(logs) if e.name.endswith(".jsonl")]
        except FileNotFoundError:
            return
        for entry in entries:
            path = entry.path
            if path in self._own:
                continue
            done = self._read_upto.get(path, 0)
            size = entry.stat().st_size
            if size <= done:
                continue
            with open(path, "rb") as f:
                f.seek(done)
                data = f.read(size - done)
            found: dict[bytes, int] = {}
            log = self._log_number(path)
            pos = 0
            while (end := data.find(b"\n", pos)) >= 0:
                line = data[pos:end + 1]
                if (line.startswith(_PREFIX) and line[_LINE_HEAD - len(_MID):_LINE_HEAD] == _MID
                        and line.endswith(b"}\n")):
                    digest = _digest(line[len(_PREFIX):len(_PREFIX) + _KEY_LEN])
                    if digest is not None:
                        found[digest] = _place(log, done + pos, len(line))
                pos = end + 1
            with self._lock:
                self._index.update(found)
                self._read_upto[path] = done + pos  # a torn tail is looked at again

    def _index_legacy(self) -> None:
        try:
            shards = [e for e in os.scandir(self._root) if e.is_dir() and len(e.name) == 2]
        except FileNotFoundError:
            return
        for shard in shards:
            for e in os.scandir(shard.path):
                digest = _digest(e.name[:-5]) if e.name.endswith(".json") else None
                if digest is not None:
                    self._legacy[digest] = e.path

    def _log_number(self, path: str) -> int:
        with self._lock:
            number = self._log_no.get(path)
            if number is None:
                number = self._log_no[path] = len(self._logs)
                self._logs.append(path)
            return number

    def _fd(self, path: str) -> int:
        with self._lock:
            fd = self._fds.get(path)
            if fd is None:
                fd = self._fds[path] = os.open(path, os.O_RDONLY)
                self._open_fds.append(fd)
            return fd

    def close(self) -> None:
        with self._lock:
            fds, self._open_fds, self._fds = self._open_fds, [], {}
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        self.close()

    def _uri(self, key: str) -> str:
        return join(self._root, key[:2], f"{key}.json")

    # -- writing -------------------------------------------------------------------------

    def put(self, key: str, result: ItemResult) -> None:
        """Stored before this returns; the caller reports the result only after."""
        if not self._local:
            self._storage.write_text(self._uri(key), result.model_dump_json(),
                                     content_type="application/json")
            return
        if len(key) != _KEY_LEN:
            raise ValueError(f"answer key must be {_KEY_LEN} hex characters: {key!r}")
        line = b"".join((_PREFIX, key.encode("ascii"), _MID,
                         result.model_dump_json().encode(), b"}\n"))
        fd, path, log = self._writer()
        offset = os.lseek(fd, 0, os.SEEK_END)  # only this thread appends to this log
        written = os.write(fd, line)  # one write: the line is whole or (killed) torn
        if written != len(line):
            raise StorageError(f"{path}: short write of answer {key}")
        self._index[bytes.fromhex(key)] = _place(log, offset, len(line))

    def sync(self) -> None:
        """Make what this thread wrote survive a machine crash too, not only a killed
        process."""
        writer = getattr(self._tls, "writer", None)
        if writer is not None and writer[2] == os.getpid():
            os.fsync(writer[0])

    def _writer(self) -> tuple[int, str, int]:
        """This thread's log: its descriptor, path and number."""
        writer = getattr(self._tls, "writer", None)
        if writer is None or writer[2] != os.getpid():  # a forked child opens its own
            logs = Path(self._root, "log")
            try:
                logs.mkdir(parents=True, exist_ok=True)
                name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                path = str(logs / f"{name}.jsonl")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                raise StorageError(f"{logs}: cannot open the answer log: "
                                   f"{exc.strerror or exc}") from exc
            with self._lock:
                self._own.add(path)
                self._open_fds.append(fd)
            writer = self._tls.writer = (fd, path, os.getpid(), self._log_number(path))
        return writer[0], writer[1], writer[3]
