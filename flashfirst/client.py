"""The one place a ``genai.Client`` is built.

With an API key it talks to the Gemini Developer API, with a Vertex project to Vertex AI,
with an explicit base URL to whatever serves there (a standalone emulator, a proxy), and
with none of these to the embedded emulator, started on demand in this process, so the
quick start needs no account.
"""

from __future__ import annotations

import atexit
import threading

import httpx2
from google import genai
from google.genai import types

from flashfirst.settings import Settings
from flashfirst.storage import is_gcs, join

# The embedded emulator never checks keys; the SDK insists on having one.
_EMULATOR_KEY = "emulator-no-key"
_lock = threading.Lock()
_embedded: dict[tuple, object] = {}


def make_client(settings: Settings) -> genai.Client:
    backend = settings.backend
    timeout_ms = int(backend.timeout_s * 1000)
    pool = _pool_args(settings)
    if backend.kind == "vertex":
        return genai.Client(
            vertexai=True, project=backend.vertex_project, location=backend.vertex_location,
            http_options=types.HttpOptions(timeout=timeout_ms, async_client_args=pool),
        )
    if backend.kind == "api_key":
        return genai.Client(
            api_key=backend.api_key.get_secret_value(),
            http_options=types.HttpOptions(api_version=backend.api_version, timeout=timeout_ms,
                                           async_client_args=pool),
        )
    base_url = backend.base_url if backend.kind == "base_url" else embedded_emulator_url(settings)
    key = backend.api_key.get_secret_value() if backend.api_key else _EMULATOR_KEY
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(
            base_url=base_url, api_version=backend.api_version, timeout=timeout_ms,
            async_client_args=pool),
    )


def _pool_args(settings: Settings) -> dict:
    """Keep a connection open for every call the limits allow in flight: httpx keeps only
    20 by default, so above that each answer closes its connection and the next call opens
    (and handshakes) a new one."""
    n = sum(spec.concurrency for spec in settings.models.all)
    return {"limits": httpx2.Limits(max_connections=max(n, 100),
                                    max_keepalive_connections=max(n, 20))}


def embedded_emulator_url(settings: Settings) -> str:
    """Start (once per process and configuration) the in-process emulator; its URL."""
    from flashfirst.emulator import EmbeddedEmulator

    config = emulator_config(settings)
    key = (config.model_dump_json(),)
    with _lock:
        emulator = _embedded.get(key)
        if emulator is None:
            emulator = EmbeddedEmulator(config, host=settings.backend.emulator.host,
                                        port=settings.backend.emulator.port)
            emulator.start()
            atexit.register(emulator.stop)
            _embedded[key] = emulator
        return emulator.base_url


def emulator_config(settings: Settings):  # noqa: ANN201 - emulator types load lazily
    """The emulator serves the catalogue's models with the catalogue's limits."""
    from flashfirst.emulator import EmulatedModel, EmulatorConfig

    defaults = {m.id: m for m in EmulatorConfig().models}
    models = list(defaults.values())
    for spec in settings.models.all:
        base = defaults.get(spec.id)
        update = {"rpm": spec.rpm, "tpm": spec.tpm, "min_cache_tokens": spec.min_cache_tokens}
        if base is None:
            models.append(EmulatedModel(id=spec.id, **update))
        else:
            models[models.index(base)] = base.model_copy(update=update)
    emu = settings.backend.emulator
    # Keep files and caches across processes like Google does, so a second run can
    # reuse them (a gs:// root can't hold the emulator's state: then it is per process).
    state_dir = None if is_gcs(settings.storage_root) else join(settings.storage_root,
                                                                "emulator-state")
    return EmulatorConfig(seed=emu.seed, latency_scale=emu.latency_scale, models=models,
                          state_dir=state_dir)


def backend_label(settings: Settings) -> str:
    """Where calls go, for logs and reports; never includes a secret."""
    backend = settings.backend
    return {
        "vertex": f"Vertex AI ({backend.vertex_project}, {backend.vertex_location})",
        "api_key": "Gemini Developer API",
        "base_url": f"Gemini API at {backend.base_url}",
        "emulator": "embedded Gemini API emulator",
    }[backend.kind]
