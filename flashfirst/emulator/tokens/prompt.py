"""Prompt tokens of a request, by modality: the emulator's own reading of Google's rules
(``rules``), for the serving model's family, applied to the bytes actually sent (inline
or uploaded; probed with PyAV for duration, size and pages)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flashfirst.emulator.resources import StoredFile
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.implicit_cache import Prefix
from flashfirst.emulator.tokens.media_probe import (
    MediaInfo,
    MediaKind,
    UnreadableMedia,
    probe_bytes,
)
from flashfirst.emulator.tokens.rules import (
    VIDEO_FPS,
    Family,
    Modality,
    Resolution,
    TokenCount,
    audio_tokens,
    frame_tokens,
    frames,
    image_tokens,
    office_tokens,
    parse_resolution,
    pdf_page_tokens,
    text_tokens,
)
from flashfirst.emulator.tokens.url_media import is_public_url, read_url_media
from flashfirst.emulator.wire.codec import decode_base64, get, parse_duration
from flashfirst.emulator.wire.errors import ApiError, file_not_found, invalid_argument

_TEXT_MIME_PREFIXES = ("text/",)
_TEXT_MIMES = {"application/json", "application/jsonl", "application/x-ndjson",
               "application/xml", "application/javascript", "application/x-python",
               "application/csv", "application/rtf"}
_MEDIA_PREFIXES = ("image/", "video/", "audio/")
# Office and OpenDocument media types (the Gemini 4 Hydrogen guide's list, read 2026-12-02).
OFFICE_MIMES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.spreadsheet",
}


@dataclass
class CountedPrompt:
    """What a request's own parts cost, and what a deterministic answer is seeded by."""

    tokens: TokenCount = field(default_factory=TokenCount)
    text: str = ""
    media_digests: list[str] = field(default_factory=list)
    prefixes: list[Prefix] = field(default_factory=list)  # for implicit caching


def is_text_mime(mime: str) -> bool:
    mime = mime.split(";")[0].strip().lower()
    return mime.startswith(_TEXT_MIME_PREFIXES) or mime in _TEXT_MIMES


def is_office_mime(mime: str) -> bool:
    return mime.split(";")[0].strip().lower() in OFFICE_MIMES


def is_probed_mime(mime: str) -> bool:
    mime = mime.split(";")[0].strip().lower()
    return mime.startswith(_MEDIA_PREFIXES) or mime == "application/pdf"


