"""What one analyze run is held to, decided once from its parameters and the settings
(budget, output folder, how long caches are kept, whether the autopilot drives it), and
the verdict on a finished run: every way a run that ran to its end still fails, in one
place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from flashfirst.errors import BatchJobFailed, FlashfirstError
from flashfirst.inference.batch import BatchFailure
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.planning.router import RoutingPolicy
from flashfirst.reporting.report import RunReport
from flashfirst.reporting.timing import StageClock
from flashfirst.settings import Settings
from flashfirst.storage import join


class RunFailed(FlashfirstError):
    """More items failed than the configured threshold allows; the flow run fails so a
    scheduler sees it, and the report (already written) travels with the error."""

    def __init__(self, message: str, report: RunReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.report))


class RunTerms(BaseModel):
    """The run's identity, settings and limits, as every step of it reads them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    started_at: datetime
    settings: Settings
    policy: RoutingPolicy
    output: str = Field(description="Where results.jsonl and the report go.")
    budget_usd: float | None
    keep_caches_s: float
    autopilot: bool
    batch: bool = Field(description="mode=batch: every job goes to the Batch API.")
    clock: StageClock = Field(default_factory=StageClock, exclude=True)

    @classmethod
    def decide(cls, params: AnalyzeParams, settings: Settings, policy: RoutingPolicy,
               run_id: str, started_at: datetime) -> RunTerms:
        """The run's parameters where set, else the settings' (and the policy's)."""
        return cls(
            run_id=run_id, started_at=started_at, settings=settings, policy=policy,
            output=params.output or join(settings.storage_root, "runs", run_id),
            budget_usd=_first_set(params.budget_usd, settings.budget_usd),
            keep_caches_s=(params.keep_caches_s if params.keep_caches_s is not None
                           else settings.cache.reuse_window_s),
            autopilot=params.uses_autopilot or policy.autopilot.enabled,
            batch=params.mode is RunMode.BATCH)

    @property
    def estimates(self) -> bool:
        """A budget is checked against an estimate before any call."""
        return self.budget_usd is not None


def _first_set(value: float | None, default: float | None) -> float | None:
    return value if value is not None else default


def run_failure(report: RunReport, batch_failures: Sequence[BatchFailure],
                threshold: float) -> FlashfirstError | None:
    """Why a finished run fails: a batch job's failure, whatever the share; or more items
    failed than the threshold allows. None: it succeeded."""
    if batch_failures:
        first = batch_failures[0]
        return BatchJobFailed(first.job_name, first.state, first.reason)
    if report.failure_share > threshold:
        return RunFailed(f"{report.items_failed} of {report.items_total} items failed "
                         f"(threshold {threshold:.0%}); results and report are in "
                         f"{report.output_uri}", report)
    return None
