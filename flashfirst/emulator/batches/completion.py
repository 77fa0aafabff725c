"""A batch job's end: when its time comes, each line answered as generateContent would
(billed at the batch tier) and, for a file input, the answers written as a JSONL file.
The Agent Platform's batch jobs answer their lines here too."""

from __future__ import annotations

import hashlib
import json

from flashfirst.emulator.batches.jobs import BatchJob
from flashfirst.emulator.generate.answers import build_response
from flashfirst.emulator.generate.serving import prepare
from flashfirst.emulator.generate.thinking import thinking_of, thinking_rank
from flashfirst.emulator.resources import StoredFile
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.stats import LogEntry
from flashfirst.emulator.wire.codec import Json, get, request_shape
from flashfirst.emulator.wire.errors import ApiError, model_not_found


def complete_due_batches(state: EmulatorState) -> None:
    """Answer every job whose time has come; called before any batch or stats read."""
    with state.lock:
        now = state.now()
        for job in state.batches.values():
            if not job.finished and job.cancelled_at is None and now >= job.done_at:
                complete(state, job)


def complete(state: EmulatorState, job: BatchJob) -> None:
    """End a job as its outcome says; only a succeeded one answers (and bills) its lines."""
    job.finished = True
    if job.outcome == "CANCELLED":
        job.cancelled_at = job.done_at
    if job.outcome != "SUCCEEDED":  # a failed, expired or cancelled job answers (bills) nothing
        state.save(job)
        return
    for item in job.items:
        item.result = answer_item(state, job.model, item.request)
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


def answer_item(state: EmulatorState, default_model: str, request: Json) -> Json:
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
