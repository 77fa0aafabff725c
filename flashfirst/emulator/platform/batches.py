"""The Agent Platform's batch inference: ``batchPredictionJobs`` that read JSONL requests
from Cloud Storage and write ``predictions.jsonl`` into a folder under the job's output
prefix, through the real google-cloud-storage client (a fake-gcs-server in tests: set
``EmulatorConfig.gcs_endpoint`` or ``STORAGE_EMULATOR_HOST``).

Wire as google-genai 3.6.1 sends it with ``vertexai=True`` (checked 2026-12-02):
``POST /v1beta1/projects/{p}/locations/{l}/batchPredictionJobs`` with ``{"model":
"publishers/google/models/{m}", "inputConfig": {"instancesFormat": "jsonl", "gcsSource":
{"uris": [...]}}, "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination":
{"outputUriPrefix": ...}}, "displayName": ...}``; get, list, ``:cancel`` and delete under
``…/batchPredictionJobs/{id}``; the job's ``state`` is a ``JobState`` (``JOB_STATE_…``).
Google's pages, as read (copies of 2026-12-02):

- https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/capabilities/
  batch-prediction-from-cloud-storage — input is one JSONL file in Cloud Storage, each line
  ``{"request": <GenerateContentRequest>}``; the output is written to the bucket named at
  creation; "for succeeded rows, model responses are stored in the response" field, and
  a failed row carries its error in ``status`` (cloud.google.com copy of the same page);
  completed rows are exported even when the job is terminated.
- https://googleapis.github.io/google-api-python-client/docs/dyn/aiplatform_v1.projects.
  locations.batchPredictionJobs.html — cancel is best effort and sets ``CANCELLED``, files
  already written stay; delete "can only be called on jobs that already finished".
- The output folder is ``outputInfo.gcsOutputDirectory`` =
  ``{outputUriPrefix}/prediction-model-{time}`` holding ``predictions.jsonl`` (LiteLLM's
  Vertex batch tests, tests/…/vertex_ai/batches, read in the code index 2026-12-02).
- research notes 1.5 and DESIGN facts: 50% of the standard price; explicit caches do not
  combine with Vertex batch (GoogleCloudPlatform/generative-ai #2122: a 404).

The emulator's own rules where the pages say nothing exact: an output row is
``{"status": "", "processed_time": …, "request": …, "response": …}`` on success and
``{"status": "<reason>: {\"error\": {…}}", "processed_time": …, "request": …}`` on failure,
with every other field of the input line (a ``key``, say) echoed beside them; an unreadable
line fails only its row; a job whose input cannot be read, or whose output cannot be
written, ends ``JOB_STATE_FAILED`` naming the URI; a job with failed rows still ends
``JOB_STATE_SUCCEEDED`` with ``completionStats.failedCount``. Timing and scripted
outcomes come from ``config.batch``, as for the Developer API's jobs. Jobs live in
memory (not in ``state_dir``)."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.batches.completion import answer_item
from flashfirst.emulator.calls import emulator, log_call
from flashfirst.emulator.platform.endpoints import (
    body_and_model,
    listing,
    model_id_of,
    parent_of,
    storage_client,
)
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.wire.codec import Json, get, timestamp
from flashfirst.emulator.wire.errors import ApiError, invalid_argument, not_found

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class PlatformJob:
    """One batchPredictionJob: where it reads and writes, its clock, its outcome."""

    id: str
    parent: str
    model: str
    model_path: str
    input_uris: list[str]
    output_prefix: str
    create_time: float
    running_at: float
    done_at: float
    display_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    outcome: str = "SUCCEEDED"
    outcome_message: str | None = None
    shuffle_output: bool = False
    storage_error: str | None = None  # input unreadable or output unwritable: failed
    lines: list[str] = field(default_factory=list)
    cancelled_at: float | None = None
    finished: bool = False
    output_dir: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return f"{self.parent}/batchPredictionJobs/{self.id}"

    def state(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if self.storage_error is not None and now >= self.running_at:
            return "FAILED"
        if now < self.running_at:
            return "PENDING"
        if now < self.done_at or not self.finished and self.outcome == "SUCCEEDED":
            return "RUNNING"  # until its rows are written
        return self.outcome

    def resource(self, now: float) -> Json:
        state = self.state(now)
        done = state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
        end = self.cancelled_at if self.cancelled_at is not None else self.done_at
        body: Json = {
            "name": self.name, "model": self.model_path, "state": f"JOB_STATE_{state}",
            "inputConfig": {"instancesFormat": "jsonl",
                            "gcsSource": {"uris": list(self.input_uris)}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": self.output_prefix}},
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(min(now, end) if done else now),
        }
        if self.display_name:
            body["displayName"] = self.display_name
        if self.labels:
            body["labels"] = self.labels
        if state != "PENDING":
            body["startTime"] = timestamp(self.running_at)
        if done:
            body["endTime"] = timestamp(end)
        if state == "SUCCEEDED":
            body["completionStats"] = {"successfulCount": str(self.counts["ok"]),
                                       "failedCount": str(self.counts["failed"]),
                                       "incompleteCount": "0"}
            body["outputInfo"] = {"gcsOutputDirectory": self.output_dir}
        if state in ("FAILED", "EXPIRED"):
            code = 4 if state == "EXPIRED" else 3 if self.storage_error else 13
            body["error"] = {"code": code, "message": self.storage_error or self.outcome_message
                             or state}
        return body


def _split_gs(uri: str, field_name: str) -> tuple[str, str]:
    if not uri.startswith("gs://") or "/" not in uri[5:].strip("/"):
        if uri.startswith("gs://") and field_name.endswith("outputUriPrefix"):
            return uri[5:].strip("/"), ""
        raise invalid_argument(f"{field_name}: {uri!r} is not a gs://bucket/path URI.")
    bucket, _, path = uri[5:].partition("/")
    return bucket, path


def _read_input(state: EmulatorState, uris: list[str]) -> tuple[list[str], str | None]:
    """Every line of every input object, or why they could not be read."""
    try:
        client = storage_client(state)
        lines: list[str] = []
        for uri in uris:
            bucket, path = _split_gs(uri, "inputConfig.gcsSource.uris")
            text = client.bucket(bucket).blob(path).download_as_bytes().decode("utf-8",
                                                                                "replace")
            lines += [line for line in text.splitlines() if line.strip()]
        return lines, None
    except Exception as exc:  # any storage failure is the job's, named with its URI
        return [], f"Failed to read the batch input {', '.join(uris)}: " \
                   f"{type(exc).__name__}: {exc}"


async def create_job(request: Request) -> Response:
    state, parent = emulator(request), parent_of(request)
    try:
        body, model = await body_and_model(request, "BatchPredictionJob")
        with state.lock:
            state.stats.count_call("batchPredictionJobs.create", model.id)
        uris, prefix = _locations(get(body, "inputConfig") or {},
                                  get(body, "outputConfig") or {})
        lines, storage_error = await run_in_threadpool(_read_input, state, uris)
        timing = state.config.batch
        now = state.now()
        running_at = now + timing.pending_s
        job = PlatformJob(
            id=_numeric_id(state), parent=parent, model=model.id,
            model_path=f"publishers/google/models/{model_id_of(get(body, 'model'))}",
            input_uris=uris,
            output_prefix=prefix, create_time=now, running_at=running_at,
            done_at=running_at + timing.running_s + timing.running_s_per_request * len(lines),
            display_name=get(body, "displayName"), labels=get(body, "labels") or {},
            outcome=timing.outcome, outcome_message=timing.outcome_message,
            shuffle_output=timing.shuffle_output, storage_error=storage_error, lines=lines)
        with state.lock:
            state.platform_batches[job.id] = job
            state.stats.count("batches_created")
            state.stats.count("batch_requests", len(lines))
    except ApiError as exc:
        log_call(state, "batchPredictionJobs.create", None, exc.code)
        return exc.response()
    log_call(state, "batchPredictionJobs.create", model.id, 200)
    await run_in_threadpool(_complete_if_due, state, job)
    return JSONResponse(job.resource(state.now()))


def _locations(input_config: Json, output_config: Json) -> tuple[list[str], str]:
    """The input URIs and output prefix, or a 400 naming the field at fault."""
    if str(get(input_config, "instancesFormat") or "jsonl") != "jsonl":
        raise invalid_argument("inputConfig.instancesFormat: only jsonl from Cloud Storage is "
                               "emulated (BigQuery is not).")
    uris = get(get(input_config, "gcsSource") or {}, "uris")
    uris = [uris] if isinstance(uris, str) else uris
    if not uris or not all(isinstance(u, str) for u in uris):
        raise invalid_argument("inputConfig.gcsSource.uris is required (gs://bucket/file.jsonl).")
    for uri in uris:
        _split_gs(uri, "inputConfig.gcsSource.uris")
    prefix = get(get(output_config, "gcsDestination") or {}, "outputUriPrefix")
    if not isinstance(prefix, str) or not prefix:
        raise invalid_argument("outputConfig.gcsDestination.outputUriPrefix is required "
                               "(gs://bucket/folder).")
    _split_gs(prefix, "outputConfig.gcsDestination.outputUriPrefix")
    return uris, prefix.rstrip("/")


def _numeric_id(state: EmulatorState) -> str:
    """Platform job ids are numbers; deterministic for a seed like every other name."""
    name = state.new_id("platform-batch")
    return str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[:19]


def _complete_if_due(state: EmulatorState, job: PlatformJob) -> None:
    """Answer every row and write predictions.jsonl once the job's time has come."""
    with job.lock:
        now = state.now()
        if job.finished or job.cancelled_at is not None or job.storage_error is not None \
                or now < job.done_at:
            return
        if job.outcome != "SUCCEEDED":  # a scripted failure answers (bills) nothing
            job.finished = True
            return
        with state.lock:
            rows = [_row(state, job, n, line) for n, line in enumerate(job.lines, 1)]
        if job.shuffle_output:
            random.Random(job.id).shuffle(rows)
        folder = f"{job.output_prefix}/prediction-model-{timestamp(job.done_at)}"
        bucket, path = _split_gs(f"{folder}/predictions.jsonl", "output")
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        try:
            storage_client(state).bucket(bucket).blob(path).upload_from_string(
                data, content_type="application/jsonl")
        except Exception as exc:  # the job fails, naming where it could not write
            job.storage_error = f"Failed to write the batch output to {folder}: " \
                                f"{type(exc).__name__}: {exc}"
            return
        job.counts = {"ok": sum(1 for r in rows if not r["status"]),
                      "failed": sum(1 for r in rows if r["status"])}
        job.output_dir, job.finished = folder, True


