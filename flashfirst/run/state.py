"""One run's shared state, wherever its chunks run: threads, processes, Dask workers.

A chunk task may run in another process or on another machine than the flow, so what
the chunks of a run share (the budget, the records of the run's caches) cannot live in a
process's memory: each process would hold its own copy, and a budget of $X spent over two
worker processes would reach $2X. It lives instead under the run's state root (a local
folder or ``gs://``), one small JSON object per concern, changed only by compare-and-swap
on the object's generation (``Storage.write_bytes(if_generation_match=…)``: a lock-guarded
rename for local files, a generation precondition on GCS). A writer that lost the race
reads again and re-applies its change, so no update is ever lost.

Callers keep round trips rare: the budget is leased in slices (``BudgetLease``), a cache's
expiry is read again only when the local copy says it is near.

A run removes its state once every chunk has ended and its caches are finished (or its
batch jobs parked: the collector finishes them as a new run, with a state of its own);
the state of a run killed before that is removed by the cache janitor once stale.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from flashfirst.caching.record import CacheRecord
from flashfirst.errors import StorageError
from flashfirst.storage import PreconditionFailed, Storage, join

M = TypeVar("M", bound=BaseModel)

_MAX_TRIES = 50
_READ_TRIES = 20
# A budget lease is a share of what no holder holds yet, never less than a floor (a
# share of the limit), so the leases of a whole run take a few dozen round trips.
LEASE_SHARE = Decimal(1) / 8
LEASE_FLOOR = Decimal(1) / 100
# A claimed cache extension whose holder never finished it (killed) is claimable again.
CLAIM_STALE_S = 60.0


class Lease(BaseModel):
    granted: Decimal = Decimal(0)
    spent: Decimal = Field(Decimal(0), description="As last reported by its holder.")


class BudgetState(BaseModel):
    limit: Decimal
    settled: Decimal = Field(Decimal(0), description="Spent by holders that have finished.")
    leases: dict[str, Lease] = Field(default_factory=dict)

    def unleased(self) -> Decimal:
        """What no holder may spend yet: a lease counts as spent up to what it holds, or
        what it overshot."""
        held = sum((max(lease.granted, lease.spent) for lease in self.leases.values()),
                   Decimal(0))
        return self.limit - self.settled - held

    def known_spent(self) -> Decimal:
        return self.settled + sum((lease.spent for lease in self.leases.values()), Decimal(0))


class Grant(BaseModel):
    """A holder's answer from the shared budget."""

    granted: Decimal = Field(description="All this holder may spend (its lease in total).")
    run_spent: Decimal = Field(description="The run's spend as last reported by all.")


class CacheEntry(BaseModel):
    record: CacheRecord
    extending_since: float | None = Field(
        None, description="time.time() when a chunk claimed the extension it is making.")


class CacheRecords(BaseModel):
    caches: dict[str, CacheEntry] = Field(default_factory=dict)


class SharedDocument(Generic[M]):
    """One JSON object in storage, changed by compare-and-swap: a run's budget and caches,
    the autopilot's evidence."""

    def __init__(self, storage: Storage, uri: str, empty: Callable[[], M],
                 kind: type[M]) -> None:
        self.storage, self.uri, self._empty, self._kind = storage, uri, empty, kind

    def read(self) -> M:
        return self._read()[0]

    def update(self, change: Callable[[M], M | None]) -> M:
        """Apply ``change`` to the current value until the write lands on the generation it
        was read from; ``change`` returns None to leave the value as it is."""
        for attempt in range(_MAX_TRIES):
            current, generation = self._read()
            new = change(current.model_copy(deep=True))
            if new is None:
                return current
            try:
                self.storage.write_bytes(self.uri, new.model_dump_json().encode(),
                                         "application/json", if_generation_match=generation)
            except PreconditionFailed:
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** attempt)))
                continue
            return new
        raise StorageError(f"{self.uri}: still changing after {_MAX_TRIES} tries")

    def _read(self) -> tuple[M, int]:
        """The value and its generation (0: absent), read as one version."""
        for attempt in range(_READ_TRIES):
            if attempt:  # holders writing in turn: back off as update() does
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** attempt)))
            try:
                generation = self.storage.stat(self.uri).generation
            except StorageError:
                if not self.storage.exists(self.uri):
                    return self._empty(), 0
                continue  # created since the stat (another holder's first write): read it
            try:  # that very generation: an overwrite in between is noticed, never mixed
                data = self.storage.read_bytes(self.uri, generation)
            except StorageError:
                continue  # overwritten since the stat: read the newer one
            return self._kind.model_validate_json(data), generation
        raise StorageError(f"{self.uri}: changed under every read")


