"""The backend's batch service as the batch runner uses it: split a round's lines into
jobs, create one, look at one, say how far it got, read a finished one's answers. The
Developer API takes inline requests or a JSONL file through the Files API; the Agent
Platform reads and writes Cloud Storage (``platform_batch``)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.inference.batch_input import BatchInput, KeyedRequest, split_input
from flashfirst.inference.batch_ledger import SubmittedJob
from flashfirst.inference.job_states import ENDED, JobState, short_name
from flashfirst.inference.platform_batch import PlatformBatches, progress
from flashfirst.settings import Settings

log = logging.getLogger(__name__)

# Called while waiting with (job name, state, requests done, requests in the job).
Progress = Callable[[str, str, int, int], None]
# A request's answer by its key: the SDK's inline response, or a JSONL row.
Answers = dict[str, dict | types.InlinedResponse]


class BatchFailure(BaseModel):
    """A job that ended without answers (or with fewer than its stats claim)."""

    job_name: str
    model: str
    state: str
    reason: str
    item_ids: list[str] = Field(default_factory=list)


def ended(batch: types.BatchJob) -> bool:
    return batch.state in ENDED


def state_name(batch: types.BatchJob) -> str:
    """The state as the API spells it (``JOB_STATE_…``)."""
    return str(getattr(batch.state, "value", batch.state))


class BatchJobs:
    def __init__(self, client: genai.Client, settings: Settings, run_id: str | None) -> None:
        self.client, self.settings, self.run_id = client, settings, run_id
        # The Agent Platform's jobs read and write Cloud Storage (platform_batch).
        self.platform = PlatformBatches(client, settings, run_id) if client.vertexai else None

    def split(self, requests: list[KeyedRequest]) -> list[BatchInput]:
        """Deterministic: a re-attaching run rebuilds the same parts from the same requests."""
        if self.platform is not None:
            return self.platform.split(requests)
        return split_input(self.client, requests,
                           inline_max_bytes=self.settings.inference.batch_inline_max_bytes,
                           file_max_bytes=self.settings.inference.batch_file_max_bytes)

    def create(self, model: str, key: str, part: BatchInput) -> SubmittedJob:
        if self.platform is not None:
            return self.platform.create(model, key, part)
        name = f"flashfirst-{key[:12]}-{part.part}"
        input_file = None
        if part.inline is not None:
            src: list[types.InlinedRequest] | str = part.inline
        else:
            uploaded = self.client.files.upload(
                file=io.BytesIO(part.jsonl or b""),
                config=types.UploadFileConfig(mime_type="application/jsonl", display_name=name))
            src = input_file = uploaded.name
        batch = self.client.batches.create(model=model, src=src, config=types.CreateBatchJobConfig(
            display_name=name, webhook_config=self._webhook_config(key, part.part)))
        log.info("created batch job %s (%d requests, %s)", batch.name, len(part.keys),
                 f"JSONL {input_file}" if input_file else "inline")
        return SubmittedJob(name=batch.name, part=part.part, input_file=input_file)

    def _webhook_config(self, key: str, part: int) -> types.WebhookConfig | None:
        """What Gemini's webhook delivery echoes back: the run and request group this job
        belongs to (and the dynamic URIs, when configured). Vertex refuses the field."""
        if self.client.vertexai:
            return None
        uris = self.settings.inference.batch_webhook_uris
        return types.WebhookConfig(uris=uris or None, user_metadata={
            "flashfirst_run_id": self.run_id, "flashfirst_request_key": key, "part": part})

    def get(self, name: str) -> types.BatchJob:
        try:
            return self.client.batches.get(name=name)
        except genai_errors.ClientError as exc:
            if exc.code != 404:
                raise
            return types.BatchJob(name=name, state=JobState.JOB_STATE_FAILED,
                                  error=types.JobError(message="the job is gone (deleted, or "
                                                       "not on this backend)"))

    def progress(self, batch: types.BatchJob) -> tuple[int, int]:
        """Requests done and in the job so far."""
        if self.platform is not None:  # the platform's job carries completionStats itself
            return progress(batch)
        stats = self._operation(batch.name or "").get("metadata", {}).get("batchStats", {})
        done = int(stats.get("successfulRequestCount", 0)) + int(
            stats.get("failedRequestCount", 0))
        return done, int(stats.get("requestCount", 0))

    def answers(self, batch: types.BatchJob, model: str, keys: list[str]
                ) -> tuple[Answers, BatchFailure | None]:
        """Answers by key, or why the job gave none; ``batchStats`` must agree with them."""
        name = batch.name or ""
        if self.platform is not None:
            rows, why = self.platform.collect(batch, keys)
            return dict(rows), why and BatchFailure(job_name=name, model=model, state=why[0],
                                                    reason=why[1])
        if batch.state != JobState.JOB_STATE_SUCCEEDED:
            return {}, BatchFailure(job_name=name, model=model,
                                    state=short_name(batch.state),
                                    reason=self._reason(batch))
        answers: Answers = {}
        if batch.dest is not None and batch.dest.file_name:
            data = self.client.files.download(file=batch.dest.file_name)
            for line in data.decode().splitlines():
                if line.strip():
                    row = json.loads(line)
                    answers[str(row.get("key"))] = row
        elif batch.dest is not None:
            for answer in batch.dest.inlined_responses or []:
                answers[str((answer.metadata or {}).get("key"))] = answer
        ok = sum(1 for a in answers.values() if _succeeded(a))
        stats = self._operation(name).get("metadata", {}).get("batchStats", {})
        claimed_ok = int(stats.get("successfulRequestCount", ok))
        claimed_failed = int(stats.get("failedRequestCount", len(answers) - ok))
        if (claimed_ok, claimed_failed) != (ok, len(answers) - ok):
            return answers, BatchFailure(
                job_name=name, model=model, state="INCOMPLETE",
                reason=f"batchStats report {claimed_ok} succeeded and {claimed_failed} failed, "
                f"but {ok} answers and {len(answers) - ok} errors came back")
        return answers, None

    def _reason(self, batch: types.BatchJob) -> str:
        if batch.error is not None and batch.error.message:
            return batch.error.message
        # The SDK (3.6) drops a Developer API job's ``error``; the operation still has it.
        error = self._operation(batch.name or "").get("error") or {}
        return error.get("message") or "the API gave no reason"

    def _operation(self, name: str) -> dict:
        """The job's raw operation through the SDK's own transport: the SDK's BatchJob
        leaves out ``batchStats`` and ``error`` for the Developer API."""
        if self.client.vertexai or not name:
            return {}
        response = self.client._api_client.request("get", name, {})
        return json.loads(response.body) if response.body else {}


def _succeeded(answer: dict | types.InlinedResponse) -> bool:
    if isinstance(answer, types.InlinedResponse):
        return answer.error is None and answer.response is not None
    return answer.get("error") is None and answer.get("response") is not None
