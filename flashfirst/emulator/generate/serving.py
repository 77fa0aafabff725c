"""Everything between a parsed generate request and its answer, shared by every surface
that generates: validation, the prompt counted, caches resolved, quotas, faults, service
tiers, scripts, the implicit cache, the answer, its latency and its stats."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flashfirst.emulator.calls import log_call
from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.generate.answers import build_response
from flashfirst.emulator.generate.thinking import thinking_of, thinking_rank
from flashfirst.emulator.resources import StoredCache
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.prompt import CountedPrompt, PromptCounter, global_media_resolution
from flashfirst.emulator.tokens.rules import TokenCount
from flashfirst.emulator.wire.codec import Json, digest, get, request_shape, unit_interval
from flashfirst.emulator.wire.errors import (
    cache_not_found_for_use,
    invalid_argument,
    scripted,
    unavailable,
)
from flashfirst.emulator.wire.validation import validate_request

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
        state.quotas.admit(model, call.prompt_total, state.now(),
                           state.config.quota_stamp_lag_s)
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


async def wait(state: EmulatorState, model_id: str, seconds: float) -> None:
    """Sleep out a call's latency counted in flight (Flex sheds above a number in flight)."""
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