class PromptCounter:
    """Counts contents, system instructions and tools the way the API bills them."""

    def __init__(self, state: EmulatorState, family: Family = "2.5",
                 resolution: Resolution | None = None, *, model: str | None = None,
                 office: bool = False) -> None:
        self.state = state
        self.family = family
        self.resolution = resolution
        self.model, self.office = model, office  # Office files: taken by this model?

    def count(self, contents: Any, system_instruction: Any = None,
              tools: Any = None) -> CountedPrompt:
        result = CountedPrompt()
        if contents is not None and not isinstance(contents, list):
            raise invalid_argument("Invalid value at 'contents': expected a list.")
        running = hashlib.sha256()
        for content in [system_instruction, *(contents or [])]:
            if content is None:
                continue
            parts = get(content, "parts") or []
            if not isinstance(parts, list):
                raise invalid_argument("Invalid value at 'contents.parts': expected a list.")
            running.update(str(get(content, "role") or "").encode() + b"\0")
            for part in parts:
                self._count_part(part, result)
                running.update(json.dumps(part, sort_keys=True).encode() + b"\0")
                result.prefixes.append(Prefix(running.hexdigest(), result.tokens))
        if tools:
            declared = json.dumps(tools, sort_keys=True)
            result.tokens += TokenCount.of(Modality.TEXT, text_tokens(declared))
        return result

    def _count_part(self, part: Any, result: CountedPrompt) -> None:
        if not isinstance(part, dict):
            raise invalid_argument("Invalid value at 'contents.parts': expected an object.")
        text = get(part, "text")
        if isinstance(text, str):
            result.text += text + "\n"
            result.tokens += TokenCount.of(Modality.TEXT, text_tokens(text))
            return
        inline = get(part, "inlineData")
        file_data = get(part, "fileData")
        if inline is not None:
            mime = str(get(inline, "mimeType") or "")
            data = decode_base64(str(get(inline, "data") or ""))
            if is_office_mime(mime):
                return self._office(mime, data, result)
            info = self._probe(data, mime, "inline_data")
            sha256_hex, read = hashlib.sha256(data).hexdigest(), lambda: data
        elif file_data is not None and is_public_url(str(get(file_data, "fileUri") or "")):
            url = read_url_media(str(get(file_data, "fileUri")),
                                 str(get(file_data, "mimeType") or ""),
                                 self.state.config.url_media)
            if url.data is not None:  # mapped to a local file: read as its upload would be
                data = url.data
                info, read = self._probe(data, url.mime, "file_data"), lambda: data
            else:
                info, read = url.info, lambda: b""
            sha256_hex = url.digest
        elif file_data is not None:
            stored = self._resolve_file(file_data)
            if is_office_mime(stored.mime_type):
                return self._office(stored.mime_type, stored.read(), result)
            sha256_hex, read, info = stored.sha256_hex, stored.read, stored.media
        else:  # function calls, function responses, code: billed as their JSON text
            other = json.dumps(part, sort_keys=True)
            result.text += other + "\n"
            result.tokens += TokenCount.of(Modality.TEXT, text_tokens(other))
            return
        result.media_digests.append(sha256_hex)
        if info is None:
            decoded = read().decode("utf-8", errors="replace")
            result.text += decoded + "\n"
            result.tokens += TokenCount.of(Modality.TEXT, text_tokens(decoded))
            return
        resolution = self.resolution
        part_resolution = get(part, "mediaResolution")
        if part_resolution is not None:
            if self.family == "2.5":  # media-resolution page: "Per part (Gemini 3 only)"
                raise invalid_argument("Per-part media_resolution is not supported by this "
                                       "model; set generation_config.media_resolution.")
            level = get(part_resolution, "level") if isinstance(part_resolution, dict) \
                else part_resolution
            resolution = part_media_resolution(level) or resolution
        result.tokens += media_tokens(info, get(part, "videoMetadata"), self.family,
                                      resolution)

    def _office(self, mime: str, data: bytes, result: CountedPrompt) -> None:
        if not self.office:
            raise invalid_argument(f"Unsupported MIME type: {mime} is not supported by "
                                   f"models/{self.model or 'this model'}.")
        result.media_digests.append(hashlib.sha256(data).hexdigest())
        result.tokens += TokenCount.of(Modality.DOCUMENT, office_tokens(len(data)))

    def _probe(self, data: bytes, mime: str, where: str) -> MediaInfo | None:
        if is_text_mime(mime):
            return None
        if not is_probed_mime(mime):
            raise invalid_argument(f"Unsupported MIME type: {mime or '(none)'}")
        key = hashlib.sha256(data).hexdigest()
        with self.state.lock:
            cached = self.state.probe_cache.get(key)
        if cached is None:
            try:
                cached = probe_bytes(data, where)
            except UnreadableMedia as exc:
                cached = exc.cause
            with self.state.lock:
                self.state.probe_cache[key] = cached
        if isinstance(cached, str):
            raise invalid_argument(f"Unable to process input {where} ({mime}): {cached}")
        return cached

    def _resolve_file(self, file_data: Any) -> StoredFile:
        uri = str(get(file_data, "fileUri") or "")
        if "files/" not in uri:
            raise invalid_argument(f"Invalid or unsupported file uri: {uri}")
        file_id = uri.split("files/", 1)[1].split("?")[0].split(":")[0].strip("/")
        with self.state.lock:
            stored = self.state.files.get(file_id)
            now = self.state.now()
        if stored is None or now >= stored.expire_time:
            raise file_not_found(file_id)
        state = stored.state(now)
        if state != "ACTIVE":
            raise ApiError(400, f"The File {file_id} is not in an ACTIVE state and usage is "
                                "not allowed.", status="FAILED_PRECONDITION")
        mime = str(get(file_data, "mimeType") or stored.mime_type)
        if stored.media is None and not (is_text_mime(stored.mime_type)
                                         or is_office_mime(stored.mime_type)):
            raise invalid_argument(f"Unsupported MIME type: {mime}")
        return stored


