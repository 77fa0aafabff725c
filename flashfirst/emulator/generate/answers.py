"""Deterministic answers and their usage metadata.

The same seed and request always give the same answer; with a response schema the answer
is a valid instance of it, otherwise prose whose length depends on the request. Thinking
tokens (``thinking``) share ``maxOutputTokens`` with the answer, as on the real models."""

from __future__ import annotations

import json
import random
from typing import Any

from flashfirst.emulator.config import EmulatedModel, Script
from flashfirst.emulator.generate.function_calls import function_call
from flashfirst.emulator.generate.quality import QualityRule, quality_answer
from flashfirst.emulator.generate.schema_instances import schema_instance
from flashfirst.emulator.generate.thinking import thinking_of, thought_tokens
from flashfirst.emulator.resources import StoredCache
from flashfirst.emulator.tokens.prompt import CountedPrompt
from flashfirst.emulator.tokens.rules import CHARS_PER_TOKEN, Modality, TokenCount, text_tokens
from flashfirst.emulator.wire.codec import Json, digest, get, resource_id, thought_signature

_WORDS = ("the", "clip", "shows", "a", "summary", "of", "key", "points", "with", "clear",
          "evidence", "and", "notable", "details", "about", "scene", "speaker", "result",
          "overall", "context", "suggests", "findings", "including", "several", "items",
          "in", "order", "main", "topic", "is", "brief", "document", "audio", "image")


def details(count: TokenCount) -> list[dict[str, Any]]:
    return [{"modality": m.value, "tokenCount": n}
            for m, n in sorted(count.by_modality.items()) if n]


def _meaning(model: EmulatedModel, generation_config: Json) -> Json:
    """What the config asks, not how it is spelled: the thinking the model will apply
    (``HIGH`` and ``high``, an unset level and the default one, a budget of 0 and no
    budget on a model that does not think by default are the same request), so the same
    request on generateContent and on the Interactions API gets the same answer."""
    thinking = thinking_of(model, generation_config)
    shown = get(get(generation_config, "thinkingConfig") or {}, "includeThoughts")
    rest = {k: v for k, v in generation_config.items()
            if k not in ("thinkingConfig", "thinking_config")}
    return {**rest, "thinking": [thinking.level, thinking.cap, thinking.off, bool(shown)]}


def build_response(*, seed: int, model: EmulatedModel, request: Json, prompt: CountedPrompt,
                   cache: StoredCache | None, script: Script | None,
                   implicit: TokenCount | None = None,
                   quality: list[QualityRule] | None = None) -> Json:
    """The full GenerateContentResponse JSON for one request."""
    generation_config = get(request, "generationConfig") or {}
    key = digest(seed, model.id, prompt.text, prompt.media_digests,
                 cache.content_digest if cache else None, _meaning(model, generation_config))
    rng = random.Random(key)
    prompt_total = prompt.tokens.total + (cache.tokens.total if cache else 0)

    thoughts = thought_tokens(thinking_of(model, generation_config), prompt_total, rng,
                              prompt.text)
    finish_reason = script.finish_reason if script else "STOP"
    graded = None if script is not None else quality_answer(
        quality or [], seed, model.id, prompt.text, generation_config)
    if script is not None and (script.text is not None or finish_reason == "SAFETY"):
        text = script.text
    elif graded is not None:  # a quality rule's answer (generate/quality.py)
        text = graded
    else:
        text = _answer_text(generation_config, rng)

    limit = min(int(get(generation_config, "maxOutputTokens") or model.output_token_limit),
                model.output_token_limit)
    answer_tokens = text_tokens(text or "")
    if thoughts + answer_tokens > limit:
        thoughts = min(thoughts, limit)
        room = limit - thoughts
        text = (text or "")[: room * CHARS_PER_TOKEN] or None
        answer_tokens = text_tokens(text or "")
        finish_reason = "MAX_TOKENS"

    call = function_call(request, rng) if script is None and graded is None else None
    if call is not None:  # the call replaces the text (function_calls states the rule)
        text = None
        answer_tokens = text_tokens(json.dumps(call))
    parts: list[Json] = []
    thinking_config = get(generation_config, "thinkingConfig") or {}
    if thoughts and get(thinking_config, "includeThoughts"):
        parts.append({"text": "**Planning the answer**\nReading the request and its media.",
                      "thought": True})
    if call is not None:
        parts.append({"functionCall": call})
    if text is not None:
        parts.append({"text": text})
    if model.family != "2.5" and (call is not None or (thoughts and text is not None)):
        parts[-1]["thoughtSignature"] = thought_signature(key)
    candidate: Json = {"finishReason": finish_reason, "index": 0}
    if parts:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish_reason == "SAFETY":
        candidate["safetyRatings"] = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                       "probability": "HIGH", "blocked": True}]

    prompt_count = prompt.tokens + (cache.tokens if cache else TokenCount())
    usage: Json = {"promptTokenCount": prompt_total,
                   "candidatesTokenCount": answer_tokens,
                   "totalTokenCount": prompt_total + answer_tokens + thoughts,
                   "promptTokensDetails": details(prompt_count)}
    cached = cache.tokens if cache is not None else implicit
    if cached is not None:
        usage["cachedContentTokenCount"] = cached.total
        usage["cacheTokensDetails"] = details(cached)
    if answer_tokens:
        usage["candidatesTokensDetails"] = details(TokenCount.of(Modality.TEXT, answer_tokens))
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model.id,
            "responseId": resource_id(key, "response", length=22)}


def _answer_text(generation_config: Json, rng: random.Random) -> str:
    mime = str(get(generation_config, "responseMimeType") or "text/plain")
    schema = get(generation_config, "responseJsonSchema") or get(generation_config,
                                                                 "responseSchema")
    if mime.startswith("application/json"):
        value = schema_instance(schema, rng) if schema else {"answer": _prose(rng, 24)}
        return json.dumps(value, ensure_ascii=False)
    if mime.startswith("text/x.enum") and schema:
        return str(rng.choice(get(schema, "enum") or ["UNKNOWN"]))
    return _prose(rng, 16 + rng.randrange(96))


def _prose(rng: random.Random, words: int) -> str:
    sentences, current = [], []
    for _ in range(words):
        current.append(rng.choice(_WORDS))
        if len(current) >= 6 + rng.randrange(8):
            sentences.append(" ".join(current).capitalize() + ".")
            current = []
    if current:
        sentences.append(" ".join(current).capitalize() + ".")
    return " ".join(sentences)
