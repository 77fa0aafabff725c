"""What a run may change about the settings from its parameters, and how in-process
callers hand over a whole ``Settings``.

Flow parameters are shown in the Prefect UI's run form and stored with every flow run, so
they carry no credentials and nothing that redirects calls (a base URL would receive the
worker's API key): settings are built inside the run from the worker's environment plus
these knobs. In-process callers (tests, benches) that already hold a ``Settings`` pass it
with :func:`in_process_settings`, which never becomes a parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import Field

from flashfirst.settings import BackendKind, Settings, load_settings
from flashfirst.user_input import UserInput

_given: ContextVar[Settings | None] = ContextVar("flashfirst_settings", default=None)


class RunOverrides(UserInput):
    """Run-form knobs; unset ones keep the worker's settings (FLASHFIRST_* variables)."""

    emulator: bool = Field(
        False, description="Answer from the embedded Gemini emulator (invented answers, no "
        "account). A deployed run also needs FLASHFIRST_BACKEND__EMULATOR__ALLOW_IN_DEPLOYMENTS.")
    fps: float | None = Field(None, gt=0, le=60, description="Video frames per second sent.")
    chunk_size: int | None = Field(None, gt=0, description="Items per inference task.")
    chunks_in_flight: int | None = Field(None, gt=0, description="Inference tasks at once.")
    max_attempts: int | None = Field(None, ge=1, description="Tries for 429/5xx errors.")
    failure_threshold: float | None = Field(
        None, ge=0, le=1, description="Fail the run above this share of failed items.")
    cache_enabled: bool | None = Field(None, description="Cache shared context where it pays.")
    allow_retired: bool | None = Field(
        None, description="Run even on a model past its shutdown date (served and billed as "
        "its replacement).")


@contextmanager
def in_process_settings(settings: Settings) -> Iterator[None]:
    """Flows called inside this block use ``settings`` instead of the environment."""
    token = _given.set(settings)
    try:
        yield
    finally:
        _given.reset(token)


def settings_for_run(overrides: RunOverrides | None) -> Settings:
    """The run's one settings object: given in-process, or the environment's; then the
    run's overrides."""
    given = _given.get()
    settings = given.model_copy(deep=True) if given is not None else load_settings()
    o = overrides or RunOverrides()
    if o.emulator:
        settings.backend.kind = BackendKind.EMULATOR
    if o.allow_retired is not None:
        settings.allow_retired = o.allow_retired
    if o.fps is not None:
        settings.media.fps = o.fps
    for name in ("chunk_size", "chunks_in_flight", "max_attempts", "failure_threshold"):
        if (value := getattr(o, name)) is not None:
            setattr(settings.inference, name, value)
    if o.cache_enabled is not None:
        settings.cache.enabled = o.cache_enabled
    return settings
