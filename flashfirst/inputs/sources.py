"""Request parts for what is not media: inline text, text files and documents, and the
shared context's documents."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import time
from pathlib import PurePosixPath

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.caching.manager import PreparedContext
from flashfirst.errors import ItemError, StorageError
from flashfirst.failures import Failure, FailureKind, api_failure_kind
from flashfirst.gemini.token_rules import MediaResolution, text_tokens
from flashfirst.inputs.context import CONTEXT_PREFIX, SharedContext, hash_parts
from flashfirst.inputs.extensions import OFFICE_MIME_TYPES
from flashfirst.items import WorkItem
from flashfirst.media.prepared import PreparedMedia
from flashfirst.media.split import SegmentParts
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage

_TEXT_SUFFIXES = {".txt", ".md", ".html", ".json", ".csv", ".xml", ".yaml", ".yml"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SourceParts(BaseModel):
    """An item's own parts and its content identity (what the answer store keys on)."""

    identity: str
    parts: list[types.Part] = Field(default_factory=list)
    tokens: int = Field(0, description="Of the parts; of the largest segment for a split.")
    segments: list[SegmentParts] = Field(
        default_factory=list, description="Media split to fit its window: one call each.")


def text_or_document_parts(item: WorkItem, storage: Storage, client: genai.Client,
                           settings: Settings) -> SourceParts:
    """For text items (inline or a file) and documents (Office, OpenDocument): read,
    identify, attach."""
    if item.uri is None:
        text = item.text or ""
        return SourceParts(identity=sha256(text.encode()), tokens=text_tokens(text))
    try:
        data = storage.read_bytes(item.uri, item.generation)
    except StorageError as exc:
        raise ItemError(item.id, str(exc), FailureKind.STORAGE) from exc
    if not data:
        raise ItemError(item.id, f"{item.uri}: file is empty (0 bytes)")
    part = document_part(item.uri, data, client, settings, item_id=item.id)
    tokens = text_tokens(part.text) if part.text else 0
    return SourceParts(identity=sha256(data), parts=[part], tokens=tokens)


