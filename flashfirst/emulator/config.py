"""What the emulator emulates: its models, quotas, timings, faults and scripted answers.

Kept independent of ``flashfirst.settings`` so the emulator can run on its own; the
client factory maps settings onto this model."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flashfirst.emulator.generate.quality import QualityRule

FinishReason = Literal["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER"]


ThinkingLevel = Literal["MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"]
Family = Literal["2.5", "3", "4"]


class EmulatedModel(BaseModel):
    """One model the emulator serves, with the limits and rules that decide cost and speed.

    Thinking: a model with ``thinking_levels`` takes only ``thinkingLevel``; one without
    takes only ``thinkingBudget`` (``budget_min``..``budget_max``, -1 dynamic, 0 off when
    ``budget_off``). ``served_by`` from ``served_by_since`` (UTC date on the emulator clock)
    answers this id with another model, as retirements and silent re-routes do; a
    ``served_by`` the emulator does not list answers by this model's rules under that id
    (``modelVersion``): a re-route to a model nobody has described yet."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Model id without the 'models/' prefix.")
    display_name: str | None = None
    family: Family = Field("2.5", description="Decides media token rules and per-part "
                           "media resolution (3 and 4 only).")
    rpm: int = Field(10_000, gt=0, description="Requests per minute (sliding 60 s window).")
    tpm: int = Field(50_000_000, gt=0, description="Input tokens per minute (sliding window).")
    rpd: int = Field(1_000_000_000, gt=0, description="Requests per day; the day ends at "
                     "midnight Pacific time, as Google's quota day does.")
    explicit_caching: bool = Field(True, description="Accepts cachedContents.create.")
    office_documents: bool = Field(False, description="Takes Office and OpenDocument files "
                                   "(inline or uploaded); else they are a 400.")
    min_cache_tokens: int = Field(2048, ge=0, description="Smallest explicit cache.")
    implicit_cache_min_tokens: int = Field(
        2048, ge=0, description="Smallest repeated prefix the implicit cache discounts.")
    input_token_limit: int = Field(1_048_576, gt=0)
    output_token_limit: int = Field(65_536, gt=0)
    thinking_levels: list[ThinkingLevel] = Field(
        default_factory=list, description="Accepted thinkingLevel values; empty: budget.")
    thinking_default: str = Field(
        "dynamic", description="Without a thinking config: a level, 'dynamic' or 'off'.")
    budget_min: int = Field(0, ge=0, description="Smallest positive budget accepted.")
    budget_max: int = Field(24_576, ge=0)
    budget_off: bool = Field(True, description="A budget of 0 (no thinking) is accepted.")
    served_by: str | None = Field(None, description="Model that answers for this id ...")
    served_by_since: date | None = Field(None, description="... from this UTC date on.")
    time_to_first_token_s: float = Field(0.5, ge=0, description="At latency_scale 1.")
    seconds_per_output_token: float = Field(0.004, ge=0, description="At latency_scale 1.")

    @field_validator("id", "served_by")
    @classmethod
    def _bare_id(cls, v: str | None) -> str | None:
        return v.removeprefix("models/") if v else v


_LEVELS_3_8: list[ThinkingLevel] = ["LOW", "MEDIUM", "HIGH"]
_LEVELS_ALL: list[ThinkingLevel] = ["MINIMAL", "LOW", "MEDIUM", "HIGH"]
# Gemini 4 Hydrogen and Neon: LOW, MEDIUM, HIGH (default), XHIGH; no MINIMAL (Hydrogen
# developer guide, docs.cloud.google.com, ko/ja copies read 2026-12-02; Neon second-hand).
_LEVELS_4_X: list[ThinkingLevel] = ["LOW", "MEDIUM", "HIGH", "XHIGH"]
_REROUTED = date(2026, 10, 8)  # release notes of 2026-10-08 (research file 1.1)
_RETIRED = date(2026, 12, 1)  # deprecations page, second-hand copy (research file 0)


def _gemini3(id: str, name: str, **fields: Any) -> EmulatedModel:
    """Gemini 3 and 4: caches from 4,096 tokens (caching page, 2026-10-13)."""
    defaults: dict[str, Any] = {"family": "3", "min_cache_tokens": 4096,
                                "implicit_cache_min_tokens": 4096,
                                "thinking_levels": _LEVELS_ALL, "thinking_default": "MEDIUM"}
    return EmulatedModel(id=id, display_name=name, **{**defaults, **fields})


