"""The Files API: the resumable upload protocol exactly as the SDK drives it, file
resources with PROCESSING → ACTIVE/FAILED states, and downloads of generated files.

Every chunk answer carries ``X-Goog-Upload-Status`` (the SDK retries answers without it,
waiting 1 + 2 + 4 s): ``active`` for a middle chunk, ``final`` on the finalizing one or on
an error. Answering ``final`` early makes the SDK stop sending and report success."""

from __future__ import annotations

import os
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.calls import body_of, emulator, log_call
from flashfirst.emulator.resources import StoredFile, UploadSession
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.media_probe import (
    MediaInfo,
    UnreadableMedia,
    probe_bytes,
    probe_file,
)
from flashfirst.emulator.tokens.prompt import is_probed_mime
from flashfirst.emulator.wire.codec import Json, get, page
from flashfirst.emulator.wire.errors import ApiError, file_not_found, invalid_argument, not_found

CHUNK_GRANULARITY = 8 * 1024 * 1024
_CUSTOM_NAME = re.compile(r"[a-z0-9-]{1,40}")


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def upload(request: Request) -> Response:
    """One path for both steps: 'start' opens a session, later POSTs carry its bytes."""
    if "upload_id" in request.query_params:
        return await _upload_chunk(request, request.query_params["upload_id"])
    state = emulator(request)
    with state.lock:
        state.stats.count_call("files.upload", None)
    try:
        if "start" not in request.headers.get("x-goog-upload-command", ""):
            raise invalid_argument("Only the resumable upload protocol is supported: start "
                                   "with 'X-Goog-Upload-Command: start'.")
        body = await body_of(state, request)
        file_meta = get(body, "file") or {}
        mime = request.headers.get("x-goog-upload-header-content-type") or \
            get(file_meta, "mimeType")
        if not mime:
            raise invalid_argument("The file's MIME type is required.")
        declared = request.headers.get("x-goog-upload-header-content-length") or \
            get(file_meta, "sizeBytes")
        _refuse_if_named(state, get(file_meta, "displayName"))
        file_id = _custom_id(state, get(file_meta, "name"))
        session = UploadSession(id=state.new_id("upload"),
                                declared_size=int(declared) if declared is not None else None,
                                mime_type=str(mime), display_name=get(file_meta, "displayName"),
                                file_id=file_id, part=state.new_part())
        with state.lock:
            state.uploads[session.id] = session
    except (ApiError, ValueError) as exc:
        error = exc if isinstance(exc, ApiError) else invalid_argument(str(exc))
        return error.response()
    version = request.path_params["version"]
    url = f"{base_url(request)}/upload/{version}/files?upload_id={session.id}" \
          "&upload_protocol=resumable"
    return Response(status_code=200, headers={
        "x-goog-upload-url": url, "x-goog-upload-status": "active",
        "x-goog-upload-chunk-granularity": str(CHUNK_GRANULARITY),
        "x-goog-upload-control-url": url})


def _refuse_if_named(state: EmulatorState, display_name: object) -> None:
    """The fault knob ``faults.refuse_uploads_named``: the start of the upload is refused,
    as the Files API refuses a file it will not take."""
    faults = state.config.faults
    if faults.refuse_uploads_named and faults.refuse_uploads_named in str(display_name or ""):
        raise ApiError(faults.refused_upload_status,
                       f"The file {display_name!r} was refused (injected fault).")


def _custom_id(state: EmulatorState, name: object) -> str | None:
    if not name:
        return None
    file_id = str(name).removeprefix("files/")
    if not _CUSTOM_NAME.fullmatch(file_id):
        raise invalid_argument(f"Invalid file name {name!r}: use up to 40 lowercase letters, "
                               "digits or dashes.")
    with state.lock:
        if file_id in state.files or not state.claim("file", file_id):
            raise ApiError(409, f"File files/{file_id} already exists.")
    return file_id


