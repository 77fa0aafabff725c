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
from collections.abc import Callable
from dataclasses import dataclass

import httpx2
from google import genai
from google.genai import types

from flashfirst.errors import NoBackendError
from flashfirst.platform_auth import default_credentials, emulator_credentials
from flashfirst.settings import NO_BACKEND_HELP, BackendKind, Settings
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
    if (deployed and backend.kind is BackendKind.EMULATOR
            and not backend.emulator.allow_in_deployments):
        raise NoBackendError(
            "a deployed run refuses the embedded emulator (its answers are invented): set "
            "real credentials on the worker, or, for a demo deployment, "
            "FLASHFIRST_BACKEND__EMULATOR__ALLOW_IN_DEPLOYMENTS=true in its job variables")


# One attempt: our retry policy (flashfirst.inference.retry, which honours RetryInfo) is
# the only one. generateContent does not retry unasked, but the interactions client
# retries 429 and 5xx four times by default, ignoring the server's delay.
_ONE_ATTEMPT = types.HttpRetryOptions(attempts=1)


def make_client(settings: Settings) -> genai.Client:
    return _BACKENDS[_kind(settings)].client(settings)


def _kind(settings: Settings) -> BackendKind:
    """The backend's kind; none configured stops here (never a silent emulator)."""
    if settings.backend.kind is None:
        raise NoBackendError(NO_BACKEND_HELP)
    return settings.backend.kind


def _http_options(settings: Settings, **where: str | None) -> types.HttpOptions:
    """One attempt, the settings' timeout, a pool as large as the limits allow."""
    return types.HttpOptions(timeout=int(settings.backend.timeout_s * 1000),
                             async_client_args=_pool_args(settings),
                             retry_options=_ONE_ATTEMPT, **where)


def _vertex_client(settings: Settings) -> genai.Client:
    backend = settings.backend
    project, location = backend.vertex_project or "", backend.vertex_location
    credentials, identity = (emulator_credentials(project, location) if backend.base_url
                             else default_credentials(project, location))
    logger.info("%s", identity.describe())
    return genai.Client(vertexai=True, project=project, location=location,
                        credentials=credentials,
                        http_options=_http_options(settings, base_url=backend.base_url))


def _api_key_client(settings: Settings) -> genai.Client:
    backend = settings.backend
    assert backend.api_key is not None  # Settings refuses api_key without one
    return genai.Client(api_key=backend.api_key.get_secret_value(),
                        http_options=_http_options(settings, api_version=backend.api_version))


def _base_url_client(settings: Settings) -> genai.Client:
    backend = settings.backend
    key = backend.api_key.get_secret_value() if backend.api_key else _EMULATOR_KEY
    return genai.Client(api_key=key, http_options=_http_options(
        settings, base_url=backend.base_url, api_version=backend.api_version))


def _emulator_client(settings: Settings) -> genai.Client:
    return genai.Client(api_key=_EMULATOR_KEY, http_options=_http_options(
        settings, base_url=embedded_emulator_url(settings),
        api_version=settings.backend.api_version))


_clients: dict[tuple, genai.Client] = {}
_clients_lock = threading.Lock()


def shared_client(settings: Settings) -> genai.Client:
    """One SDK client per backend in a process: building one costs an SSL context and a
    connection pool (the SDK keeps a pool per event loop inside it)."""
    b = settings.backend
    if not _BACKENDS[_kind(settings)].shared:
        return make_client(settings)
    # Everything the client is built from; the API key only as a keyed digest (a base
    # URL's identity leaves the key out, yet a corrected key must be the one sent).
    secret = b.api_key.get_secret_value() if b.api_key else ""
    key = (backend_id(settings), b.api_version, b.timeout_s, str(_pool_args(settings)),
           _key_digest(secret))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = make_client(settings)
        return client


def _pool_args(settings: Settings) -> dict:
    """As many connections as the limits allow calls in flight, but only httpx's default
    20 kept idle: httpcore probes every idle connection's socket each time a request
    enters or leaves the pool, so hundreds kept idle after a burst cost more CPU per call
    than the handshakes they save (a 2,000-item zero-latency run: 16 s of CPU against
    23-27 s with every connection kept; the README's fan-out notes)."""
    n = sum(spec.concurrency for spec in settings.models.all)
    return {"limits": httpx2.Limits(max_connections=max(n, 100), max_keepalive_connections=20)}


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
    kind = _kind(settings)
    slug, raw = _BACKENDS[kind].identity(settings)
    digest = hashlib.sha256(f"{kind}|{slug}|{raw}".encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', slug)[:60]}-{digest}"


def _emulator_identity(settings: Settings) -> tuple[str, str]:
    b = settings.backend
    return "emulator", f"seed={b.emulator.seed}|state={_emulator_state_dir(settings)}"


def _vertex_identity(settings: Settings) -> tuple[str, str]:
    # An emulator's platform surface never shares Google's state.
    b = settings.backend
    return f"vertex-{b.vertex_project}-{b.vertex_location}", b.base_url or ""


def _api_key_identity(settings: Settings) -> tuple[str, str]:
    b = settings.backend
    if b.project_label:
        return f"api-{b.project_label}", ""
    key = b.api_key.get_secret_value() if b.api_key else ""
    return "api", _key_digest(key)


def _key_digest(key: str) -> str:
    """A key's stand-in wherever one must be told apart from another without being held."""
    return hmac.new(_KEY_SALT, key.encode(), hashlib.sha256).hexdigest()


def backend_label(settings: Settings) -> str:
    """Where calls go, for logs and reports; never includes a secret."""
    if settings.backend.kind is None:
        return "no backend configured"
    wire = " via the Interactions API" if settings.inference.api == "interactions" else ""
    return _BACKENDS[settings.backend.kind].label(settings) + wire


def _vertex_label(settings: Settings) -> str:
    b = settings.backend
    return (f"Agent Platform ({b.vertex_project}, {b.vertex_location})"
            + (f" at {b.base_url}" if b.base_url else ""))


def _api_key_label(settings: Settings) -> str:
    project = settings.backend.project_label
    return "Gemini Developer API" + (f" ({project})" if project else "")


def _emulator_label(settings: Settings) -> str:
    return (f"embedded Gemini API emulator (seed {settings.backend.emulator.seed}; "
            "invented answers)")


@dataclass(frozen=True)
class _Backend:
    """How one kind of backend is reached, named and described."""

    client: Callable[[Settings], genai.Client]
    identity: Callable[[Settings], tuple[str, str]]
    label: Callable[[Settings], str]
    # One client per process; the emulator's URL depends on the whole emulated
    # catalogue, so each call builds its own.
    shared: bool = True


_BACKENDS: dict[BackendKind, _Backend] = {
    BackendKind.API_KEY: _Backend(_api_key_client, _api_key_identity, _api_key_label),
    BackendKind.VERTEX: _Backend(_vertex_client, _vertex_identity, _vertex_label),
    BackendKind.BASE_URL: _Backend(
        _base_url_client, lambda s: ("url", s.backend.base_url or ""),
        lambda s: f"Gemini API at {s.backend.base_url}"),
    BackendKind.EMULATOR: _Backend(_emulator_client, _emulator_identity, _emulator_label,
                                   shared=False),
}