def default_models() -> list[EmulatedModel]:
    """The catalogue of CONTRACT-11 (research file sections 1.1, 1.3, 1.8: deprecations,
    caching and thinking pages, copies of Aug-Oct 2026)."""
    return [
        EmulatedModel(id="gemini-2.5-flash-lite", display_name="Gemini 2.5 Flash-Lite",
                      thinking_default="off", budget_min=512, time_to_first_token_s=0.3,
                      seconds_per_output_token=0.002),
        EmulatedModel(id="gemini-2.5-flash", display_name="Gemini 2.5 Flash",
                      served_by="gemini-3.5-flash-lite", served_by_since=_RETIRED),
        EmulatedModel(id="gemini-2.5-pro", display_name="Gemini 2.5 Pro", budget_min=128,
                      budget_max=32_768, budget_off=False, time_to_first_token_s=1.5,
                      seconds_per_output_token=0.01, served_by="gemini-3.8-flash",
                      served_by_since=_RETIRED),
        _gemini3("gemini-3.8-flash", "Gemini 3.8 Flash", thinking_levels=_LEVELS_3_8),
        _gemini3("gemini-3.7-flash", "Gemini 3.7 Flash", thinking_levels=_LEVELS_3_8,
                 served_by="gemini-3.8-flash", served_by_since=_REROUTED),
        _gemini3("gemini-3.6-flash", "Gemini 3.6 Flash"),
        _gemini3("gemini-3.5-flash", "Gemini 3.5 Flash", served_by="gemini-3.6-flash",
                 served_by_since=_REROUTED),
        _gemini3("gemini-3.5-flash-lite", "Gemini 3.5 Flash-Lite", thinking_default="MINIMAL",
                 time_to_first_token_s=0.3, seconds_per_output_token=0.002),
        _gemini3("gemini-3.1-flash-lite", "Gemini 3.1 Flash-Lite", thinking_default="MINIMAL",
                 time_to_first_token_s=0.3, seconds_per_output_token=0.002),
        _gemini3("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview",
                 thinking_levels=_LEVELS_3_8, thinking_default="HIGH",
                 time_to_first_token_s=1.5, seconds_per_output_token=0.01),
        _gemini3("gemini-4-argon", "Gemini 4 Argon", family="4", explicit_caching=False,
                 thinking_levels=_LEVELS_3_8, time_to_first_token_s=1.0,
                 seconds_per_output_token=0.006),
        # Gemini 4 guides (read 2026-12-02): implicit and durable caching only, from 4,096
        # tokens; explicit caches and ``cachedContent`` refused; one non-streaming call
        # returns up to 65,536 tokens (Carbon 32,768), thoughts included; Office and
        # OpenDocument input on Hydrogen and Carbon (Neon: not stated).
        _gemini3("gemini-4-hydrogen", "Gemini 4 Hydrogen", family="4",
                 explicit_caching=False, office_documents=True, thinking_levels=_LEVELS_4_X,
                 thinking_default="HIGH", time_to_first_token_s=0.5,
                 seconds_per_output_token=0.004),
        _gemini3("gemini-4-neon", "Gemini 4 Neon", family="4", explicit_caching=False,
                 thinking_levels=_LEVELS_4_X, thinking_default="HIGH",
                 time_to_first_token_s=1.0, seconds_per_output_token=0.006),
        _gemini3("gemini-4-carbon", "Gemini 4 Carbon", family="4", explicit_caching=False,
                 office_documents=True, thinking_levels=_LEVELS_3_8, output_token_limit=32_768,
                 time_to_first_token_s=1.5, seconds_per_output_token=0.008),
    ]


