"""Find or create the one cache of a context for a model, keep it alive, and let it go.

Lookups are cheap: a marker object in the run's storage names the cache of a (content
hash, model), so a run does one ``caches.get`` per model instead of listing every cache
per call. Concurrent runs serialize on a lock object next to the marker (an exclusive
create, which both local files and GCS preconditions make atomic), so two flows started
at the same moment create one cache, not two. Without a marker (another machine, a lost
store) the display name, which carries the hash, finds it by listing, once.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.caching.record import CacheRecord
from flashfirst.errors import StorageError
from flashfirst.gemini.catalogue import Catalogue, media_rules_of
from flashfirst.inputs.context import ContextUse
from flashfirst.media.parts import parts_for_rules
from flashfirst.run.state import RunState
from flashfirst.storage import Storage, join

DISPLAY_PREFIX = "flashfirst"
_LOCK_STALE_S = 120.0
_LOCK_POLL_S = 0.05


def display_name(content_hash: str, model: str) -> str:
    return f"{DISPLAY_PREFIX}:{content_hash[:40]}:{model.removeprefix('models/')}"[:128]


def parse_display_name(name: str | None) -> tuple[str, str] | None:
    """(hash prefix, model) of one of our caches, or None for anyone else's."""
    if not name or not name.startswith(f"{DISPLAY_PREFIX}:"):
        return None
    _, digest, model = name.split(":", 2)
    return digest, model


class PreparedContext(BaseModel):
    """The shared context turned into request parts, with its identity and size."""

    content_hash: str
    system_instruction: str | None = None
    parts: list[types.Part] = Field(default_factory=list)
    tokens: int = 0

    def inline(self, model: str) -> ContextUse:
        return ContextUse(model=model, content_hash=self.content_hash, tokens=self.tokens,
                          system_instruction=self.system_instruction, parts=self.parts)


class CacheMarker(BaseModel):
    name: str
    model: str
    content_hash: str
    tokens: int


