"""The Developer API's ``generateContent``, ``streamGenerateContent`` and ``countTokens``:
the HTTP around the shared ``serve()`` (``serving``), the answer cut into SSE chunks, and
the ``Surface`` hooks through which another surface (the Agent Platform's) reuses them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flashfirst.emulator.calls import body_of, emulator, log_call, model_or_404
from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.generate.answers import details
from flashfirst.emulator.generate.serving import prepare, requested_tier, serve, wait
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.rules import TokenCount
from flashfirst.emulator.wire.codec import Json, get
from flashfirst.emulator.wire.errors import ApiError

TIER_HEADER = "x-gemini-service-tier"


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
    return await handle_generate(request, stream=False)


async def stream_generate_content(request: Request) -> Response:
    return await handle_generate(request, stream=True)


async def handle_generate(request: Request, *, stream: bool,
                          surface: Surface = DEVELOPER_API) -> Response:
    """A generate call on any surface that answers GenerateContentResponse JSON."""
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
    await wait(state, model.id, sum(delays))
    log_call(state, endpoint, model.id, 200, latency_s=time.monotonic() - started, **entry)
    return JSONResponse(response, headers=headers)


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
        await wait(state, model, delays[min(i, len(delays) - 1)])
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
