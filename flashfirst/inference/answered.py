"""A model's answer turned into a billed attempt, the same way whatever carried it (an
online call, a Flex call, an Interactions call or a batch line): priced as the model that
served it by the price row of the day it was made, added to the budget, and judged."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from google.genai import types

from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.interactions_call import SERVED_TIER_HEADER
from flashfirst.inference.request import ModelRequest
from flashfirst.inference.validation import Verdict, judge
from flashfirst.items import Attempt, Route, ServiceTier, Usage, WorkItem
from flashfirst.pricing.priced_as import price_row_model, stand_in


def priced_attempt(run: InferenceContext, item: WorkItem, route: Route, request: ModelRequest,
                   response: types.GenerateContentResponse, *, requested: ServiceTier,
                   served: ServiceTier, called_at: datetime,
                   cached_content: str | None) -> tuple[Attempt, Verdict]:
    usage = Usage.from_sdk(response.usage_metadata)
    served_model = served_model_of(response)
    day = called_at.date()
    cost = run.prices.price_call(
        price_row_model(route.model, served_model, day, run.prices, run.catalogue),
        usage, served, called_at)
    run.budget.add(cost)
    verdict = judge(response, item.response_schema, item.check)
    return Attempt(
        model=route.model, served_model=served_model, called_at=called_at,
        priced_as=stand_in(route.model, served_model, day, run.prices, run.catalogue),
        service_tier_requested=requested, service_tier_served=served, usage=usage,
        cost_usd=float(cost), ok=verdict.ok, finish_reason=verdict.finish_reason,
        validation_error=verdict.error, cached_content=cached_content,
        thinking=request.thinking, max_output_tokens=request.config.max_output_tokens,
    ), verdict


def served_model_of(response: types.GenerateContentResponse) -> str | None:
    """The model that answered, from ``modelVersion`` (bare id)."""
    version = getattr(response, "model_version", None)
    return str(version).removeprefix("models/") if version else None


def response_time(response: types.GenerateContentResponse) -> datetime:
    """When the call was made: the response's HTTP Date header (Google's clock, so the
    day's price row is Google's day), else this machine's UTC now."""
    headers = response.sdk_http_response.headers if response.sdk_http_response else None
    value = next((v for k, v in (headers or {}).items() if k.lower() == "date"), None)
    if value:
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def served_tier(response: types.GenerateContentResponse, requested: ServiceTier) -> ServiceTier:
    """The Developer API names the served tier in a header; the Agent Platform in
    ``usageMetadata.trafficType`` (a Priority call over its limit is served, and billed,
    as Standard on both)."""
    headers = response.sdk_http_response.headers if response.sdk_http_response else None
    value = next((v for k, v in (headers or {}).items() if k.lower() == SERVED_TIER_HEADER), None)
    traffic = response.usage_metadata.traffic_type if response.usage_metadata else None
    if not value and traffic is not None:
        return _TRAFFIC_TIERS.get(traffic, requested)
    try:
        return ServiceTier(str(value).lower()) if value else requested
    except ValueError:
        return requested


# The Agent Platform's traffic types (LiteLLM PR #37724, docs.litellm.ai vertex_ai_pay_go,
# read 2026-12-02); provisioned throughput is not a tier flashfirst prices.
_TRAFFIC_TIERS = {types.TrafficType.ON_DEMAND: ServiceTier.STANDARD,
                  types.TrafficType.ON_DEMAND_FLEX: ServiceTier.FLEX,
                  types.TrafficType.ON_DEMAND_PRIORITY: ServiceTier.PRIORITY}
