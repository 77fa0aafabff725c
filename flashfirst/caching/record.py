"""What a run did with one cache. Apart from the manager so that the run's state can store
records without importing the code that makes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CacheRecord(BaseModel):
    """What a run did with one cache; the cost stage bills storage from it."""

    name: str
    model: str
    content_hash: str
    tokens: int
    created_by_run: bool
    created_at: datetime | None = None
    # Expiry as found, for a reused cache: storage before it was paid by an earlier run.
    expire_at_found: datetime | None = None
    expire_at: datetime
    deleted_at: datetime | None = None
    recreated: bool = False

    def billed_seconds(self) -> float:
        """Storage this run caused: from creation (or the expiry it found) to the end."""
        start = self.created_at if self.created_by_run else self.expire_at_found
        end = self.deleted_at or self.expire_at
        if start is None:
            return 0.0
        return max(0.0, (end - start).total_seconds())
