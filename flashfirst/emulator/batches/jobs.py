"""A Batch Mode job as data: its requests, its timing on the emulator clock, its results,
and the operation resource the API answers for it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from flashfirst.emulator.wire.codec import Json, timestamp

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"


@dataclass
class BatchItem:
    request: Json
    key: str | None = None
    metadata: Any = None
    result: Json | None = None


@dataclass
class BatchJob:
    id: str
    model: str
    items: list[BatchItem]
    create_time: float
    running_at: float
    done_at: float
    display_name: str | None = None
    input_file: str | None = None
    cancelled_at: float | None = None
    finished: bool = False
    responses_file: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0})
    outcome: str = "SUCCEEDED"  # how the job ends at done_at (scripted in BatchTiming)
    outcome_message: str | None = None
    shuffle_output: bool = False
    webhook_config: Json | None = None  # the create call's {"uris", "user_metadata"}

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    def state(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if now < self.running_at:
            return "PENDING"
        return "RUNNING" if now < self.done_at else self.outcome

    def answer_order(self) -> list[BatchItem]:
        """The requests' order, or a fixed other order when the job shuffles its output."""
        items = list(self.items)
        if self.shuffle_output:
            random.Random(self.id).shuffle(items)
        return items

    def resource(self, now: float) -> Json:
        state = self.state(now)
        done = state in ("SUCCEEDED", "CANCELLED", "FAILED", "EXPIRED")
        end = self.cancelled_at if self.cancelled_at is not None else self.done_at
        total = len(self.items)
        stats = {"requestCount": str(total)}
        if state in ("FAILED", "EXPIRED"):
            stats["failedRequestCount"] = str(total)
        elif self.finished and state == "SUCCEEDED":
            stats.update(successfulRequestCount=str(self.counts["ok"]),
                         failedRequestCount=str(self.counts["failed"]))
        else:
            stats["pendingRequestCount"] = str(total)
        metadata: Json = {
            "@type": _TYPE, "name": self.name, "model": f"models/{self.model}",
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(min(now, end or now)),
            "state": f"BATCH_STATE_{state}", "batchStats": stats,
        }
        if self.display_name:
            metadata["displayName"] = self.display_name
        if self.input_file:
            metadata["inputConfig"] = {"fileName": self.input_file}
        answer: Json = {"name": self.name, "metadata": metadata, "done": done}
        if state in ("FAILED", "EXPIRED"):
            # google.longrunning.Operation carries the job's failure as a google.rpc.Status.
            code = 4 if state == "EXPIRED" else 13  # DEADLINE_EXCEEDED, INTERNAL
            answer["error"] = {"code": code, "message": self.outcome_message or state}
        if done:
            metadata["endTime"] = timestamp(end or now)
        if state == "SUCCEEDED":
            output = self._output()
            metadata["output"] = output
            answer["response"] = {"@type": _OUTPUT_TYPE, **output}
        return answer

    def _output(self) -> Json:
        if self.responses_file:
            return {"responsesFile": self.responses_file}
        responses = []
        for item in self.answer_order():
            entry = dict(item.result or {})
            if item.metadata is not None:
                entry["metadata"] = item.metadata
            responses.append(entry)
        return {"inlinedResponses": {"inlinedResponses": responses}}
