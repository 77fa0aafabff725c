"""The shared context a run sends with every item, and how a call includes it.

A context is either cached (the call names the cache) or inline (its parts go first in
every request, so Gemini's implicit caching can still hit)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.user_input import UserInput

# Ids of the shared context's media items; no work item's id may start with it.
CONTEXT_PREFIX = "context:"


class SharedContext(UserInput):
    """Run parameter: what every item of the run is asked against."""

    system_instruction: str | None = Field(
        None, description="Instruction for every call (e.g. a role and house rules).")
    documents: list[str] = Field(
        default_factory=list,
        description="URIs (local or gs://) of documents or media every item is asked about.")


class ContextUse(BaseModel):
    """How one model's calls include the shared context."""

    model: str
    content_hash: str
    tokens: int = 0
    cache_name: str | None = None
    system_instruction: str | None = None
    parts: list[types.Part] = Field(default_factory=list)

    @property
    def cached(self) -> bool:
        return self.cache_name is not None


class ContextProvider(Protocol):
    """Implemented by the caching stage; the engine asks it per model."""

    async def use(self, model: str) -> ContextUse | None: ...

    async def used(self, use: ContextUse, at: datetime) -> None:
        """A call used ``use`` at ``at`` by the backend's clock (keep its cache alive)."""
        ...

    async def recreate(self, model: str, stale_cache: str) -> ContextUse | None:
        """The cache vanished mid-run (expired, deleted): make a new one, once."""
        ...


class StaticContexts:
    """A fixed context per model (inline, or caches made beforehand)."""

    def __init__(self, uses: dict[str, ContextUse] | None = None,
                 fallback: ContextUse | None = None) -> None:
        self._uses = uses or {}
        self._fallback = fallback

    async def use(self, model: str) -> ContextUse | None:
        use = self._uses.get(model)
        if use is None and self._fallback is not None:
            return self._fallback.model_copy(update={"model": model})
        return use

    async def used(self, use: ContextUse, at: datetime) -> None:
        return None

    async def recreate(self, model: str, stale_cache: str) -> ContextUse | None:
        return None


def hash_parts(model: str | None, system_instruction: str | None,
               blobs: list[bytes]) -> str:
    """Content identity: the bytes of every part (not their names) plus the model."""
    h = hashlib.sha256()
    for piece in [(model or "").encode(), (system_instruction or "").encode(), *blobs]:
        h.update(len(piece).to_bytes(8, "big"))
        h.update(piece)
    return h.hexdigest()
