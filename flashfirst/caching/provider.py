"""The engine's view of the caches: which context a model's calls use, kept alive."""

from __future__ import annotations

import asyncio
import threading
import time

from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.context import ContextUse

_REFRESH_EVERY_S = 30.0


class CachedContexts:
    """Cached where the plan says so, inline for every other model (e.g. escalations)."""

    def __init__(self, manager: CacheManager, context: PreparedContext,
                 plan: dict[str, ContextUse], ttl_s: float) -> None:
        self.manager, self.context, self.ttl_s = manager, context, ttl_s
        self._plan = dict(plan)
        self._lock = threading.Lock()
        self._last_refresh: dict[str, float] = {}

    async def use(self, model: str) -> ContextUse:
        with self._lock:
            use = self._plan.get(model)
        if use is None:
            return self.context.inline(model)
        if use.cached and self._refresh_due(use.cache_name):
            await asyncio.to_thread(self.manager.refresh, use.cache_name, self.ttl_s)
        return use

    async def recreate(self, model: str, stale_cache: str) -> ContextUse:
        fresh = await asyncio.to_thread(
            self.manager.ensure, self.context, model, self.ttl_s, stale_cache)
        with self._lock:
            self._plan[model] = fresh
        return fresh

    def _refresh_due(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last_refresh.get(name, 0.0) < _REFRESH_EVERY_S:
                return False
            self._last_refresh[name] = now
            return True
