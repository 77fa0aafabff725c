"""``generateContent``, ``streamGenerateContent`` and ``countTokens``: where quotas,
service tiers, faults and latency decide what a call costs and how long it takes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.generate.answers import build_response, details
from flashfirst.emulator.generate.thinking import thinking_of, thinking_rank
from flashfirst.emulator.resources import StoredCache
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.stats import LogEntry
from flashfirst.emulator.tokens.prompt import CountedPrompt, PromptCounter, global_media_resolution
from flashfirst.emulator.tokens.rules import TokenCount
from flashfirst.emulator.wire.codec import (
    Json,
    digest,
    get,
    read_json,
    request_shape,
    unit_interval,
)
from flashfirst.emulator.wire.errors import (
    ApiError,
    cache_not_found_for_use,
    invalid_argument,
    model_not_found,
    scripted,
    unavailable,
)
from flashfirst.emulator.wire.validation import validate_request

TIER_HEADER = "x-gemini-service-tier"
_TIERS = {"standard", "flex", "priority"}


@dataclass
class PreparedCall:
    """A validated request with its prompt counted and its cache resolved."""

    model: EmulatedModel
    request: Json
    prompt: CountedPrompt
    cache: StoredCache | None

    @property
    def prompt_total(self) -> int:
        return self.prompt.tokens.total + (self.cache.tokens.total if self.cache else 0)


def emulator(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def model_or_404(state: EmulatorState, request: Request, method: str, *,
                 route: bool = True) -> EmulatedModel:
    """The model named in the path; with ``route``, the one that serves it today (a retired
    or re-routed id is answered by its replacement, whose rules then apply)."""
    model_id = request.path_params["model"]
    model = state.serving(model_id) if route else state.model(model_id)
    if model is None:
        raise model_not_found(model_id, request.path_params.get("version", "v1beta"), method)
    return model


async def body_of(state: EmulatorState, request: Request) -> Json:
    raw = await request.body()
    if len(raw) > state.config.max_request_bytes:
        raise invalid_argument(f"Request payload size exceeds the limit: "
                               f"{state.config.max_request_bytes} bytes.")
    return read_json(raw)


def prepare(state: EmulatorState, model: EmulatedModel, body: Json) -> PreparedCall:
    """Everything the API checks before it answers; raises its 4xx errors."""
    validate_request(body)
    generation_config = get(body, "generationConfig") or {}
    thinking_of(model, generation_config)
    cache = resolve_cache(state, model, body)
    counter = PromptCounter(state, model.family, global_media_resolution(
        get(generation_config, "mediaResolution")), model=model.id,
        office=model.office_documents)
    prompt = counter.count(get(body, "contents"), get(body, "systemInstruction"),
                           get(body, "tools"))
    if cache is not None:
        prompt.text = cache.text + prompt.text
    call = PreparedCall(model, body, prompt, cache)
    if call.prompt_total > model.input_token_limit:
        raise invalid_argument(f"The input token count ({call.prompt_total}) exceeds the "
                               f"maximum number of tokens allowed ({model.input_token_limit}).")
    return call


def resolve_cache(state: EmulatorState, model: EmulatedModel, body: Json) -> StoredCache | None:
    name = get(body, "cachedContent")
    if not name:
        return None
    if not model.explicit_caching:  # Gemini 4: implicit caching only (its guides)
        raise invalid_argument(f"cachedContent is not supported by models/{model.id}: "
                               "explicit context caching is not supported; it caches "
                               "implicitly.")
    cache_id = str(name).removeprefix("cachedContents/")
    with state.lock:
        cache = state.caches.get(cache_id)
        alive = cache is not None and cache.alive(state.now())
    if cache is None or not alive:
        raise cache_not_found_for_use()
    if cache.model != model.id:
        raise invalid_argument(f"Model used by GenerateContent request (models/{model.id}) and "
                               f"CachedContent (models/{cache.model}) has to be the same.")
    if any(get(body, key) for key in ("systemInstruction", "tools", "toolConfig")):
        raise invalid_argument("CachedContent can not be used with GenerateContent request "
                               "setting system_instruction, tools or tool_config.\n\nProposed "
                               "fix: move those values to CachedContent from GenerateContent "
                               "request.")
    return cache


def requested_tier(body: Json) -> str | None:
    tier = get(body, "serviceTier")
    if tier is None:
        return None
    value = str(tier).lower().removeprefix("service_tier_")
    if value == "unspecified":
        return None
    if value not in _TIERS:
        raise invalid_argument(f"Invalid value at 'service_tier': {tier!r}")
    return value


def log_call(state: EmulatorState, endpoint: str, model: str | None, status: int, *,
             requested: str | None = None, tier_requested: str | None = None,
             tier_served: str | None = None, usage: Json | None = None,
             latency_s: float = 0.0, delay_s: float = 0.0, at: float | None = None,
             thinking_config: Json | None = None, generation_config: Json | None = None,
             content_digest: str | None = None, labels: dict[str, str] | None = None) -> None:
    with state.lock:
        state.stats.record(LogEntry(time=state.now() if at is None else at, endpoint=endpoint,
                                    model=model, model_requested=requested or model,
                                    status=status, tier_requested=tier_requested,
                                    tier_served=tier_served, usage=usage,
                                    thinking_config=thinking_config,
                                    generation_config=generation_config,
                                    content_digest=content_digest, labels=labels,
                                    latency_s=latency_s, delay_s=delay_s))


@dataclass(frozen=True)
class Surface:
    """Where another surface's wire differs around the shared ``serve()`` (the Agent
    Platform's: model paths, resource names, usage fields); the Developer API's is plain."""

    find_model: Callable[[EmulatorState, Request, str], EmulatedModel] = model_or_404
    adapt_body: Callable[[EmulatorState, Request, Json], Json] = lambda state, request, body: body
    adapt_response: Callable[[Json, str], Json] = lambda response, served: response
    tier_header: bool = True  # the Developer API says the served tier in a header too


DEVELOPER_API = Surface()


async def generate_content(request: Request) -> Response:
    return await _generate(request, stream=False)


async def stream_generate_content(request: Request) -> Response:
    return await _generate(request, stream=True)


async def _generate(request: Request, *, stream: bool,
                    surface: Surface = DEVELOPER_API) -> Response:
    state = emulator(request)
    endpoint = "streamGenerateContent" if stream else "generateContent"
    started = time.monotonic()
    model_id: str | None = request.path_params["model"]
    tier: str | None = None
    sent_thinking: Json | None = None
    try:
        model = surface.find_model(state, request, endpoint)
        with state.lock:
            state.stats.count_call(endpoint, model_id)
        body = surface.adapt_body(state, request, await body_of(state, request))
        raw = await request.body()
        tier = requested_tier(body)
        sent_thinking = get(get(body, "generationConfig") or {}, "thinkingConfig")
        answer = serve(state, request, endpoint, model, model_id, body, raw, tier,
                       sent_thinking)
        if isinstance(answer, Response):
            return answer  # the connection was dropped
    except ApiError as exc:
        log_call(state, endpoint, model_id, exc.code, tier_requested=tier,
                 latency_s=time.monotonic() - started, thinking_config=sent_thinking)
        return exc.response()
    served, delays, entry = answer.served, answer.delays, answer.entry
    response = surface.adapt_response(answer.response, served)
    headers = {TIER_HEADER: served} if surface.tier_header else {}
    if stream:
        return StreamingResponse(
            _sse(state, response, delays, endpoint, model.id, entry, started),
            media_type="text/event-stream", headers=headers)
    await _wait(state, model.id, sum(delays))
    log_call(state, endpoint, model.id, 200, latency_s=time.monotonic() - started, **entry)
    return JSONResponse(response, headers=headers)


@dataclass
class Answer:
    """A served call: the GenerateContentResponse JSON, the tier that served it, the
    delays its latency is spread over, and what the request log keeps of it."""

    model: EmulatedModel
    response: Json
    served: str
    delays: list[float]
    entry: dict[str, Any]


def serve(state: EmulatorState, request: Request, endpoint: str, model: EmulatedModel,
          model_id: str | None, body: Json, raw: bytes, tier: str | None,
          sent_thinking: Json | None, prior: TokenCount | None = None) -> Answer | Response:
    """Everything between a parsed generate request and its answer, shared by every surface
    that generates (generateContent, its stream, the Interactions API): validation, quotas,
    faults, tiers, scripts, caching, the answer, its latency and its stats. ``prior`` is
    input the server already holds (earlier turns of an interaction): reported as cached
    when it is more than the implicit cache would serve. A dropped connection comes back as
    the Response to return; API errors are raised."""
    call = prepare(state, model, body)
    with state.lock:
        state.quotas.admit(model, call.prompt_total, state.now())
    faults = _draw_faults(state, raw)
    if faults["drop"]:
        return _drop(state, request, endpoint, model.id, tier)
    if faults["unavailable"]:
        raise unavailable()
    served = _serve_tier(state, model, tier, faults["flex_shed"])
    # Matched last, so a rule's ``times`` counts calls that reached the model.
    script = state.match_script(model.id, call.prompt.text, model_id,
                                thinking_rank(thinking_of(model, get(body, "generationConfig")
                                                          or {})))
    if script is not None and script.status is not None:
        raise scripted(script.status, script.message, script.retry_delay_s, script.quota_id)
    implicit = None
    if call.cache is None:
        with state.lock:
            implicit = state.implicit_cache.serve(
                model.id, call.prompt.prefixes, model.implicit_cache_min_tokens,
                state.now(), state.config.implicit_cache_ttl_s)
        if prior is not None and prior.total > (implicit.total if implicit else 0):
            implicit = prior
    response = build_response(seed=state.config.seed, model=model, request=body,
                              prompt=call.prompt, cache=call.cache, script=script,
                              implicit=implicit, quality=state.config.quality)
    usage = response["usageMetadata"]
    usage["serviceTier"] = served  # as the header says (research file 1.6)
    delays = _latency(state, model, served, usage, slow=faults["slow"])
    with state.lock:
        state.stats.record_answer(model.id, served, usage)
        state.clock_offset += state.config.clock_step_per_call_s
    entry = {"requested": model_id, "tier_requested": tier, "tier_served": served,
             "usage": usage, "delay_s": sum(delays), "at": state.now(),
             "thinking_config": sent_thinking, **request_shape(body)}
    return Answer(model, response, served, delays, entry)


def _draw_faults(state: EmulatorState, raw: bytes) -> dict[str, bool]:
    """Deterministic per (seed, request, n-th repeat): a retry may get a different fate."""
    key = digest(raw.decode("utf-8", errors="replace"))
    with state.lock:
        state.request_repeats[key] += 1
        n = state.request_repeats[key]
        faults, tiers, seed = state.config.faults, state.config.tiers, state.config.seed
    return {
        "drop": unit_interval(seed, "drop", key, n) < faults.drop_share,
        "unavailable": unit_interval(seed, "503", key, n) < faults.unavailable_share,
        "slow": unit_interval(seed, "slow", key, n) < faults.slow_share,
        "flex_shed": unit_interval(seed, "flex", key, n) < tiers.flex_shed_share,
    }


def _serve_tier(state: EmulatorState, model: EmulatedModel, tier: str | None,
                shed_by_share: bool) -> str:
    """Flex may be shed (503); Priority above its limit is served as Standard."""
    tiers = state.config.tiers
    if tier == "flex":
        with state.lock:
            busy = tiers.flex_shed_above_in_flight is not None and \
                state.in_flight[model.id] > tiers.flex_shed_above_in_flight
        if shed_by_share or busy:
            raise unavailable("The Flex tier is at capacity and this request was shed. "
                              "Retry later or use the Standard tier.")
        return "flex"
    if tier == "priority":
        with state.lock:
            if state.quotas.admit_priority(model.id, tiers.priority_rpm_limit, state.now()):
                return "priority"
            state.stats.count("priority_downgrades")
    return "standard"


def _latency(state: EmulatorState, model: EmulatedModel, tier: str, usage: Json, *,
             slow: bool) -> list[float]:
    """[before the first token, per later chunk...]; the sum is the whole call."""
    config = state.config
    scale = config.latency_scale
    if tier == "priority":
        scale /= config.tiers.priority_speedup
    first = model.time_to_first_token_s * scale
    if tier == "flex":
        first += config.tiers.flex_queue_delay_s * config.latency_scale
    if slow:
        first += config.faults.slow_delay_s
    output = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    rest = output * model.seconds_per_output_token * scale
    return [first, rest / 3, rest / 3, rest / 3]


async def _wait(state: EmulatorState, model_id: str, seconds: float) -> None:
    with state.lock:
        state.in_flight[model_id] += 1
    try:
        if seconds > 0:
            await asyncio.sleep(seconds)
    finally:
        with state.lock:
            state.in_flight[model_id] -= 1


def _drop(state: EmulatorState, request: Request, endpoint: str, model: str,
          tier: str | None) -> Response:
    """Close the connection without an answer, as a broken network does."""
    with state.lock:
        state.stats.count("dropped_connections")
    log_call(state, endpoint, model, 0, tier_requested=tier)
    abort = request.scope.get("flashfirst.abort")
    if abort is None or not abort():
        raise RuntimeError("dropped connection")  # the server answers 500 then
    return Response(status_code=200)


async def _sse(state: EmulatorState, response: Json, delays: list[float], endpoint: str,
               model: str, entry: dict[str, Any], started: float) -> AsyncIterator[str]:
    """The answer in a few SSE chunks; usage is complete on the last one, as the API does."""
    candidate = response["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    thought_parts = [p for p in parts if p.get("thought")]
    text = "".join(p["text"] for p in parts if not p.get("thought") and "text" in p)
    # Function calls and the thought signature (on the last part) ride on the last chunk.
    calls = [p for p in parts if "functionCall" in p]
    signature = next((p["thoughtSignature"] for p in parts if "thoughtSignature" in p
                      and "functionCall" not in p), None)
    pieces = _split(text, 3) if parts else [""]
    usage = response["usageMetadata"]
    partial_usage = {"promptTokenCount": usage["promptTokenCount"],
                     "totalTokenCount": usage["promptTokenCount"]}
    # Cache fields arrive only in the final chunk, as users observe (OpenMinis#384,
    # research file 1.9): a client that keeps the last usage it saw stays right.
    if "promptTokensDetails" in usage:
        partial_usage["promptTokensDetails"] = usage["promptTokensDetails"]
    for i, piece in enumerate(pieces):
        await _wait(state, model, delays[min(i, len(delays) - 1)])
        last = i == len(pieces) - 1
        chunk_parts: list[Json] = (thought_parts if i == 0 else []) + (
            [{"text": piece}] if piece or (last and parts and not calls) else [])
        if last:
            chunk_parts += calls
            if signature is not None and chunk_parts:
                chunk_parts[-1] = {**chunk_parts[-1], "thoughtSignature": signature}
        chunk_candidate: Json = {"index": 0}
        if chunk_parts:
            chunk_candidate["content"] = {"parts": chunk_parts, "role": "model"}
        if last:
            chunk_candidate.update({k: v for k, v in candidate.items() if k != "content"})
        chunk: dict[str, Any] = {"candidates": [chunk_candidate],
                                 "usageMetadata": usage if last else partial_usage,
                                 "modelVersion": response["modelVersion"],
                                 "responseId": response["responseId"]}
        yield f"data: {json.dumps(chunk)}\r\n\r\n"
    log_call(state, endpoint, model, 200, latency_s=time.monotonic() - started, **entry)


def _split(text: str, n: int) -> list[str]:
    if not text:
        return [""]
    size = max(1, -(-len(text) // n))
    return [text[i:i + size] for i in range(0, len(text), size)]


async def count_tokens(request: Request) -> Response:
    state = emulator(request)
    model_id: str | None = request.path_params["model"]
    try:
        model = model_or_404(state, request, "countTokens")
        with state.lock:
            state.stats.count_call("countTokens", model_id)
        body = await body_of(state, request)
        inner = get(body, "generateContentRequest")
        call = prepare(state, model, inner if isinstance(inner, dict) else
                       {"contents": get(body, "contents")})
    except ApiError as exc:
        log_call(state, "countTokens", model_id, exc.code)
        return exc.response()
    cached = call.cache.tokens if call.cache else TokenCount()
    answer: Json = {"totalTokens": call.prompt_total,
                    "promptTokensDetails": details(call.prompt.tokens + cached)}
    if call.cache is not None:
        answer["cachedContentTokenCount"] = call.cache.tokens.total
        answer["cacheTokensDetails"] = details(call.cache.tokens)
    log_call(state, "countTokens", model.id, 200)
    return JSONResponse(answer)