ThinkingRank = Literal["OFF", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"]


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
    max_thinking: ThinkingRank | None = Field(
        None, description="Only when the request thinks at most this much (OFF, MINIMAL, "
        "LOW, MEDIUM, HIGH, XHIGH; a budget counts by size): a hard item that fails at low effort.")
    min_thinking: ThinkingRank | None = Field(
        None, description="Only when the request thinks at least this much.")

    @field_validator("model")
    @classmethod
    def _bare_model(cls, v: str | None) -> str | None:
        return v.removeprefix("models/") if v else v


class Faults(BaseModel):
    """Injected faults on generate calls, deterministic from the seed and the request, and
    refused uploads (a file the Files API will not take: too large, a type it refuses)."""

    model_config = ConfigDict(extra="forbid")

    unavailable_share: float = Field(0.0, ge=0, le=1, description="Share answered 503.")
    slow_share: float = Field(0.0, ge=0, le=1, description="Share delayed by slow_delay_s.")
    slow_delay_s: float = Field(2.0, ge=0, description="Extra delay (not scaled).")
    drop_share: float = Field(0.0, ge=0, le=1,
                              description="Share whose connection is closed with no answer.")
    refuse_uploads_named: str | None = Field(
        None, description="Refuse the upload of a file whose display name contains this.")
    refused_upload_status: int = Field(400, ge=400, le=599,
                                       description="HTTP code of a refused upload.")


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
    outcome: Literal["SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"] = Field(
        "SUCCEEDED", description="How jobs created from now on end (a job keeps the outcome "
        "it was created with); FAILED/EXPIRED carry outcome_message as the job's error.")
    outcome_message: str = Field("Scripted batch failure.", description="The job's error.")
    shuffle_output: bool = Field(
        False, description="Answer in an order other than the requests' (the API promises "
        "none for files): callers must map answers by key.")


class WebhookDelivery(BaseModel):
    """How the emulator delivers webhooks: at least once, as Gemini promises (retried with
    exponential backoff while the receiver answers non-2xx), with faults on demand."""

    model_config = ConfigDict(extra="forbid")

    retry_base_s: float = Field(0.5, gt=0, description="First retry after this (real time), "
                                "doubling per attempt.")
    retry_max_s: float = Field(60.0, gt=0, description="Longest wait between attempts.")
    give_up_after_s: float = Field(24 * 3600, gt=0, description="Stop retrying after this "
                                   "(Gemini: 24 h).")
    timeout_s: float = Field(10.0, gt=0, description="Per attempt.")
    duplicate_share: float = Field(0.0, ge=0, le=1, description="Share of deliveries sent "
                                   "twice (same webhook-id), as at-least-once allows.")
    drop_share: float = Field(0.0, ge=0, le=1, description="Share of job ends never "
                              "delivered (a lost delivery: polling must finish the job).")


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
    implicit_cache_ttl_s: float = Field(
        300, ge=0, description="How long a request's prefixes stay in the implicit cache "
        "(emulator clock; CONTRACT-11: 5 minutes).")
    batch: BatchTiming = BatchTiming()
    tiers: TierConfig = TierConfig()
    faults: Faults = Faults()
    webhooks: WebhookDelivery = WebhookDelivery()
    models: list[EmulatedModel] = Field(default_factory=default_models)
    scripts: list[Script] = Field(default_factory=list)
    quality: list[QualityRule] = Field(
        default_factory=list, description="Answer quality rules (emulator/generate/quality.py): a "
        "matching request gets `correct` with the listed probability, else `wrong`; the "
        "first matching rule applies; none: answers are invented as before.")
    quota_window_s: float = Field(
        60.0, gt=0, description="RPM/TPM window; the API's is a minute, tests may shorten it.")
    quota_stamp_lag_s: float = Field(
        0.0, ge=0, description="Count each call in the RPM/TPM window this much after it "
        "arrives, so the window frees that much later than a client's own stamps say (a "
        "busy front end, a quota counter updated late): tests of a client learning its lag.")
    max_request_bytes: int = Field(20 * 1024 * 1024, gt=0,
                                   description="Inline request size limit (20 MB).")
    request_log_limit: int = Field(10_000, ge=0, description="Keep this many log entries.")
    clock_step_per_call_s: float = Field(
        0.0, ge=0, description="Move the clock on by this much with every answered generate "
        "call: a run of hours (caches nearing expiry) in a test of seconds.")
    gcs_endpoint: str | None = Field(
        None, description="Cloud Storage endpoint the Agent Platform's batch jobs read their "
        "input from and write their output to (e.g. a fake-gcs-server URL); None: the "
        "google-cloud-storage client's own (STORAGE_EMULATOR_HOST, else Google with ADC).")
    url_media: dict[str, str] = Field(
        default_factory=dict, description="Public https:// or YouTube URLs mapped to local "
        "files read in their place (no network here); an unmapped URL reads as a fixed "
        "stand-in (emulator/tokens/url_media.py).")
    state_dir: str | None = Field(
        None, description="Keep uploaded files, caches, batches and name counters in this "
        "directory and reload them at start, so a later process sees them as Google would; "
        "None keeps them in memory. Fixed once the emulator has started.")

    def model(self, model_id: str) -> EmulatedModel | None:
        bare = model_id.removeprefix("models/")
        return next((m for m in self.models if m.id == bare), None)

    def serving(self, model_id: str, today: date) -> EmulatedModel | None:
        """The model that answers a request for ``model_id`` on ``today`` (UTC): itself,
        or its replacement once the replacement's date has come (followed to the end)."""
        model = self.model(model_id)
        seen: set[str] = set()
        while model is not None and model.served_by and model.id not in seen:
            if model.served_by_since is not None and today < model.served_by_since:
                break
            seen.add(model.id)
            model = self.model(model.served_by) or model.model_copy(
                update={"id": model.served_by, "served_by": None, "served_by_since": None})
        return model
