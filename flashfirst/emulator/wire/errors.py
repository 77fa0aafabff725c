"""Google's error format (``google.rpc.Status``) so clients handle our errors as real ones."""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import JSONResponse

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

QUOTA_HELP_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"


class ApiError(Exception):
    """An error answer; raised anywhere in a handler, rendered by the server."""

    def __init__(self, code: int, message: str, status: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message,
                                 "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.code)


def format_duration(seconds: float) -> str:
    """Google's JSON duration to the nanosecond, as RetryInfo sends it: '45.837906927s',
    '5s' (rounded up, so waiting that long is always enough)."""
    nanos = max(0, math.ceil(round(seconds * 1e9, 3)))
    whole, frac = divmod(nanos, 1_000_000_000)
    return f"{whole}s" if not frac else f"{whole}.{frac:09d}".rstrip("0") + "s"


def retry_info(delay_s: float) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format_duration(delay_s)}


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def model_not_found(model: str, api_version: str, method: str) -> ApiError:
    return ApiError(404, f"models/{model} is not found for API version {api_version}, or is "
                         f"not supported for {method}. Call ListModels to see the list of "
                         "available models and their supported methods.")


def api_key_invalid() -> ApiError:
    """Never echoes the key (Google does not either)."""
    return ApiError(400, "API key not valid. Please pass a valid API key.", details=[{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }])


# Quota ids as paid-tier 429s name them (users' captures: id 70285825618 and
# inspect_ai#5526 for the request quotas, id 27199504148 for input tokens).
QUOTAS = {
    "requests": ("generate_content_paid_tier_requests",
                 "GenerateRequestsPerMinutePerProjectPerModel-PaidTier"),
    "requests_per_day": ("generate_content_paid_tier_requests",
                         "GenerateRequestsPerDayPerProjectPerModel-PaidTier"),
    "input_tokens": ("generate_content_paid_tier_input_token_count",
                     "GenerateContentPaidTierInputTokensPerModelPerMinute"),
}


def quota_exceeded(model: str, which: str, limit: int, delay_s: float) -> ApiError:
    """A 429 as the API sends it: QuotaFailure names the quota, RetryInfo the wait (to the
    nanosecond), and the message repeats both."""
    metric, quota_id = QUOTAS[which]
    return ApiError(429, "You exceeded your current quota, please check your plan and billing "
                         f"details. For more information on this error, head to: "
                         f"{QUOTA_HELP_URL}.\n* Quota exceeded for metric: "
                         f"generativelanguage.googleapis.com/{metric}, limit: {limit}, "
                         f"model: {model}\nPlease retry in {format_duration(delay_s)}.",
                    details=[
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                         "quotaId": quota_id,
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": str(limit)}]},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas", "url": QUOTA_HELP_URL}]},
        retry_info(delay_s),
    ])


def unavailable(message: str = "The model is overloaded. Please try again later.",
                delay_s: float | None = None) -> ApiError:
    return ApiError(503, message, details=[retry_info(delay_s)] if delay_s is not None else None)


def cache_not_found_for_use() -> ApiError:
    """What generateContent answers for an unknown or expired cache."""
    return ApiError(403, "CachedContent not found (or permission denied)")


def file_not_found(file_id: str) -> ApiError:
    return ApiError(403, f"You do not have permission to access the File {file_id} or it may "
                         "not exist.")


def scripted(code: int, message: str | None, delay_s: float | None,
             quota_id: str | None = None) -> ApiError:
    details = [retry_info(delay_s)] if delay_s is not None else []
    if quota_id is not None:
        details.insert(0, {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                           "violations": [{"quotaId": quota_id}]})
    return ApiError(code, message or f"Scripted error {code}.", details=details or None)
