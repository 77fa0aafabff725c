"""The Interactions API's wire format read into the emulator's generate request, and a
GenerateContentResponse written back as an Interaction's steps and usage.

The emulator answers an interaction by the same rules as generateContent (tokens, thinking,
caching, quotas, faults): this module is only the translation. Shapes follow the
google-genai 3.6.1 types (``google/genai/_gaos/types/interactions/``): ``input`` is a
string, one content, a list of contents or a list of steps (``user_input``,
``model_output``, ``function_call``, ``function_result``, ``thought``); contents are typed
(``text``, ``image``, ``audio``, ``video``, ``document``, by ``data`` or ``uri``); usage is
``total_input_tokens`` (cached included, as ``promptTokenCount`` includes them),
``total_cached_tokens``, ``total_thought_tokens``, ``total_output_tokens`` and the same per
modality in lower case."""

from __future__ import annotations

from typing import Any

from flashfirst.emulator.wire.codec import Json, resource_id, thought_signature
from flashfirst.emulator.wire.errors import invalid_argument

# Request fields of a model interaction (CreateModelInteraction in the SDK types).
KNOWN_FIELDS = {"model", "agent", "agent_config", "background", "cached_content",
                "continuation_token", "environment", "generation_config", "input", "labels",
                "previous_interaction_id", "response_format", "response_mime_type",
                "response_modalities", "safety_settings", "service_tier", "store", "stream",
                "system_instruction", "tools", "webhook_config"}
_MEDIA_TYPES = {"image", "audio", "video", "document"}
_VIDEO_PROCESSING = {"fps": "fps", "start_offset": "startOffset", "end_offset": "endOffset"}
_CONFIG_FIELDS = {"max_output_tokens": "maxOutputTokens", "temperature": "temperature",
                  "top_p": "topP", "seed": "seed", "stop_sequences": "stopSequences"}


def input_contents(value: Any) -> list[Json]:
    """``input`` as generateContent ``contents``; a bad item is a 400 naming its index."""
    if value is None or value == [] or value == "":
        raise invalid_argument("input is required: a string, a content or a list of "
                               "contents or steps.")
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"text": value}]}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid_argument("Invalid value at 'input': expected a string, an object or "
                               "a list.")
    if all(isinstance(item, dict) and item.get("type") in _STEP_ROLES for item in value):
        # Thoughts are the model's own; their signature is all a client sends back.
        return [_step_content(step, i) for i, step in enumerate(value)
                if step["type"] != "thought"]
    return [{"role": "user", "parts": [_part(item, f"input[{i}]")
                                       for i, item in enumerate(value)]}]


_STEP_ROLES = {"user_input": "user", "model_output": "model", "function_call": "model",
               "function_result": "user", "thought": "model"}


def _step_content(step: Json, i: int) -> Json:
    kind = step["type"]
    where = f"input[{i}]"
    if kind == "function_call":
        part: Json = {"functionCall": {"name": step.get("name"),
                                       "args": step.get("arguments") or {},
                                       "id": step.get("id")}}
        parts = [part]
    elif kind == "function_result":
        result = step.get("result")
        if "call_id" not in step:
            raise invalid_argument(f"Invalid value at '{where}.call_id': a function_result "
                                   "names the call it answers.")
        parts = [{"functionResponse": {"name": step.get("name"), "id": step["call_id"],
                                       "response": {"result": result}}}]
    else:
        content = step.get("content") or []
        if not isinstance(content, list) or not content:
            raise invalid_argument(f"Invalid value at '{where}.content': a {kind} step needs "
                                   "a non-empty list of contents.")
        parts = [_part(item, f"{where}.content[{j}]") for j, item in enumerate(content)]
    return {"role": _STEP_ROLES[kind], "parts": parts}


