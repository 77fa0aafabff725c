"""Deliver prepared files where the model reads them: inline bytes (small, allowed by
the policy), the Gemini Files API (wait for ACTIVE), or ``gs://`` for Vertex AI.

A Files API upload is remembered in the item's sidecar; a later run asks the API whether
that file still exists and is ACTIVE (files expire after 48 hours) before reusing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from flashfirst.client import backend_id
from flashfirst.errors import MediaError, MediaUploadError
from flashfirst.media.prepared import MediaRecord, MediaStore, StoredFile
from flashfirst.settings import BackendKind, Settings
from flashfirst.storage import is_gcs

ACTIVE_TIMEOUT_S = 600.0
_POLL_FIRST_S, _POLL_MAX_S = 0.2, 5.0


@dataclass
class Delivery:
    main: StoredFile | None
    keyframes: list[StoredFile]
    uploaded: bool


def is_vertex(settings: Settings, client: genai.Client | None) -> bool:
    return (settings.backend.kind is BackendKind.VERTEX
            or bool(client is not None and client.vertexai))


def deliver(item_id: str, record: MediaRecord, *, inline: bool, fresh: bool,
            settings: Settings, store: MediaStore, client: genai.Client | None) -> Delivery:
    """Inline when allowed and small; else gs:// (Vertex) or the Files API (with a
    client); else leave the files prepared but undelivered (a dry run)."""
    files = record.files
    if inline and sum(f.size_bytes for f in files) <= settings.media.inline_max_bytes:
        loaded = [f.model_copy(update={"inline_data": store.storage.read_bytes(f.uri)})
                  for f in files]
        return _split(record, loaded, uploaded=False)
    if is_vertex(settings, client):
        if not all(is_gcs(f.uri) for f in files):
            raise MediaError(item_id, "Vertex AI reads media from gs:// only: set "
                             "FLASHFIRST_STORAGE_ROOT to a gs:// bucket, or allow inline "
                             f"delivery for files under {settings.media.inline_max_bytes} bytes")
        # Writing the prepared file into the bucket was the upload.
        return _split(record, [f.model_copy(update={"file_uri": f.uri}) for f in files],
                      uploaded=fresh)
    if client is None:  # a dry run: a remembered upload is not checked, so not offered
        unchecked = [f.model_copy(update={"file_uri": None, "file_name": None}) for f in files]
        return _split(record, unchecked, uploaded=False)
    delivered, uploaded = [], False
    here = backend_id(settings)
    for f in files:
        if f.file_name and f.uploaded_to == here and _still_active(item_id, client, f):
            delivered.append(f)
            continue
        delivered.append(upload_file(item_id, client, store, f).model_copy(
            update={"uploaded_to": here}))
        uploaded = True
    if uploaded:
        main = delivered[0] if record.main else None
        store.save(record.model_copy(update={
            "main": main, "keyframes": delivered[1:] if record.main else delivered}))
    return _split(record, delivered, uploaded=uploaded)


def _split(record: MediaRecord, files: list[StoredFile], *, uploaded: bool) -> Delivery:
    if record.main:
        return Delivery(files[0], files[1:], uploaded)
    return Delivery(None, files, uploaded)


def _display_name(f: StoredFile) -> str:
    """The stored file's name (content key + suffix): how we recognise our upload."""
    return f.uri.rsplit("/", 1)[-1]


def _still_active(item_id: str, client: genai.Client, f: StoredFile) -> bool:
    """True when the remembered upload is ours, present and ACTIVE (or becomes so)."""
    try:
        remote = client.files.get(name=f.file_name or "")
    except genai_errors.ClientError as exc:
        if exc.code in (403, 404):
            return False
        raise _upload_error(item_id, f, exc) from exc
    except (genai_errors.APIError, httpx2.HTTPError) as exc:
        raise _upload_error(item_id, f, exc) from exc
    if remote.display_name and remote.display_name != _display_name(f):
        return False
    if remote.size_bytes and remote.size_bytes != f.size_bytes:
        return False
    if remote.state == types.FileState.PROCESSING:
        remote = _wait_active(item_id, client, remote)
    return remote.state == types.FileState.ACTIVE


def upload_file(item_id: str, client: genai.Client, store: MediaStore,
                f: StoredFile) -> StoredFile:
    """Upload one prepared file to the Files API and wait until it is ACTIVE."""
    try:
        with store.storage.local_copy(f.uri) as local:
            remote = client.files.upload(file=Path(local), config=types.UploadFileConfig(
                mime_type=f.mime_type, display_name=_display_name(f)))
    except (genai_errors.APIError, httpx2.HTTPError, OSError) as exc:
        raise _upload_error(item_id, f, exc) from exc
    if remote.state != types.FileState.ACTIVE:
        remote = _wait_active(item_id, client, remote)
    return f.model_copy(update={"file_name": remote.name, "file_uri": remote.uri})


def _wait_active(item_id: str, client: genai.Client, remote: types.File) -> types.File:
    deadline = time.monotonic() + ACTIVE_TIMEOUT_S
    delay = _POLL_FIRST_S
    while remote.state not in (types.FileState.ACTIVE, types.FileState.FAILED):
        if time.monotonic() > deadline:
            raise MediaUploadError(item_id, f"Files API file {remote.name} still "
                                   f"{remote.state} after {ACTIVE_TIMEOUT_S:.0f} s",
                                   transient=True)
        time.sleep(delay)
        delay = min(delay * 1.5, _POLL_MAX_S)
        try:
            remote = client.files.get(name=remote.name or "")
        except (genai_errors.APIError, httpx2.HTTPError) as exc:
            raise MediaUploadError(item_id, f"polling {remote.name}: {exc}",
                                   transient=True) from exc
    if remote.state == types.FileState.FAILED:
        reason = remote.error.message if remote.error and remote.error.message else "no reason"
        raise MediaUploadError(item_id, f"Files API could not process {remote.name} "
                               f"({remote.mime_type}): {reason}", transient=False)
    return remote


def _upload_error(item_id: str, f: StoredFile, exc: Exception) -> MediaUploadError:
    """Rate limits, server errors and dropped connections are worth a retry."""
    transient = isinstance(exc, httpx2.TransportError | genai_errors.ServerError | OSError) or (
        isinstance(exc, genai_errors.ClientError) and exc.code in (408, 429))
    return MediaUploadError(item_id, f"uploading {f.uri} to the Files API failed: {exc}",
                            transient=transient)