def _row(state: EmulatorState, job: PlatformJob, n: int, line: str) -> Json:
    """One output row: the line's own fields, its status, and the response or error."""
    processed = {"processed_time": timestamp(state.now())}
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"status": _status(400, f"Line {n} of the input is not JSON: {exc.msg}."),
                **processed}
    request = get(entry, "request") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        return {**(entry if isinstance(entry, dict) else {}),
                "status": _status(400, f"Line {n} of the input has no 'request' object."),
                **processed}
    if get(request, "cachedContent"):
        result: Json = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                                  "Explicit context caches cannot be used in batch "
                                  "prediction; send the content in the request."}}
    else:
        result = answer_item(state, job.model, request)
    if "response" in result:
        return {**entry, "status": "", **processed, "response": result["response"]}
    error = result["error"]
    return {**entry, "status": _status(error["code"], error["message"], error.get("status")),
            **processed}


def _status(code: int, message: str, status: str | None = None) -> str:
    error = {"code": code, "message": message, "status": status or ApiError(code, "").status}
    return f"{_REASONS.get(code, 'Error')}: {json.dumps({'error': error})}"


def _job(state: EmulatorState, request: Request) -> PlatformJob:
    job = state.platform_batches.get(request.path_params["job_id"])
    if job is None or job.parent != parent_of(request):
        raise not_found(f"The BatchPredictionJob {parent_of(request)}/batchPredictionJobs/"
                        f"{request.path_params['job_id']} does not exist.")
    return job


