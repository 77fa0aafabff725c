"""One settings object, read once at start and passed down.

Environment variables use the prefix ``FLASHFIRST_`` and ``__`` between nested sections,
e.g. ``FLASHFIRST_MODELS__FLASH__RPM=2000``; a ``.env`` file in the working directory is
read too. The API key is also taken from ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``, the
names Google's own tools use.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from flashfirst.errors import ConfigError
from flashfirst.gemini.tiers import ModelCatalogue, ModelSpec, ModelTier  # noqa: F401 (re-exported)
from flashfirst.user_input import UserInput


class EmulatorSettings(UserInput):
    """The embedded emulator, run only when asked for (``kind=emulator``, ``--emulator``,
    ``flashfirst demo``)."""

    seed: int = Field(0, description="Same seed and request, same answer.")
    latency_scale: float = Field(0.0, ge=0, description="0 answers at once; 1 is realistic.")
    host: str = Field("127.0.0.1", description="Interface the embedded emulator binds.")
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    allow_in_deployments: bool = Field(
        False, description="Let a deployed flow run answer from the embedded emulator (set it "
        "in the deployment's job variables; a worker that lost its key must not invent answers).")


class BackendKind(StrEnum):
    """Where calls go; ``flashfirst/client.py`` builds one client per kind."""

    API_KEY = "api_key"
    VERTEX = "vertex"
    BASE_URL = "base_url"
    EMULATOR = "emulator"


# What users may write for a kind (the CLI's --backend, FLASHFIRST_BACKEND__KIND): the
# Agent Platform is Vertex AI's current name; "vertex" stays its name inside.
KIND_ALIASES = {"agent-platform": "vertex", "agent_platform": "vertex", "api-key": "api_key",
                "base-url": "base_url"}

NO_BACKEND_HELP = (
    "no Gemini backend configured. Set one of: GEMINI_API_KEY (or "
    "FLASHFIRST_BACKEND__API_KEY) for the Gemini Developer API; "
    "FLASHFIRST_BACKEND__VERTEX_PROJECT (and _LOCATION) for Vertex AI; "
    "FLASHFIRST_BACKEND__BASE_URL=http://host:port for a standalone emulator or proxy; "
    "or FLASHFIRST_BACKEND__KIND=emulator (the --emulator flag, `flashfirst demo`) for the "
    "embedded emulator's invented answers.")


class BackendSettings(UserInput):
    kind: BackendKind | None = Field(
        None, description="api_key, agent-platform (or vertex), base_url or emulator; "
        "inferred from the "
        "credentials when unset (base URL, then Vertex project, then API key), never the "
        "emulator.")
    api_key: SecretStr | None = Field(None, description="Gemini Developer API key.")
    project_label: str | None = Field(
        None, description="Names the Developer API project the key belongs to, in stored "
        "state (answers, uploads, caches); unset: a salted hash of the key.")
    vertex_project: str | None = Field(
        None, description="Use the Gemini Enterprise Agent Platform (formerly Vertex AI) in "
        "this project, with Application Default Credentials.")
    vertex_location: str = Field("us-central1", description="Agent Platform location "
                                 "(a region, or global).")
    base_url: str | None = Field(
        None, description="Explicit endpoint, e.g. an emulator; with kind=vertex, the "
        "platform's surface there, called with a static token instead of ADC.")
    api_version: str = Field(
        "v1beta", description="Caching, files and batches are v1beta features on the API."
    )
    timeout_s: float = Field(600.0, gt=0, description="Per HTTP request.")
    emulator: EmulatorSettings = EmulatorSettings()

    def infer_kind(self) -> None:
        """An unset kind follows the credentials; with none it stays unset (no backend)."""
        if self.kind is None:
            self.kind = (BackendKind.BASE_URL if self.base_url
                         else BackendKind.VERTEX if self.vertex_project
                         else BackendKind.API_KEY if self.api_key else None)

    @model_validator(mode="after")
    def _kind_has_what_it_needs(self) -> BackendSettings:
        self.infer_kind()
        needs = {"api_key": "api_key", "vertex": "vertex_project", "base_url": "base_url"}
        field = needs.get(self.kind or "")
        if field == "api_key":
            return self  # may still come from GEMINI_API_KEY: checked by Settings
        if field and not getattr(self, field):
            raise ValueError(f"kind={self.kind} needs {field} "
                             f"(FLASHFIRST_BACKEND__{field.upper()})")
        return self

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: object) -> object:
        return KIND_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("base_url")
    @classmethod
    def _url_has_scheme(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v


class MediaSettings(UserInput):
    fps: float = Field(1.0, gt=0, le=60, description="Video frames per second sent.")
    max_long_side: int = Field(768, ge=64, description="Video/image long side in pixels.")
    audio_sample_rate: int = Field(16_000, ge=8000, description="Audio rate in Hz (mono).")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0,
                         description="ffmpeg processes at once (CPU-bound).")
    fit_min_fps: float = Field(
        0.1, gt=0, le=1, description="The lowest sampling rate media_policy fit 'fps' may "
        "choose (0.1: a frame every 10 s); below it the item fails as too_long.")
    fit_split_overlap_s: float = Field(
        5.0, ge=0, description="media_policy fit 'split': each segment also carries this "
        "much of the one before it, so a sentence or scene cut at a boundary is not lost.")
    inline_max_bytes: int = Field(
        15 * 1024 * 1024, ge=0,
        description="Send smaller prepared files inline instead of uploading (API limit 20 MB "
        "per request, https://ai.google.dev/gemini-api/docs/files).")


class CacheSettings(UserInput):
    enabled: bool = Field(True, description="Cache shared context where it pays.")
    reuse_window_s: float = Field(
        3600, ge=0, description="Keep a cache up to this long after a run for the next one "
        "(capped where storage would cost more than writing it again; 0 deletes).")
    ttl_margin: float = Field(1.5, ge=1, description="TTL = expected run time × this margin.")
    min_ttl_s: float = Field(300, gt=0, description="Shortest TTL a cache is created with.")


class InferenceSettings(UserInput):
    api: Literal["generate_content", "interactions"] = Field(
        "generate_content", description="The wire every online call goes on: "
        "generateContent or the Interactions API (same requests, costs and answers; "
        "see 'Choosing the API').")
    interactions_store: bool = Field(
        False, description="On the Interactions API, let Google store each interaction "
        "(store=true); off: a pipeline keeps its answers itself.")
    chunk_size: int = Field(100, gt=0, description="Items per Prefect task in the fan-out "
                            "(each task run costs some ms of orchestration).")
    chunks_in_flight: int = Field(
        8, gt=0, description="Chunk tasks submitted at once; more wait their turn.")
    max_attempts: int = Field(6, ge=1, description="Tries for transient errors (429/5xx).")
    backoff_base_s: float = Field(1.0, gt=0, description="First retry wait (doubles, jittered) "
                                  "when the server gives no RetryInfo.")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest wait between tries.")
    quota_window_s: float = Field(
        60.0, gt=0, description="The window RPM/TPM are counted over (Google: a minute).")
    batch_poll_s: float = Field(30.0, gt=0, description="How often a batch job is checked.")
    batch_inline_max_bytes: int = Field(
        19_000_000, gt=0, description="Send a batch's requests inline up to this many bytes "
        "of JSON, else as a JSONL file through the Files API (the API's inline limit is "
        "20 MB, https://ai.google.dev/gemini-api/docs/batch-api, read 2026-12-01).")
    batch_min_items: int = Field(
        100, ge=1, description="mode=auto sends a model's items to Batch from this many on "
        "(with a deadline of at least batch_turnaround_s); fewer go to Flex, same price.")
    batch_turnaround_s: float = Field(
        86_400, gt=0, description="What mode=auto plans a batch to take: the Batch API's "
        "24 h target (https://ai.google.dev/gemini-api/docs/batch-api, read 2026-12-01).")
    batch_file_max_bytes: int = Field(
        2_000_000_000, gt=0, description="Split a batch into several jobs when its JSONL file "
        "would pass this size (the API takes files up to 2 GB, same page).")
    batch_output_margin_s: float = Field(
        6 * 3600, ge=0, le=48 * 3600, description="A collector finishes a parked run at once, "
        "waiting for its other jobs, when an ended job's output would be deleted within this "
        "many seconds (Google keeps it 48 h after the job ends).")
    batch_webhook_uris: list[str] = Field(
        default_factory=list, description="Gemini pushes each batch job's end to these URIs "
        "(a dynamic webhook, e.g. the bridge's /gemini-webhooks) instead of the project's "
        "static webhooks; Gemini Developer API only.")
    shared_rate_limits: bool = Field(
        False, description="Share RPM across runs and workers through Prefect global "
        "concurrency limits named gemini-rpm-<model> (needs a Prefect server).")
    stop_grace_s: float = Field(
        5.0, ge=0, description="After Ctrl-C, SIGTERM or a Prefect cancellation, how long "
        "calls already sent may take to answer (their answers are kept); then they are "
        "abandoned (they may be billed) and the run writes what it has.")
    failure_threshold: float = Field(
        0.2, ge=0, le=1, description="Fail the run when more than this share of items fail.")
    calibration_share: float = Field(
        0.02, ge=0, le=1, description="Share of items sent below the default thinking that "
        "are also sent at the default, to measure what thinking saved (0: off; the lever "
        "then reads 'not measured').")
    calibration_min: int = Field(5, ge=0, description="Calibration calls at least, per task "
                                 "and model (fewer when the group is smaller).")
    calibration_max: int = Field(50, ge=0, description="Calibration calls at most, per task "
                                 "and model.")
    quota_tier: Literal["free", "tier1", "tier2", "tier3"] = Field(
        "tier1", description="Your project's Gemini API tier: sets the spend-based rate "
        "limit ($10 / $50 / $200 per rolling 10 minutes on Tiers 1 / 2 / 3, none on free).")
    spend_limit_usd_per_10min: float | None = Field(
        None, gt=0, description="Overrides the tier's spend-based rate limit.")
    spend_window_s: float = Field(
        600.0, gt=0, description="The window the spend limit is counted over (Google: 10 "
        "minutes, rolling); tests may shorten it.")


class Settings(BaseSettings):
    # extra="ignore": a shared .env also holds FLASHFIRST_BRIDGE_*/DASK_*/DEPLOY_* for the
    # other settings classes; unknown FLASHFIRST_ names are caught by load_settings instead.
    model_config = SettingsConfigDict(
        env_prefix="FLASHFIRST_", env_nested_delimiter="__", env_file=".env",
        extra="ignore", frozen=False,
    )

    backend: BackendSettings = BackendSettings()
    models: ModelCatalogue = ModelCatalogue()
    media: MediaSettings = MediaSettings()
    cache: CacheSettings = CacheSettings()
    inference: InferenceSettings = InferenceSettings()
    routing_policy_path: Path | None = Field(
        None, description="YAML routing policy; the packaged default when unset.")
    price_table_path: Path | None = Field(
        None, description="JSON price table; the packaged one when unset.")
    model_catalogue_path: Path | None = Field(
        None, description="JSON model catalogue (dates, caching, thinking, media rules); "
        "the packaged one when unset.")
    allow_retired: bool = Field(
        False, description="Start a run that names a model past its shutdown date (Google "
        "serves it by its replacement, at the replacement's rates).")
    storage_root: str = Field(
        "./flashfirst-data", description="Where prepared media, answers and reports live "
        "(a local path or gs://bucket/prefix).")
    storage_retry_s: float = Field(
        120.0, ge=0, description="How long one gs:// read or write retries transient failures "
        "(connection refused or reset, 429, 5xx) with backoff before failing; 0: never.")
    budget_usd: float | None = Field(None, ge=0, description="Refuse/stop runs above this.")
    run_state_max_age_s: float = Field(
        7 * 86_400, gt=0, description="The cache janitor removes a run's shared state "
        "(run-state/ under the storage root) not written for this long: what a killed run "
        "left (a run that ends removes its own).")

    @model_validator(mode="after")
    def _api_key_from_google_names(self) -> Settings:
        if self.backend.api_key is None:
            for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
                if os.environ.get(name):
                    self.backend.api_key = SecretStr(os.environ[name])
                    break
        self.backend.infer_kind()
        if self.backend.kind is BackendKind.API_KEY and self.backend.api_key is None:
            raise ValueError("backend.kind=api_key needs an API key (GEMINI_API_KEY or "
                             "FLASHFIRST_BACKEND__API_KEY)")
        return self

    @model_validator(mode="after")
    def _cache_minimums_from_catalogue(self) -> Settings:
        from flashfirst.gemini.catalogue import load_catalogue

        catalogue = load_catalogue(self.model_catalogue_path)
        for spec in self.models.all:
            info = catalogue.find(spec.id)
            if spec.min_cache_tokens is None and info is None:
                spec.min_cache_tokens = 4096  # unknown model: the larger documented minimum
            elif spec.min_cache_tokens is None and info is not None and info.explicit_cache:
                spec.min_cache_tokens = info.explicit_cache_min
        return self

    @field_validator("price_table_path", "routing_policy_path", "model_catalogue_path")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v


# FLASHFIRST_ names read by the other settings classes (deployments/).
_OTHER_PREFIXES = ("FLASHFIRST_BRIDGE_", "FLASHFIRST_DASK_", "FLASHFIRST_DEPLOY_")


def unknown_env_names(names: Iterable[str]) -> list[str]:
    """``FLASHFIRST_`` names no setting reads (a typo is otherwise silently ignored)."""
    unknown = []
    for name in names:
        upper = name.upper()
        if not upper.startswith("FLASHFIRST_") or upper.startswith(_OTHER_PREFIXES):
            continue
        model: type[BaseModel] | None = Settings
        for part in upper.removeprefix("FLASHFIRST_").lower().split("__"):
            fields = model.model_fields if model is not None else {}
            if part not in fields:
                unknown.append(name)
                break
            annotation = fields[part].annotation
            model = annotation if isinstance(annotation, type) and issubclass(
                annotation, BaseModel) else None
            if model is None:
                break  # a leaf (or a dict): deeper parts belong to its value
    return unknown


def _env_names(model: type[BaseModel], prefix: str = "FLASHFIRST_") -> list[str]:
    names = []
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            names += _env_names(sub, f"{name}__")
        else:
            names.append(name)
    return names


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), _env_names(Settings), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def load_settings(**overrides: object) -> Settings:
    """Read settings once; a wrong value or an unknown FLASHFIRST_ name fails here, named
    by its environment variable (secret values never shown)."""
    unknown = unknown_env_names([*os.environ, *dotenv_values(".env")])
    if unknown:
        raise ConfigError("unknown settings (no such variable; see the README's settings "
                          "table):\n  " + "\n  ".join(f"{n}{_suggest(n)}" for n in unknown))
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # an unparsable JSON value for a whole section
        raise ConfigError(f"invalid settings: {exc}".split(" from source")[0]) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = "__".join(str(p) for p in err["loc"]).upper() or "*"
            value = err.get("input")
            secret = any(word in field for word in ("KEY", "TOKEN", "SECRET"))
            shown = ("" if isinstance(value, dict | list) or err["loc"] == ()
                     else " (got ***)" if secret else f" (got {value!r:.80})")
            lines.append(f"FLASHFIRST_{field}: {err['msg']}{shown}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