def document_part(uri: str, data: bytes, client: genai.Client, settings: Settings,
                  item_id: str | None = None) -> types.Part:
    """Text as text; other documents inline under the limit, else through the Files API."""
    suffix = PurePosixPath(uri).suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        try:
            return types.Part(text=data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ItemError(item_id or uri, f"{uri}: not UTF-8 text ({exc.reason})") from exc
    mime = OFFICE_MIME_TYPES.get(suffix) or mimetypes.guess_type(uri)[0] or "application/pdf"
    if len(data) <= settings.media.inline_max_bytes:
        return types.Part(inline_data=types.Blob(data=data, mime_type=mime))
    return types.Part(file_data=types.FileData(
        file_uri=_upload(client, uri, data, mime, item_id), mime_type=mime))


def _upload(client: genai.Client, uri: str, data: bytes, mime: str, item_id: str | None) -> str:
    """The document through the Files API; a refusal or an outage fails this item only."""
    try:
        f = client.files.upload(file=io.BytesIO(data), config=types.UploadFileConfig(
            mime_type=mime, display_name=PurePosixPath(uri).name))
        while f.state and f.state.name == "PROCESSING":
            time.sleep(0.2)
            f = client.files.get(name=f.name)
    except (genai_errors.APIError, httpx2.HTTPError) as exc:
        raise ItemError(item_id or uri, f"{uri}: the Files API did not take it: {exc}",
                        _upload_failure_kind(exc)) from exc
    if f.state and f.state.name == "FAILED":
        raise ItemError(item_id or uri, f"{uri}: the Files API could not process it",
                        FailureKind.UPLOAD_FAILED)
    return f.uri


def _upload_failure_kind(exc: Exception) -> FailureKind:
    """Transient (429, 5xx, a dropped connection: run again) or the file's own fault."""
    if isinstance(exc, httpx2.TransportError) or (
            isinstance(exc, genai_errors.APIError)
            and api_failure_kind(exc.code, exc.status) is FailureKind.TRANSIENT):
        return FailureKind.TRANSIENT
    return FailureKind.UPLOAD_FAILED


def prepare_context(context: SharedContext, storage: Storage, client: genai.Client,
                    settings: Settings, media_parts: dict[str, list[types.Part]] | None = None,
                    ) -> PreparedContext | None:
    """Read the shared documents, hash their bytes, count the tokens once."""
    if not context.system_instruction and not context.documents:
        return None
    parts: list[types.Part] = []
    blobs: list[bytes] = []
    for uri in context.documents:
        data = storage.read_bytes(uri)
        blobs.append(data)
        if media_parts and uri in media_parts:
            parts.extend(media_parts[uri])
        else:
            parts.append(document_part(uri, data, client, settings, item_id=f"context:{uri}"))
    tokens = text_tokens(context.system_instruction or "")
    if parts:
        counted = client.models.count_tokens(
            model=settings.models.flash.id, contents=[types.Content(role="user", parts=parts)])
        tokens += counted.total_tokens or 0
    return PreparedContext(content_hash=hash_parts(None, context.system_instruction, blobs),
                           system_instruction=context.system_instruction, parts=parts,
                           tokens=tokens)


def context_media_items(context: SharedContext) -> list[WorkItem]:
    """Shared-context media (a reference video, a recording) goes through the media stage."""
    from flashfirst.inputs.discover import item_for_uri

    items = []
    for uri in context.documents:
        item = item_for_uri(uri, item_id=f"{CONTEXT_PREFIX}{uri}")
        if item is not None and item.kind in (MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.IMAGE):
            items.append(item)
    return items


def context_parts(prepared: dict, context_items: list[WorkItem]) -> dict[str, list[types.Part]]:
    from flashfirst.media import to_parts

    return {i.uri: to_parts(prepared[i.id]) for i in context_items if i.id in prepared}


def media_sources(prepared: dict) -> dict[str, SourceParts]:
    """Media items' parts; identity is the media key (content + settings + policy)."""
    from flashfirst.media import to_parts

    return {item_id: SourceParts(
        identity=p.key, parts=to_parts(p), segments=segment_parts(p),
        tokens=max([s.stats.tokens_after.total for s in p.segments]
                   or [p.stats.tokens_after.total]))
        for item_id, p in prepared.items() if not item_id.startswith(CONTEXT_PREFIX)}


def segment_parts(prepared: PreparedMedia) -> list[SegmentParts]:
    from flashfirst.media import to_parts

    return [SegmentParts(index=i, start_s=s.span[0], end_s=s.span[1], owns_from_s=s.span[2],
                         parts=to_parts(s), tokens=s.stats.tokens_after.total, identity=s.key,
                         media_resolution=s.media_resolution)
            for i, s in enumerate(prepared.segments, start=1) if s.span is not None]


def media_resolutions(prepared: dict) -> dict[str, MediaResolution]:
    return {i: p.media_resolution for i, p in prepared.items()}


def needs_media_stage(item: WorkItem) -> bool:
    """Text and Office documents are read as sources; the rest is media."""
    return item.kind not in (MediaKind.TEXT, MediaKind.OFFICE)


def read_texts(items: list[WorkItem], storage: Storage, client: genai.Client,
               settings: Settings) -> tuple[dict[str, SourceParts], dict[str, Failure]]:
    """Parts of text and document items; an item that cannot be read is a failure named
    by its id, and its siblings go on."""
    parts: dict[str, SourceParts] = {}
    failures: dict[str, Failure] = {}
    for item in items:
        try:
            parts[item.id] = text_or_document_parts(item, storage, client, settings)
        except ItemError as exc:
            failures[item.id] = Failure(kind=exc.kind, message=exc.cause)
    return parts, failures