async def _due_job(request: Request, method: str) -> tuple[EmulatorState, PlatformJob]:
    """The job the path names, its rows written if its time has come."""
    state = emulator(request)
    with state.lock:
        state.stats.count_call(f"batchPredictionJobs.{method}", None)
        job = _job(state, request)
    await run_in_threadpool(_complete_if_due, state, job)
    return state, job


async def get_job(request: Request) -> Response:
    state, job = await _due_job(request, "get")
    return JSONResponse(job.resource(state.now()))


async def list_jobs(request: Request) -> Response:
    state, parent = emulator(request), parent_of(request)
    with state.lock:
        state.stats.count_call("batchPredictionJobs.list", None)
        jobs = sorted((j for j in state.platform_batches.values() if j.parent == parent),
                      key=lambda j: j.create_time, reverse=True)
    for job in jobs:
        await run_in_threadpool(_complete_if_due, state, job)
    now = state.now()
    return listing(request, "batchPredictionJobs", jobs, lambda job: job.resource(now))


async def cancel_job(request: Request) -> Response:
    state, job = await _due_job(request, "cancel")
    with job.lock:
        if not job.finished and job.storage_error is None and job.cancelled_at is None:
            job.cancelled_at = state.now()
    return JSONResponse({})


async def delete_job(request: Request) -> Response:
    state, job = await _due_job(request, "delete")
    if job.state(state.now()) in ("PENDING", "RUNNING"):
        raise ApiError(400, f"The BatchPredictionJob {job.name} cannot be deleted: it has not "
                            "finished. Cancel it first.", status="FAILED_PRECONDITION")
    with state.lock:
        state.platform_batches.pop(job.id, None)
    return JSONResponse({"name": f"{job.name}/operations/{job.id}", "done": True,
                         "metadata": {"@type": "type.googleapis.com/google.cloud.aiplatform."
                                      "v1beta1.DeleteOperationMetadata"}})
