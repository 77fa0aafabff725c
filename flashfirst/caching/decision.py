"""Create a cache only where it saves money.

Without a cache every call bills the context at the input rate. With one, the context is
billed once at the input rate (the write), then at the cached rate on every call, plus
storage per token-hour for as long as the cache lives. Cache only when the difference is
positive, and never below the model's minimum cacheable size (the API refuses those).

Implicit caching (on by default for 2.5 and newer, https://ai.google.dev/gemini-api/docs/
caching, 2026-10-13) may already discount a repeated prefix above the model's implicit
minimum without any cache object, but with no guarantee (research file §1.3: hits drop to
0 in some size ranges): the decision still prices explicit caching against no discount,
and says when an inline context can still be discounted implicitly."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from flashfirst.items import ServiceTier
from flashfirst.pricing.prices import MILLION, PriceTable, usd


class CacheDecision(BaseModel):
    model: str
    create: bool
    reason: str
    context_tokens: int
    items: int
    ttl_s: float
    saving_usd: float = 0.0
    storage_usd: float = 0.0
    write_usd: float = 0.0

    @property
    def net_usd(self) -> float:
        return self.saving_usd - self.storage_usd - self.write_usd


def decide(*, model: str, context_tokens: int, items: int, ttl_s: float,
           min_tokens: int | None, prices: PriceTable, tier: ServiceTier = ServiceTier.STANDARD,
           live: bool = False, implicit_min_tokens: int | None = None) -> CacheDecision:
    """``live``: an earlier run's cache of this context is still there; using it costs
    no write, only the storage of any extension. ``min_tokens`` None: the model has no
    explicit caching (Gemini 4 Argon)."""
    base = CacheDecision(model=model, create=False, reason="", context_tokens=context_tokens,
                         items=items, ttl_s=ttl_s)
    implicit = (implicit_min_tokens is not None and context_tokens >= implicit_min_tokens
                and items > 1)
    implicit_note = (f"; sent first in every request, so implicit caching (from "
                     f"{implicit_min_tokens} tokens) may discount it from the second call"
                     if implicit else "")
    if min_tokens is None:
        base.reason = f"{model} has no explicit caching: sent inline{implicit_note}"
        return base
    if context_tokens < min_tokens:
        base.reason = (f"context of {context_tokens} tokens is below {model}'s minimum "
                       f"cacheable size of {min_tokens}: sent inline{implicit_note}")
        return base
    if items == 0:
        base.reason = "no items routed to this model"
        return base
    rates = prices.rates(prices.for_model(model), tier)  # at the tier the calls will use
    per_call = Decimal(context_tokens) * (rates.input - rates.cached_input) / MILLION
    saving = per_call * items
    storage = prices.cache_storage(model, context_tokens, ttl_s)
    write = Decimal(0) if live else prices.cache_write(model, context_tokens)
    base.saving_usd, base.storage_usd, base.write_usd = usd(saving), usd(storage), usd(write)
    net = saving - storage - write
    if net > 0 and live:
        base.create = True
        base.reason = (f"a live cache from an earlier run holds this context: {items} calls "
                       f"save ${usd(saving):.6f} > storage ${usd(storage):.6f} for "
                       f"{ttl_s:.0f}s, no write: reused")
    elif net > 0:
        base.create = True
        base.reason = (f"{items} calls × {context_tokens} tokens save ${usd(saving):.6f} "
                       f"> storage ${usd(storage):.6f} for {ttl_s:.0f}s + write "
                       f"${usd(write):.6f}: cached")
    else:
        base.reason = (f"{items} calls would save ${usd(saving):.6f}, less than storage "
                       f"${usd(storage):.6f} for {ttl_s:.0f}s + write ${usd(write):.6f}: "
                       f"sent inline{implicit_note or ' (first in the request)'}")
    return base


def expected_run_s(items: int, rpm: int, concurrency: int, latency_s: float) -> float:
    """How long the calls of one model should take: the slower of quota and concurrency."""
    if items == 0:
        return 0.0
    return max(items / rpm * 60.0, items * latency_s / concurrency)


def worth_keeping_s(model: str, prices: PriceTable) -> float:
    """How long an idle cache may be kept before its storage costs more than writing it
    again would: input price ÷ storage price per hour (Pro: 1.25 / 4.50 h ≈ 17 min)."""
    row = prices.for_model(model)
    if row.cache_storage_per_hour is None or row.cache_storage_per_hour <= 0:
        return float("inf")
    return float(row.input / row.cache_storage_per_hour * 3600)
