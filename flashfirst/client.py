"""The one place a ``genai.Client`` is built.

With an API key it talks to the Gemini Developer API, with a project to the Gemini
Enterprise Agent Platform (formerly Vertex AI; Application Default Credentials, or a static
token when a base URL names an emulator), with an explicit base URL to whatever serves
there (a standalone emulator, a proxy), and
with ``kind=emulator`` (asked for explicitly: ``flashfirst demo``, ``--emulator``) to the
embedded emulator, started on demand in this process. With none of these it refuses.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import re
import threading

import httpx2
from google import genai
from google.genai import types

from flashfirst.errors import NoBackendError
from flashfirst.platform_auth import default_credentials, emulator_credentials
from flashfirst.settings import NO_BACKEND_HELP, Settings
from flashfirst.storage import is_gcs, join

# The embedded emulator never checks keys; the SDK insists on having one.
_EMULATOR_KEY = "emulator-no-key"
logger = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[tuple, object] = {}


def require_backend(settings: Settings, *, deployed: bool = False) -> None:
    """Stop before any work when no backend is configured (never a silent emulator); a
    deployed run takes the embedded emulator only when its deployment allows it."""
    backend = settings.backend
    if backend.kind is None:
        raise NoBackendError(NO_BACKEND_HELP)
    if deployed and backend.kind == "emulator" and not backend.emulator.allow_in_deployments:
        raise NoBackendError(
            "a deployed run refuses the embedded emulator (its answers are invented): set "
            "real credentials on the worker, or, for a demo deployment, "
            "FLASHFIRST_BACKEND__EMULATOR__ALLOW_IN_DEPLOYMENTS=true in its job variables")


# One attempt: our retry policy (flashfirst.inference.retry, which honours RetryInfo) is
# the only one. generateContent does not retry unasked, but the interactions client
# retries 429 and 5xx four times by default, ignoring the server's delay.
_ONE_ATTEMPT = types.HttpRetryOptions(attempts=1)


def make_client(settings: Settings) -> genai.Client:
    require_backend(settings)
    backend = settings.backend
    timeout_ms = int(backend.timeout_s * 1000)
    pool = _pool_args(settings)
    if backend.kind == "vertex":
        project, location = backend.vertex_project or "", backend.vertex_location
        credentials, identity = (emulator_credentials(project, location) if backend.base_url
                                 else default_credentials(project, location))
        logger.info("%s", identity.describe())
        return genai.Client(
            vertexai=True, project=project, location=location, credentials=credentials,
            http_options=types.HttpOptions(base_url=backend.base_url, timeout=timeout_ms,
                                           async_client_args=pool, retry_options=_ONE_ATTEMPT),
        )
    if backend.kind == "api_key":
        return genai.Client(
            api_key=backend.api_key.get_secret_value(),
            http_options=types.HttpOptions(api_version=backend.api_version, timeout=timeout_ms,
                                           async_client_args=pool, retry_options=_ONE_ATTEMPT),
        )
    base_url = backend.base_url if backend.kind == "base_url" else embedded_emulator_url(settings)
    key = (backend.api_key.get_secret_value() if backend.api_key and backend.kind == "base_url"
           else _EMULATOR_KEY)
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(
            base_url=base_url, api_version=backend.api_version, timeout=timeout_ms,
            async_client_args=pool, retry_options=_ONE_ATTEMPT),
    )


_clients: dict[tuple, genai.Client] = {}
_clients_lock = threading.Lock()


def shared_client(settings: Settings) -> genai.Client:
    """One SDK client per backend in a process: building one costs an SSL context and a
    connection pool (the SDK keeps a pool per event loop inside it)."""
    b = settings.backend
    if b.kind == "emulator":
        return make_client(settings)  # its URL depends on the whole emulated catalogue
    key = (backend_id(settings), b.api_version, b.timeout_s)  # no raw key held as a key
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = make_client(settings)
        return client


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
        update: dict[str, object] = {"rpm": spec.rpm, "tpm": spec.tpm}
        if spec.min_cache_tokens is not None:
            update["min_cache_tokens"] = spec.min_cache_tokens
        if base is None:
            models.append(EmulatedModel(id=spec.id, **update))
        else:
            models[models.index(base)] = base.model_copy(update=update)
    emu = settings.backend.emulator
    return EmulatorConfig(seed=emu.seed, latency_scale=emu.latency_scale, models=models,
                          state_dir=_emulator_state_dir(settings))


def _emulator_state_dir(settings: Settings) -> str | None:
    # Keep files and caches across processes like Google does, so a second run can
    # reuse them (a gs:// root can't hold the emulator's state: then it is per process).
    return None if is_gcs(settings.storage_root) else join(settings.storage_root,
                                                           "emulator-state")


# Not a secret: it only makes the key's hash useless for looking keys up elsewhere.
_KEY_SALT = b"flashfirst backend identity v1"


def backend_id(settings: Settings) -> str:
    """Which backend holds our state (answers, uploads, caches, batches): a path-safe
    name that differs between backends and never contains or reveals a secret."""
    b = settings.backend
    require_backend(settings)
    if b.kind == "emulator":
        slug, raw = "emulator", f"seed={b.emulator.seed}|state={_emulator_state_dir(settings)}"
    elif b.kind == "base_url":
        slug, raw = "url", b.base_url or ""
    elif b.kind == "vertex":  # an emulator's platform surface never shares Google's state
        slug, raw = f"vertex-{b.vertex_project}-{b.vertex_location}", b.base_url or ""
    elif b.project_label:
        slug, raw = f"api-{b.project_label}", ""
    else:
        key = b.api_key.get_secret_value() if b.api_key else ""
        slug, raw = "api", hmac.new(_KEY_SALT, key.encode(), hashlib.sha256).hexdigest()
    digest = hashlib.sha256(f"{b.kind}|{slug}|{raw}".encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', slug)[:60]}-{digest}"


def backend_label(settings: Settings) -> str:
    """Where calls go, for logs and reports; never includes a secret."""
    backend = settings.backend
    if backend.kind is None:
        return "no backend configured"
    project = f" ({backend.project_label})" if backend.project_label else ""
    wire = " via the Interactions API" if settings.inference.api == "interactions" else ""
    label = {
        "vertex": f"Agent Platform ({backend.vertex_project}, {backend.vertex_location})"
                  + (f" at {backend.base_url}" if backend.base_url else ""),
        "api_key": f"Gemini Developer API{project}",
        "base_url": f"Gemini API at {backend.base_url}",
        "emulator": f"embedded Gemini API emulator (seed {backend.emulator.seed}; "
                    "invented answers)",
    }[backend.kind]
    return label + wire
