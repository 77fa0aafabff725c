"""Batch Mode: ``models/{m}:batchGenerateContent`` jobs that go PENDING → RUNNING →
SUCCEEDED on the emulator clock, with results inline or in a downloadable JSONL file.

Jobs progress lazily (whenever a job or the stats are read), so no thread is needed and
``advance_clock`` moves them on at once."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.batches.completion import complete, complete_due_batches
from flashfirst.emulator.batches.jobs import BatchItem, BatchJob
from flashfirst.emulator.calls import body_of, emulator, log_call, model_or_404
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.wire.codec import Json, get, page
from flashfirst.emulator.wire.errors import ApiError, invalid_argument, not_found


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
                complete(state, job)
            resource = job.resource(now)
    except ApiError as exc:
        log_call(state, "batchGenerateContent", model_id, exc.code)
        return exc.response()
    log_call(state, "batchGenerateContent", model.id, 200)
    return JSONResponse(resource)


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
