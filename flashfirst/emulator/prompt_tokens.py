"""Prompt tokens of a request, by modality, from the documented rules in
``flashfirst.token_rules`` applied to the bytes actually sent (inline or uploaded)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flashfirst.emulator.errors import ApiError, file_not_found, invalid_argument
from flashfirst.emulator.resources import StoredFile
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.wire import decode_base64, get, parse_duration
from flashfirst.errors import ProbeError
from flashfirst.probe import MediaInfo, MediaKind, probe_bytes
from flashfirst.token_rules import (
    GEMINI_VIDEO_FPS,
    MediaResolution,
    Modality,
    TokenCount,
    audio_tokens,
    image_tokens,
    parse_media_resolution,
    pdf_tokens,
    text_tokens,
    video_tokens,
)

_TEXT_MIME_PREFIXES = ("text/",)
_TEXT_MIMES = {"application/json", "application/jsonl", "application/x-ndjson",
               "application/xml", "application/javascript", "application/x-python",
               "application/csv", "application/rtf"}
_MEDIA_PREFIXES = ("image/", "video/", "audio/")


@dataclass
class CountedPrompt:
    """What a request's own parts cost, and what a deterministic answer is seeded by."""

    tokens: TokenCount = field(default_factory=TokenCount)
    text: str = ""
    media_digests: list[str] = field(default_factory=list)


def is_text_mime(mime: str) -> bool:
    mime = mime.split(";")[0].strip().lower()
    return mime.startswith(_TEXT_MIME_PREFIXES) or mime in _TEXT_MIMES


def is_probed_mime(mime: str) -> bool:
    mime = mime.split(";")[0].strip().lower()
    return mime.startswith(_MEDIA_PREFIXES) or mime == "application/pdf"


class PromptCounter:
    """Counts contents, system instructions and tools the way the API bills them."""

    def __init__(self, state: EmulatorState, resolution: MediaResolution) -> None:
        self.state = state
        self.resolution = resolution

    def count(self, contents: Any, system_instruction: Any = None,
              tools: Any = None) -> CountedPrompt:
        result = CountedPrompt()
        if contents is not None and not isinstance(contents, list):
            raise invalid_argument("Invalid value at 'contents': expected a list.")
        for content in [system_instruction, *(contents or [])]:
            if content is None:
                continue
            parts = get(content, "parts") or []
            if not isinstance(parts, list):
                raise invalid_argument("Invalid value at 'contents.parts': expected a list.")
            for part in parts:
                self._count_part(part, result)
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
            info = self._probe(data, mime, "inline_data")
            sha256_hex, read = hashlib.sha256(data).hexdigest(), lambda: data
        elif file_data is not None:
            stored = self._resolve_file(file_data)
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
            level = get(part_resolution, "level") if isinstance(part_resolution, dict) \
                else part_resolution
            resolution = parse_media_resolution(str(level))
        result.tokens += media_tokens(info, get(part, "videoMetadata"), resolution)

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
            except ProbeError as exc:
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
        if stored.media is None and not is_text_mime(stored.mime_type):
            raise invalid_argument(f"Unsupported MIME type: {mime}")
        return stored


def media_tokens(info: MediaInfo, video_metadata: Any,
                 resolution: MediaResolution) -> TokenCount:
    """Tokens of one probed media part: video frames sampled at its fps over its window,
    audio over the part of the window the audio track actually covers."""
    if info.kind is MediaKind.IMAGE:
        return TokenCount.of(Modality.IMAGE, image_tokens(info.width or 0, info.height or 0,
                                                          resolution))
    if info.kind is MediaKind.DOCUMENT:
        return TokenCount.of(Modality.DOCUMENT, pdf_tokens(info.pages or 1))
    start, end = clip_span(info.duration_s, video_metadata)
    if info.kind is MediaKind.AUDIO:
        return TokenCount.of(Modality.AUDIO, audio_tokens(end - start))
    fps = get(video_metadata, "fps")
    fps = GEMINI_VIDEO_FPS if fps is None else float(fps)
    if not 0 < fps <= 24:
        raise invalid_argument("Invalid value at 'video_metadata.fps': must be in (0, 24].")
    audio_s = None if info.audio_duration_s is None \
        else max(0.0, min(end, info.audio_duration_s) - start)
    return video_tokens(end - start, fps=fps, has_audio=info.has_audio, resolution=resolution,
                        audio_duration_s=audio_s)


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
