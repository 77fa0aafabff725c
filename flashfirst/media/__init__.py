"""Media preparation: make each item's media as small and cheap as its analysis allows,
deliver it where the model reads it, and account honestly for what that saved.

``prepare_media`` is the one entry point; it knows nothing of Prefect (``tasks/media.py``
wraps it). A second call with the same content and settings reuses the stored outputs
(no ffmpeg) and the remembered upload (no upload) and says so in ``stats``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from google import genai

from flashfirst.errors import (
    FfmpegFailed,
    MediaError,
    MediaUploadError,
    NotDelivered,
    NoUsableOutput,
    ProbeError,
    StorageError,
)
from flashfirst.failures import FailureKind
from flashfirst.gemini.catalogue import load_catalogue, media_rules_of
from flashfirst.gemini.token_rules import MediaRules, text_tokens
from flashfirst.inputs.prompts import prompt_for
from flashfirst.items import FitPolicy, MediaPolicy, WorkItem
from flashfirst.media.accounting import (
    MediaStats,
    SentMedia,
    explain,
    frames_as_is,
    frames_in,
    tokens_as_is,
    tokens_sent,
)
from flashfirst.media.downsample import Converted, convert
from flashfirst.media.ffmpeg_cmd import ffmpeg_invocations
from flashfirst.media.fit import Window, check_window, fit_to_window
from flashfirst.media.parts import request_media_resolution, to_parts
from flashfirst.media.policies import (
    POLICY_EFFECTS,
    Plan,
    ResolvedPolicy,
    effective_kind,
    plan_media,
    resolve_policy,
)
from flashfirst.media.prepared import (
    MediaRecord,
    MediaStore,
    PreparedMedia,
    StoredFile,
)
from flashfirst.media.source import probe_source
from flashfirst.media.source_read import SourceRead, read_source
from flashfirst.media.split_media import prepare_split
from flashfirst.media.upload import Delivery, deliver
from flashfirst.probe import MediaInfo, MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage

__all__ = [
    "POLICY_EFFECTS", "MediaStats", "MediaUploadError", "NotDelivered", "PreparedMedia",
    "StoredFile", "ffmpeg_invocations", "prepare_media", "request_media_resolution",
    "to_parts",
]

_MEDIA_KINDS = (MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.IMAGE, MediaKind.DOCUMENT)


def prepare_media(item: WorkItem, settings: Settings, storage: Storage,
                  client: genai.Client | None, policy: MediaPolicy | None = None,
                  model: str | None = None, *, context_tokens: int = 0) -> PreparedMedia:
    """Prepare, store and deliver one item's media.

    ``policy`` is the run's default; ``item.media_policy`` overrides it field by field.
    ``model``: the model the item is routed to (default: the Flash tier's); its family's
    token rules do the accounting (what serves a retired id, as the catalogue says), and
    its window, less the prompt and ``context_tokens`` (the run's shared context), is what
    the item must fit.
    With ``client=None`` nothing is uploaded (inline delivery still applies). Every
    failure of this item raises ``MediaError`` naming the item and the cause."""
    if item.kind not in _MEDIA_KINDS:
        raise MediaError(item.id, f"a {item.kind.value} item has no media to prepare")
    if not item.uri:
        raise MediaError(item.id, "no source URI: nothing to prepare")
    try:
        resolved = resolve_policy(policy, item.media_policy)
    except ValueError as exc:
        raise MediaError(item.id, f"media policy: {exc}", FailureKind.BAD_INPUT) from exc
    store = MediaStore(storage, settings.storage_root)
    window = _window(item, settings, model, context_tokens)
    try:
        with storage.local_copy(item.uri, item.generation) as src:
            # A video is indexed while it is hashed: its decode plan needs the index.
            read = read_source(src, index=item.kind is MediaKind.VIDEO
                               and not resolved.keyframes_as_images)

            def prepare(part: WorkItem, part_policy: ResolvedPolicy) -> PreparedMedia:
                return _prepare_local(part, src, read, part_policy, settings, store, client,
                                      window)

            if resolved.fit is FitPolicy.SPLIT:
                return prepare_split(item, _probe(item, src), src, resolved, settings.media,
                                     window, prepare)
            return prepare(item, resolved)
    except StorageError as exc:
        raise MediaError(item.id, str(exc), FailureKind.STORAGE) from exc
    except OSError as exc:
        raise MediaError(item.id, f"{item.uri}: {exc.strerror or exc}") from exc


def _prepare_local(item: WorkItem, src: Path, read: SourceRead, resolved: ResolvedPolicy,
                   settings: Settings, store: MediaStore, client: genai.Client | None,
                   window: Window) -> PreparedMedia:
    """One item (or one segment of it: a trimmed policy) from its local copy."""
    fit_note = fit = None
    if resolved.fit is not None:
        fitted = fit_to_window(_probe(item, src), item.kind, resolved, settings.media,
                               window)
        resolved, fit_note, fit = fitted.policy, fitted.note, fitted.record
    key = MediaStore.key_for(read.sha256, item.kind, settings.media, resolved)
    with store.lock(key):
        record = store.load(key)
        reused = record is not None
        if record is None:
            record = _prepare_fresh(item, src, read, key, resolved, settings, store)
        check_window(item.id, item.uri or "", _sent(record, resolved, window.rules),
                     resolved, settings.media, window)
        delivery = deliver(item.id, record, inline=resolved.inline, fresh=not reused,
                           settings=settings, store=store, client=client)
    prepared = _prepared(item, record, delivery, resolved, window.rules, reused=reused)
    if fit_note:
        prepared.stats.notes.append(fit_note)
        prepared.stats.fit = fit
    return prepared


def _window(item: WorkItem, settings: Settings, model: str | None,
            context_tokens: int) -> Window:
    """The window of the model that will serve the item, less its prompt and context."""
    catalogue = load_catalogue(settings.model_catalogue_path)
    requested = model or item.model or settings.models.flash.id
    info = catalogue.find(catalogue.served_id(requested))
    # An id the catalogue does not know: Gemini's window since 1.5, 1,048,576 tokens.
    tokens = info.context_window if info is not None else 1_048_576
    return Window(model=info.id if info is not None else requested, tokens=tokens,
                  prompt_tokens=text_tokens(prompt_for(item)), context_tokens=context_tokens,
                  rules=media_rules_of(catalogue, requested))


def _probe(item: WorkItem, src: Path) -> MediaInfo:
    try:
        return probe_source(src, item.uri or "")
    except ProbeError as exc:
        raise MediaError(item.id, f"{item.uri}: {exc.cause}") from exc


def _prepare_fresh(item: WorkItem, src: Path, read: SourceRead, key: str,
                   policy: ResolvedPolicy, settings: Settings, store: MediaStore
                   ) -> MediaRecord:
    uri = item.uri or ""
    try:
        info = probe_source(src, uri)
        kind = effective_kind(item.kind, info)
        plan = plan_media(kind, info, policy, settings.media)
    except ProbeError as exc:
        raise MediaError(item.id, f"{uri}: {exc.cause}") from exc
    except ValueError as exc:
        raise MediaError(item.id, f"{uri}: {exc}") from exc
    record = MediaRecord(key=key, source_uri=uri, source_sha256=read.sha256, source=info,
                         kind=kind, metadata_fps=plan.metadata_fps, pages=info.pages)
    if plan.passthrough:
        record = _store_passthrough(src, info, plan, record, store)
    else:
        with tempfile.TemporaryDirectory(prefix="flashfirst-media-") as tmp:
            try:
                converted = convert(src, info, plan, settings.media, Path(tmp), read)
            except FfmpegFailed as exc:
                raise MediaError(item.id, f"{uri}: ffmpeg could not convert it "
                                 f"({exc.stderr_tail})") from exc
            except NoUsableOutput as exc:
                raise MediaError(item.id, f"{uri}: {exc}") from exc
            record = _store_converted(converted, plan, record, store)
    store.save(record)
    return record


def _store_passthrough(src: Path, info: MediaInfo, plan: Plan, record: MediaRecord,
                       store: MediaStore) -> MediaRecord:
    """Already compact: keep the bytes; a trim becomes videoMetadata offsets."""
    stored = _put(store, src, record.key + plan.ext, plan.mime_type, info)
    duration = info.duration_s
    if plan.offsets is not None:
        start, end = plan.offsets
        duration = (end if end is not None else info.duration_s) - start
    start, end = plan.offsets or (0.0, None)
    end = info.duration_s if end is None else end
    audio_s = None if info.audio_duration_s is None \
        else max(0.0, min(end, info.audio_duration_s) - start)
    return record.model_copy(update={
        "main": stored, "duration_s": duration, "offsets": plan.offsets,
        "has_audio": plan.keep_audio and info.has_audio, "audio_duration_s": audio_s})


def _store_converted(converted: Converted, plan: Plan, record: MediaRecord,
                     store: MediaStore) -> MediaRecord:
    main = None
    if converted.main is not None and converted.main_info is not None:
        main = _put(store, converted.main, record.key + plan.ext, plan.mime_type,
                    converted.main_info)
    keyframes = [_put(store, kf.path, f"{record.key}-kf{i:03d}.jpg", "image/jpeg", kf.info)
                 .model_copy(update={"at_s": kf.at_s})
                 for i, kf in enumerate(converted.keyframes, start=1)]
    start, end = plan.trim or (0.0, None)
    span = (end if end is not None else record.source.duration_s) - start
    # A video's last frame lasts 1/fps, so its container can run up to one sampling
    # period past the source: what is sent still covers only the source's span.
    duration = span if converted.main_info is None else min(span, converted.main_info.duration_s)
    has_audio = bool(converted.main_info and converted.main_info.has_audio)
    return record.model_copy(update={
        "main": main, "keyframes": keyframes, "duration_s": duration, "has_audio": has_audio,
        "audio_duration_s": converted.main_info.audio_duration_s if converted.main_info
        else None, "ffmpeg_seconds": converted.ffmpeg_seconds})


def _put(store: MediaStore, local: Path, name: str, mime: str, info: MediaInfo) -> StoredFile:
    uri = store.uri(name, "")
    store.storage.upload_file(local, uri, content_type=mime)
    return StoredFile(uri=uri, mime_type=mime, size_bytes=info.size_bytes,
                      width=info.width, height=info.height)


def _sent(record: MediaRecord, policy: ResolvedPolicy, rules: MediaRules) -> SentMedia:
    """What the request will carry, as billing sees it."""
    sizes = [(k.width or 0, k.height or 0) for k in record.keyframes]
    if record.kind is MediaKind.IMAGE and record.main:
        sizes = [(record.main.width or 0, record.main.height or 0)]
    return SentMedia(kind=record.kind, duration_s=record.duration_s,
                     has_audio=record.has_audio, sample_fps=record.metadata_fps or 1.0,
                     resolution=policy.media_resolution, image_sizes=sizes,
                     pages=record.pages or 0, as_keyframes=bool(record.keyframes),
                     audio_duration_s=record.audio_duration_s, rules=rules)


def _prepared(item: WorkItem, record: MediaRecord, delivery: Delivery, policy: ResolvedPolicy,
              rules: MediaRules, *, reused: bool) -> PreparedMedia:
    source = record.source
    sent = _sent(record, policy, rules)
    bytes_after = sum(f.size_bytes for f in record.files)
    before, after = tokens_as_is(source, rules), tokens_sent(sent)
    stats = MediaStats(
        bytes_before=source.size_bytes, bytes_after=bytes_after,
        duration_before_s=source.duration_s, duration_after_s=record.duration_s,
        frames_before=frames_as_is(source), frames_sent=frames_in(sent),
        tokens_before=before, tokens_after=after, reused=reused, uploaded=delivery.uploaded,
        ffmpeg_seconds=0.0 if reused else record.ffmpeg_seconds,
        notes=explain(source, sent, bytes_after, before, after))
    main = delivery.main
    start, end = record.offsets or (None, None)
    return PreparedMedia(
        item_id=item.id, key=record.key, source_uri=item.uri or record.source_uri,
        source_sha256=record.source_sha256, kind=record.kind,
        mime_type=main.mime_type if main else None, prepared_uri=main.uri if main else None,
        file_uri=main.file_uri if main else None, file_name=main.file_name if main else None,
        inline_data=main.inline_data if main else None, video_fps=record.metadata_fps,
        media_resolution=policy.media_resolution, media_rules=rules, start_offset_s=start or None,
        end_offset_s=end, keyframes=delivery.keyframes, stats=stats)
