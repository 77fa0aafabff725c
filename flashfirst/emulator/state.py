"""The emulator's memory: files, caches, batches, quotas, stats, and its clock.

One re-entrant lock guards it all: handlers take it for short sections that never await,
so the many concurrent calls of an async client see consistent state, and so does a
test thread driving the control object. With ``state_dir`` set, files, caches, batches
and name counters are also kept on disk (``persistence``) and reloaded at start."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flashfirst.emulator.batches.jobs import BatchJob
from flashfirst.emulator.config import EmulatedModel, EmulatorConfig, Script
from flashfirst.emulator.generate.thinking import RANKS
from flashfirst.emulator.persistence import StateStore
from flashfirst.emulator.quotas import QuotaWindows
from flashfirst.emulator.resources import StoredCache, StoredFile, UploadSession
from flashfirst.emulator.stats import EmulatorStats, StatsRecorder
from flashfirst.emulator.tokens.implicit_cache import ImplicitCache
from flashfirst.emulator.tokens.media_probe import MediaInfo
from flashfirst.emulator.wire.codec import resource_id

Durable = StoredFile | StoredCache | BatchJob


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config.model_copy(deep=True)
        self.lock = threading.RLock()
        self.store = StateStore(config.state_dir) if config.state_dir else None
        with self.lock:
            self._clear_memory()
            if self.store is not None:
                loaded = self.store.load(self.now())
                self.files, self.caches = loaded.files, loaded.caches
                self.batches, self._ids = loaded.batches, loaded.counters

    def reset(self) -> None:
        """Forget everything (files, caches, batches, quotas, stats, clock offset), on disk
        too when the state is durable."""
        with self.lock:
            self._clear_memory()
            if self.store is not None:
                self.store.clear()

    def _clear_memory(self) -> None:
        self.config = self.initial_config.model_copy(deep=True)
        self.clock_offset = 0.0
        self.stats_since = time.time()
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, UploadSession] = {}
        self.caches: dict[str, StoredCache] = {}
        self.batches: dict[str, BatchJob] = {}
        self.interactions: dict[str, Any] = {}  # id → interactions.StoredInteraction
        self.platform_batches: dict[str, Any] = {}  # id → platform.batches.PlatformJob
        self.quotas = QuotaWindows(self.config.quota_window_s)
        self.implicit_cache = ImplicitCache()
        self.stats = StatsRecorder(self.config.request_log_limit,
                                   self.store.record_billed if self.store else None)
        self.script_fires: Counter[int] = Counter()
        self.request_repeats: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.probe_cache: dict[str, MediaInfo | str] = {}
        self._ids: Counter[str] = Counter()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def new_id(self, kind: str) -> str:
        """Deterministic for a seed: the n-th cache of a run always has the same name.
        With durable state the count goes on from the last run, and a name another
        process took meanwhile is skipped."""
        with self.lock:
            while True:
                self._ids[kind] += 1
                new = resource_id(self.config.seed, kind, self._ids[kind])
                if self.claim(kind, new):
                    break
            if self.store is not None:
                self.store.save_counters(self._ids)
            return new

    def claim(self, kind: str, resource_id: str) -> bool:
        """Reserve a name on disk (always True for in-memory state)."""
        return self.store is None or self.store.claim(kind, resource_id)

    def new_part(self) -> Path | None:
        """Where an upload's bytes go: a file when durable, memory (None) otherwise."""
        return self.store.new_part() if self.store is not None else None

    def blob_path(self, file_id: str) -> Path | None:
        return self.store.blob_path(file_id) if self.store is not None else None

    def save(self, resource: Durable) -> None:
        """Write a created or changed resource through to disk (no-op in memory)."""
        if self.store is None:
            return
        with self.lock:
            if isinstance(resource, StoredFile):
                self.store.save_file(resource)
            elif isinstance(resource, StoredCache):
                self.store.save_cache(resource)
            else:
                self.store.save_batch(resource)

    def discard(self, resource: Durable) -> None:
        """Remove a deleted resource from disk; memory keeps what the stats need."""
        kind = "file" if isinstance(resource, StoredFile) else \
            "cache" if isinstance(resource, StoredCache) else "batch"
        self.release(kind, resource.id)

    def release(self, kind: str, resource_id: str) -> None:
        """Free a name on disk: its resource was deleted, or never made (a failed upload)."""
        if self.store is not None:
            with self.lock:
                self.store.delete(kind, resource_id)

    def model(self, model_id: str) -> EmulatedModel | None:
        return self.config.model(model_id)

    def today(self) -> date:
        """The UTC date on the emulator clock (retirements happen at 00:00 UTC)."""
        return datetime.fromtimestamp(self.now(), UTC).date()

    def serving(self, model_id: str) -> EmulatedModel | None:
        """The model that answers for ``model_id`` today (a retired id: its replacement)."""
        return self.config.serving(model_id, self.today())

    def set_config(self, config: EmulatorConfig) -> None:
        with self.lock:
            if config.state_dir != self.config.state_dir:
                raise ValueError("state_dir is fixed when the emulator starts")
            if config.scripts != self.config.scripts:
                self.script_fires.clear()
            self.quotas.window_s = config.quota_window_s
            self.config = config

    def match_script(self, model: str, text: str, requested: str | None = None,
                     thinking: str = "MEDIUM") -> Script | None:
        """The first rule that matches and still has firings left; counts the firing.
        A rule's model matches the serving model or the id the client asked for;
        ``thinking`` is the request's rank on ``generate.thinking.RANKS``."""
        with self.lock:
            for i, script in enumerate(self.config.scripts):
                if script.model and script.model not in (model, requested):
                    continue
                if not _within(thinking, script.min_thinking, script.max_thinking):
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
                # A cache loaded from an earlier run is billed here from this run's start.
                since = max(cache.create_time, self.stats_since)
                hours = max(0.0, cache.end_time(now) - since) / 3600
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


def _within(rank: str, low: str | None, high: str | None) -> bool:
    order = RANKS.index(rank)
    return (low is None or order >= RANKS.index(low)) and (
        high is None or order <= RANKS.index(high))
