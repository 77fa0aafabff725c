"""Batch Mode: ``models/{m}:batchGenerateContent`` jobs that go PENDING → RUNNING →
SUCCEEDED on the emulator clock, with results inline or in a downloadable JSONL file.

Jobs progress lazily (whenever a job or the stats are read), so no thread is needed and
``advance_clock`` moves them on at once."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.batches.jobs import BatchItem, BatchJob
from flashfirst.emulator.generate.answers import build_response
from flashfirst.emulator.generate.endpoints import (
    body_of,
    emulator,
    log_call,
    model_or_404,
    prepare,
)
from flashfirst.emulator.generate.thinking import thinking_of, thinking_rank
from flashfirst.emulator.resources import StoredFile
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.stats import LogEntry
from flashfirst.emulator.wire.codec import Json, get, page, request_shape
from flashfirst.emulator.wire.errors import ApiError, invalid_argument, model_not_found, not_found


def _parse_items(state: EmulatorState, input_config: Json) -> tuple[list[BatchItem], str | None]:
    file_name = get(input_config, "fileName")
    if file_name:
        file_id = str(file_name).removeprefix("files/")
        with state.lock:
            stored = state.files.get(file_id)
            usable = stored is not None and stored.state(state.now()) == "ACTIVE"
        if stored is None or not usable:
            raise invalid_argument(f"Input file {file_name} not found or not ACTIVE.")
        items = []
        for n, line in enumerate(stored.read().decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise invalid_argument(f"Invalid JSON on line {n} of {file_name}.") from exc
            if not isinstance(row, dict) or not isinstance(get(row, "request"), dict):
                raise invalid_argument(f"Line {n} of {file_name} has no 'request' object.")
            items.append(BatchItem(request=row["request"], key=row.get("key")))
        return items, f"files/{file_id}"
    requests = get(get(input_config, "requests") or {}, "requests")
    if not isinstance(requests, list) or not requests:
        raise invalid_argument("Batch input_config needs requests or a file_name.")
    return [BatchItem(request=get(r, "request") or {}, metadata=get(r, "metadata"))
            for r in requests], None


async def create_batch(request: Request) -> Response:
    state = emulator(request)
    model_id: str | None = request.path_params["model"]
    try:
        model = model_or_404(state, request, "batchGenerateContent")
        with state.lock:
            state.stats.count_call("batchGenerateContent", model.id)
        body = await body_of(state, request)
        batch = get(body, "batch") or {}
        items, input_file = _parse_items(state, get(batch, "inputConfig") or {})
        timing = state.config.batch
        now = state.now()
        running_at = now + timing.pending_s
        job = BatchJob(id=state.new_id("batch"), model=model.id, items=items, create_time=now,
                       running_at=running_at,
                       done_at=running_at + timing.running_s
                       + timing.running_s_per_request * len(items),
                       display_name=get(batch, "displayName"), input_file=input_file,
                       outcome=timing.outcome, outcome_message=timing.outcome_message,
                       shuffle_output=timing.shuffle_output,
                       webhook_config=get(batch, "webhookConfig"))
        with state.lock:
            state.batches[job.id] = job
            state.save(job)
            state.stats.count("batches_created")
            state.stats.count("batch_requests", len(items))
            if now >= job.done_at:  # no waiting configured: it is done as it is created
                _complete(state, job)
            resource = job.resource(now)
    except ApiError as exc:
        log_call(state, "batchGenerateContent", model_id, exc.code)
        return exc.response()
    log_call(state, "batchGenerateContent", model.id, 200)
    return JSONResponse(resource)


def complete_due_batches(state: EmulatorState) -> None:
    """Answer every job whose time has come; called before any batch or stats read."""
    with state.lock:
        now = state.now()
        for job in state.batches.values():
            if not job.finished and job.cancelled_at is None and now >= job.done_at:
                _complete(state, job)


def _complete(state: EmulatorState, job: BatchJob) -> None:
    job.finished = True
    if job.outcome == "CANCELLED":
        job.cancelled_at = job.done_at
    if job.outcome != "SUCCEEDED":  # a failed, expired or cancelled job answers (bills) nothing
        state.save(job)
        return
    for item in job.items:
        item.result = _answer_item(state, job.model, item.request)
        job.counts["ok" if "response" in item.result else "failed"] += 1
    if job.input_file is not None:
        lines = []
        for item in job.answer_order():
            row = {"key": item.key, **(item.result or {})} if item.key is not None \
                else dict(item.result or {})
            lines.append(json.dumps(row))
        data = ("\n".join(lines) + "\n").encode()
        file_id = f"batch-{job.id}"
        stored = StoredFile(
            id=file_id, mime_type="application/jsonl", size_bytes=len(data), data=data,
            sha256_hex=hashlib.sha256(data).hexdigest(), create_time=job.done_at,
            ready_time=job.done_at, expire_time=job.done_at + state.config.file_ttl_s,
            display_name=f"{job.name} responses", source="GENERATED")
        state.files[file_id] = stored
        state.save(stored)
        job.responses_file = f"files/{file_id}"
    state.save(job)


def _answer_item(state: EmulatorState, default_model: str, request: Json) -> Json:
    """One request answered as generateContent would, billed at the batch tier."""
    model_id = str(get(request, "model") or default_model).removeprefix("models/")
    try:
        model = state.serving(model_id)
        if model is None:
            raise model_not_found(model_id, "v1beta", "batchGenerateContent")
        call = prepare(state, model, request)
        script = state.match_script(model.id, call.prompt.text, model_id, thinking_rank(
            thinking_of(model, get(request, "generationConfig") or {})))
        if script is not None and script.status is not None:
            raise ApiError(script.status, script.message or f"Scripted error {script.status}.")
        response = build_response(seed=state.config.seed, model=model, request=request,
                                  prompt=call.prompt, cache=call.cache, script=script,
                                  quality=state.config.quality)
    except ApiError as exc:
        state.stats.record(LogEntry(time=state.now(), endpoint="batch", model=model_id,
                                    status=exc.code, tier_served="batch"))
        return {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
    usage = response["usageMetadata"]
    state.stats.record_answer(model.id, "batch", usage)
    state.stats.record(LogEntry(
        time=state.now(), endpoint="batch", model=model.id, tier_served="batch", usage=usage,
        thinking_config=get(get(request, "generationConfig") or {}, "thinkingConfig"),
        **request_shape(request)))
    return {"response": response}


def _job(state: EmulatorState, request: Request) -> BatchJob:
    job = state.batches.get(request.path_params["batch_id"])
    if job is None:
        raise not_found(f"Batch batches/{request.path_params['batch_id']} not found.")
    return job


async def get_batch(request: Request) -> Response:
    state = emulator(request)
    complete_due_batches(state)
    with state.lock:
        state.stats.count_call("batches.get", None)
        try:
            return JSONResponse(_job(state, request).resource(state.now()))
        except ApiError as exc:
            return exc.response()


async def list_batches(request: Request) -> Response:
    state = emulator(request)
    complete_due_batches(state)
    with state.lock:
        state.stats.count_call("batches.list", None)
        now = state.now()
        jobs = sorted(state.batches.values(), key=lambda j: j.create_time, reverse=True)
        try:
            chunk, token = page(jobs, request.query_params, 10, 100)
        except ApiError as exc:
            return exc.response()
        answer: Json = {"operations": [_listed(j.resource(now)) for j in chunk]}
    if token:
        answer["nextPageToken"] = token
    return JSONResponse(answer)


def _listed(resource: Json) -> Json:
    """A job as the list shows it: inline jobs without their responses (Google's list omits
    them, as the cookbook's recorded outputs show; a get returns them)."""
    for holder in (resource["metadata"].get("output"), resource.get("response")):
        if isinstance(holder, dict):
            holder.pop("inlinedResponses", None)
    return resource


async def cancel_batch(request: Request) -> Response:
    state = emulator(request)
    complete_due_batches(state)
    with state.lock:
        state.stats.count_call("batches.cancel", None)
        try:
            job = _job(state, request)
        except ApiError as exc:
            return exc.response()
        if not job.finished and job.cancelled_at is None:
            job.cancelled_at = state.now()
            state.save(job)
    return JSONResponse({})


async def delete_batch(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("batches.delete", None)
        try:
            job = _job(state, request)
        except ApiError as exc:
            return exc.response()
        del state.batches[job.id]
        state.discard(job)
    return JSONResponse({})
