"""One model call on the wire the settings chose: generateContent, or the Interactions API
(``FLASHFIRST_INFERENCE__API=interactions``).

Both send what ``build_request`` built, and both hand the engine a
``GenerateContentResponse`` and the SDK's ``APIError``s: an interaction is read back into
that shape (its steps as parts, its status as a finish reason, its usage as
``usageMetadata``, its ``created`` time as the Date header, its ``service_tier`` as the
served-tier header), so pricing, validation, retries, rate limits, escalation and the
answer store never know which wire carried the call.

The Interactions API stores every interaction unless told not to; a pipeline reads each
answer once and keeps it itself, so it sends ``store=false`` unless
``FLASHFIRST_INFERENCE__INTERACTIONS_STORE`` asks otherwise. Its client retries 429 and
5xx four times by default, ignoring ``RetryInfo``: ``flashfirst.client`` builds every
client with one attempt, so our retry policy (which honours the server's delay) is the
only one.

Request fields (google-genai 3.6.1, ``google/genai/_gaos/types/interactions/``): contents
are typed (``text``, ``image``, ``audio``, ``video``, ``document``) with ``data`` (base64)
or ``uri``, a per-content ``resolution`` and, for video, ``processing`` (``fps``,
``start_offset``, ``end_offset``); thinking is ``generation_config.thinking_level`` only
(no budget, on 2.5 models too); a JSON answer is ``response_format={"type": "text",
"mime_type", "schema"}``; media resolution exists per content only."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Literal

import httpx2
from google import genai
from google.genai import _interactions_errors as interaction_errors
from google.genai import errors as genai_errors
from google.genai import types

from flashfirst.errors import RefusedBeforeCall
from flashfirst.gemini.token_rules import MediaRules
from flashfirst.inference.request import ModelRequest

Api = Literal["generate_content", "interactions"]
Send = Callable[[ModelRequest], Awaitable[types.GenerateContentResponse]]
SERVED_TIER_HEADER = "x-gemini-service-tier"  # the Developer API names the served tier here


class NotOnInteractions(RefusedBeforeCall):
    """The request carries something the Interactions API has no field for; refused
    before any call, so nothing is paid."""

    def __init__(self, model: str, what: str) -> None:
        super().__init__(f"{model} on the Interactions API: {what}; send it with "
                         "FLASHFIRST_INFERENCE__API=generate_content")
        self.model, self.what = model, what

    def __reduce__(self) -> tuple:
        return (type(self), (self.model, self.what))


def sender(client: genai.Client, api: Api, *, store: bool = False) -> Send:
    """The coroutine that sends one built request on ``api``."""
    if api == "interactions":
        async def send(request: ModelRequest) -> types.GenerateContentResponse:
            return await create_interaction(client, request, store=store)
        return send

    async def generate(request: ModelRequest) -> types.GenerateContentResponse:
        return await client.aio.models.generate_content(
            model=request.model, contents=request.contents, config=request.config)
    return generate


def check_wire(request: ModelRequest, api: Api) -> None:
    """Raises ``NotOnInteractions`` before any call when ``api`` cannot carry ``request``."""
    if api == "interactions":
        interaction_body(request, store=False)


async def create_interaction(client: genai.Client, request: ModelRequest, *,
                             store: bool = False) -> types.GenerateContentResponse:
    body = interaction_body(request, store=store)
    try:
        interaction = await client.aio.interactions.create(**body)
    except interaction_errors.APITimeoutError as exc:
        raise TimeoutError(str(exc)) from exc
    except interaction_errors.APIConnectionError as exc:
        raise httpx2.TransportError(str(exc)) from exc
    except interaction_errors.APIError as exc:
        raise as_genai_error(exc) from exc
    return as_generate_response(interaction)


def interaction_body(request: ModelRequest, *, store: bool) -> dict[str, Any]:
    """``interactions.create`` keyword arguments for a built request."""
    config = request.config
    per_part = request.serving is not None and \
        MediaRules(request.serving.media_rules) is MediaRules.GEMINI_3
    if config.media_resolution is not None and not per_part and _has_media(request):
        raise NotOnInteractions(request.model, "its media resolution is request-wide "
                                "(Gemini 2.x), the Interactions API sets it per content")
    body: dict[str, Any] = {
        "model": request.model, "store": store,
        "input": [_content(part, request.model, _level(config.media_resolution))
                  for content in request.contents for part in content.parts or []],
    }
    if config.system_instruction is not None:
        body["system_instruction"] = _text_of(config.system_instruction)
    if config.cached_content:
        body["cached_content"] = config.cached_content
    if config.service_tier is not None:
        body["service_tier"] = str(getattr(config.service_tier, "value",
                                           config.service_tier)).lower()
    if config.labels:
        body["labels"] = dict(config.labels)
    generation: dict[str, Any] = {}
    if config.max_output_tokens is not None:
        generation["max_output_tokens"] = config.max_output_tokens
    level = _thinking_level(request)
    if level is not None:
        generation["thinking_level"] = level
    if generation:
        body["generation_config"] = generation
    if config.response_mime_type or config.response_json_schema is not None:
        fmt: dict[str, Any] = {"type": "text",
                               "mime_type": config.response_mime_type or "application/json"}
        if config.response_json_schema is not None:
            fmt["schema"] = config.response_json_schema
        body["response_format"] = fmt
    return body


# The Interactions API takes thinking_level only, on 2.5 models too (low, medium, high on
# its thinking page, research file 1.8): a 2.5 budget travels as the level of its size.
_BUDGET_LEVELS = ((2048, "low"), (8192, "medium"), (24_576, "high"))


def _thinking_level(request: ModelRequest) -> str | None:
    """A level goes as it is; a budget that is the model's own default sends nothing; any
    other positive budget goes as the level of its size (the attempt still records the
    budget the policy asked for); "off" on a model that thinks by default has no level."""
    thinking = request.config.thinking_config
    if thinking is None:
        return None
    if thinking.thinking_level is not None:
        return str(getattr(thinking.thinking_level, "value", thinking.thinking_level)).lower()
    budget = thinking.thinking_budget
    if budget is None or request.thinking.same_as_default:
        return None
    level = next((name for top, name in _BUDGET_LEVELS if 0 < budget <= top), None)
    if level is None:
        raise NotOnInteractions(request.model, f"a thinking budget of {budget} (it takes "
                                "thinking_level low, medium or high only)")
    return level


def _has_media(request: ModelRequest) -> bool:
    return any(p.inline_data is not None or p.file_data is not None
               for c in request.contents for p in c.parts or [])


def _kind(mime: str) -> str:
    top = mime.split("/", 1)[0]
    return top if top in ("image", "audio", "video") else "document"


def _level(resolution: Any) -> str | None:
    """``MEDIA_RESOLUTION_LOW`` (either enum) as the Interactions API spells it: ``low``."""
    if resolution is None:
        return None
    return str(getattr(resolution, "value", resolution)).removeprefix(
        "MEDIA_RESOLUTION_").lower()


def _content(part: types.Part, model: str, request_wide: str | None) -> dict[str, Any]:
    """One part as a typed content; a media part without its own resolution takes the
    request-wide one (generateContent's ``media_resolution``), which has no field here."""
    if part.text is not None:
        return {"type": "text", "text": part.text}
    if part.inline_data is not None:
        mime = part.inline_data.mime_type or ""
        out: dict[str, Any] = {"type": _kind(mime), "mime_type": mime,
                               "data": base64.b64encode(part.inline_data.data or b"").decode()}
    elif part.file_data is not None:
        mime = part.file_data.mime_type or ""
        out = {"type": _kind(mime), "uri": part.file_data.file_uri}
        if mime:
            out["mime_type"] = mime
    else:
        raise NotOnInteractions(model, "a part that is neither text nor a file")
    own = part.media_resolution.level if part.media_resolution is not None else None
    if own is not None or request_wide is not None:
        out["resolution"] = _level(own) if own is not None else request_wide
    meta = part.video_metadata
    if meta is not None and (meta.fps is not None or meta.start_offset or meta.end_offset):
        processing: dict[str, Any] = {"type": "static"}
        if meta.fps is not None:
            processing["fps"] = meta.fps
        if meta.start_offset:
            processing["start_offset"] = meta.start_offset
        if meta.end_offset:
            processing["end_offset"] = meta.end_offset
        out["processing"] = processing
    return out


def _text_of(instruction: Any) -> str:
    if isinstance(instruction, str):
        return instruction
    parts = getattr(instruction, "parts", None) or []
    return "\n".join(p.text for p in parts if getattr(p, "text", None))


# An interaction's status as the finish reason generateContent would have given.
_FINISH = {"completed": types.FinishReason.STOP, "requires_action": types.FinishReason.STOP,
           "incomplete": types.FinishReason.MAX_TOKENS, "failed": types.FinishReason.OTHER}


def as_generate_response(interaction: Any) -> types.GenerateContentResponse:
    """An Interaction read as the GenerateContentResponse the engine judges and prices."""
    parts: list[types.Part] = []
    for step in interaction.steps or []:
        kind = getattr(step, "type", None)
        if kind == "model_output":
            parts += [types.Part(text=c.text) for c in step.content or []
                      if getattr(c, "type", None) == "text"]
        elif kind == "function_call":
            parts.append(types.Part(function_call=types.FunctionCall(
                id=step.id, name=step.name, args=step.arguments or {})))
    status = str(interaction.status)
    candidate = types.Candidate(
        content=types.Content(role="model", parts=parts) if parts else None,
        finish_reason=_FINISH.get(status, types.FinishReason.OTHER))
    headers: dict[str, str] = {}
    if interaction.created:
        created = datetime.fromisoformat(str(interaction.created).replace("Z", "+00:00"))
        headers["date"] = format_datetime(created, usegmt=True)
    if interaction.service_tier:
        headers[SERVED_TIER_HEADER] = str(interaction.service_tier)
    return types.GenerateContentResponse(
        candidates=[candidate], usage_metadata=_usage(interaction.usage),
        model_version=str(interaction.model) if interaction.model else None,
        response_id=interaction.id or None,
        sdk_http_response=types.HttpResponse(headers=headers))


def _usage(usage: Any) -> types.GenerateContentResponseUsageMetadata | None:
    """``total_input_tokens`` includes the cached ones, as ``promptTokenCount`` does."""
    if usage is None:
        return None

    def details(items: Any) -> list[types.ModalityTokenCount] | None:
        if not items:
            return None
        return [types.ModalityTokenCount(modality=str(m.modality).upper(),
                                         token_count=m.tokens or 0) for m in items]

    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=usage.total_input_tokens or 0,
        cached_content_token_count=usage.total_cached_tokens or 0,
        candidates_token_count=usage.total_output_tokens or 0,
        thoughts_token_count=usage.total_thought_tokens or 0,
        total_token_count=usage.total_tokens or 0,
        prompt_tokens_details=details(usage.input_tokens_by_modality),
        cache_tokens_details=details(usage.cached_tokens_by_modality))


