"""The analyze flow's parameters: one model, so the Prefect UI renders a usable form."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from flashfirst.inputs.context import SharedContext
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.user_input import UserInput


class RunMode(StrEnum):
    ONLINE = "online"
    BATCH = "batch"
    AUTO = "auto"


class AnalyzeParams(UserInput):
    items: list[WorkItem] = Field(
        default_factory=list, description="Items to analyze (or give a source instead).")
    source: str | None = Field(
        None, description="A manifest (.jsonl/.csv), a folder, or gs://bucket/prefix, spelt "
        "any way (relative, file://, through a link); a file's id is its path below the "
        "folder, and files get defaults by extension (video → summarize, audio → "
        "transcribe, image → classify).")
    task: TaskKind | None = Field(
        None, description="Task for every file found in a folder/prefix (else by extension).")
    prompt: str | None = Field(None, description="Instruction for files found in a source.")
    context: SharedContext = Field(
        default_factory=SharedContext,
        description="Shared context sent with every item; cached where it pays.")
    media_policy: MediaPolicy = Field(
        default_factory=MediaPolicy, description="Token-reduction policy for every media item "
        "(an item's own policy wins).")
    deadline_s: float | None = Field(
        None, ge=0, description="Seconds the run may take. 900 or more sends work to the Flex "
        "tier at half price; unset means Standard.")
    mode: RunMode = Field(RunMode.ONLINE, description="online, batch (Batch API, half "
                          "price, results within 24 h), or auto (Batch, Flex or Standard per "
                          "model from the item count, the deadline and the prices).")
    collect_later: bool = Field(
        False, description="Batch: submit the jobs and end the run; the collect-batches "
        "deployment finishes it once they are done, so no worker waits up to 24 h.")
    output: str | None = Field(
        None, description="Where results.jsonl and report.json go (local or gs://); "
        "default: runs/RUN_ID under FLASHFIRST_STORAGE_ROOT.")  # no <...>: the UI drops it
    budget_usd: float | None = Field(
        None, ge=0, description="Refuse to start above this estimate; stop dispatching when "
        "spent (overrides FLASHFIRST_BUDGET_USD).")
    estimate_only: bool = Field(False, description="Count tokens and price the plan; no calls.")
    autopilot: bool = Field(
        False, description="Choose each task's model and thinking by measured cost per "
        "passing answer (explore cheap candidates, then exploit), within the routing "
        "policy's autopilot.max_exploration_share of the run's spend.")
    quality_floor: float | None = Field(
        None, gt=0, le=1, description="The autopilot's least pass rate for every task "
        "(implies autopilot; default: the policy's autopilot.floor).")
    keep_caches_s: float | None = Field(
        None, ge=0, description="Keep caches this long after the run for reuse (0 deletes "
        "them); default FLASHFIRST_CACHE__REUSE_WINDOW_S.")

    @model_validator(mode="after")
    def _has_input(self) -> AnalyzeParams:
        if not self.items and not self.source:
            raise ValueError("give items or a source (manifest, folder or gs:// prefix)")
        if self.uses_autopilot and self.mode is RunMode.BATCH:
            raise ValueError("autopilot: it measures online calls and learns between them; "
                             "run it with mode online or auto, not batch")
        return self

    @property
    def uses_autopilot(self) -> bool:
        return self.autopilot or self.quality_floor is not None
