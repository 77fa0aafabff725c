"""The run report: one typed object written as JSON, shown as artifacts and tables."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from flashfirst.autopilot.summary import AutopilotReport
from flashfirst.caching.decision import CacheDecision
from flashfirst.caching.record import CacheRecord
from flashfirst.failures import FailureKind
from flashfirst.inference.collection import JobCollection
from flashfirst.inputs.skipped import SkippedInput
from flashfirst.items import TaskKind
from flashfirst.media.accounting import MediaStats
from flashfirst.reporting.item_lines import ItemLines
from flashfirst.reporting.ledger import CostSummary
from flashfirst.reporting.stages import Stage


class TaskEscalation(BaseModel):
    task: TaskKind
    items: int
    escalated: int

    @property
    def rate(self) -> float:
        return self.escalated / self.items if self.items else 0.0


class FirstPass(BaseModel):
    """Items of one task sent first at one thinking setting, and how many of them passed
    validation on that first call: when "least" is too little, this share shows it."""

    task: TaskKind
    setting: str
    items: int
    passed_first: int

    @property
    def share(self) -> float:
        return self.passed_first / self.items if self.items else 0.0


class MediaSummary(BaseModel):
    items: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    prepared_now: int = Field(0, description="Items that ran ffmpeg in this run.")
    reused: int = Field(0, description="Items whose prepared media was already there.")
    uploaded: int = 0
    seconds: float = 0.0
    fitted: list[str] = Field(default_factory=list, description="Items fitted to their "
                              "model's window (media_policy fit): how, tokens, calls, cost.")
    note: str = ("Gemini samples video at 1 fps and audio at 16 kHz mono itself: downsampling "
                 "to those rates cuts bytes and upload time, not tokens. Tokens fall only "
                 "with the reduction policies (fewer frames, low resolution, trimming, "
                 "dropping audio or silence).")


class CacheSummary(BaseModel):
    decisions: list[CacheDecision] = Field(default_factory=list)
    records: list[CacheRecord] = Field(default_factory=list)
    calls_with_cache_hits: int = 0
    created: int = 0
    reused: int = 0
    recreated: int = 0
    api_calls: int = 0


class ServedBy(BaseModel):
    """Calls answered by another model than the one requested (a retired or re-routed
    id): priced as the one that served."""

    requested: str
    served: str
    calls: int
    priced_as: str | None = Field(None, description="Set when the price table lacks the "
                                  "served model: the stand-in row (``provisional_prices``).")

    def line(self) -> str:
        return f"{self.requested} → served by {self.served}: {self.calls} calls"


class ProvisionalPrice(BaseModel):
    """Calls served by a model the price table has no row for, priced by a stand-in row:
    their cost is provisional until the table has the served model's row."""

    served: str
    requested: str
    priced_as: str
    calls: int
    cost_usd: float

    def line(self, table_version: str) -> str:
        return (f"{self.served} served {self.calls} calls for {self.requested}; the price "
                f"table (version {table_version}) has no row for it: priced as "
                f"{self.priced_as}, ${self.cost_usd:,.6f} provisional")


class StageLine(BaseModel):
    stage: Stage
    seconds: float
    cost_usd: float = 0.0


class RunReport(BaseModel):
    run_id: str
    backend: str
    price_table_version: str
    started_at: datetime
    finished_at: datetime
    items_total: int
    items_ok: int
    items_failed: int
    items_reused: int
    generate_calls: int
    costs: CostSummary
    stages: list[StageLine] = Field(default_factory=list)
    routing_split: dict[str, int] = Field(default_factory=dict)
    served_by: list[ServedBy] = Field(
        default_factory=list, description="Requested ids answered by another model.")
    provisional_prices: list[ProvisionalPrice] = Field(
        default_factory=list, description="Calls served by a model the price table lacks, "
        "priced by a stand-in row: when any, the costs are provisional.")
    escalation: list[TaskEscalation] = Field(default_factory=list)
    first_pass: list[FirstPass] = Field(
        default_factory=list, description="Per task and first thinking setting: the share "
        "that passed validation first time.")
    media: MediaSummary = MediaSummary()
    cache: CacheSummary = CacheSummary()
    failures: dict[str, str] = Field(default_factory=dict, description="Cause per failed item.")
    failure_kinds: dict[FailureKind, int] = Field(
        default_factory=dict, description="Failed items by kind (budget, media_unreadable, "
        "rejected, ...): what to do about them differs per kind.")
    budget_usd: float | None = None
    budget_stopped: int = Field(0, description="Items not dispatched: the budget was reached.")
    items: ItemLines = Field(default_factory=ItemLines, description="One line per item, "
                             "in the order they were answered (compressed in memory).")
    output_uri: str | None = None
    mode_choices: list[str] = Field(
        default_factory=list, description="mode=auto: the tier chosen per model, and why.")
    skipped_inputs: list[SkippedInput] = Field(
        default_factory=list, description="Files the source holds that no task takes "
        "(hidden, archives, spreadsheets, unknown extensions), with the reason.")
    stopped: str | None = Field(
        None, description="Why the run stopped before its end (Ctrl-C, SIGTERM, a Prefect "
        "cancel); its items not sent are marked interrupted or cancelled.")
    autopilot: AutopilotReport | None = Field(
        None, description="The autopilot's choices, evidence and saving (--autopilot).")
    batch_jobs_left: list[str] = Field(
        default_factory=list, description="Batch jobs a stopped run left running (not "
        "cancelled): a re-run or collect-batches collects their answers.")
    batch_collection: list[JobCollection] = Field(
        default_factory=list, description="A run a collector finished: which path (webhook "
        "or poll) collected each batch job, and when Google deletes the job's output.")

    @property
    def wall_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def stop_lines(self) -> list[str]:
        """What a stopped run kept and what is left, for the report and the command."""
        if not self.stopped:
            return []
        left = sum(self.failure_kinds.get(k, 0)
                   for k in (FailureKind.INTERRUPTED, FailureKind.CANCELLED))
        lines = [f"Stopped: {self.stopped}. {self.items_ok} of {self.items_total} items "
                 f"answered and kept; {left} not sent: run the same command again to send "
                 "only those (answers already paid for are reused)."]
        if self.batch_jobs_left:
            lines.append(f"Batch jobs left running, not cancelled: "
                         f"{', '.join(self.batch_jobs_left)}; a re-run or collect-batches "
                         "collects their answers.")
        return lines

    @property
    def costs_provisional(self) -> bool:
        return bool(self.provisional_prices)

    @property
    def failure_share(self) -> float:
        return self.items_failed / self.items_total if self.items_total else 0.0


def media_summary(stats: list[MediaStats], seconds: float) -> MediaSummary:
    m = MediaSummary(items=len(stats), seconds=round(seconds, 3))
    for s in stats:
        m.bytes_before += s.bytes_before
        m.bytes_after += s.bytes_after
        m.tokens_before += s.tokens_before.total
        m.tokens_after += s.tokens_after.total
        m.reused += int(s.reused)
        m.prepared_now += int(not s.reused)
        m.uploaded += int(s.uploaded)
    return m


def cache_summary(decisions: list[CacheDecision], records: list[CacheRecord],
                  calls_with_cache_hits: int, api_calls: int) -> CacheSummary:
    return CacheSummary(
        decisions=decisions, records=records, calls_with_cache_hits=calls_with_cache_hits,
        created=sum(1 for r in records if r.created_by_run),
        reused=sum(1 for r in records if not r.created_by_run),
        recreated=sum(1 for r in records if r.recreated), api_calls=api_calls,
    )
