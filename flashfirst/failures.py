"""Why an item failed, as data: a kind the code and the report can count, and a message a
user can act on. The kind is decided once, where the failure is caught (the API boundary,
the media stage, the budget check), never re-read from the words of a message."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class FailureKind(StrEnum):
    BUDGET = "budget"
    """Not dispatched: the run's budget was reached. A re-run with more budget finishes it."""
    DAILY_QUOTA = "daily_quota"
    """A per-day quota of the model is used up: not sent (or not retried) before its reset."""
    MEDIA_UNREADABLE = "media_unreadable"
    """The media is unreadable, empty, mislabelled, or ffmpeg could not convert it."""
    SOURCE_UNREADABLE = "source_unreadable"
    """A text or document source is empty or not UTF-8 text."""
    UPLOAD_FAILED = "upload_failed"
    """The Files API did not take or could not process the item's file."""
    STORAGE = "storage"
    """Reading the item's source by URI failed (missing object, no access)."""
    BAD_INPUT = "bad_input"
    """The item asks for something its model or policy cannot do; refused before any call."""
    VALIDATION = "validation"
    """Every answer, escalations included, failed validation (schema, check, truncated)."""
    THINKING_STARVED = "thinking_starved"
    """The model spent its whole output cap thinking: no answer, thoughts billed (finish
    reason MAX_TOKENS), a larger cap included. Raise max_output_tokens or think less."""
    REJECTED = "rejected"
    """The API refused the call (4xx other than a quota): the request must change."""
    TRANSIENT = "transient"
    """Transient errors (429, 5xx, timeouts, dropped connections) outlasted the retries."""
    CACHE_GONE = "cache_gone"
    """The context cache the call named was gone, and a recreated one was refused too."""
    BATCH_JOB = "batch_job"
    """The Batch API job ended without this item's answer (failed, expired, cancelled)."""
    TOO_LONG = "too_long"
    """The item's tokens exceed its model's context window; refused before any upload or
    call, naming the media policies that would make it fit."""
    INTERNAL = "internal"
    """A bug of ours; the message has the exception."""
    UNCLASSIFIED = "unclassified"
    """An error read from a results line written before failures had a kind."""


class Failure(BaseModel):
    """One item's failure: what kind, and what happened in words a user can act on."""

    kind: FailureKind
    message: str = Field(description="What happened and, where it helps, what to do.")


# google.rpc codes of a resource that is not there (or not ours): Google's troubleshooting
# page (ai.google.dev/gemini-api/docs/troubleshooting) lists 403 PERMISSION_DENIED and
# 404 NOT_FOUND; generateContent answers 403 for a cache that expired or was deleted.
_MISSING_STATUSES = {"PERMISSION_DENIED", "NOT_FOUND"}
_MISSING_CODES = {403, 404}
TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})


def api_failure_kind(code: int | None, status: str | None, *, per_day: bool = False,
                     named_cache: bool = False) -> FailureKind:
    """The kind of an API error answer, from its HTTP code and ``google.rpc`` status.

    ``named_cache``: the request referred to an explicit cache, so a resource the API
    cannot find is taken to be that cache (the one resource of ours that expires while a
    run uses it); the engine recreates it once."""
    if per_day:
        return FailureKind.DAILY_QUOTA
    if code in TRANSIENT_CODES:
        return FailureKind.TRANSIENT
    if named_cache and (code in _MISSING_CODES or (status or "").upper() in _MISSING_STATUSES):
        return FailureKind.CACHE_GONE
    return FailureKind.REJECTED


def budget_reached(limit: object, spent: object) -> Failure:
    """An item not dispatched because the run's budget is spent (online and batch alike)."""
    return Failure(kind=FailureKind.BUDGET, message=(
        f"not dispatched: budget of ${limit} reached (spent ${spent:.6f}); run again with a "
        "larger budget, answers already paid for are reused"))