class RunState:
    """The shared state of run ``run_id`` under ``state_root``."""

    def __init__(self, storage: Storage, state_root: str, run_id: str) -> None:
        self._storage, self._root = storage, join(_states(state_root), run_id)
        self._budget: SharedDocument[BudgetState] = SharedDocument(
            storage, join(self._root, "budget.json"), lambda: BudgetState(limit=Decimal(0)),
            BudgetState)
        self._caches: SharedDocument[CacheRecords] = SharedDocument(
            storage, join(self._root, "caches.json"), CacheRecords, CacheRecords)

    # -- budget ----------------------------------------------------------------------

    def lease_budget(self, holder: str, limit: Decimal, spent: Decimal) -> Grant:
        """Report ``spent`` and lease ``holder`` a further slice of what nobody holds (a
        share of it, at least a floor); nothing more once the run's limit is taken."""
        def take(state: BudgetState) -> BudgetState:
            state.limit = limit  # every holder of a run carries the same limit
            lease = state.leases.setdefault(holder, Lease())
            lease.spent = spent
            free = state.unleased()
            if free > 0:
                piece = min(free, max(free * LEASE_SHARE, state.limit * LEASE_FLOOR))
                lease.granted = max(lease.granted, lease.spent) + piece
            return state

        state = self._budget.update(take)
        return Grant(granted=state.leases[holder].granted, run_spent=state.known_spent())

    def settle_budget(self, holder: str, spent: Decimal) -> None:
        """The holder is done: its spend counts for good, the rest of its lease is free."""
        def settle(state: BudgetState) -> BudgetState | None:
            if holder not in state.leases:
                return None
            del state.leases[holder]
            state.settled += spent
            return state

        self._budget.update(settle)

    def budget(self) -> BudgetState:
        return self._budget.read()

    # -- cache records ---------------------------------------------------------------

    def put_cache_records(self, records: list[CacheRecord]) -> None:
        """Add or replace records (a cache made or found); a claim in progress stays."""
        if not records:
            return

        def put(state: CacheRecords) -> CacheRecords:
            for record in records:
                entry = state.caches.get(record.name)
                state.caches[record.name] = CacheEntry(
                    record=record, extending_since=entry.extending_since if entry else None)
            return state

        self._caches.update(put)

    def cache_records(self) -> list[CacheRecord]:
        return [entry.record for entry in self._caches.read().caches.values()]

    def cache_record(self, name: str) -> CacheRecord | None:
        entry = self._caches.read().caches.get(name)
        return entry.record if entry else None

    def claim_extension(self, name: str, due: Callable[[CacheRecord], bool]
                        ) -> tuple[bool, CacheRecord | None]:
        """Claim the right to extend cache ``name`` if ``due`` says its (shared) record
        needs it and nobody is at it: exactly one caller of many gets True. Returns the
        record as the state has it."""
        claimed = False

        def claim(state: CacheRecords) -> CacheRecords | None:
            nonlocal claimed
            claimed = False
            entry = state.caches.get(name)
            if entry is None or not due(entry.record):
                return None
            since = entry.extending_since
            if since is not None and time.time() - since < CLAIM_STALE_S:
                return None
            entry.extending_since = time.time()
            claimed = True
            return state

        entry = self._caches.update(claim).caches.get(name)
        return claimed, entry.record if entry else None

    def extended(self, name: str, expire_at: datetime | None) -> CacheRecord | None:
        """End a claim: the new expiry when the extension was made, else the old one."""
        def finish(state: CacheRecords) -> CacheRecords | None:
            entry = state.caches.get(name)
            if entry is None:
                return None
            entry.extending_since = None
            if expire_at is not None:
                entry.record.expire_at = expire_at
            return state

        entry = self._caches.update(finish).caches.get(name)
        return entry.record if entry else None

    # -- the end ---------------------------------------------------------------------

    def remove(self) -> None:
        """The run is done with its state: every chunk has ended."""
        self._storage.delete_folder(self._root)


def remove_stale_run_states(storage: Storage, state_root: str, max_age_s: float,
                            now: datetime | None = None) -> list[str]:
    """Remove the state of every run that has not written it for ``max_age_s`` (a run
    killed before it could remove its own). Returns those run ids."""
    root, now = _states(state_root), now or datetime.now(UTC)
    newest: dict[str, datetime] = {}
    for info in storage.list_objects(root, missing_ok=True):
        run_id = PurePosixPath(info.uri).relative_to(PurePosixPath(root)).parts[0]
        updated = info.updated or now
        newest[run_id] = max(newest.get(run_id, updated), updated)
    stale = sorted(r for r, at in newest.items() if (now - at).total_seconds() > max_age_s)
    for run_id in stale:
        storage.delete_folder(join(root, run_id))
    return stale


def _states(state_root: str) -> str:
    return join(state_root, "run-state")
