"""Where to cut media that no sampling rate fits into the model's window (``fit: split``).

Each segment must fit the window with its overlap; cuts are placed on a silence (speech
is not cut mid-word) or a scene change where ffmpeg finds one near the even cut, else at
the even cut. Only short windows around each cut are decoded, so a five-hour recording
is not read end to end to find its boundaries.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.media.ffmpeg_cmd import SCENE_THRESHOLD, ffmpeg_exe

# Near an even cut, a boundary this far either side (a share of the segment) is taken.
_SEARCH_SHARE = 0.1
# A pause of this length at this level is a silence worth cutting in (speech pauses).
_SILENCE_NOISE = "-35dB"
_SILENCE_MIN_S = 0.4
_DETECT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Span:
    """One segment: it is sent from ``start_s`` to ``end_s`` (overlap included) and owns
    ``[owns_from_s, end_s)`` of the source when answers are joined."""

    start_s: float
    end_s: float
    owns_from_s: float
    boundary: str  # how its start was chosen: start, silence, scene or even


class SegmentParts(BaseModel):
    """A segment as the request sends it: its parts, tokens and content identity."""

    index: int
    start_s: float
    end_s: float
    owns_from_s: float
    parts: list[types.Part] = Field(default_factory=list)
    tokens: int = 0
    identity: str
    media_resolution: MediaResolution | None = None


def longest_fitting(tokens_for: Callable[[float], int], budget: int, duration_s: float) -> float:
    """The longest span (seconds, from the start) whose tokens fit ``budget``; tokens
    grow with the span."""
    lo, hi = 0.0, duration_s
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tokens_for(mid) <= budget else (lo, mid)
    return math.floor(lo * 1000) / 1000


def plan_spans(duration_s: float, max_span_s: float, overlap_s: float,
               boundaries: Callable[[float, float], list[tuple[float, str]]]) -> list[Span]:
    """Spans covering ``[0, duration_s)``, each at most ``max_span_s`` long with its
    overlap. ``boundaries(a, b)`` lists (time, kind) cut candidates found in ``[a, b]``."""
    overlap_s = min(overlap_s, max_span_s / 4)
    owned = max_span_s - overlap_s  # what a segment may own past its overlap
    if owned <= 0:
        raise ValueError("the window fits less than a second of this media")
    cuts: list[tuple[float, str]] = [(0.0, "start")]
    while duration_s - cuts[-1][0] > owned:
        start = cuts[-1][0]
        left = math.ceil((duration_s - start) / owned)
        target = start + (duration_s - start) / left  # even cuts over what is left
        reach = _SEARCH_SHARE * owned
        hi = min(target + reach, start + owned)
        lo = max(start + owned / 2, target - reach)
        found = [(t, k) for t, k in boundaries(lo, hi) if lo <= t <= hi]
        silences = [b for b in found if b[1] == "silence"]
        pick = min(silences or found, key=lambda b: abs(b[0] - target), default=None)
        cuts.append(pick if pick is not None else (min(target, start + owned), "even"))
    spans = []
    for i, (at, kind) in enumerate(cuts):
        end = cuts[i + 1][0] if i + 1 < len(cuts) else duration_s
        start = max(0.0, at - overlap_s) if i else 0.0
        spans.append(Span(start_s=round(start, 3), end_s=round(end, 3),
                          owns_from_s=round(at, 3), boundary=kind))
    return spans


def find_boundaries(src: Path, has_audio: bool, has_video: bool
                    ) -> Callable[[float, float], list[tuple[float, str]]]:
    """Cut candidates in a window of ``src``: the middle of each silence when it has
    sound (a cut between sentences), else each scene change."""
    def within(a: float, b: float) -> list[tuple[float, str]]:
        if has_audio:
            return [(a + t, "silence") for t in _silences(src, a, b - a)]
        if has_video:
            return [(a + t, "scene") for t in _scenes(src, a, b - a)]
        return []
    return within


def _run(args: list[str]) -> str:
    """ffmpeg's log of a detection pass; a failed pass finds nothing (even cuts then)."""
    try:
        done = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *args, "-f", "null",
                               "-"], capture_output=True, text=True, timeout=_DETECT_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stderr if done.returncode == 0 else ""


def _silences(src: Path, at: float, length: float) -> list[float]:
    log = _run(["-ss", f"{at:.3f}", "-t", f"{length:.3f}", "-i", str(src), "-vn", "-af",
                f"silencedetect=noise={_SILENCE_NOISE}:d={_SILENCE_MIN_S}"])
    starts = [float(x) for x in re.findall(r"silence_start: (-?[\d.]+)", log)]
    ends = [float(x) for x in re.findall(r"silence_end: (-?[\d.]+)", log)]
    return [(s + e) / 2 for s, e in zip(starts, ends, strict=False)]


def _scenes(src: Path, at: float, length: float) -> list[float]:
    log = _run(["-ss", f"{at:.3f}", "-t", f"{length:.3f}", "-i", str(src), "-an", "-vf",
                f"select='gt(scene,{SCENE_THRESHOLD})',showinfo"])
    return [float(x) for x in re.findall(r"pts_time:([\d.]+)", log)]