def part_media_resolution(value: Any) -> Resolution | None:
    try:
        return parse_resolution(value)
    except ValueError as exc:
        raise invalid_argument(f"Invalid value at 'media_resolution.level': {value!r}; "
                               "allowed values: MEDIA_RESOLUTION_LOW, MEDIA_RESOLUTION_MEDIUM, "
                               "MEDIA_RESOLUTION_HIGH, MEDIA_RESOLUTION_ULTRA_HIGH.") from exc


def global_media_resolution(value: Any) -> Resolution | None:
    """``generationConfig.mediaResolution``: LOW, MEDIUM or HIGH (ULTRA_HIGH is per part
    only, media-resolution page)."""
    try:
        resolution = parse_resolution(value)
    except ValueError:
        resolution = Resolution.ULTRA_HIGH
    if resolution is Resolution.ULTRA_HIGH:
        raise invalid_argument(f"Invalid value at 'generation_config.media_resolution': "
                               f"{value!r}; allowed values: MEDIA_RESOLUTION_LOW, "
                               "MEDIA_RESOLUTION_MEDIUM, MEDIA_RESOLUTION_HIGH.")
    return resolution


def media_tokens(info: MediaInfo, video_metadata: Any, family: Family,
                 resolution: Resolution | None) -> TokenCount:
    """Tokens of one probed media part: video frames sampled at its fps over its window;
    audio over the part of the window the audio track actually covers.

    That last rule is ours: Google documents a rate per second of audio (32, 25 on
    Gemini 3) and nothing for a video whose audio track is shorter than its picture; we
    bill the seconds of sound that exist, not the container's length."""
    if info.kind is MediaKind.IMAGE:
        return TokenCount.of(Modality.IMAGE, image_tokens(family, info.width or 0,
                                                          info.height or 0, resolution))
    if info.kind is MediaKind.DOCUMENT:
        return TokenCount.of(Modality.DOCUMENT,
                             (info.pages or 1) * pdf_page_tokens(family, resolution))
    start, end = clip_span(info.duration_s, video_metadata)
    if info.kind is MediaKind.AUDIO:
        return TokenCount.of(Modality.AUDIO, audio_tokens(family, end - start))
    fps = get(video_metadata, "fps")
    fps = VIDEO_FPS if fps is None else float(fps)
    if not 0 < fps <= 24:
        raise invalid_argument("Invalid value at 'video_metadata.fps': must be in (0, 24].")
    count = TokenCount.of(Modality.VIDEO,
                          frames(end - start, fps) * frame_tokens(family, resolution))
    if not info.has_audio:
        return count
    audio_end = end if info.audio_duration_s is None else min(end, info.audio_duration_s)
    return count + TokenCount.of(Modality.AUDIO,
                                 audio_tokens(family, max(0.0, audio_end - start)))


def clip_span(duration_s: float, video_metadata: Any) -> tuple[float, float]:
    """Start and end of videoMetadata's offsets, within the clip."""
    start_raw = get(video_metadata, "startOffset")
    end_raw = get(video_metadata, "endOffset")
    start = parse_duration(start_raw, "start_offset") if start_raw is not None else 0.0
    end = parse_duration(end_raw, "end_offset") if end_raw is not None else duration_s
    start, end = max(0.0, min(start, duration_s)), max(0.0, min(end, duration_s))
    if end <= start:
        raise invalid_argument("Invalid value at 'video_metadata': the start offset must be "
                               "before the end offset and within the video.")
    return start, end
