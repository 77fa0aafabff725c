"""The emulator's memory: files, caches, batches, quotas, stats, and its clock.

One re-entrant lock guards it all: handlers take it for short sections that never await,
so the many concurrent calls of an async client see consistent state, and so does a
test thread driving the control object."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flashfirst.emulator.config import EmulatedModel, EmulatorConfig, Script
from flashfirst.emulator.quotas import QuotaWindows
from flashfirst.emulator.stats import EmulatorStats, StatsRecorder
from flashfirst.emulator.wire import resource_id, timestamp
from flashfirst.probe import MediaInfo
from flashfirst.token_rules import TokenCount

if TYPE_CHECKING:
    from flashfirst.emulator.batches import BatchJob


@dataclass
class StoredFile:
    """An uploaded (or generated) file; its tokens come from probing these bytes."""

    id: str
    mime_type: str
    data: bytes
    sha256_hex: str
    create_time: float
    ready_time: float
    expire_time: float
    display_name: str | None = None
    source: str = "UPLOADED"
    media: MediaInfo | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return f"files/{self.id}"

    def state(self, now: float) -> str:
        if now < self.ready_time:
            return "PROCESSING"
        return "FAILED" if self.error else "ACTIVE"

    def resource(self, base_url: str, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(max(self.create_time, min(now, self.ready_time))),
            "expirationTime": timestamp(self.expire_time),
            "sha256Hash": base64.b64encode(self.sha256_hex.encode()).decode(),
            "uri": f"{base_url}/v1beta/files/{self.id}",
            "state": self.state(now),
            "source": self.source,
        }
        if self.display_name:
            body["displayName"] = self.display_name
        if self.source == "GENERATED":
            body["downloadUri"] = f"{base_url}/v1beta/files/{self.id}:download?alt=media"
        if self.error and body["state"] == "FAILED":
            body["error"] = {"code": 400, "message": self.error, "status": "INVALID_ARGUMENT"}
        return body


@dataclass
class StoredCache:
    """A cached context; storage is billed from creation to deletion or expiry."""

    id: str
    model: str
    tokens: TokenCount
    text: str
    content_digest: str
    create_time: float
    update_time: float
    expire_time: float
    display_name: str | None = None
    deleted_time: float | None = None

    @property
    def name(self) -> str:
        return f"cachedContents/{self.id}"

    def alive(self, now: float) -> bool:
        return self.deleted_time is None and now < self.expire_time

    def end_time(self, now: float) -> float:
        return min(self.expire_time, self.deleted_time or now, now)

    def resource(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "model": f"models/{self.model}",
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(self.update_time),
            "expireTime": timestamp(self.expire_time),
            "usageMetadata": {"totalTokenCount": self.tokens.total},
        }
        if self.display_name:
            body["displayName"] = self.display_name
        return body


@dataclass
class UploadSession:
    """A resumable upload between its 'start' and its 'upload, finalize'."""

    id: str
    declared_size: int | None
    mime_type: str
    display_name: str | None
    file_id: str | None
    data: bytearray = field(default_factory=bytearray)


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config.model_copy(deep=True)
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything (files, caches, batches, quotas, stats, clock offset)."""
        with self.lock:
            self.config = self.initial_config.model_copy(deep=True)
            self.clock_offset = 0.0
            self.files: dict[str, StoredFile] = {}
            self.uploads: dict[str, UploadSession] = {}
            self.caches: dict[str, StoredCache] = {}
            self.batches: dict[str, BatchJob] = {}
            self.quotas = QuotaWindows(self.config.quota_window_s)
            self.stats = StatsRecorder(self.config.request_log_limit)
            self.script_fires: Counter[int] = Counter()
            self.request_repeats: Counter[str] = Counter()
            self.in_flight: Counter[str] = Counter()
            self.probe_cache: dict[str, MediaInfo | str] = {}
            self._ids: Counter[str] = Counter()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def new_id(self, kind: str) -> str:
        """Deterministic for a seed: the n-th cache of a run always has the same name."""
        with self.lock:
            self._ids[kind] += 1
            return resource_id(self.config.seed, kind, self._ids[kind])

    def model(self, model_id: str) -> EmulatedModel | None:
        return self.config.model(model_id)

    def set_config(self, config: EmulatorConfig) -> None:
        with self.lock:
            if config.scripts != self.config.scripts:
                self.script_fires.clear()
            self.quotas.window_s = config.quota_window_s
            self.config = config

    def match_script(self, model: str, text: str) -> Script | None:
        """The first rule that matches and still has firings left; counts the firing."""
        with self.lock:
            for i, script in enumerate(self.config.scripts):
                if script.model and script.model != model:
                    continue
                if script.contains is not None and script.contains not in text:
                    continue
                if script.times is not None and self.script_fires[i] >= script.times:
                    continue
                self.script_fires[i] += 1
                return script
        return None

    def snapshot_stats(self) -> EmulatorStats:
        with self.lock:
            now = self.now()
            by_model: dict[str, float] = {}
            for cache in self.caches.values():
                hours = max(0.0, cache.end_time(now) - cache.create_time) / 3600
                by_model[cache.model] = by_model.get(cache.model, 0.0) + hours * cache.tokens.total
            expired = sum(1 for c in self.caches.values()
                          if c.expire_time <= now and (c.deleted_time is None
                                                       or c.deleted_time > c.expire_time))
            return self.stats.snapshot(
                storage_token_hours=sum(by_model.values()),
                storage_token_hours_by_model=by_model,
                cache_expirations=expired,
                live_caches=sum(1 for c in self.caches.values() if c.alive(now)),
            )
