"""The emulator's own reading of uploaded media, kept apart from the product's probe.

The emulator stands in for Google: it counts tokens from the bytes it was sent. Reading
them with the product's code would make every agreement test between the two agree by
construction, so this module reads only what the token rules need (kind, size, length,
audio length, frame size, PDF pages), with PyAV, and nothing here is imported from
``flashfirst`` outside the emulator package."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import av
from pydantic import BaseModel


class MediaKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    DOCUMENT = "document"


class UnreadableMedia(Exception):
    """Bytes the emulator cannot read as media: Google answers 400 for these."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.cause = reason


class MediaInfo(BaseModel):
    """What the token rules read off one media part."""

    kind: MediaKind
    size_bytes: int
    duration_s: float = 0.0
    width: int | None = None
    height: int | None = None
    audio_duration_s: float | None = None  # None: no audio stream
    pages: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_duration_s is not None


# Single-frame containers PyAV reports with a video stream and no duration.
_STILL_FORMATS = ("image2", "_pipe", "webp", "gif")
_PDF_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def probe_bytes(data: bytes, source: str = "<bytes>") -> MediaInfo:
    return _read(io.BytesIO(data), len(data), data[:5], lambda: data, source)


def probe_file(path: str | Path) -> MediaInfo:
    """Large uploads are spooled to disk; PyAV reads them there without loading them."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise UnreadableMedia(str(path), f"cannot read file ({exc.strerror or exc})") from exc
    return _read(str(path), size, head, path.read_bytes, str(path))


def _read(handle: str | io.BytesIO, size: int, head: bytes, whole: Callable[[], bytes],
          source: str) -> MediaInfo:
    if size == 0:
        raise UnreadableMedia(source, "file is empty (0 bytes)")
    if head.startswith(b"%PDF"):
        pages = len(_PDF_PAGE_OBJECT.findall(whole()))
        return MediaInfo(kind=MediaKind.DOCUMENT, size_bytes=size, pages=max(pages, 1))
    try:
        with av.open(handle) as container:
            return _streams(container, size)
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnreadableMedia(source, f"not a readable audio, video or image file ({exc})") \
            from exc


def _seconds(stream: av.stream.Stream | None) -> float | None:
    if stream is None or not stream.duration:
        return None
    return float(stream.duration * stream.time_base)


def _streams(container: av.container.InputContainer, size: int) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise ValueError("no audio or video stream")
    length = (container.duration or 0) / av.time_base
    still = any(tag in container.format.name for tag in _STILL_FORMATS)
    if video is not None and (still or (audio is None and length == 0)):
        return MediaInfo(kind=MediaKind.IMAGE, size_bytes=size,
                         width=video.codec_context.width, height=video.codec_context.height)
    length = length or _seconds(video) or _seconds(audio) or 0.0
    if length <= 0:
        raise ValueError("stream has no duration")
    info = MediaInfo(kind=MediaKind.VIDEO if video is not None else MediaKind.AUDIO,
                     size_bytes=size, duration_s=length)
    if video is not None:
        info.width, info.height = video.codec_context.width, video.codec_context.height
    if audio is not None:
        # A downsampled video's last frame lasts 1/fps, so the container can outlast its
        # audio; audio is counted per second of audio. Matroska has no stream durations.
        info.audio_duration_s = _seconds(audio) or length
    return info
