"""One item's request, built in one place for every path that sends or counts it.

The online engine, the batch runner and the estimate all send (or count) what
``build_request`` returns, so an item carries the same parts, thinking and output cap
whichever way it goes; only the service tier differs (a batch request has none: the
batch is the tier)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from google.genai import types
from pydantic import BaseModel

from flashfirst.errors import InputNotSupported, RefusedBeforeCall, ThinkingNotSupported
from flashfirst.gemini.catalogue import Catalogue, ModelInfo
from flashfirst.gemini.thinking import sent, thinking_config
from flashfirst.gemini.token_rules import MediaRules
from flashfirst.inference.answers import job_key
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.window import check_window
from flashfirst.inputs.context import ContextUse
from flashfirst.inputs.prompts import prompt_for
from flashfirst.items import ServiceTier, ThinkingSent
from flashfirst.media.parts import global_resolution, parts_for_rules
from flashfirst.planning.router import RoutingPolicy
from flashfirst.probe import MediaKind


class ModelRequest(BaseModel):
    """What goes to ``generate_content`` (or into a batch line), and what the attempt
    records about it."""

    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig
    serving: ModelInfo | None = None
    thinking: ThinkingSent


def build_request(job: InferenceJob, model: str, ctx: ContextUse | None, asked: str | None,
                  *, catalogue: Catalogue, max_output_tokens: int | None,
                  tier: ServiceTier | None) -> ModelRequest:
    """``model``: the route's id; the catalogue's entry for the one that serves it decides
    the thinking field and the parts' token rules (a per-part resolution only on Gemini
    3/4). ``tier`` None: a batch request. Raises ``ThinkingNotSupported`` before any call
    when the serving model would refuse ``asked``, ``InputNotSupported`` when it takes no
    file of the item's type, ``OverWindow`` when the item and the shared context exceed
    its window."""
    serving = catalogue.find(catalogue.served_id(model))
    if serving is not None:
        _check_input(job, serving)
        check_window(job, ctx, serving)
        thinking = thinking_config(asked, serving)
    elif asked:
        raise ThinkingNotSupported(model, asked,
                                   "nothing known: the model is not in the catalogue")
    else:
        thinking = None
    return ModelRequest(model=model, contents=request_contents(job, ctx, serving),
                        config=_config(job, ctx, tier, thinking, max_output_tokens),
                        serving=serving, thinking=sent(asked, thinking, serving))


def _check_input(job: InferenceJob, serving: ModelInfo) -> None:
    """Office and OpenDocument files go only to models whose catalogue row lists them."""
    suffix = PurePosixPath(job.item.uri or "").suffix.lower()
    if job.item.kind is MediaKind.OFFICE and suffix not in serving.document_inputs:
        raise InputNotSupported(job.item.id, serving.id, suffix, serving.document_inputs)


def request_contents(job: InferenceJob, ctx: ContextUse | None,
                     serving: ModelInfo | None) -> list[types.Content]:
    """The shared context first (inline only; a cached one is named in the config), so
    implicit caching can hit; then the item's parts, its text and the task's prompt."""
    parts: list[types.Part] = []
    if ctx is not None and not ctx.cached:
        parts.extend(ctx.parts)
    parts.extend(job.parts)
    if job.item.text:
        parts.append(types.Part(text=job.item.text))
    parts.append(types.Part(text=prompt_for(job.item)))
    if serving is not None:
        parts = parts_for_rules(parts, MediaRules(serving.media_rules))
    return [types.Content(role="user", parts=parts)]


def _config(job: InferenceJob, ctx: ContextUse | None, tier: ServiceTier | None,
            thinking: types.ThinkingConfig | None,
            max_output_tokens: int | None) -> types.GenerateContentConfig:
    config = types.GenerateContentConfig(
        service_tier=types.ServiceTier(tier.value) if tier is not None else None)
    if ctx is not None and ctx.cached:
        config.cached_content = ctx.cache_name
    elif ctx is not None and ctx.system_instruction:
        config.system_instruction = ctx.system_instruction
    if job.item.response_schema is not None:
        config.response_mime_type = "application/json"
        config.response_json_schema = job.item.response_schema
    # Request-wide on every family; Gemini 3/4 parts also carry their own, which wins.
    config.media_resolution = global_resolution(job.media_resolution)
    config.thinking_config = thinking  # None: the model's own default
    config.max_output_tokens = max_output_tokens
    return config


def request_key(job: InferenceJob, model: str, policy: RoutingPolicy, catalogue: Catalogue,
                context_hash: str | None) -> str:
    """The answer key of ``job`` sent to ``model``: what its request asks (thinking as
    the serving model takes it, the output cap) beside the item's content and the shared
    context's content hash. A request the model would refuse keys without them: it is
    refused before any call, so nothing is stored under it.

    Remembered on the job: the planner's lookup and the engine's would otherwise build
    the request twice more per item (a tenth of a run's CPU)."""
    basis = (model, context_hash, policy, catalogue, job.item, job.identity, job.parts,
             job.media_resolution, job.route.model)
    memo = job.key_memo
    if memo is not None and all(a is b or (isinstance(a, str) and a == b)
                                for a, b in zip(memo[0], basis, strict=True)):
        return memo[1]
    key = _request_key(job, model, policy, catalogue, context_hash)
    job.key_memo = (basis, key)
    return key


def _request_key(job: InferenceJob, model: str, policy: RoutingPolicy, catalogue: Catalogue,
                 context_hash: str | None) -> str:
    return ask_key(job, model, policy.thinking_for(job.item), policy.max_output_for(job.item),
                   catalogue, context_hash)


def ask_key(job: InferenceJob, model: str, asked: str | None, cap: int | None,
            catalogue: Catalogue, context_hash: str | None) -> str:
    """The key of one request of ``job``'s life (``life.Ask``): on ``model``, at thinking
    ``asked`` and output cap ``cap``; ``request_key`` is its first one."""
    routed = job if model == job.route.model else job.model_copy(
        update={"route": job.route.model_copy(update={"model": model})})
    try:
        request = build_request(routed, model, None, asked, catalogue=catalogue,
                                max_output_tokens=cap, tier=None)
    except RefusedBeforeCall:
        return job_key(routed, context_hash)
    thinking = request.config.thinking_config
    return job_key(routed, context_hash,
                   thinking=thinking.model_dump(mode="json", exclude_none=True)
                   if thinking is not None else None,
                   max_output_tokens=request.config.max_output_tokens)


RUN_LABEL = "flashfirst-run"


def billing_labels(run_id: str) -> dict[str, str]:
    """Labels the Agent Platform bills each call under, so a billing export groups a run's
    calls. Label values take lowercase letters, digits, "_" and "-", at most 63 of them
    (Cloud labels' rules); the Developer API takes no labels at all."""
    return {RUN_LABEL: re.sub(r"[^a-z0-9_-]", "_", run_id.lower())[:63]}
