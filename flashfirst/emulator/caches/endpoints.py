"""``cachedContents``: explicit context caches with the API's minimum size, TTL, expiry and
model binding, and the storage time they are billed for."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.calls import body_of, emulator, log_call
from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.resources import StoredCache
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.prompt import PromptCounter
from flashfirst.emulator.wire.codec import (
    Json,
    digest,
    get,
    list_page,
    parse_duration,
    parse_timestamp,
)
from flashfirst.emulator.wire.errors import ApiError, invalid_argument, model_not_found, not_found

_UPDATABLE = {"ttl", "expireTime", "expire_time", "name"}


def _expiry(body: Json, now: float) -> float | None:
    """The expiry a create or patch asks for (ttl or expire_time), if any."""
    ttl, expire = get(body, "ttl"), get(body, "expireTime")
    if ttl is not None and expire is not None:
        raise invalid_argument("Only one of ttl and expire_time can be set.")
    if ttl is not None:
        seconds = parse_duration(ttl, "ttl")
        if seconds <= 0:
            raise invalid_argument("ttl must be positive.")
        return now + seconds
    if expire is not None:
        at = parse_timestamp(expire, "expire_time")
        if at <= now:
            raise invalid_argument("expire_time must be in the future.")
        return at
    return None


def live_cache(state: EmulatorState, cache_id: str, parent: str | None = None) -> StoredCache:
    """A cache still alive, seen only from the surface (and project, location) that made it."""
    with state.lock:
        cache = state.caches.get(cache_id)
        if cache is None or not cache.alive(state.now()) or cache.parent != parent:
            raise not_found("CachedContent not found (or permission denied)")
        return cache


def create(state: EmulatorState, model: EmulatedModel, body: Json,
           parent: str | None = None) -> StoredCache:
    """Count, check the minimum and store a new cache; raises the API's 400s."""
    with state.lock:
        state.stats.count_call("cachedContents.create", model.id)
    if not model.explicit_caching:  # Argon: implicit caching only (Argon guide)
        raise invalid_argument(f"Explicit context caching is not supported by "
                               f"models/{model.id}; it caches implicitly.")
    prompt = PromptCounter(state, model.family).count(
        get(body, "contents"), get(body, "systemInstruction"), get(body, "tools"))
    total = prompt.tokens.total
    if total < model.min_cache_tokens:
        raise invalid_argument(f"Cached content is too small. total_token_count={total}, "
                               f"min_total_token_count={model.min_cache_tokens}")
    now = state.now()
    expire = _expiry(body, now) or now + state.config.default_cache_ttl_s
    cache = StoredCache(id=state.new_id("cache"), model=model.id, tokens=prompt.tokens,
                        text=prompt.text,
                        content_digest=digest(model.id, prompt.text, prompt.media_digests),
                        create_time=now, update_time=now, expire_time=expire,
                        display_name=get(body, "displayName"), parent=parent)
    with state.lock:
        state.caches[cache.id] = cache
        state.save(cache)
        state.stats.count("cache_creations")
    return cache


async def create_cache(request: Request) -> Response:
    state = emulator(request)
    model_id: str | None = None
    try:
        body = await body_of(state, request)
        model_id = str(get(body, "model") or "").removeprefix("models/")
        if not model_id:
            raise invalid_argument("CachedContent.model is required.")
        model = state.serving(model_id)
        if model is None:
            raise model_not_found(model_id, request.path_params.get("version", "v1beta"),
                                  "createCachedContent")
        cache = create(state, model, body)
    except ApiError as exc:
        log_call(state, "cachedContents.create", model_id, exc.code)
        return exc.response()
    log_call(state, "cachedContents.create", model.id, 200)
    return JSONResponse(cache.resource())


def live_caches(state: EmulatorState, parent: str | None = None) -> list[StoredCache]:
    """The surface's (and project's, location's) live caches, oldest first."""
    with state.lock:
        now = state.now()
        return sorted((c for c in state.caches.values() if c.alive(now) and c.parent == parent),
                      key=lambda c: c.create_time)


def update(state: EmulatorState, body: Json, cache_id: str,
           parent: str | None = None) -> StoredCache:
    """Only the expiry can change, as on the real API."""
    extra = [k for k, v in body.items() if k not in _UPDATABLE and v not in (None, {}, [])]
    if extra:
        raise invalid_argument(f"Only the expiration (ttl or expire_time) of a "
                               f"CachedContent can be updated, not {', '.join(extra)}.")
    cache = live_cache(state, cache_id, parent)
    with state.lock:
        now = state.now()
        expire = _expiry(body, now)
        if expire is not None:
            cache.expire_time = expire
        cache.update_time = now
        state.save(cache)
    return cache


def delete(state: EmulatorState, cache_id: str, parent: str | None = None) -> None:
    cache = live_cache(state, cache_id, parent)
    with state.lock:
        cache.deleted_time = state.now()
        state.discard(cache)
        state.stats.count("cache_deletions")


async def get_cache(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.get", None)
    try:
        cache = live_cache(state, request.path_params["cache_id"])
    except ApiError as exc:
        return exc.response()
    return JSONResponse(cache.resource())


async def list_caches(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.list", None)
    try:
        answer = list_page(request.query_params, "cachedContents", live_caches(state),
                           lambda c: c.resource(), 100, 1000)
    except ApiError as exc:
        return exc.response()
    return JSONResponse(answer)


async def update_cache(request: Request) -> Response:
    """Only the expiry can change, as on the real API."""
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.patch", None)
    try:
        cache = update(state, await body_of(state, request), request.path_params["cache_id"])
    except ApiError as exc:
        return exc.response()
    return JSONResponse(cache.resource())


async def delete_cache(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.delete", None)
    try:
        delete(state, request.path_params["cache_id"])
    except ApiError as exc:
        return exc.response()
    return JSONResponse({})
