"""Sweep our caches: delete those idle past the reuse window (or left by failed runs),
and say how much storage they have cost. Other people's caches are never touched."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.caching.manager import parse_display_name
from flashfirst.errors import UnknownModelError
from flashfirst.pricing.prices import PriceTable, usd


class SweptCache(BaseModel):
    name: str
    model: str
    tokens: int
    age_s: float
    idle_s: float
    storage_token_hours: float
    storage_usd: float
    deleted: bool


class JanitorReport(BaseModel):
    listed: int = 0
    ours: list[SweptCache] = Field(default_factory=list)
    run_states_removed: list[str] = Field(
        default_factory=list, description="Runs whose stale state (left by a killed run: a "
        "finished run removes its own) was removed.")

    @property
    def deleted(self) -> list[SweptCache]:
        return [c for c in self.ours if c.deleted]

    @property
    def storage_usd(self) -> float:
        return round(sum(c.storage_usd for c in self.ours), 9)

    @property
    def storage_token_hours(self) -> float:
        return round(sum(c.storage_token_hours for c in self.ours), 6)

    def summary(self) -> str:
        return (f"{self.listed} caches listed, {len(self.ours)} ours, {len(self.deleted)} "
                f"deleted; ours have stored {self.storage_token_hours:,.1f} token-hours "
                f"costing ${self.storage_usd:.6f} so far; {len(self.run_states_removed)} "
                "stale run states removed")

    def markdown(self) -> str:
        """The sweep as the Prefect artifact shows it: the summary, then one row a cache."""
        rows = "\n".join(f"| {c.name} | {c.model} | {c.tokens} | {c.idle_s:.0f} | "
                         f"{c.storage_token_hours:.2f} | ${c.storage_usd:.6f} | {c.deleted} |"
                         for c in self.ours)
        return (f"# Cache janitor\n\n{self.summary()}\n\n| cache | model | tokens | idle s "
                f"| token-hours | storage | deleted |\n|---|---|---:|---:|---:|---:|---|\n"
                f"{rows}\n")


def sweep(client: genai.Client, prices: PriceTable, reuse_window_s: float,
          now: datetime | None = None) -> JanitorReport:
    now = now or datetime.now(UTC)
    report = JanitorReport()
    for cache in client.caches.list(config=types.ListCachedContentsConfig(page_size=100)):
        report.listed += 1
        if parse_display_name(cache.display_name) is None:
            continue
        created = cache.create_time or now
        last_touch = max(filter(None, [cache.update_time, cache.create_time]), default=now)
        idle = (now - last_touch).total_seconds()
        tokens = (cache.usage_metadata.total_token_count or 0) if cache.usage_metadata else 0
        model = (cache.model or "").removeprefix("models/")
        age = max(0.0, (now - created).total_seconds())
        try:
            cost = prices.cache_storage(model, tokens, age)
        except UnknownModelError:
            cost = Decimal(0)
        deleted = idle > reuse_window_s
        if deleted:
            with contextlib.suppress(genai_errors.ClientError):  # already gone is fine
                client.caches.delete(name=cache.name)
        report.ours.append(SweptCache(
            name=cache.name, model=model, tokens=tokens, age_s=round(age, 1),
            idle_s=round(idle, 1), storage_token_hours=tokens * age / 3600,
            storage_usd=usd(cost), deleted=deleted))
    return report