# The Interactions API's error codes (https://ai.google.dev/gemini-api/docs/api-errors,
# read 2026-12-02) as the google.rpc statuses generateContent answers with.
_STATUS = {"invalid_request": "INVALID_ARGUMENT", "parameter_unknown": "INVALID_ARGUMENT",
           "authentication": "UNAUTHENTICATED", "permission_denied": "PERMISSION_DENIED",
           "not_found": "NOT_FOUND", "model_not_found": "NOT_FOUND",
           "rate_limit_exceeded": "RESOURCE_EXHAUSTED", "quota_exceeded": "RESOURCE_EXHAUSTED",
           "cancelled": "CANCELLED", "internal": "INTERNAL", "unavailable": "UNAVAILABLE",
           "deadline_exceeded": "DEADLINE_EXCEEDED"}


def as_genai_error(exc: interaction_errors.APIError) -> genai_errors.APIError:
    """The interactions client's error as the SDK's ``APIError`` (HTTP code, google.rpc
    status, the same ``details``), so ``retry.classify`` reads both wires alike."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = int(exc.status_code or 500)
    wire_code = str(error.get("code") or "")
    status = _STATUS.get(wire_code, wire_code.upper() or None)
    detail: dict[str, Any] = {"code": code, "message": error.get("message") or exc.message,
                              "status": status}
    if error.get("details"):
        detail["details"] = error["details"]
    kind = genai_errors.ServerError if code >= 500 else genai_errors.ClientError
    return kind(code, {"error": detail})
