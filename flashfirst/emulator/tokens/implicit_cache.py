"""Implicit caching: a repeated prompt prefix is discounted without any cache object.

The caching page (ai.google.dev/gemini-api/docs/caching, 2026-10-13) says it is on by
default for 2.5 and newer, from 2,048 tokens on 2.5 and 4,096 on 3.x and Argon, with no
guarantee; CONTRACT-11 fixes what the emulator does: per serving model and for
``implicit_cache_ttl_s`` of its clock (5 minutes), it remembers each request's cumulative
prefixes (system instruction, then content parts in order, part by part); a later request
whose longest remembered prefix reaches the model's minimum reports that prefix's tokens
as ``cachedContentTokenCount``. Not for Batch, not beside an explicit ``cachedContent``."""

from __future__ import annotations

from dataclasses import dataclass

from flashfirst.emulator.tokens.rules import TokenCount


@dataclass(frozen=True)
class Prefix:
    """The prompt up to and including one part: its digest and its tokens."""

    digest: str
    tokens: TokenCount


class ImplicitCache:
    """Not thread-safe by itself: the emulator calls it under its lock."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, tuple[float, TokenCount]]] = {}

    def serve(self, model: str, prefixes: list[Prefix], minimum: int, now: float,
              ttl_s: float) -> TokenCount | None:
        """The cached part of this prompt (None: a miss); then remember its prefixes."""
        seen = self._seen.setdefault(model, {})
        for digest in [d for d, (at, _) in seen.items() if at <= now - ttl_s]:
            del seen[digest]
        hit = next((p.tokens for p in reversed(prefixes) if p.digest in seen), None)
        for prefix in prefixes:
            seen[prefix.digest] = (now, prefix.tokens)
        if hit is None or hit.total < max(1, minimum):
            return None
        return hit
