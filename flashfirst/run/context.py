"""What every task of a run shares in a process, built once for a settings value.

Tasks receive settings (they must serialize: a Prefect parameter, a Dask worker) and ask
``run_context(settings)`` for the rest: the backend's identity, one SDK client, the price
table, the model catalogue, the routing policy, the storage and the answer store. Built
lazily (a task that never calls the model builds no client) and kept per process, so a
chunk or a retried task finds what the previous one built instead of reading the tables
again or opening another connection pool.

A context is keyed by the settings' value and by the files they name (path, size,
modification time): editing the price table or the routing policy between two runs of a
long-lived worker takes effect on the next run, as when each task read them itself (the
catalogue is cached by path in ``catalogue``, as before).
Per-run state that crosses processes (the budget, cache records) is not kept here.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from google import genai

from flashfirst.client import backend_id, backend_label, shared_client
from flashfirst.gemini.catalogue import Catalogue, load_catalogue
from flashfirst.inference.answers import AnswerStore
from flashfirst.planning.router import RoutingPolicy, load_routing_policy
from flashfirst.pricing.locations import for_location
from flashfirst.pricing.prices import PriceTable, load_price_table
from flashfirst.settings import BackendKind, Settings, load_settings
from flashfirst.storage import Storage

_KEPT = 16  # distinct settings values kept per process (runs with their own overrides)
_contexts: OrderedDict[tuple, RunContext] = OrderedDict()
_lock = threading.Lock()


class RunContext:
    """The shared state of runs on one settings value, each part built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def backend(self) -> str:
        """``client.backend_id``: whose answers, uploads, caches and batches these are."""
        return backend_id(self.settings)

    @cached_property
    def backend_label(self) -> str:
        return backend_label(self.settings)

    @cached_property
    def client(self) -> genai.Client:
        return shared_client(self.settings)

    @cached_property
    def prices(self) -> PriceTable:
        table = load_price_table(self.settings.price_table_path)
        backend = self.settings.backend
        # The Agent Platform bills by the endpoint's location.
        if backend.kind is BackendKind.VERTEX:
            return for_location(table, backend.vertex_location)
        return table

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue(self.settings.model_catalogue_path)

    @cached_property
    def policy(self) -> RoutingPolicy:
        return load_routing_policy(self.settings.routing_policy_path)

    @cached_property
    def storage(self) -> Storage:
        return Storage.for_settings(self.settings)

    def answers(self, root: str | None = None) -> AnswerStore:
        """The answer store of ``root`` (default: the storage root) on this backend, brought
        up to date with what other processes stored since it was last asked for."""
        return AnswerStore.shared(root or self.settings.storage_root, self.backend,
                                  self.storage)


def run_context(settings: Settings) -> RunContext:
    """The context for ``settings`` in this process: the same object for equal settings."""
    key = _identity(settings)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = RunContext(settings)
            while len(_contexts) > _KEPT:
                _contexts.popitem(last=False)
        else:
            _contexts.move_to_end(key)
        return context


def environment_storage() -> Storage:
    """The storage of the settings this process's environment gives (``FLASHFIRST_*``),
    for code started without settings in hand (an upload event's flow, the poller, the
    bridge's markers): it retries as ``storage_retry_s`` says, as a run's storage does."""
    return run_context(load_settings()).storage


def _identity(settings: Settings) -> tuple:
    """The settings' value (their JSON masks the API key: its digest stands in) and the
    state of the data files they name."""
    key = settings.backend.api_key
    secret = hashlib.sha256(key.get_secret_value().encode()).hexdigest() if key else ""
    files = tuple(_stamp(p) for p in (settings.price_table_path, settings.routing_policy_path,
                                      settings.model_catalogue_path))
    return settings.model_dump_json(), secret, files


def _stamp(path: Path | None) -> tuple | None:
    if path is None:
        return None  # packaged data: it changes only with the package
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)  # missing: loading it says so, with the path
    return str(path), st.st_size, st.st_mtime_ns
