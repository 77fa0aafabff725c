"""Which failures are worth another try, and how long to wait before it.

The SDK does not retry by default, and its own retry options ignore the server's
``RetryInfo``; we read the delay ourselves."""

from __future__ import annotations

import asyncio
import random
import re

import httpx
import httpx2
from google.genai import errors as genai_errors
from pydantic import BaseModel

from flashfirst.failures import TRANSIENT_CODES, FailureKind, api_failure_kind

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)s\s*$")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """A connection lost on the way, whichever transport the SDK sends through: httpx, or
    aiohttp where ``flashfirst[aiohttp]`` installed it (the SDK then uses it for async
    calls, and its connection errors are aiohttp's own)."""
    errors: tuple[type[BaseException], ...] = (httpx2.TransportError, httpx.TransportError,
                                               asyncio.TimeoutError)
    try:
        import aiohttp
    except ImportError:
        return errors
    return (*errors, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)


_TRANSPORT_ERRORS = _transport_errors()


class CallFailure(BaseModel):
    """What went wrong with one HTTP call, in terms the retry loop can act on."""

    transient: bool
    kind: FailureKind = FailureKind.INTERNAL
    code: int | None = None
    status: str | None = None
    message: str
    retry_after_s: float | None = None
    quota: str | None = None
    quota_value: int | None = None  # the limit the 429 names (QuotaFailure's quotaValue)

    @property
    def per_day(self) -> bool:
        """A used-up daily quota (e.g. ``GenerateRequestsPerDayPerProjectPerModel-FreeTier``):
        retrying cannot succeed before the day's reset (research file §1.10)."""
        return self.code == 429 and bool(self.quota) and "perday" in self.quota.lower()

    @property
    def shed(self) -> bool:
        """A 503: on Flex this is the API shedding load, not a fault."""
        return self.code == 503


def classify(exc: BaseException, *, named_cache: bool = False) -> CallFailure:
    """The one place an SDK error becomes a kind: from its HTTP code and ``google.rpc``
    status (``failures.api_failure_kind``). ``named_cache``: the request used an explicit
    cache, so a 403/404 means that cache is gone."""
    if isinstance(exc, genai_errors.APIError):
        code = int(exc.code) if exc.code else None
        details = _details(exc)
        failure = CallFailure(
            transient=code in TRANSIENT_CODES, code=code, status=exc.status,
            message=str(exc.message or exc.status or code),
            retry_after_s=_retry_delay(details), quota=_quota(details),
            quota_value=_quota_value(details),
        )
        failure.kind = api_failure_kind(code, exc.status, per_day=failure.per_day,
                                        named_cache=named_cache)
        if failure.per_day:
            failure.transient = False
            failure.message += f" (per-day quota {failure.quota}: not retried before its reset)"
        return failure
    if isinstance(exc, _TRANSPORT_ERRORS):
        return CallFailure(transient=True, kind=FailureKind.TRANSIENT,
                           message=f"{type(exc).__name__}: {exc}".strip(": "))
    return CallFailure(transient=False, message=f"{type(exc).__name__}: {exc}")


def backoff_s(attempt: int, failure: CallFailure, base_s: float, cap_s: float,
              rng: random.Random) -> float:
    """The server's delay when it gave one, else exponential backoff with full jitter."""
    if failure.retry_after_s is not None:
        return min(cap_s, failure.retry_after_s) + rng.uniform(0, base_s * 0.1)
    return rng.uniform(0, min(cap_s, base_s * 2 ** attempt))


def _details(exc: genai_errors.APIError) -> list[dict]:
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details or [] if isinstance(d, dict)]


def _retry_delay(details: list[dict]) -> float | None:
    for d in details:
        if str(d.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(d.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _quota(details: list[dict]) -> str | None:
    """Which limit was hit (per minute, per day, tokens), as Google names it."""
    for d in details:
        if str(d.get("@type", "")).endswith("QuotaFailure"):
            ids = [v.get("quotaId") or v.get("quotaMetric") or v.get("description")
                   for v in d.get("violations", []) if isinstance(v, dict)]
            return ", ".join(str(i) for i in ids if i) or None
    return None


def _quota_value(details: list[dict]) -> int | None:
    """The per-minute limit the 429 names (``quotaValue``), of the dimension the limiter
    learns it for: tokens when a token quota is among the violations (``_quota`` names
    them all), else requests. Google sends it with some 429s and not with others."""
    found: dict[bool, int] = {}
    for d in details:
        if not str(d.get("@type", "")).endswith("QuotaFailure"):
            continue
        for v in (v for v in d.get("violations", []) if isinstance(v, dict)):
            name = str(v.get("quotaId") or v.get("quotaMetric") or "").lower()
            value = str(v.get("quotaValue", ""))
            if value.isdigit() and "perday" not in name:
                found.setdefault("token" in name, int(value))
    return found.get(True, found.get(False))