def _part(item: Any, where: str) -> Json:
    if isinstance(item, str):
        return {"text": item}
    if not isinstance(item, dict):
        raise invalid_argument(f"Invalid value at '{where}': expected a content object.")
    kind = item.get("type", "text" if "text" in item else None)
    if kind == "text":
        if not isinstance(item.get("text"), str):
            raise invalid_argument(f"Invalid value at '{where}.text': a text content needs "
                                   "its text.")
        return {"text": item["text"]}
    if kind in _MEDIA_TYPES:
        mime = item.get("mime_type") or ""
        part: Json
        if item.get("data"):
            part = {"inlineData": {"mimeType": mime, "data": item["data"]}}
        elif item.get("uri"):
            part = {"fileData": {"fileUri": item["uri"], "mimeType": mime}}
        else:
            raise invalid_argument(f"Invalid value at '{where}': a {kind} content needs data "
                                   "or a uri.")
        if item.get("resolution"):
            part["mediaResolution"] = {"level": item["resolution"]}
        processing = item.get("processing")
        if kind == "video" and isinstance(processing, dict):  # sampling: as videoMetadata
            meta = {camel: processing[key] for key, camel in _VIDEO_PROCESSING.items()
                    if processing.get(key) is not None}
            if meta:
                part["videoMetadata"] = meta
        return part
    raise invalid_argument(f"Invalid value at '{where}.type': unsupported content type "
                           f"{kind!r}.")


def generate_request(body: Json, contents: list[Json]) -> Json:
    """The generateContent request an interaction amounts to."""
    request: Json = {"contents": contents}
    system = body.get("system_instruction")
    if system:
        request["systemInstruction"] = {"parts": [{"text": str(system)}]}
    tools = _tools(body.get("tools"))
    if tools:
        request["tools"] = tools
    if body.get("cached_content"):
        request["cachedContent"] = body["cached_content"]
    if body.get("service_tier"):
        request["serviceTier"] = body["service_tier"]
    request["generationConfig"] = _generation_config(body)
    return request


def _tools(tools: Any) -> list[Json]:
    """Function tools as one ``functionDeclarations`` list; other tools are declared as they
    came (the emulator runs no search, code or URL tool; they count as prompt text)."""
    if not tools:
        return []
    if not isinstance(tools, list):
        raise invalid_argument("Invalid value at 'tools': expected a list.")
    functions = [{k: v for k, v in tool.items() if k != "type"} for tool in tools
                 if isinstance(tool, dict) and tool.get("type") == "function"]
    others = [tool for tool in tools if not (isinstance(tool, dict)
                                             and tool.get("type") == "function")]
    return ([{"functionDeclarations": functions}] if functions else []) + others


def _generation_config(body: Json) -> Json:
    given = body.get("generation_config") or {}
    if not isinstance(given, dict):
        raise invalid_argument("Invalid value at 'generation_config': expected an object.")
    config: Json = {camel: given[key] for key, camel in _CONFIG_FIELDS.items()
                    if given.get(key) is not None}
    thinking: Json = {}
    if given.get("thinking_level") is not None:
        thinking["thinkingLevel"] = str(given["thinking_level"]).upper()
    if given.get("thinking_summaries") == "auto":
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
    mime, schema = _response_format(body)
    if mime:
        config["responseMimeType"] = mime
    if schema is not None:
        config["responseJsonSchema"] = schema
    return config


def _response_format(body: Json) -> tuple[str | None, Any]:
    """``response_format`` as a typed text format (``{"type": "text", "mime_type",
    "schema"}``, alone or in a list) or, as older code sends it, a bare JSON schema beside
    ``response_mime_type``."""
    fmt = body.get("response_format")
    mime = body.get("response_mime_type")
    if isinstance(fmt, list):
        fmt = next((f for f in fmt if isinstance(f, dict) and f.get("type") == "text"), None)
    if isinstance(fmt, dict) and fmt.get("type") == "text":
        return fmt.get("mime_type") or mime, fmt.get("schema")
    if isinstance(fmt, dict):
        return mime or "application/json", fmt
    return mime, None


