"""The engine's view of the caches: which context a model's calls use, kept alive."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime

from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.inputs.context import ContextUse

log = logging.getLogger(__name__)


class CachedContexts:
    """Cached where the plan says so, inline for every other model (e.g. escalations)."""

    def __init__(self, manager: CacheManager, context: PreparedContext,
                 plan: dict[str, ContextUse], ttl_s: float) -> None:
        self.manager, self.context, self.ttl_s = manager, context, ttl_s
        self._plan = dict(plan)
        self._lock = threading.Lock()

    async def use(self, model: str) -> ContextUse:
        with self._lock:
            use = self._plan.get(model)
        return use if use is not None else self.context.inline(model)

    async def used(self, use: ContextUse, at: datetime) -> None:
        """A call read the cache at ``at`` (the backend's clock): extend it if it nears
        its expiry. Checked in memory; storage and the API only when it is near."""
        if use.cache_name and self.manager.near_expiry(use.cache_name, self.ttl_s, at):
            try:
                await asyncio.to_thread(self.manager.refresh, use.cache_name, self.ttl_s, at)
            except Exception:  # noqa: BLE001 - the answer is paid for and stands
                # Unextended, the cache may expire: the next call then recreates it.
                log.warning("could not keep cache %s alive", use.cache_name, exc_info=True)

    async def recreate(self, model: str, stale_cache: str) -> ContextUse:
        fresh = await asyncio.to_thread(
            self.manager.ensure, self.context, model, self.ttl_s, stale_cache)
        with self._lock:
            self._plan[model] = fresh
        return fresh
