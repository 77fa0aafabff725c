"""The values that cross stage boundaries: work items, routes, attempts and results."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, Field, field_validator, model_validator

from flashfirst.failures import Failure, FailureKind
from flashfirst.gemini.token_rules import MediaResolution, Modality
from flashfirst.inputs.checks import check_problem
from flashfirst.inputs.extensions import kind_of
from flashfirst.probe import MediaKind
from flashfirst.settings import ModelTier
from flashfirst.user_input import UserInput


class TaskKind(StrEnum):
    SUMMARIZE = "summarize"
    EXTRACT = "extract"
    CLASSIFY = "classify"
    TRANSCRIBE = "transcribe"
    ANSWER = "answer"
    CODE = "code"
    REASON = "reason"
    CREATIVE = "creative"


# A rung of the policy's escalation ladder: more thinking on the same model, or a tier up.
Rung = Literal["think", "model"]
# Which step of an item's life made a call: its route, a larger output cap for an answer
# starved by thinking, a rung of the ladder, the thinking lever's calibration call, or the
# autopilot's reference route when answers are judged by agreement.
Step = Literal["route", "cap", "think", "model", "calibration", "reference"]


class ServiceTier(StrEnum):
    """Gemini's synchronous service tiers plus Batch mode (priced alike: half)."""

    FLEX = "flex"
    STANDARD = "standard"
    PRIORITY = "priority"
    BATCH = "batch"


class FitPolicy(StrEnum):
    """How media longer than the model's window is made to fit (off unless asked)."""

    FPS = "fps"
    """Lower the sampling rate to the highest that fits, never below ``fit_min_fps``."""
    RESOLUTION = "resolution"
    """Low media resolution, where the model's rules bill it less (video on 2.x)."""
    SPLIT = "split"
    """Cut into segments that each fit (on silence or scene changes where found), one call
    per segment, the answers joined (online mode only)."""


class MediaPolicy(UserInput):
    """Token-reduction choices for one item's media. Unset fields take the run's default.

    Only these reduce tokens; 1 fps and 16 kHz alone cut bytes (Gemini samples at those
    rates itself)."""

    fps: float | None = Field(
        None, gt=0, le=1, description="Sample below 1 fps (fewer frames, fewer tokens).")
    media_resolution: MediaResolution | None = Field(
        None, description="low/medium/high/ultra_high; what it saves depends on the model "
        "family (POLICY_EFFECTS): on Gemini 3 low saves nothing on video.")
    trim_start_s: float | None = Field(None, ge=0, description="Send from this second.")
    trim_end_s: float | None = Field(None, gt=0, description="Send up to this second.")
    drop_audio: bool | None = Field(None, description="Drop a video's audio track (32 tok/s).")
    remove_silence: bool | None = Field(None, description="Cut long silences from audio.")
    keyframes_as_images: bool | None = Field(
        None, description="Send scene-change keyframes as images instead of the video.")
    inline: bool | None = Field(None, description="Allow inline bytes under the inline limit.")
    fit: FitPolicy | None = Field(
        None, description="Media over the model's window: 'fps' samples at the highest rate "
        "that fits (not below media.fit_min_fps), 'resolution' uses low media resolution "
        "where that bills less, 'split' sends segments that each fit and joins the answers "
        "(transcripts concatenated, other tasks combined by one more call); unset: such an "
        "item fails as too_long before any upload.")


class WorkItem(UserInput):
    """One unit of work: a source (URI or text), what to do with it, and how to check it."""

    id: str = Field(description="Unique within the run; names the item in results and errors.")
    task: TaskKind = Field(TaskKind.SUMMARIZE, description="What to do; drives the route.")
    kind: MediaKind = Field(
        None, validate_default=False,
        description="Kind of the source; from the URI's extension when unset, else text.")
    uri: str | None = Field(None, description="Local path or gs:// URI of the source.")
    generation: int | None = Field(
        None, ge=1, description="Read this version of the source; a later overwrite is "
        "never read in its place.")
    text: str | None = Field(None, description="Inline text source (instead of a URI).")
    prompt: str | None = Field(None, description="The instruction; a task default when unset.")
    response_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema the answer must satisfy (JSON output).")
    check: str | None = Field(
        None, description="Extra answer check: 'regex:<pattern>' or the name of a check "
        "the installation registered (entry points 'flashfirst.inputs.checks').")
    model: str | None = Field(None, description="Force this model id (routing override).")
    thinking: str | None = Field(
        None, description="Thinking for this item: least/low/default/high/max (mapped per "
        "model), a level the model takes (minimal/low/medium/high/xhigh) or a budget in "
        "tokens.")
    max_output_tokens: int | None = Field(
        None, gt=0, description="Cap on answer plus thoughts (they share it); the task's "
        "routing policy value when unset.")
    media_policy: MediaPolicy | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("response_schema")
    @classmethod
    def _schema_is_a_json_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and (problem := _schema_problem(json.dumps(v, sort_keys=True))):
            raise ValueError(problem)
        return v

    @field_validator("check")
    @classmethod
    def _check_is_allowed(cls, v: str | None) -> str | None:
        problem = check_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _kind_from_uri(self) -> WorkItem:
        if self.kind is None:
            self.kind = (kind_of(self.uri) if self.uri else None) or MediaKind.TEXT
        if self.uri is None and self.text is None:
            raise ValueError(f"item {self.id!r}: give a uri or a text")
        return self


