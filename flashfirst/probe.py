"""Probe media without ffprobe: PyAV opens the container in milliseconds (the
imageio-ffmpeg wheel ships no ffprobe).

The emulator probes uploaded bytes with this too, so token counts come from what was
actually sent, never from a caller's claim."""

from __future__ import annotations

import io
import re
from enum import StrEnum
from pathlib import Path

import av
from pydantic import BaseModel

from flashfirst.errors import ProbeError


class MediaKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    DOCUMENT = "document"
    OFFICE = "office"  # Office and OpenDocument files: sent as they are, never probed
    TEXT = "text"


class MediaInfo(BaseModel):
    kind: MediaKind
    size_bytes: int
    container: str | None = None
    duration_s: float = 0.0
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    # The audio stream's own length: a downsampled video's last frame lasts 1/fps, so its
    # container can outlast its audio, and audio is billed per second of audio.
    audio_duration_s: float | None = None
    pages: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.kind is MediaKind.VIDEO


_IMAGE_CONTAINERS = ("_pipe", "image2", "webp", "gif")
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def probe_bytes(data: bytes, source: str = "<bytes>") -> MediaInfo:
    """Probe in-memory content (the emulator's uploads, small inline parts)."""
    return _probe(io.BytesIO(data), len(data), source, data[:5])


def probe_file(path: str | Path) -> MediaInfo:
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise ProbeError(str(path), f"cannot read file ({exc.strerror or exc})") from exc
    return _probe(str(path), size, str(path), head)


def _probe(handle: str | io.BytesIO, size: int, source: str, head: bytes) -> MediaInfo:
    if size == 0:
        raise ProbeError(source, "file is empty (0 bytes)")
    if head.startswith(b"%PDF"):
        data = handle.getvalue() if isinstance(handle, io.BytesIO) else Path(handle).read_bytes()
        return MediaInfo(kind=MediaKind.DOCUMENT, size_bytes=size, container="pdf",
                         pages=max(1, len(_PDF_PAGE.findall(data))))
    try:
        with av.open(handle) as container:
            return _from_container(container, size)
    except (av.error.FFmpegError, ValueError) as exc:
        raise ProbeError(source, f"not a readable audio, video or image file ({exc})") from exc


def _from_container(container: av.container.InputContainer, size: int) -> MediaInfo:
    fmt = container.format.name
    video = next((s for s in container.streams.video), None)
    audio = next((s for s in container.streams.audio), None)
    duration = (container.duration or 0) / av.time_base
    if video is None and audio is None:
        raise ValueError("no audio or video stream")
    if video is not None and (any(tag in fmt for tag in _IMAGE_CONTAINERS) or (
            audio is None and duration == 0)):
        return MediaInfo(kind=MediaKind.IMAGE, size_bytes=size, container=fmt,
                         video_codec=video.codec_context.name,
                         width=video.codec_context.width, height=video.codec_context.height)
    info = MediaInfo(kind=MediaKind.VIDEO if video is not None else MediaKind.AUDIO,
                     size_bytes=size, container=fmt, duration_s=duration)
    if video is not None:
        rate = video.average_rate or video.guessed_rate
        info.video_codec = video.codec_context.name
        info.width, info.height = video.codec_context.width, video.codec_context.height
        info.fps = float(rate) if rate else None
        if not info.duration_s and video.duration:
            info.duration_s = float(video.duration * video.time_base)
    if audio is not None:
        info.audio_codec = audio.codec_context.name
        info.sample_rate = audio.codec_context.sample_rate
        info.channels = audio.codec_context.channels
        if not info.duration_s and audio.duration:
            info.duration_s = float(audio.duration * audio.time_base)
        # Containers without per-stream durations (Matroska) leave the container's.
        info.audio_duration_s = float(audio.duration * audio.time_base) if audio.duration \
            else info.duration_s
    if info.duration_s <= 0:
        raise ValueError("stream has no duration")
    return info