async def _upload_chunk(request: Request, upload_id: str) -> Response:
    state = emulator(request)
    command = request.headers.get("x-goog-upload-command", "")
    with state.lock:
        session = state.uploads.get(upload_id)
    if session is None:
        return _chunk_error(not_found(f"Upload session {upload_id} not found."))
    if "query" in command:
        return Response(status_code=200, headers={
            "x-goog-upload-status": "active",
            "x-goog-upload-size-received": str(session.received)})
    chunk = await request.body()
    offset = int(request.headers.get("x-goog-upload-offset", session.received))
    with state.lock:
        if offset != session.received:
            return _chunk_error(invalid_argument(
                f"Invalid upload offset {offset}: {session.received} bytes received so far."))
        session.append(chunk)
    if "finalize" not in command:
        return Response(status_code=200, headers={
            "x-goog-upload-status": "active",
            "x-goog-upload-size-received": str(session.received)})
    if session.declared_size is not None and session.received != session.declared_size:
        with state.lock:
            state.uploads.pop(upload_id, None)
            session.discard()
            if session.file_id:
                state.release("file", session.file_id)
        return _chunk_error(invalid_argument(
            f"Upload size mismatch: declared {session.declared_size} bytes, received "
            f"{session.received}."))
    stored = await _store(state, session)
    log_call(state, "files.upload", None, 200)
    return JSONResponse({"file": stored.resource(base_url(request), state.now())},
                        headers={"x-goog-upload-status": "final"})


def _chunk_error(error: ApiError) -> Response:
    response = error.response()
    response.headers["x-goog-upload-status"] = "final"
    return response


async def _store(state: EmulatorState, session: UploadSession) -> StoredFile:
    data = None if session.part is not None else bytes(session.buffer)
    media, error = None, None
    if is_probed_mime(session.mime_type):
        try:
            media = await run_in_threadpool(_probe, session, data)
        except UnreadableMedia as exc:
            error = f"File could not be processed: {exc.cause}"
    now = state.now()
    config = state.config
    file_id = session.file_id or state.new_id("file")
    blob = state.blob_path(file_id)
    if session.part is not None and blob is not None:
        os.replace(session.part, blob)
    stored = StoredFile(id=file_id, mime_type=session.mime_type, size_bytes=session.received,
                        sha256_hex=session.hasher.hexdigest(), create_time=now,
                        ready_time=now + config.file_processing_s,
                        expire_time=now + config.file_ttl_s, display_name=session.display_name,
                        media=media, error=error, data=data, blob=blob)
    with state.lock:
        state.uploads.pop(session.id, None)
        state.files[stored.id] = stored
        state.save(stored)
        state.stats.count("uploads")
        state.stats.count("upload_bytes", stored.size_bytes)
    return stored


def _probe(session: UploadSession, data: bytes | None) -> MediaInfo:
    """From the bytes in memory, or from the part file without reading it whole."""
    if data is not None or session.part is None:
        return probe_bytes(data or b"", session.display_name or "upload")
    return probe_file(session.part)


def _live_file(state: EmulatorState, file_id: str) -> StoredFile:
    with state.lock:
        stored = state.files.get(file_id)
        if stored is None or state.now() >= stored.expire_time:
            raise file_not_found(file_id)
        return stored


async def get_file(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("files.get", None)
    try:
        stored = _live_file(state, request.path_params["file_id"])
    except ApiError as exc:
        return exc.response()
    return JSONResponse(stored.resource(base_url(request), state.now()))


async def delete_file(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("files.delete", None)
    try:
        stored = _live_file(state, request.path_params["file_id"])
    except ApiError as exc:
        return exc.response()
    with state.lock:
        state.files.pop(stored.id, None)
        state.discard(stored)
    return JSONResponse({})


async def list_files(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("files.list", None)
        now = state.now()
        live = sorted((f for f in state.files.values() if now < f.expire_time),
                      key=lambda f: f.create_time)
    try:
        chunk, token = page(live, request.query_params, 10, 100)
    except ApiError as exc:
        return exc.response()
    answer: Json = {"files": [f.resource(base_url(request), now) for f in chunk]}
    if token:
        answer["nextPageToken"] = token
    return JSONResponse(answer)


async def download_file(request: Request) -> Response:
    """Only generated files (batch results) can be downloaded, as on the real API."""
    state = emulator(request)
    with state.lock:
        state.stats.count_call("files.download", None)
    try:
        stored = _live_file(state, request.path_params["file_id"])
        if stored.source != "GENERATED":
            raise invalid_argument("Only generated files can be downloaded; uploaded files "
                                   "cannot.")
    except ApiError as exc:
        return exc.response()
    return Response(stored.read(), media_type=stored.mime_type)
