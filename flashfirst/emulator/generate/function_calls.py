"""Function calling, deterministically, so users' tool loops and the SDK's automatic
function calling can be tested offline (generateContent and the Interactions API alike).

The emulator's rule (Google's model decides freely; tests need to know):
- A request declaring functions (``tools[].functionDeclarations``) gets one ``functionCall``
  part instead of text while its latest turn is the user's own words; once the latest turn
  carries ``functionResponse`` parts, the model answers in text.
- The called function is the first declared (and allowed) one whose name the latest user
  text mentions, else the first declared one; its ``args`` are a valid instance of its
  ``parameters`` (or ``parametersJsonSchema``), seeded like every answer.
- ``toolConfig.functionCallingConfig.mode``: ``NONE`` never calls; ``ANY`` always calls
  (only ``allowedFunctionNames``), as Google's function-calling guide defines the modes
  (https://ai.google.dev/gemini-api/docs/function-calling, copy read 2026-12-02).

Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures, copy read
2026-12-02): Gemini 3 and later return one with every function call, on the first
``functionCall`` part, and on the last part of a text answer when the model thought."""

from __future__ import annotations

import random
from typing import Any

from flashfirst.emulator.generate.schema_instances import schema_instance
from flashfirst.emulator.wire.codec import Json, get


def declared_functions(request: Json) -> list[Json]:
    found: list[Json] = []
    for tool in get(request, "tools") or []:
        for function in get(tool, "functionDeclarations") or []:
            if isinstance(function, dict) and function.get("name"):
                found.append(function)
    return found


def _latest_text(contents: list[Any]) -> str:
    for content in reversed(contents):
        parts = get(content, "parts") or []
        texts = [p["text"] for p in parts if isinstance(p, dict)
                 and isinstance(p.get("text"), str)]
        if texts:
            return "\n".join(texts)
    return ""


def _answers_results(contents: list[Any]) -> bool:
    parts = get(contents[-1], "parts") or [] if contents else []
    return any(isinstance(p, dict) and get(p, "functionResponse") is not None for p in parts)


def function_call(request: Json, rng: random.Random) -> Json | None:
    """The ``functionCall`` the model makes for this request, or None to answer in text."""
    functions = declared_functions(request)
    if not functions:
        return None
    config = get(get(request, "toolConfig") or {}, "functionCallingConfig") or {}
    mode = str(get(config, "mode") or "AUTO").upper()
    if mode == "NONE":
        return None
    contents = get(request, "contents") or []
    if mode != "ANY" and _answers_results(contents):
        return None
    allowed = get(config, "allowedFunctionNames")
    candidates = [f for f in functions if not allowed or f["name"] in allowed] or functions
    text = _latest_text(contents)
    chosen = next((f for f in candidates if f["name"] in text), candidates[0])
    schema = get(chosen, "parametersJsonSchema") or get(chosen, "parameters")
    args = schema_instance(schema, rng) if schema else {}
    return {"name": chosen["name"], "args": args if isinstance(args, dict) else {}}
