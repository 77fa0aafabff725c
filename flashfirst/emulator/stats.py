"""What the emulator saw and answered: the figures tests and benchmarks assert on."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field


class LogEntry(BaseModel):
    """One answered API call."""

    time: float = Field(description="Emulator clock, epoch seconds, when the call was "
                        "admitted (its answer then took delay_s).")
    endpoint: str
    model: str | None = Field(None, description="The model that served (or was asked, "
                              "when the call failed before routing).")
    model_requested: str | None = Field(None, description="The id the client asked for.")
    status: int = Field(200, description="HTTP status; 0 when the connection was dropped.")
    tier_requested: str | None = None
    tier_served: str | None = None
    usage: dict[str, Any] | None = None
    thinking_config: dict[str, Any] | None = Field(
        None, description="generationConfig.thinkingConfig exactly as the request sent it.")
    generation_config: dict[str, Any] | None = Field(
        None, description="generationConfig exactly as the request sent it.")
    labels: dict[str, str] | None = Field(
        None, description="The request's billing labels (Agent Platform), as sent.")
    content_digest: str | None = Field(
        None, description="Hash of what the model reads (contents, systemInstruction, "
        "cachedContent): equal for two requests that ask the same thing, online or batch.")
    latency_s: float = Field(0.0, description="Wall-clock seconds (informative only).")
    delay_s: float = Field(0.0, description="Latency the emulator chose for this answer "
                           "(tiers, faults, latency_scale): what tests assert on.")


class UsageTotals(BaseModel):
    """Tokens billed on one model, summed over its successful generate calls."""

    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0


class EmulatorStats(BaseModel):
    """A snapshot; every count is since the start or the last reset."""

    calls: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="endpoint → model ('' when none) → calls.")
    generate_calls: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="model → served tier → successful answers "
        "(batch items count under 'batch').")
    usage: dict[str, UsageTotals] = Field(default_factory=dict, description="By model.")
    errors_by_status: dict[int, int] = Field(default_factory=dict)
    rate_limited: int = Field(0, description="429 answers.")
    unavailable: int = Field(0, description="503 answers.")
    dropped_connections: int = 0
    priority_downgrades: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    cache_creations: int = 0
    cache_deletions: int = 0
    cache_expirations: int = 0
    live_caches: int = 0
    storage_token_hours: float = 0.0
    storage_token_hours_by_model: dict[str, float] = Field(default_factory=dict)
    batches_created: int = 0
    batch_requests: int = 0
    request_log: list[LogEntry] = Field(default_factory=list)

    def calls_to(self, endpoint: str, model: str | None = None) -> int:
        """Calls to an endpoint (``"cachedContents"`` sums ``"cachedContents.create"``…),
        for one model or all."""
        total = 0
        for name, by_model in self.calls.items():
            if name == endpoint or name.startswith(endpoint + "."):
                total += by_model.get(model, 0) if model is not None else sum(by_model.values())
        return total


class StatsRecorder:
    """Mutable counters behind the emulator's lock; ``snapshot`` copies them out."""

    def __init__(self, log_limit: int,
                 bill: Callable[[str, str], None] | None = None) -> None:
        self._bill = bill  # durable state's ledger of answers produced, when there is one
        self.calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.generate_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.usage: defaultdict[str, UsageTotals] = defaultdict(UsageTotals)
        self.errors: Counter[int] = Counter()
        self.counters: Counter[str] = Counter()
        self.log: deque[LogEntry] = deque(maxlen=log_limit or None)
        self._log_enabled = log_limit > 0

    def count_call(self, endpoint: str, model: str | None) -> None:
        self.calls[endpoint][model or ""] += 1

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def record(self, entry: LogEntry) -> None:
        if entry.status not in (0, 200):
            self.errors[entry.status] += 1
        if self._log_enabled:
            self.log.append(entry)

    def record_answer(self, model: str, tier: str, usage: dict[str, Any]) -> None:
        self.generate_calls[model][tier] += 1
        if self._bill is not None:
            self._bill(model, tier)
        totals = self.usage[model]
        totals.calls += 1
        totals.prompt_tokens += usage.get("promptTokenCount", 0)
        totals.cached_tokens += usage.get("cachedContentTokenCount", 0)
        totals.candidates_tokens += usage.get("candidatesTokenCount", 0)
        totals.thoughts_tokens += usage.get("thoughtsTokenCount", 0)

    def snapshot(self, **extra: Any) -> EmulatorStats:
        return EmulatorStats(
            calls={k: dict(v) for k, v in self.calls.items()},
            generate_calls={k: dict(v) for k, v in self.generate_calls.items()},
            usage={k: v.model_copy() for k, v in self.usage.items()},
            errors_by_status=dict(self.errors),
            rate_limited=self.errors[429],
            unavailable=self.errors[503],
            dropped_connections=self.counters["dropped_connections"],
            priority_downgrades=self.counters["priority_downgrades"],
            uploads=self.counters["uploads"],
            upload_bytes=self.counters["upload_bytes"],
            cache_creations=self.counters["cache_creations"],
            cache_deletions=self.counters["cache_deletions"],
            batches_created=self.counters["batches_created"],
            batch_requests=self.counters["batch_requests"],
            request_log=list(self.log),
            **extra,
        )
