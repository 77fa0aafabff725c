"""The Interactions API (``/{version}/interactions``): create, get, delete, cancel, as the
unmodified google-genai SDK (3.6.1) sends them.

An interaction is answered by ``generate.serving.serve``, so its tokens, thinking, caching, quotas
(429 with RetryInfo), faults, tiers and scripts are generateContent's; only the wire differs
(``translation``). The emulator's reading of Google's pages (copies read 2026-12-02):

- https://ai.google.dev/gemini-api/docs/interactions-overview — state is stored by default
  (``store=true``); ``store=false`` is stateless, so a later get of it is 404 here;
  ``previous_interaction_id`` continues a stored conversation; ``background=true`` runs
  long calls in the background.
- https://ai.google.dev/gemini-api/docs/interactions/streaming — ``stream=true`` answers
  Server-Sent Events, each ``event: <type>`` then ``data: {..., "event_type": <type>}``:
  ``interaction.created``, ``interaction.status_update``, ``step.start``/``step.delta``/
  ``step.stop`` per step, ``interaction.completed``.
- https://ai.google.dev/gemini-api/docs/api-errors — errors are ``{"error": {"code":
  <string>, "message": ...}}`` with codes ``invalid_request``, ``parameter_unknown`` (400),
  ``authentication`` (401), ``permission_denied`` (403), ``not_found``,
  ``model_not_found`` (404), ``rate_limit_exceeded`` and ``quota_exceeded`` (a daily quota,
  429). The copy read breaks off after those; for 499/500/503/504 the emulator says
  ``cancelled``, ``internal``, ``unavailable``, ``deadline_exceeded``. ``details`` carries
  the same google.rpc details generateContent sends (QuotaFailure, RetryInfo).

The emulator's own rules, where the pages say nothing exact:
- Earlier turns: a create with ``previous_interaction_id`` reads the stored conversation
  (every earlier turn's input and answer, thoughts excluded) before its own input; all of
  it counts in ``total_input_tokens``, and the earlier turns count as cached input
  (``total_cached_tokens``) whenever they are more than the implicit cache would serve
  (the overview: server-side state "enables more efficient context caching across turns").
- Background: the call is served (and billed) at create, which answers ``in_progress``;
  a get answers ``completed`` once the emulator's clock has passed the latency the call
  would have taken (at once with ``latency_scale=0``). Cancel turns an interaction still in
  progress into ``cancelled`` (the bill stays); a finished one cannot be cancelled (400).
  ``background`` needs ``store`` (400 otherwise).
- ``service_tier`` ``deferred`` is an Agent Platform tier (global endpoint only; research
  notes: documentation.s3ns.fr …/deferred-tier): 400 here, as a regional endpoint answers.
- Agents (``agent``, ``agent_config``) are not emulated: 400 naming the field.
- Thinking on 2.5 models is a level here too (the Interactions thinking page lists low,
  medium and high for 2.5 Pro, Flash and Flash-Lite, research file 1.8); the emulator reads
  it as a budget (``translation.budget_levels``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flashfirst.emulator.calls import body_of, emulator, log_call
from flashfirst.emulator.generate.endpoints import TIER_HEADER
from flashfirst.emulator.generate.serving import Answer, serve, wait
from flashfirst.emulator.interactions.translation import (
    KNOWN_FIELDS,
    budget_levels,
    generate_request,
    input_contents,
    status_of,
    steps_of,
    usage_of,
)
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.prompt import PromptCounter
from flashfirst.emulator.wire.codec import Json, timestamp
from flashfirst.emulator.wire.errors import ApiError, invalid_argument, not_found

ENDPOINT = "interactions"
_CODES = {400: "invalid_request", 401: "authentication", 403: "permission_denied",
          404: "not_found", 429: "rate_limit_exceeded", 499: "cancelled", 500: "internal",
          503: "unavailable", 504: "deadline_exceeded"}


@dataclass
class StoredInteraction:
    """One interaction as the server keeps it: its answer, and the conversation so far
    (this turn's contents and answer) for a later ``previous_interaction_id``."""

    id: str
    model: str
    created: float
    done_at: float
    body: Json
    conversation: list[Json]
    result: Json  # the finished Interaction JSON
    cancelled_at: float | None = None
    input: Any = None

    def view(self, now: float, *, include_input: bool = False) -> Json:
        """What a get answers at ``now``: in progress until done, then the result."""
        if self.cancelled_at is not None:
            shown = {**_head(self), "status": "cancelled",
                     "updated": timestamp(self.cancelled_at)}
        elif now < self.done_at:
            shown = {**_head(self), "status": "in_progress"}
        else:
            shown = dict(self.result)
        if include_input:
            shown["input"] = self.input
        return shown


def _head(stored: StoredInteraction) -> Json:
    head: Json = {"id": stored.id, "object": "interaction", "model": stored.model,
                  "created": timestamp(stored.created), "updated": timestamp(stored.created)}
    if stored.body.get("previous_interaction_id"):
        head["previous_interaction_id"] = stored.body["previous_interaction_id"]
    return head


def render_error(exc: ApiError) -> Response:
    """An ApiError in the Interactions API's shape (string ``code``), at its HTTP status;
    an invalid API key is 401 ``authentication`` there."""
    status = exc.code
    code = _CODES.get(status, "internal" if status >= 500 else "invalid_request")
    reasons = [d.get("reason") for d in exc.details if isinstance(d, dict)]
    if exc.status == "PARAMETER_UNKNOWN":
        code = "parameter_unknown"
    elif "API_KEY_INVALID" in reasons:
        status, code = 401, "authentication"
    elif status == 404 and exc.message.startswith("models/"):
        code = "model_not_found"
    elif status == 429 and "PerDay" in json.dumps(exc.details):
        code = "quota_exceeded"
    error: Json = {"code": code, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return JSONResponse({"error": error}, status_code=status)


def _check_fields(body: Json) -> None:
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise ApiError(400, f"Unknown parameter(s): {', '.join(unknown)}.",
                       status="PARAMETER_UNKNOWN")
    for name in ("agent", "agent_config", "environment", "continuation_token"):
        if body.get(name):
            raise invalid_argument(f"{name}: agent interactions are not emulated; create a "
                                   "model interaction (model=...).")
    if not body.get("model"):
        raise invalid_argument("model is required for a model interaction.")
    if str(body.get("service_tier") or "").lower() == "deferred":
        raise invalid_argument("service_tier 'deferred' is served only on the Agent "
                               "Platform's global endpoint.")
    if body.get("background") and body.get("store") is False:
        raise invalid_argument("background=true needs store=true: a background interaction "
                               "is read back with get.")


def _previous(state: EmulatorState, body: Json) -> StoredInteraction | None:
    previous_id = body.get("previous_interaction_id")
    if not previous_id:
        return None
    with state.lock:
        stored = state.interactions.get(str(previous_id))
        now = state.now()
    if stored is None:
        raise not_found(f"Interaction {previous_id} was not found (deleted, never stored "
                        "or created with store=false).")
    if stored.cancelled_at is not None or now < stored.done_at:
        raise invalid_argument(f"previous_interaction_id {previous_id} has not completed.")
    return stored


async def create_interaction(request: Request) -> Response:
    state = emulator(request)
    started = time.monotonic()
    model_id: str | None = None
    try:
        body = await body_of(state, request)
        model_id = str(body.get("model") or "").removeprefix("models/") or None
        with state.lock:
            state.stats.count_call(ENDPOINT, model_id)
        _check_fields(body)
        model = state.serving(model_id or "")
        if model is None:
            raise ApiError(404, f"models/{model_id} is not found for API version "
                                f"{request.path_params.get('version')}, or is not supported "
                                "for interactions.")
        previous = _previous(state, body)
        history = previous.conversation if previous else []
        generate_body = generate_request(body, history + input_contents(body.get("input")))
        budget_levels(model, generate_body["generationConfig"])
        prior = PromptCounter(state, model.family).count(history).tokens if history else None
        tier = generate_body.get("serviceTier")
        answer = serve(state, request, ENDPOINT, model, model_id, generate_body,
                       await request.body(), tier,
                       generate_body["generationConfig"].get("thinkingConfig"), prior)
        if isinstance(answer, Response):
            return answer  # the connection was dropped
    except ApiError as exc:
        log_call(state, ENDPOINT, model_id, exc.code, latency_s=time.monotonic() - started)
        return render_error(exc)
    stored = _store(state, body, model_id or model.id, generate_body, answer)
    headers = {TIER_HEADER: answer.served}
    if body.get("background"):
        log_call(state, ENDPOINT, model.id, 200, latency_s=time.monotonic() - started,
                 **answer.entry)
        return JSONResponse({**_head(stored), "status": "in_progress"}, headers=headers)
    if body.get("stream"):
        return StreamingResponse(_streamed(state, stored, answer, started),
                                 media_type="text/event-stream", headers=headers)
    await wait(state, model.id, sum(answer.delays))
    log_call(state, ENDPOINT, model.id, 200, latency_s=time.monotonic() - started,
             **answer.entry)
    return JSONResponse(stored.result, headers=headers)


def _store(state: EmulatorState, body: Json, model_id: str, generate_body: Json,
           answer: Answer) -> StoredInteraction:
    """The finished interaction; kept for get and later turns unless ``store=false``."""
    response = answer.response
    now = state.now()
    interaction_id = "v1_" + state.new_id("interaction")
    answer_content = response["candidates"][0].get("content")
    conversation = list(generate_body["contents"])
    if answer_content:
        conversation.append({"role": "model", "parts": [
            p for p in answer_content["parts"] if not p.get("thought")]})
    stored = StoredInteraction(
        id=interaction_id, model=model_id, created=now,
        done_at=now + (sum(answer.delays) if body.get("background") else 0.0),
        body=body, conversation=conversation, result={}, input=body.get("input"))
    stored.result = {**_head(stored), "status": status_of(response),
                     "updated": timestamp(stored.done_at),
                     "steps": steps_of(response, answer.model.family != "2.5"),
                     "usage": usage_of(response["usageMetadata"]),
                     "service_tier": answer.served}
    if body.get("store") is not False:
        with state.lock:
            state.interactions[interaction_id] = stored
    return stored


def events(stored: StoredInteraction) -> list[tuple[str, Json]]:
    """The SSE events of a finished interaction, in the order the API sends them."""
    result = stored.result
    head = {k: result[k] for k in ("id", "object", "model", "created")}
    out: list[tuple[str, Json]] = [
        ("interaction.created", {"interaction": {**head, "status": "in_progress"}}),
        ("interaction.status_update", {"interaction_id": stored.id,
                                       "status": "in_progress"}),
    ]
    for index, step in enumerate(result["steps"]):
        kind = step["type"]
        if kind == "model_output":
            out.append(("step.start", {"index": index,
                                       "step": {"type": kind, "content": []}}))
            for content in step["content"]:
                for piece in _pieces(content["text"], 3):
                    out.append(("step.delta", {"index": index,
                                               "delta": {"type": "text", "text": piece}}))
        elif kind == "thought":
            out.append(("step.start", {"index": index, "step": {"type": kind}}))
            for summary in step.get("summary", []):
                out.append(("step.delta", {"index": index, "delta": {
                    "type": "thought_summary", "content": summary}}))
            if step.get("signature"):
                out.append(("step.delta", {"index": index, "delta": {
                    "type": "thought_signature", "signature": step["signature"]}}))
        else:
            out.append(("step.start", {"index": index, "step": step}))
        out.append(("step.stop", {"index": index}))
    out.append(("interaction.completed", {"interaction": {
        **head, "status": result["status"], "updated": result["updated"],
        "usage": result["usage"], "service_tier": result["service_tier"]}}))
    return out


def _pieces(text: str, n: int) -> list[str]:
    size = max(1, -(-len(text) // n))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _sse(n: int, kind: str, data: Json) -> str:
    payload = {**data, "event_type": kind, "event_id": f"evt_{n}"}
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"


async def _streamed(state: EmulatorState, stored: StoredInteraction, answer: Answer,
                    started: float) -> AsyncIterator[str]:
    """The first delay before the first step, the rest spread over the later events."""
    stream = events(stored)
    delays = answer.delays
    for n, (kind, data) in enumerate(stream):
        if kind == "step.start":
            await wait(state, answer.model.id, delays[0] if n <= 3 else 0.0)
        elif kind == "step.delta":
            await wait(state, answer.model.id, sum(delays[1:]) / max(1, len(stream)))
        yield _sse(n, kind, data)
    log_call(state, ENDPOINT, answer.model.id, 200, latency_s=time.monotonic() - started,
             **answer.entry)


def _stored_or_404(state: EmulatorState, request: Request) -> StoredInteraction:
    interaction_id = request.path_params["interaction_id"]
    with state.lock:
        stored = state.interactions.get(interaction_id)
    if stored is None:
        raise not_found(f"Interaction {interaction_id} was not found (deleted, never stored "
                        "or created with store=false).")
    return stored


async def get_interaction(request: Request) -> Response:
    state = emulator(request)
    stored = _stored_or_404(state, request)
    include_input = request.query_params.get("include_input", "").lower() == "true"
    if request.query_params.get("stream", "").lower() == "true" and \
            state.now() >= stored.done_at:
        return StreamingResponse(iter([_sse(n, kind, data) for n, (kind, data)
                                       in enumerate(events(stored))]),
                                 media_type="text/event-stream")
    return JSONResponse(stored.view(state.now(), include_input=include_input))


async def delete_interaction(request: Request) -> Response:
    state = emulator(request)
    stored = _stored_or_404(state, request)
    with state.lock:
        state.interactions.pop(stored.id, None)
    return JSONResponse({})


async def cancel_interaction(request: Request) -> Response:
    state = emulator(request)
    stored = _stored_or_404(state, request)
    now = state.now()
    if stored.cancelled_at is None and now >= stored.done_at:
        raise invalid_argument(f"Interaction {stored.id} has already finished; only a "
                               "background interaction in progress can be cancelled.")
    with state.lock:
        if stored.cancelled_at is None:
            stored.cancelled_at = now
    return JSONResponse(stored.view(now))