class Route(BaseModel):
    model: str
    tier: ModelTier
    service_tier: ServiceTier = ServiceTier.STANDARD
    reason: str


class Usage(BaseModel):
    """Gemini's usage metadata, kept whole: ``prompt_tokens`` already includes cached."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0
    prompt_by_modality: dict[Modality, int] = Field(default_factory=dict)
    cached_by_modality: dict[Modality, int] = Field(default_factory=dict)

    @classmethod
    def from_sdk(cls, meta: Any) -> Usage:
        """From ``GenerateContentResponseUsageMetadata`` (or ``None``)."""
        if meta is None:
            return cls()

        def details(items: Any) -> dict[Modality, int]:
            out: dict[Modality, int] = {}
            for d in items or []:
                name = getattr(d.modality, "value", d.modality)
                if name in Modality.__members__:
                    out[Modality(name)] = out.get(Modality(name), 0) + (d.token_count or 0)
            return out

        return cls(
            prompt_tokens=meta.prompt_token_count or 0,
            cached_tokens=meta.cached_content_token_count or 0,
            candidates_tokens=meta.candidates_token_count or 0,
            thoughts_tokens=meta.thoughts_token_count or 0,
            total_tokens=meta.total_token_count or 0,
            prompt_by_modality=details(meta.prompt_tokens_details),
            cached_by_modality=details(meta.cache_tokens_details),
        )


class ThinkingSent(BaseModel):
    """The thinking one call asked for: what the policy or item said, and what reached the
    model (a budget or a level, never both; neither: the model's own default)."""

    asked: str = Field("default", description="least/low/default/high, or a raw value.")
    budget: int | None = None
    level: str | None = None
    same_as_default: bool = Field(
        False, description="What was sent is what the model does unasked (e.g. budget 0 on "
        "a model whose default is off, its default level).")

    @property
    def at_default(self) -> bool:
        return self.same_as_default or (self.budget is None and self.level is None)

    def label(self) -> str:
        sent = (f"budget {self.budget}" if self.budget is not None else
                f"level {self.level}" if self.level is not None else "model default")
        return f"{self.asked} ({sent})"


class Attempt(BaseModel):
    """One billed model call (retries of transient errors are not billed and not listed)."""

    model: str = Field(description="The model id requested.")
    served_model: str | None = Field(
        None, description="The model that answered (response modelVersion); the call is "
        "priced as this one. None: not reported, the requested one.")
    called_at: datetime | None = Field(
        None, description="When the call was made (response Date header, else local UTC): "
        "the day whose price row applies.")
    priced_as: str | None = Field(
        None, description="Set when the price table has no row for the model that served: "
        "the row the call was priced by instead (the requested model's, or what the "
        "catalogue says serves it); ``cost_usd`` is then provisional.")
    service_tier_requested: ServiceTier
    service_tier_served: ServiceTier
    usage: Usage = Usage()
    cost_usd: float = 0.0
    ok: bool
    finish_reason: str | None = None
    validation_error: str | None = None
    latency_s: float = 0.0
    transient_retries: int = 0
    cached_content: str | None = None
    thinking: ThinkingSent = Field(default_factory=ThinkingSent)
    max_output_tokens: int | None = Field(
        None, description="The output cap sent (thoughts and answer share it); None: the "
        "model's own limit.")
    step: Step = Field("route", description="route, cap (same model, larger output cap: "
                      "the answer was starved by thinking), think (same model, more "
                      "thinking), model (a tier up) or calibration (the same request at "
                      "the model's default thinking): the step that made this call; "
                      "reference: the autopilot's reference route for agreement.")
    part: str | None = Field(None, description="An item split to fit its window: which of "
                             "its calls, 'segment 2/5' or 'combine' (the answers joined).")

    @property
    def billed_model(self) -> str:
        return self.served_model or self.model


class FitRecord(BaseModel):
    """What fitting an item to its model's window did (``media_policy.fit``)."""

    policy: FitPolicy
    model: str = Field(description="The model whose window it was fitted to.")
    window_tokens: int
    tokens_unfitted: int = Field(description="Media tokens at the item's policy, unfitted.")
    tokens_fitted: int = Field(description="Media tokens sent (all segments for a split).")
    whole_fits_as_is: bool = Field(
        False, description="The original at the default rate would have fitted: the "
        "media lever counts its saving against it; otherwise fitting was needed, not saved.")
    fps: float | None = Field(None, description="The sampling rate chosen by 'fps'.")
    segments: list[tuple[float, float]] = Field(
        default_factory=list, description="'split': each segment's span in the source (s), "
        "overlap included.")


class ItemMedia(BaseModel):
    """What the media stage did to one item, by Google's token rules (``token_rules``)."""

    bytes_before: int
    bytes_after: int
    tokens_before: int = Field(description="Billed for the original sent unchanged.")
    tokens_after: int = Field(description="Billed for what was sent.")
    policy: MediaPolicy = Field(description="The policy applied, every field decided.")
    fit: FitRecord | None = Field(None, description="Fitted to the window: how.")


class ItemResult(BaseModel):
    """One JSON line of the run's results."""

    id: str
    task: TaskKind
    uri: str | None = Field(None, description="The source read, as the run resolved it "
                            "(absolute path or gs://); None for inline text.")
    route: Route | None = None
    output: Any = None
    attempts: list[Attempt] = Field(default_factory=list)
    escalated: bool = False
    error: str | None = Field(None, description="Why the item failed, in words (the "
                              "failure's message); None when it succeeded.")
    failure: Failure | None = Field(None, description="Why the item failed, as a kind the "
                                    "report counts and a message; None when it succeeded.")
    reused: bool = Field(False, description="Answer came from the store; no call was made.")
    backend: str | None = Field(None, description="Where the answer came from "
                                "(client.backend_label), e.g. the emulator or Vertex AI.")
    media: ItemMedia | None = Field(None, description="Media items: before and after.")
    calibration: Attempt | None = Field(
        None, description="The same request at the model's default thinking, sent for the "
        "thinking lever's sample; paid, its answer unused.")

    @model_validator(mode="after")
    def _error_and_failure_agree(self) -> ItemResult:
        """Lines written before failures had a kind carry only ``error``: they load as
        unclassified failures, never as successes."""
        if self.failure is not None:
            self.error = self.failure.message
        elif self.error is not None:
            self.failure = Failure(kind=FailureKind.UNCLASSIFIED, message=self.error)
        return self

    def fail(self, kind: FailureKind, message: str) -> ItemResult:
        """Record why the item failed (its ``error`` is the message)."""
        self.failure, self.error = Failure(kind=kind, message=message), message
        return self

    def succeed(self) -> None:
        """An earlier failure is overcome (an escalation answered)."""
        self.failure = self.error = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.error is None

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts) + (
            self.calibration.cost_usd if self.calibration else 0.0)

    @property
    def models(self) -> list[str]:
        return [a.model for a in self.attempts]


def failed_before_inference(items: Iterable[WorkItem], failures: dict[str, Failure]
                            ) -> list[ItemResult]:
    """Results for the items that never reached a model (media or source unreadable), so
    results.jsonl has a line, with its kind, for every item of the run."""
    if not failures:
        return []  # the items need not be read (they may be packed)
    return [ItemResult(id=i.id, task=i.task, failure=failures[i.id])
            for i in items if i.id in failures]


@lru_cache(maxsize=256)
def _schema_problem(schema_json: str) -> str | None:
    """Why a response schema is not a JSON Schema, checked once per schema: the items of a
    run mostly share one, and a packed item is validated again each time it is read
    (``flashfirst/packed.py``); the check costs ~4 ms."""
    schema = json.loads(schema_json)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"not a valid JSON Schema at {where}: {exc.message}"
    return None
