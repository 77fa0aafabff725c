"""The emulator's own reading of Google's token rules, by model family and media resolution.

Kept apart from the product's ``flashfirst.gemini.token_rules`` on purpose: tests that compare the
emulator's billed tokens with the product's accounting then compare two readings of
Google's pages, not one table with itself. Sources (copies read 2026-11/12):

- ai.google.dev/gemini-api/docs/tokens: about 4 characters a token; on 2.x an image with
  both sides <= 384 px is 258 tokens, a larger one is cut into 768x768 tiles of 258.
- ai.google.dev/gemini-api/docs/video-understanding: frames sampled at 1 fps by default
  (``videoMetadata.fps``); on 2.x 258 tokens a frame, 66 at low media resolution; audio
  32 tokens a second.
- ai.google.dev/gemini-api/docs/document-processing: 258 tokens a PDF page (2.x).
- The SDK's own ``MediaResolution.MEDIA_RESOLUTION_LOW`` docstring (google-genai 3.6.1):
  "Media resolution set to low (64 tokens)": the 2.x image at low resolution.
- ai.google.dev/gemini-api/docs/media-resolution, Gemini 3 table (copy id 70194196183,
  research file section 1.7): image 1120 default / 280 low / 560 medium / 1120 high /
  2240 ultra_high (per part only); video 70 a frame at default, low and medium, 280 at
  high; PDF 560 a page default / 280 low / 560 medium / 1120 high; "Audio is tokenized at
  a fixed rate of 25 tokens per second" at every resolution. Gemini 4 follows the same
  table (the page's "Gemini 4 and Gemini 3" sections).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

Family = Literal["2.5", "3", "4"]
CHARS_PER_TOKEN = 4
VIDEO_FPS = 1.0


class Modality(StrEnum):
    """The names Gemini uses in ``promptTokensDetails``."""

    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    DOCUMENT = "DOCUMENT"


class Resolution(StrEnum):
    UNSPECIFIED = "unspecified"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ULTRA_HIGH = "ultra_high"


class TokenCount(BaseModel):
    """Tokens by modality (the same JSON shape the durable state has always stored)."""

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


def parse_resolution(value: object) -> Resolution | None:
    """``MEDIA_RESOLUTION_HIGH`` (either spelling, any case) → HIGH; None or unspecified →
    None; anything else → ValueError."""
    if value is None:
        return None
    text = str(value).strip().lower().removeprefix("media_resolution_")
    if text in ("", "unspecified"):
        return None
    return Resolution(text)


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _gemini3(family: Family) -> bool:
    return family in ("3", "4")


def image_tokens(family: Family, width: int, height: int,
                 resolution: Resolution | None) -> int:
    if _gemini3(family):
        return {Resolution.LOW: 280, Resolution.MEDIUM: 560,
                Resolution.ULTRA_HIGH: 2240}.get(resolution, 1120)  # type: ignore[arg-type]
    if resolution is Resolution.LOW:
        return 64
    if width <= 384 and height <= 384:
        return 258
    return math.ceil(width / 768) * math.ceil(height / 768) * 258


def frame_tokens(family: Family, resolution: Resolution | None) -> int:
    if _gemini3(family):
        return 280 if resolution in (Resolution.HIGH, Resolution.ULTRA_HIGH) else 70
    return 66 if resolution is Resolution.LOW else 258


def pdf_page_tokens(family: Family, resolution: Resolution | None) -> int:
    if _gemini3(family):
        return {Resolution.LOW: 280, Resolution.HIGH: 1120,
                Resolution.ULTRA_HIGH: 1120}.get(resolution, 560)  # type: ignore[arg-type]
    return 258


# Office and OpenDocument files (Gemini 4 Hydrogen and Carbon guides: accepted inline or
# uploaded; no token rule published): ours, a PDF page's 560 tokens per 4 KiB of file.
OFFICE_BYTES_PER_PAGE = 4096


def office_tokens(size_bytes: int) -> int:
    return 560 * max(1, math.ceil(size_bytes / OFFICE_BYTES_PER_PAGE))


def audio_tokens(family: Family, seconds: float) -> int:
    rate = 25 if _gemini3(family) else 32
    return math.ceil(round(seconds * rate, 6)) if seconds > 0 else 0


def frames(seconds: float, fps: float) -> int:
    """One frame per 1/fps seconds, at least one for any clip."""
    return max(1, math.ceil(round(seconds * fps, 6))) if seconds > 0 else 0
