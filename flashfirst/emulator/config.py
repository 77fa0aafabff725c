"""What the emulator emulates: its models, quotas, timings, faults and scripted answers.

Kept independent of ``flashfirst.settings`` so the emulator can run on its own; the
client factory maps settings onto this model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FinishReason = Literal["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER"]


class EmulatedModel(BaseModel):
    """One model the emulator serves, with the limits that decide cost and speed."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Model id without the 'models/' prefix.")
    display_name: str | None = None
    rpm: int = Field(10_000, gt=0, description="Requests per minute (sliding 60 s window).")
    tpm: int = Field(50_000_000, gt=0, description="Input tokens per minute (sliding window).")
    min_cache_tokens: int = Field(2048, ge=0, description="Smallest context it caches.")
    input_token_limit: int = Field(1_048_576, gt=0)
    output_token_limit: int = Field(65_536, gt=0)
    thinks: bool = Field(True, description="Can think; thinking tokens bill as output.")
    thinks_by_default: bool = Field(
        True, description="Thinks when no budget is given (2.5 Flash-Lite does not).")
    thinking_required: bool = Field(
        False, description="A thinking budget of 0 is refused (2.5 Pro cannot stop thinking).")
    time_to_first_token_s: float = Field(0.5, ge=0, description="At latency_scale 1.")
    seconds_per_output_token: float = Field(0.004, ge=0, description="At latency_scale 1.")

    @field_validator("id")
    @classmethod
    def _bare_id(cls, v: str) -> str:
        return v.removeprefix("models/")


def default_models() -> list[EmulatedModel]:
    """Gemini's current text models; minimum cache sizes from the Jul-Oct 2026 docs."""
    return [
        EmulatedModel(id="gemini-2.5-flash-lite", display_name="Gemini 2.5 Flash-Lite",
                      thinks_by_default=False, time_to_first_token_s=0.3,
                      seconds_per_output_token=0.002),
        EmulatedModel(id="gemini-2.5-flash", display_name="Gemini 2.5 Flash",
                      time_to_first_token_s=0.5, seconds_per_output_token=0.004),
        EmulatedModel(id="gemini-2.5-pro", display_name="Gemini 2.5 Pro", thinking_required=True,
                      time_to_first_token_s=1.5, seconds_per_output_token=0.01),
        EmulatedModel(id="gemini-3-flash-preview", display_name="Gemini 3 Flash Preview",
                      min_cache_tokens=4096, time_to_first_token_s=0.5,
                      seconds_per_output_token=0.004),
        EmulatedModel(id="gemini-3-pro-preview", display_name="Gemini 3 Pro Preview",
                      min_cache_tokens=4096, thinking_required=True,
                      time_to_first_token_s=1.5, seconds_per_output_token=0.01),
    ]


class Script(BaseModel):
    """A rule that replaces the generated answer (or answers with an error) for tests.

    Matches when every given condition holds; ``times`` limits how often it fires."""

    model_config = ConfigDict(extra="forbid")

    contains: str | None = Field(None, description="Substring of the request's text.")
    model: str | None = Field(None, description="Only for this model id.")
    text: str | None = Field(None, description="Answer text (None with SAFETY: no content).")
    finish_reason: FinishReason = "STOP"
    status: int | None = Field(None, description="Answer with this HTTP error instead.")
    message: str | None = Field(None, description="Error message for ``status``.")
    retry_delay_s: float | None = Field(None, description="RetryInfo delay for a 429/503.")
    quota_id: str | None = Field(None, description="QuotaFailure quotaId for a scripted 429, "
                                 "e.g. GenerateRequestsPerDayPerProjectPerModel-FreeTier.")
    times: int | None = Field(None, ge=1, description="Fire at most this often (None: always).")

    @field_validator("model")
    @classmethod
    def _bare_model(cls, v: str | None) -> str | None:
        return v.removeprefix("models/") if v else v


class Faults(BaseModel):
    """Injected faults on generate calls, deterministic from the seed and the request."""

    model_config = ConfigDict(extra="forbid")

    unavailable_share: float = Field(0.0, ge=0, le=1, description="Share answered 503.")
    slow_share: float = Field(0.0, ge=0, le=1, description="Share delayed by slow_delay_s.")
    slow_delay_s: float = Field(2.0, ge=0, description="Extra delay (not scaled).")
    drop_share: float = Field(0.0, ge=0, le=1,
                              description="Share whose connection is closed with no answer.")


class TierConfig(BaseModel):
    """Service tiers as ai.google.dev/gemini-api/docs/optimization describes them."""

    model_config = ConfigDict(extra="forbid")

    flex_queue_delay_s: float = Field(
        30.0, ge=0, description="Extra queueing before a Flex answer (× latency_scale).")
    flex_shed_share: float = Field(0.0, ge=0, le=1, description="Share of Flex calls shed (503).")
    flex_shed_above_in_flight: int | None = Field(
        None, ge=0, description="Shed Flex calls while more than this many calls are in flight "
        "on the model.")
    priority_rpm_limit: int = Field(
        600, ge=0, description="Priority calls a minute per model; above it they are served "
        "at Standard (never an error).")
    priority_speedup: float = Field(2.0, gt=0, description="Priority latency is divided by this.")


class BatchTiming(BaseModel):
    """How long a batch job stays in each state (seconds of emulator clock)."""

    model_config = ConfigDict(extra="forbid")

    pending_s: float = Field(1.0, ge=0)
    running_s: float = Field(2.0, ge=0)
    running_s_per_request: float = Field(0.0, ge=0)


class EmulatorConfig(BaseModel):
    """Everything the emulator does differently from run to run."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    latency_scale: float = Field(0.0, ge=0, description="0 answers at once; 1 is realistic.")
    api_key: str | None = Field(None, description="When set, requests must carry this key.")
    file_processing_s: float = Field(
        0.0, ge=0, description="Uploaded files stay PROCESSING this long (emulator clock).")
    file_ttl_s: float = Field(48 * 3600, gt=0, description="Files expire after this (48 h).")
    default_cache_ttl_s: float = Field(3600, gt=0)
    batch: BatchTiming = BatchTiming()
    tiers: TierConfig = TierConfig()
    faults: Faults = Faults()
    models: list[EmulatedModel] = Field(default_factory=default_models)
    scripts: list[Script] = Field(default_factory=list)
    quota_window_s: float = Field(
        60.0, gt=0, description="RPM/TPM window; the API's is a minute, tests may shorten it.")
    max_request_bytes: int = Field(20 * 1024 * 1024, gt=0,
                                   description="Inline request size limit (20 MB).")
    request_log_limit: int = Field(10_000, ge=0, description="Keep this many log entries.")
    state_dir: str | None = Field(
        None, description="Keep uploaded files, caches, batches and name counters in this "
        "directory and reload them at start, so a later process sees them as Google would; "
        "None keeps them in memory. Fixed once the emulator has started.")

    def model(self, model_id: str) -> EmulatedModel | None:
        bare = model_id.removeprefix("models/")
        return next((m for m in self.models if m.id == bare), None)