def steps_of(response: Json, family_has_signatures: bool) -> list[Json]:
    """The answer's steps: a ``thought`` step when the model thought (carrying the answer's
    signature on Gemini 3+, its summary when asked for), function calls (ids derived from
    the response), then the text output."""
    candidate = response["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    usage = response["usageMetadata"]
    steps: list[Json] = []
    signed = [p["thoughtSignature"] for p in parts if p.get("thoughtSignature")]
    if usage.get("thoughtsTokenCount") or signed:
        thought: Json = {"type": "thought"}
        if family_has_signatures:
            thought["signature"] = signed[0] if signed else \
                thought_signature(response["responseId"])
        summary = [p["text"] for p in parts if p.get("thought") and p.get("text")]
        if summary:
            thought["summary"] = [{"type": "text", "text": text} for text in summary]
        steps.append(thought)
    for n, part in enumerate(parts):
        call = part.get("functionCall")
        if call is not None:
            steps.append({"type": "function_call",
                          "id": call.get("id") or resource_id(response["responseId"], n),
                          "name": call["name"], "arguments": call.get("args") or {}})
    texts = [{"type": "text", "text": p["text"]} for p in parts
             if not p.get("thought") and isinstance(p.get("text"), str)]
    if texts:
        steps.append({"type": "model_output", "content": texts})
    return steps


def status_of(response: Json) -> str:
    """STOP → completed (a function call: requires_action), MAX_TOKENS → incomplete, a
    block → failed."""
    candidate = response["candidates"][0]
    reason = candidate.get("finishReason", "STOP")
    if reason == "MAX_TOKENS":
        return "incomplete"
    if reason != "STOP":
        return "failed"
    parts = candidate.get("content", {}).get("parts", [])
    return "requires_action" if any("functionCall" in p for p in parts) else "completed"


def _by_modality(details: Any) -> list[Json]:
    return [{"modality": str(d["modality"]).lower(), "tokens": d["tokenCount"]}
            for d in details or [] if d.get("tokenCount")]


def usage_of(usage: Json) -> Json:
    """generateContent's usageMetadata as the Interactions API's Usage."""
    out: Json = {
        "total_input_tokens": usage.get("promptTokenCount", 0),
        "total_cached_tokens": usage.get("cachedContentTokenCount", 0),
        "total_thought_tokens": usage.get("thoughtsTokenCount", 0),
        "total_output_tokens": usage.get("candidatesTokenCount", 0),
        "total_tokens": usage.get("totalTokenCount", 0),
        "input_tokens_by_modality": _by_modality(usage.get("promptTokensDetails")),
    }
    cached = _by_modality(usage.get("cacheTokensDetails"))
    if cached:
        out["cached_tokens_by_modality"] = cached
    output = _by_modality(usage.get("candidatesTokensDetails"))
    if output:
        out["output_tokens_by_modality"] = output
    return out


# A level on a budget model (2.5) as the budget the emulator thinks with: its own rule, the
# page gives levels only. Low is the budget flashfirst itself sends for "low" on 2.5.
_LEVEL_BUDGETS = {"LOW": 1024, "MEDIUM": 8192, "HIGH": 24_576}


def budget_levels(model: Any, generation_config: Json) -> None:
    """On a model that thinks by budget, ``thinkingLevel`` low/medium/high becomes
    ``thinkingBudget`` (within the model's range); other levels are a 400 naming these."""
    thinking = generation_config.get("thinkingConfig")
    if model.thinking_levels or not thinking or "thinkingLevel" not in thinking:
        return
    level = str(thinking.pop("thinkingLevel")).upper()
    if level not in _LEVEL_BUDGETS:
        raise invalid_argument(f"thinking_level {level} is not supported by models/"
                               f"{model.id}; allowed values: LOW, MEDIUM, HIGH.")
    thinking["thinkingBudget"] = min(_LEVEL_BUDGETS[level], model.budget_max)
