"""Durable emulator state (``EmulatorConfig.state_dir``): uploaded files, cached contents,
batches and the name counters outlive the process, as they do on Google's side, so a
second run can hit a cache or skip an upload.

Layout: ``files/{id}.json`` + ``files/{id}.bin``, ``caches/{id}.json``,
``batches/{id}.json``, ``counters.json``, ``uploads/*.part`` for uploads in progress, and
``billed.jsonl``: one line per answer produced (the bill), appended before the answer is
sent, so a process killed mid-call still counts what it charged.
Every JSON file is written to a temporary name and renamed, so a reader (another process
included) sees a whole resource or none. A new name is claimed by creating its JSON file
exclusively (empty until written), so two processes on one directory never hand out the
same name. Quotas, stats, scripts and the clock offset are per process, never stored
(the bill aside)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from flashfirst.emulator.batches.jobs import BatchItem, BatchJob
from flashfirst.emulator.resources import StoredCache, StoredFile
from flashfirst.emulator.tokens.media_probe import MediaInfo
from flashfirst.emulator.tokens.rules import TokenCount

logger = logging.getLogger(__name__)

KIND_DIRS = {"file": "files", "cache": "caches", "batch": "batches"}
# Leftovers (temporary files, claims never written, parts of abandoned uploads, blobs
# without metadata) older than this are removed when a process loads the directory.
STALE_S = 24 * 3600


@dataclass
class Loaded:
    files: dict[str, StoredFile] = field(default_factory=dict)
    caches: dict[str, StoredCache] = field(default_factory=dict)
    batches: dict[str, BatchJob] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)


def write_atomic(path: Path, data: bytes) -> None:
    """Write-temp-then-rename: readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StateStore:
    """One directory of durable state; callers hold the emulator's lock."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        for sub in (*KIND_DIRS.values(), "uploads"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _json(self, kind: str, resource_id: str) -> Path:
        return self.root / KIND_DIRS[kind] / f"{resource_id}.json"

    def blob_path(self, file_id: str) -> Path:
        return self.root / "files" / f"{file_id}.bin"

    def new_part(self) -> Path:
        """A fresh file for an upload in progress (unique across processes)."""
        fd, name = tempfile.mkstemp(dir=self.root / "uploads", suffix=".part")
        os.close(fd)
        return Path(name)

    def claim(self, kind: str, resource_id: str) -> bool:
        """Reserve a name; False when this or another process already holds it."""
        if kind not in KIND_DIRS:
            return True
        try:
            os.close(os.open(self._json(kind, resource_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def record_billed(self, model: str, tier: str) -> None:
        """One line in one ``write`` on an ``O_APPEND`` descriptor: whole, whoever appends."""
        line = json.dumps({"model": model, "tier": tier, "at": time.time()}) + "\n"
        fd = os.open(self.root / "billed.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def save_counters(self, counters: Counter[str]) -> None:
        durable = {k: n for k, n in counters.items() if k in KIND_DIRS}
        write_atomic(self.root / "counters.json", json.dumps(durable).encode())

    def save_file(self, stored: StoredFile) -> None:
        """Bytes still in memory (a generated file) move to the blob first."""
        if stored.data is not None:
            write_atomic(self.blob_path(stored.id), stored.data)
            stored.data, stored.blob = None, self.blob_path(stored.id)
        body = {f.name: getattr(stored, f.name) for f in fields(stored)
                if f.name not in ("data", "blob", "media")}
        body["media"] = stored.media.model_dump(mode="json") if stored.media else None
        self._write("file", stored.id, body)

    def save_cache(self, cache: StoredCache) -> None:
        body = {f.name: getattr(cache, f.name) for f in fields(cache) if f.name != "tokens"}
        body["tokens"] = cache.tokens.model_dump(mode="json")
        self._write("cache", cache.id, body)

    def save_batch(self, job: BatchJob) -> None:
        self._write("batch", job.id, asdict(job))

    def delete(self, kind: str, resource_id: str) -> None:
        self._json(kind, resource_id).unlink(missing_ok=True)
        if kind == "file":
            self.blob_path(resource_id).unlink(missing_ok=True)

    def _write(self, kind: str, resource_id: str, body: dict[str, Any]) -> None:
        write_atomic(self._json(kind, resource_id), json.dumps(body).encode())

    def clear(self) -> None:
        """Forget everything stored (the control API's reset)."""
        for sub in (*KIND_DIRS.values(), "uploads"):
            for path in (self.root / sub).iterdir():
                path.unlink(missing_ok=True)
        (self.root / "counters.json").unlink(missing_ok=True)
        (self.root / "billed.jsonl").unlink(missing_ok=True)

    def load(self, now: float) -> Loaded:
        """Everything still alive at ``now``; expired resources and stale leftovers are
        removed from the directory as they are met."""
        loaded = Loaded()
        counters = _read(self.root / "counters.json") or {}
        loaded.counters.update({k: int(n) for k, n in counters.items() if k in KIND_DIRS})
        for kind in KIND_DIRS:
            for body in self._bodies(kind):
                try:
                    self._restore(kind, body, now, loaded)
                except (TypeError, KeyError, ValueError) as exc:
                    logger.warning("emulator state: ignoring %s %s (%s)", kind,
                                   body.get("id"), exc)
        self._sweep()
        return loaded

    def _restore(self, kind: str, body: dict[str, Any], now: float, loaded: Loaded) -> None:
        rid = body["id"]
        if kind == "batch":
            items = [BatchItem(**item) for item in body.pop("items")]
            loaded.batches[rid] = BatchJob(**body, items=items)
        elif body["expire_time"] <= now or (kind == "file" and not self.blob_path(rid).exists()):
            self.delete(kind, rid)
        elif kind == "file":
            raw = body.pop("media", None)
            media = MediaInfo.model_validate(raw) if raw else None
            loaded.files[rid] = StoredFile(**body, media=media, blob=self.blob_path(rid))
        else:
            tokens = TokenCount.model_validate(body.pop("tokens"))
            loaded.caches[rid] = StoredCache(**body, tokens=tokens)

    def _bodies(self, kind: str) -> list[dict[str, Any]]:
        bodies = []
        for path in sorted((self.root / KIND_DIRS[kind]).glob("*.json")):
            body = _read(path)
            if isinstance(body, dict) and body.get("id") == path.stem:
                bodies.append(body)
            elif body is None and _stale(path):  # a claim never written, or unreadable
                path.unlink(missing_ok=True)
        return bodies

    def _sweep(self) -> None:
        files = self.root / "files"
        leftovers = [*self.root.glob(".*.tmp"), *self.root.glob("*/.*.tmp"),
                     *(self.root / "uploads").glob("*.part"),
                     *(b for b in files.glob("*.bin") if not b.with_suffix(".json").exists())]
        for path in leftovers:
            if _stale(path):
                path.unlink(missing_ok=True)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            if path.stat().st_size:  # empty: a claim not written yet, not an error
                logger.warning("emulator state: ignoring unreadable %s", path)
        return None


def _stale(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > STALE_S
    except FileNotFoundError:
        return False