class CacheManager:
    """Thread-safe. ``records`` is this process's copy of what the run did with its
    caches; with a ``run_state`` the run's own records live there, shared by every chunk
    wherever it runs (made, found, extended), and the copy is read again only when it
    says a cache nears its expiry."""

    def __init__(self, client: genai.Client, storage: Storage, root: str,
                 backend: str, run_state: RunState | None = None, *,
                 catalogue: Catalogue) -> None:
        """``backend`` (``client.backend_id``) keeps markers apart: a cache name is only
        meaningful on the backend that made it. ``catalogue``: the run's (the user's file
        when set), which says what serves each model and so which media rules its cache
        contents follow."""
        self.client, self.storage, self.run_state = client, storage, run_state
        self.catalogue = catalogue
        self._root = join(root, "caches", backend)
        self._lock = threading.Lock()
        self.records: dict[str, CacheRecord] = {}
        self._untracked: set[str] = set()  # not in the run state: nothing to keep alive
        self.api_calls = 0

    # -- finding and creating ---------------------------------------------------------

    def ensure(self, context: PreparedContext, model: str, ttl_s: float,
               stale: str | None = None) -> ContextUse:
        """A live cache of ``context`` for ``model`` whose TTL covers ``ttl_s`` from now."""
        with self._lock, self._cross_run_lock(context.content_hash, model):
            found = self._find_live(context.content_hash, model, stale)
            if found is not None:
                self._know(found.name)  # another chunk of this run may have made it
                record = self._extend(found, ttl_s)
            else:
                record = self._create(context, model, ttl_s, recreated=stale is not None)
            self.records[record.name] = record
            if self.run_state is not None:
                self.run_state.put_cache_records([record])
            self._write_marker(CacheMarker(name=record.name, model=model,
                                           content_hash=context.content_hash,
                                           tokens=record.tokens))
        return ContextUse(model=model, content_hash=context.content_hash, tokens=record.tokens,
                          cache_name=record.name)

    def find(self, content_hash: str, model: str) -> bool:
        """Is there a live cache of this context for this model (cheap: marker + get)?"""
        with self._lock:
            return self._find_live(content_hash, model, None) is not None

    def _find_live(self, content_hash: str, model: str,
                   stale: str | None) -> types.CachedContent | None:
        marker = self._read_marker(content_hash, model)
        if marker is not None and marker.name != stale:
            cache = self._get(marker.name)
            if cache is not None and _same_model(cache.model, model):
                return cache
        if marker is not None:
            return None  # the marker's cache is gone: the list would not know better
        wanted = display_name(content_hash, model)
        self.api_calls += 1
        for cache in self.client.caches.list(config=types.ListCachedContentsConfig(
                page_size=100)):
            if cache.display_name == wanted and cache.name != stale and _alive(cache):
                return cache
        return None

    def _get(self, name: str) -> types.CachedContent | None:
        self.api_calls += 1
        try:
            cache = self.client.caches.get(name=name)
        except genai_errors.ClientError as exc:
            if exc.code in (403, 404):
                return None
            raise
        return cache if _alive(cache) else None

    def _create(self, context: PreparedContext, model: str, ttl_s: float,
                recreated: bool) -> CacheRecord:
        self.api_calls += 1
        # A 2.x model refuses per-part media resolution (Gemini 3/4 only).
        parts = parts_for_rules(context.parts, media_rules_of(self.catalogue, model))
        cache = self.client.caches.create(model=model, config=types.CreateCachedContentConfig(
            display_name=display_name(context.content_hash, model),
            system_instruction=context.system_instruction,
            contents=[types.Content(role="user", parts=parts)] if parts else None,
            ttl=f"{int(ttl_s)}s",
        ))
        tokens = (cache.usage_metadata.total_token_count
                  if cache.usage_metadata and cache.usage_metadata.total_token_count
                  else context.tokens)
        return CacheRecord(name=cache.name, model=model, content_hash=context.content_hash,
                           tokens=tokens, created_by_run=True,
                           created_at=cache.create_time or _now(),
                           expire_at=cache.expire_time or _now() + timedelta(seconds=ttl_s),
                           recreated=recreated)

    def _extend(self, cache: types.CachedContent, ttl_s: float) -> CacheRecord:
        known = self.records.get(cache.name)
        record = known or CacheRecord(
            name=cache.name, model=_short(cache.model), content_hash="",
            tokens=(cache.usage_metadata.total_token_count or 0) if cache.usage_metadata else 0,
            created_by_run=False, expire_at_found=cache.expire_time,
            expire_at=cache.expire_time or _now())
        if not record.content_hash:
            parsed = parse_display_name(cache.display_name)
            record.content_hash = parsed[0] if parsed else ""
        wanted = _now() + timedelta(seconds=ttl_s)
        if record.expire_at < wanted:
            record.expire_at = self._set_ttl(cache.name, ttl_s) or wanted
        return record

    def _set_ttl(self, name: str, ttl_s: float) -> datetime | None:
        self.api_calls += 1
        cache = self.client.caches.update(
            name=name, config=types.UpdateCachedContentConfig(ttl=f"{int(ttl_s)}s"))
        return cache.expire_time

    # -- keeping alive and letting go ------------------------------------------------

    def near_expiry(self, name: str, ttl_s: float, at: datetime | None = None) -> bool:
        """Does this process's copy say cache ``name`` needs extending at ``at`` (the
        backend's clock, e.g. a response's Date; default this machine's)? Unknown here
        counts as yes, so the shared record is read once. In memory: cheap per call."""
        record = self.records.get(name)
        if record is None:
            return self.run_state is not None and name not in self._untracked
        return _due(record, ttl_s, at or _now())

    def refresh(self, name: str, ttl_s: float, at: datetime | None = None) -> None:
        """Extend a cache still in use when less than a third of ``ttl_s`` remains at
        ``at``. With a run state, once per near-expiry for the whole run: the chunk that
        wins the claim extends, the others read the new expiry."""
        now = at or _now()
        with self._lock:
            if self.run_state is None:
                record = self.records.get(name)
                if record is not None and _due(record, ttl_s, now):
                    record.expire_at = self._set_ttl_or_keep(name, ttl_s, record.expire_at)
                return
            if not self.near_expiry(name, ttl_s, now):
                return
            claimed, shared = self.run_state.claim_extension(
                name, lambda r: _due(r, ttl_s, now))
            if claimed and shared is not None:
                expire_at = self._set_ttl_or_keep(name, ttl_s, None)
                shared = self.run_state.extended(name, expire_at)
            if shared is not None:
                self.records[name] = shared
            else:
                self._untracked.add(name)

    def _set_ttl_or_keep(self, name: str, ttl_s: float,
                         keep: datetime | None) -> datetime | None:
        """A refused extension (the cache went meanwhile) is not the call's failure: the
        next call finds the cache gone and recreates it."""
        try:
            return self._set_ttl(name, ttl_s) or keep
        except genai_errors.ClientError:
            return keep

    def _know(self, name: str) -> None:
        if name not in self.records and self.run_state is not None:
            shared = self.run_state.cache_record(name)
            if shared is not None:
                self.records[name] = shared
            else:
                self._untracked.add(name)

    def finish(self, keep_for_s: Callable[[CacheRecord], float]) -> list[CacheRecord]:
        """End of run: keep each cache for its reuse window, or delete it (window 0)."""
        with self._lock:
            for record in self.records.values():
                if record.deleted_at is not None:
                    continue
                keep = keep_for_s(record)
                if keep > 0:
                    with contextlib.suppress(genai_errors.ClientError):
                        record.expire_at = self._set_ttl(record.name, keep) or (
                            _now() + timedelta(seconds=keep))
                else:
                    self.api_calls += 1
                    with contextlib.suppress(genai_errors.ClientError):
                        self.client.caches.delete(name=record.name)
                    record.deleted_at = _now()
            return list(self.records.values())

    # -- markers and the cross-run lock ------------------------------------------------

    def _marker_uri(self, content_hash: str, model: str) -> str:
        return join(self._root, f"{content_hash[:40]}-{_short(model)}.json")

    def _read_marker(self, content_hash: str, model: str) -> CacheMarker | None:
        try:
            return CacheMarker.model_validate_json(
                self.storage.read_bytes(self._marker_uri(content_hash, model)))
        except (StorageError, ValueError):
            return None

    def _write_marker(self, marker: CacheMarker) -> None:
        self.storage.write_text(self._marker_uri(marker.content_hash, marker.model),
                                marker.model_dump_json(), content_type="application/json")

    @contextlib.contextmanager
    def _cross_run_lock(self, content_hash: str, model: str) -> Iterator[None]:
        uri = self._marker_uri(content_hash, model).removesuffix(".json") + ".lock"
        body = json.dumps({"at": time.time()}).encode()
        while not self.storage.write_if_absent(uri, body, "application/json"):
            try:
                held_since = json.loads(self.storage.read_bytes(uri))["at"]
            except (StorageError, ValueError, KeyError):
                held_since = time.time()
            if time.time() - held_since > _LOCK_STALE_S:
                self.storage.delete(uri)  # its holder died: break it
                continue
            time.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            self.storage.delete(uri)


def _due(record: CacheRecord, ttl_s: float, now: datetime) -> bool:
    return record.deleted_at is None and record.expire_at - now < timedelta(seconds=ttl_s / 3)


def _alive(cache: types.CachedContent) -> bool:
    return cache.expire_time is None or cache.expire_time > _now() + timedelta(seconds=5)


def _same_model(a: str | None, b: str) -> bool:
    return _short(a or "") == _short(b)


def _short(model: str) -> str:
    return model.removeprefix("models/")


def _now() -> datetime:
    return datetime.now(UTC)
