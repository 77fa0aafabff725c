"""Gemini's documented token rules: the one copy the emulator, the media stage and the
cost stage all use.

Sources (read 2026-11-28):
- https://ai.google.dev/gemini-api/docs/tokens — "a token is equivalent to about 4
  characters"; images with both sides <= 384 px are 258 tokens, larger ones are cut
  into 768x768 tiles of 258 tokens each; audio is 32 tokens a second.
- https://ai.google.dev/gemini-api/docs/video-understanding — video is sampled at
  1 frame per second by default (``videoMetadata.fps`` changes it), 258 tokens a frame
  at default media resolution and 66 at low, plus 32 tokens a second for the audio
  track; audio is reduced to 16 kHz mono server-side.
- https://ai.google.dev/gemini-api/docs/document-processing — 258 tokens a PDF page.

The text rule is an approximation (real tokenizers differ); it is applied the same way
everywhere so estimates, the emulator's usage metadata and reports agree with each other.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel

TEXT_CHARS_PER_TOKEN = 4
IMAGE_SMALL_MAX_PX = 384
IMAGE_TILE_PX = 768
TOKENS_PER_IMAGE_TILE = 258
TOKENS_PER_PDF_PAGE = 258
AUDIO_TOKENS_PER_SECOND = 32
# What Gemini itself samples at: sending more than this buys nothing.
GEMINI_VIDEO_FPS = 1.0
GEMINI_AUDIO_SAMPLE_RATE = 16_000


class MediaResolution(StrEnum):
    DEFAULT = "default"
    LOW = "low"


TOKENS_PER_FRAME = {MediaResolution.DEFAULT: 258, MediaResolution.LOW: 66}


class Modality(StrEnum):
    """The modality names Gemini uses in ``promptTokensDetails``."""

    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    DOCUMENT = "DOCUMENT"


class TokenCount(BaseModel):
    """Tokens of some input, split by modality (audio is priced apart on some models)."""

    by_modality: dict[Modality, int] = {}

    @property
    def total(self) -> int:
        return sum(self.by_modality.values())

    def __add__(self, other: TokenCount) -> TokenCount:
        merged = dict(self.by_modality)
        for modality, n in other.by_modality.items():
            merged[modality] = merged.get(modality, 0) + n
        return TokenCount(by_modality=merged)

    @classmethod
    def of(cls, modality: Modality, n: int) -> TokenCount:
        return cls(by_modality={modality: n} if n else {})


def parse_media_resolution(value: str | None) -> MediaResolution:
    """Accept the API's spellings (``MEDIA_RESOLUTION_LOW``) and ours (``low``)."""
    if value and "LOW" in str(value).upper():
        return MediaResolution.LOW
    return MediaResolution.DEFAULT


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / TEXT_CHARS_PER_TOKEN) if text else 0


def image_tokens(
    width: int, height: int, resolution: MediaResolution = MediaResolution.DEFAULT
) -> int:
    if resolution is MediaResolution.LOW:
        return TOKENS_PER_FRAME[MediaResolution.LOW]
    if width <= IMAGE_SMALL_MAX_PX and height <= IMAGE_SMALL_MAX_PX:
        return TOKENS_PER_IMAGE_TILE
    tiles = math.ceil(width / IMAGE_TILE_PX) * math.ceil(height / IMAGE_TILE_PX)
    return tiles * TOKENS_PER_IMAGE_TILE


def frames_sampled(duration_s: float, fps: float = GEMINI_VIDEO_FPS) -> int:
    """Frames Gemini samples from a clip: one per 1/fps seconds, at least one."""
    if duration_s <= 0:
        return 0
    return max(1, math.ceil(round(duration_s * fps, 6)))


def audio_tokens(duration_s: float) -> int:
    return math.ceil(round(duration_s * AUDIO_TOKENS_PER_SECOND, 6)) if duration_s > 0 else 0


def video_tokens(
    duration_s: float,
    *,
    fps: float = GEMINI_VIDEO_FPS,
    has_audio: bool = True,
    resolution: MediaResolution = MediaResolution.DEFAULT,
    audio_duration_s: float | None = None,
) -> TokenCount:
    """Frames over ``duration_s``; audio over the audio track's own seconds when given
    (a downsampled video can outlast its audio by up to one sampling period)."""
    frames = frames_sampled(duration_s, fps) * TOKENS_PER_FRAME[resolution]
    count = TokenCount.of(Modality.VIDEO, frames)
    if has_audio:
        audio_s = duration_s if audio_duration_s is None else audio_duration_s
        count = count + TokenCount.of(Modality.AUDIO, audio_tokens(audio_s))
    return count


def pdf_tokens(pages: int) -> int:
    return pages * TOKENS_PER_PDF_PAGE
