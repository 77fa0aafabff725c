"""Gemini's documented token rules, per model family: the one copy the media stage, the
estimate and the cost stage use (the emulator keeps its own reading of the same pages).

Two families (a model's ``media_rules`` in the catalogue says which):

``gemini-2`` (2.x models), read 2026-11-28:
- https://ai.google.dev/gemini-api/docs/tokens — "a token is equivalent to about 4
  characters"; images with both sides <= 384 px are 258 tokens, larger ones are cut
  into 768x768 tiles of 258 tokens each; audio is 32 tokens a second.
- https://ai.google.dev/gemini-api/docs/video-understanding — video sampled at 1 frame a
  second by default (``videoMetadata.fps`` changes it), 258 tokens a frame at default
  media resolution and 66 at low.
- An image at low resolution: 64 tokens — google-genai 3.6.1's
  ``types.MediaResolution.MEDIA_RESOLUTION_LOW`` ("Media resolution set to low (64
  tokens)"); 66 is the video-frame figure. Medium and high keep the default counts
  (the SDK: "256 tokens", "zoomed reframing with 256 tokens"; the pages give no other).
- https://ai.google.dev/gemini-api/docs/document-processing — 258 tokens a PDF page.

``gemini-3`` (Gemini 3 and 4), https://ai.google.dev/gemini-api/docs/media-resolution
(stored copy id 70194196183, read 2026-10; research file §1.7):

  | media             | default | low | medium | high | ultra_high        |
  | image             | 1120    | 280 | 560    | 1120 | 2240 (per part)   |
  | video, per frame  | 70      | 70  | 70     | 280  | not documented: 280 (ours) |
  | audio, per second | 25      | 25  | 25     | 25   | 25                |
  | PDF, per page     | 560     | 280 | 560    | 1120 | not documented: 1120 (ours) |

  PDF pages at low/medium/high also bill their native text; we count the page figure
  only (the text is not extracted here). Per-part resolution exists on Gemini 3/4 only.

The text rule is an approximation (real tokenizers differ); it is applied the same way
everywhere so estimates and reports agree with each other.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel

TEXT_CHARS_PER_TOKEN = 4
IMAGE_SMALL_MAX_PX = 384
IMAGE_TILE_PX = 768
# What Gemini itself samples at: sending more than this buys nothing.
GEMINI_VIDEO_FPS = 1.0
GEMINI_AUDIO_SAMPLE_RATE = 16_000


class MediaResolution(StrEnum):
    DEFAULT = "default"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ULTRA_HIGH = "ultra_high"


class MediaRules(StrEnum):
    """Token-rule families (the catalogue's ``media_rules``)."""

    GEMINI_2 = "gemini-2"
    GEMINI_3 = "gemini-3"


R = MediaResolution
_FRAME = {
    MediaRules.GEMINI_2: {R.DEFAULT: 258, R.LOW: 66, R.MEDIUM: 258, R.HIGH: 258,
                          R.ULTRA_HIGH: 258},
    MediaRules.GEMINI_3: {R.DEFAULT: 70, R.LOW: 70, R.MEDIUM: 70, R.HIGH: 280,
                          R.ULTRA_HIGH: 280},
}
_IMAGE_3 = {R.DEFAULT: 1120, R.LOW: 280, R.MEDIUM: 560, R.HIGH: 1120, R.ULTRA_HIGH: 2240}
_IMAGE_2_LOW = 64
_TILE_2 = 258
_PDF = {
    MediaRules.GEMINI_2: dict.fromkeys(R, 258),
    MediaRules.GEMINI_3: {R.DEFAULT: 560, R.LOW: 280, R.MEDIUM: 560, R.HIGH: 1120,
                          R.ULTRA_HIGH: 1120},
}
_AUDIO_PER_S = {MediaRules.GEMINI_2: 32, MediaRules.GEMINI_3: 25}

# The 2.x figures under their old names (older callers).
TOKENS_PER_IMAGE_TILE = _TILE_2
TOKENS_PER_PDF_PAGE = 258
AUDIO_TOKENS_PER_SECOND = 32
TOKENS_PER_FRAME = _FRAME[MediaRules.GEMINI_2]


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
    text = str(value or "").upper().removeprefix("MEDIA_RESOLUTION_")
    for res in (R.ULTRA_HIGH, R.HIGH, R.MEDIUM, R.LOW):
        if text == res.value.upper():
            return res
    return R.DEFAULT


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / TEXT_CHARS_PER_TOKEN) if text else 0


def tokens_per_frame(resolution: MediaResolution = R.DEFAULT,
                     rules: MediaRules = MediaRules.GEMINI_2) -> int:
    return _FRAME[rules][resolution]


def image_tokens(width: int, height: int, resolution: MediaResolution = R.DEFAULT,
                 rules: MediaRules = MediaRules.GEMINI_2) -> int:
    if rules is MediaRules.GEMINI_3:
        return _IMAGE_3[resolution]
    if resolution is R.LOW:
        return _IMAGE_2_LOW
    if width <= IMAGE_SMALL_MAX_PX and height <= IMAGE_SMALL_MAX_PX:
        return _TILE_2
    tiles = math.ceil(width / IMAGE_TILE_PX) * math.ceil(height / IMAGE_TILE_PX)
    return tiles * _TILE_2


def frames_sampled(duration_s: float, fps: float = GEMINI_VIDEO_FPS) -> int:
    """Frames Gemini samples from a clip: one per 1/fps seconds, at least one."""
    if duration_s <= 0:
        return 0
    return max(1, math.ceil(round(duration_s * fps, 6)))


def audio_tokens(duration_s: float, rules: MediaRules = MediaRules.GEMINI_2) -> int:
    rate = _AUDIO_PER_S[rules]
    return math.ceil(round(duration_s * rate, 6)) if duration_s > 0 else 0


def audio_rate(rules: MediaRules) -> int:
    return _AUDIO_PER_S[rules]


def video_tokens(
    duration_s: float,
    *,
    fps: float = GEMINI_VIDEO_FPS,
    has_audio: bool = True,
    resolution: MediaResolution = R.DEFAULT,
    audio_duration_s: float | None = None,
    rules: MediaRules = MediaRules.GEMINI_2,
) -> TokenCount:
    """Frames over ``duration_s``; audio over the audio track's own seconds when given
    (a downsampled video can outlast its audio by up to one sampling period)."""
    frames = frames_sampled(duration_s, fps) * _FRAME[rules][resolution]
    count = TokenCount.of(Modality.VIDEO, frames)
    if has_audio:
        audio_s = duration_s if audio_duration_s is None else audio_duration_s
        count = count + TokenCount.of(Modality.AUDIO, audio_tokens(audio_s, rules))
    return count


def pdf_tokens(pages: int, resolution: MediaResolution = R.DEFAULT,
               rules: MediaRules = MediaRules.GEMINI_2) -> int:
    return pages * _PDF[rules][resolution]


def resolution_saves(kind: str, resolution: MediaResolution, rules: MediaRules) -> bool:
    """Whether ``resolution`` bills fewer tokens than the default for this kind of media
    on this family (low saves nothing on a Gemini 3 video: 70 a frame either way)."""
    if resolution is R.DEFAULT:
        return False
    if kind == "video":
        return _FRAME[rules][resolution] < _FRAME[rules][R.DEFAULT]
    if kind == "image":
        return image_tokens(1000, 1000, resolution, rules) < image_tokens(1000, 1000, R.DEFAULT,
                                                                           rules)
    if kind == "document":
        return _PDF[rules][resolution] < _PDF[rules][R.DEFAULT]
    return False
