"""A batch job's states as the API names them (``JOB_STATE_…``, the same on both backends)
and as users read them (without the prefix): which have ended, which left answers."""

from __future__ import annotations

from google.genai import types

JobState = types.JobState
_PREFIX = "JOB_STATE_"
ENDED = frozenset({JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED,
                   JobState.JOB_STATE_CANCELLED, JobState.JOB_STATE_EXPIRED,
                   JobState.JOB_STATE_PARTIALLY_SUCCEEDED})
HAS_OUTPUT = frozenset({JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_PARTIALLY_SUCCEEDED})


def short_name(state: JobState | str) -> str:
    """``JOB_STATE_SUCCEEDED`` → ``SUCCEEDED``: how reports and logs show it."""
    return str(getattr(state, "value", state)).removeprefix(_PREFIX)


def from_short(name: str) -> JobState | None:
    """The state a short name stands for; None for a name the SDK does not know."""
    try:
        return JobState(f"{_PREFIX}{name}")
    except ValueError:
        return None
