"""One settings object, read once at start and passed down.

Environment variables use the prefix ``FLASHFIRST_`` and ``__`` between nested sections,
e.g. ``FLASHFIRST_MODELS__FLASH__RPM=2000``; a ``.env`` file in the working directory is
read too. The API key is also taken from ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``, the
names Google's own tools use.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flashfirst.errors import ConfigError, UnknownModelError


class ModelTier(StrEnum):
    """Cheapest first: the order escalation climbs."""

    FLASH_LITE = "flash_lite"
    FLASH = "flash"
    PRO = "pro"

    def next_up(self) -> ModelTier | None:
        order = list(ModelTier)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


class ModelSpec(BaseModel):
    """A model of the catalogue with its limits.

    Rate limits default to Tier 1 of the Gemini Developer API
    (https://ai.google.dev/gemini-api/docs/rate-limits, read 2026-11-28); set yours.
    Minimum cacheable sizes: https://ai.google.dev/gemini-api/docs/caching (2,048 tokens
    for the 2.5 models in the Jul-Oct 2026 docs, DESIGN.md §7)."""

    id: str = Field(description="The model id the API knows.")
    rpm: int = Field(1000, gt=0, description="Requests per minute allowed for this model.")
    tpm: int = Field(1_000_000, gt=0, description="Input tokens per minute allowed.")
    concurrency: int = Field(32, gt=0, description="Requests in flight at once, at most.")
    min_cache_tokens: int = Field(2048, ge=0, description="Smallest context the API caches.")
    context_window: int = Field(1_048_576, gt=0, description="Input tokens the model takes.")


_DEFAULT_MODELS: dict[str, dict[str, object]] = {
    "flash_lite": {"id": "gemini-2.5-flash-lite", "rpm": 4000, "tpm": 4_000_000},
    "flash": {"id": "gemini-2.5-flash", "rpm": 1000, "tpm": 1_000_000},
    "pro": {"id": "gemini-2.5-pro", "rpm": 150, "tpm": 2_000_000},
}


class ModelCatalogue(BaseModel):
    flash_lite: ModelSpec = ModelSpec(**_DEFAULT_MODELS["flash_lite"])
    flash: ModelSpec = ModelSpec(**_DEFAULT_MODELS["flash"])
    pro: ModelSpec = ModelSpec(**_DEFAULT_MODELS["pro"])

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_overrides(cls, data: object) -> object:
        """``FLASHFIRST_MODELS__PRO__RPM=10`` changes the rate, not the whole entry."""
        if isinstance(data, dict):
            return {
                tier: {**defaults, **data[tier]} if isinstance(data.get(tier), dict)
                else data.get(tier, defaults)
                for tier, defaults in _DEFAULT_MODELS.items()
            }
        return data

    def by_tier(self, tier: ModelTier) -> ModelSpec:
        return getattr(self, tier.value)

    def tier_of(self, model_id: str) -> ModelTier:
        for tier in ModelTier:
            if self.by_tier(tier).id == model_id:
                return tier
        raise UnknownModelError(model_id, "the model catalogue (FLASHFIRST_MODELS__*)")

    def spec(self, model_id: str) -> ModelSpec:
        return self.by_tier(self.tier_of(model_id))

    @property
    def all(self) -> list[ModelSpec]:
        return [self.by_tier(t) for t in ModelTier]


class EmulatorSettings(BaseModel):
    """The embedded emulator used when no credentials are configured."""

    seed: int = Field(0, description="Same seed and request, same answer.")
    latency_scale: float = Field(0.0, ge=0, description="0 answers at once; 1 is realistic.")
    host: str = Field("127.0.0.1", description="Interface the embedded emulator binds.")
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")


class BackendSettings(BaseModel):
    api_key: SecretStr | None = Field(None, description="Gemini Developer API key.")
    vertex_project: str | None = Field(None, description="Use Vertex AI in this project.")
    vertex_location: str = Field("us-central1", description="Vertex AI region.")
    base_url: str | None = Field(None, description="Explicit endpoint, e.g. an emulator.")
    api_version: str = Field(
        "v1beta", description="Caching, files and batches are v1beta features on the API."
    )
    timeout_s: float = Field(600.0, gt=0, description="Per HTTP request.")
    emulator: EmulatorSettings = EmulatorSettings()

    @property
    def kind(self) -> Literal["base_url", "vertex", "api_key", "emulator"]:
        if self.base_url:
            return "base_url"
        if self.vertex_project:
            return "vertex"
        if self.api_key:
            return "api_key"
        return "emulator"

    @field_validator("base_url")
    @classmethod
    def _url_has_scheme(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v


class MediaSettings(BaseModel):
    fps: float = Field(1.0, gt=0, le=60, description="Video frames per second sent.")
    max_long_side: int = Field(768, ge=64, description="Video/image long side in pixels.")
    audio_sample_rate: int = Field(16_000, ge=8000, description="Audio rate in Hz (mono).")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0,
                         description="ffmpeg processes at once (CPU-bound).")
    inline_max_bytes: int = Field(
        15 * 1024 * 1024, ge=0,
        description="Send smaller prepared files inline instead of uploading (API limit 20 MB "
        "per request, https://ai.google.dev/gemini-api/docs/files).")


class CacheSettings(BaseModel):
    enabled: bool = Field(True, description="Cache shared context where it pays.")
    reuse_window_s: float = Field(
        3600, ge=0, description="Keep a cache up to this long after a run for the next one "
        "(capped where storage would cost more than writing it again; 0 deletes).")
    ttl_margin: float = Field(1.5, ge=1, description="TTL = expected run time × this margin.")
    min_ttl_s: float = Field(300, gt=0, description="Shortest TTL a cache is created with.")


class InferenceSettings(BaseModel):
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
    shared_rate_limits: bool = Field(
        False, description="Share RPM across runs and workers through Prefect global "
        "concurrency limits named gemini-rpm-<model> (needs a Prefect server).")
    failure_threshold: float = Field(
        0.2, ge=0, le=1, description="Fail the run when more than this share of items fail.")
    quota_tier: Literal["free", "tier1", "tier2", "tier3"] = Field(
        "tier1", description="Your project's Gemini API tier: sets the spend-based rate "
        "limit ($10 / $50 / $200 per rolling 10 minutes on Tiers 1 / 2 / 3, none on free).")
    spend_limit_usd_per_10min: float | None = Field(
        None, gt=0, description="Overrides the tier's spend-based rate limit.")
    spend_window_s: float = Field(
        600.0, gt=0, description="The window the spend limit is counted over (Google: 10 "
        "minutes, rolling); tests may shorten it.")


class Settings(BaseSettings):
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
    storage_root: str = Field(
        "./flashfirst-data", description="Where prepared media, answers and reports live "
        "(a local path or gs://bucket/prefix).")
    budget_usd: float | None = Field(None, ge=0, description="Refuse/stop runs above this.")

    @model_validator(mode="after")
    def _api_key_from_google_names(self) -> Settings:
        if self.backend.api_key is None:
            for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
                if os.environ.get(name):
                    self.backend.api_key = SecretStr(os.environ[name])
                    break
        return self

    @field_validator("price_table_path", "routing_policy_path")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v


def load_settings(**overrides: object) -> Settings:
    """Read settings once; a wrong value fails here with the field's env name."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = "__".join(str(p) for p in err["loc"]).upper()
            shown = "***" if "KEY" in field or "TOKEN" in field else repr(err.get("input"))
            lines.append(f"FLASHFIRST_{field}: {err['msg']} (got {shown})")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
