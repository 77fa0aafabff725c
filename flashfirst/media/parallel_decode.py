"""Segment-parallel decoding: where every frame must be decoded (keyframes too sparse to
decode keyframes only), decoding is nearly all of the work and one ffmpeg process keeps
about one core busy. The source is cut by time into one span per core, each starting just
after a keyframe; one single-threaded ffmpeg process per span decodes and samples it, and
the spans' videos are joined without re-encoding (concat demuxer, ``-c copy``) with the
audio track, which the first process writes whole.

Each span ends on a sampling-window boundary: output slot ``k`` takes its frame from the
window ``[k - 0.5, k + 0.5)`` periods (``sampling``), so a span seeking to ``(k - 0.5)``
periods and rounding down sends, slot by slot, the frames a single full decode sends.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flashfirst.errors import FfmpegFailed
from flashfirst.media import ffmpeg_cmd
from flashfirst.media.sampling import VideoIndex, first_slot

# A span shorter than this (source seconds) costs more in process start and seek than its
# share of the decode saves.
MIN_SPAN_S = 2.0
# How far past its last window a span reads: a few frames at any common rate (a source
# frame at or after the window's end is what makes the fps filter send the last slot).
_PAST_WINDOW_S = 0.1


@dataclass(frozen=True)
class Span:
    """Output slots ``[first, first + frames)`` (counted from the video's first slot) and
    where the process seeks to (None: the file's start)."""

    first: int
    frames: int
    seek_s: float | None
    to_s: float | None  # where it stops reading (None: the end)


def plan_spans(index: VideoIndex, fps: float, frames: int, cores: int) -> list[Span]:
    """Up to ``cores`` spans of about equal length, each starting one sampling window
    after a keyframe at most (what is decoded before the seek point is thrown away).
    A single span means: decode in one process."""
    if cores < 2 or frames < 2:
        return [Span(0, frames, None, None)]
    origin = first_slot(index, fps)
    starts = [0]
    for j in range(1, cores):
        ideal = frames * j / cores
        # The first slot whose window opens at or after the keyframe nearest the ideal cut.
        cuts = sorted({max(0, math.ceil(float(k) * fps + 0.5) - origin)
                       for k in index.keyframes_s})
        best = min(cuts, key=lambda c: abs(c - ideal))  # the earlier of two as near
        if (best - starts[-1]) / fps >= MIN_SPAN_S and (frames - best) / fps >= MIN_SPAN_S:
            starts.append(best)
    bounds = [*starts, frames]
    spans = []
    for j, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        seek = None if j == 0 else (origin + a - 0.5) / fps
        last = j == len(bounds) - 2
        # Just past the last slot's window, so its frame is followed by another (a whole
        # window more would decode a second of frames that are thrown away).
        to = None if last else (origin + b - 0.5) / fps + _PAST_WINDOW_S
        spans.append(Span(a, b - a, seek, to))
    return spans


def decode_in_spans(src: Path, dest: Path, spans: list[Span], *, fps: float, long_side: int,
                    audio_rate: int | None, skip_frame: str | None, workers: int,
                    timeout_s: float) -> float:
    """Run one process per span at once, then join; return the wall seconds. A span that
    fails raises ``FfmpegFailed`` naming it; nothing is written to ``dest`` then."""
    work = dest.parent / f"{dest.stem}-spans"
    work.mkdir(exist_ok=True)
    parts = [work / f"span{j:02d}.mp4" for j in range(len(spans))]
    audio = work / "audio.m4a" if audio_rate is not None else None
    started = time.perf_counter()

    def run(j: int) -> float:
        span = spans[j]
        graph = ffmpeg_cmd.span_graph(
            src, parts[j], fps=fps, long_side=long_side, seek_s=span.seek_s, to_s=span.to_s,
            frames=span.frames, skip_frame=skip_frame,
            audio=(audio, audio_rate) if j == 0 and audio and audio_rate else None)
        try:
            return ffmpeg_cmd.run_graph(graph, workers=workers, timeout_s=timeout_s)
        except FfmpegFailed as exc:
            raise FfmpegFailed(exc.returncode, f"span {j + 1} of {len(spans)}, from "
                               f"{span.seek_s or 0:g} s of the source: {exc.stderr_tail}"
                               ) from exc

    with ThreadPoolExecutor(max_workers=len(spans)) as pool:
        list(pool.map(run, range(len(spans))))
    listing = work / "spans.txt"
    listing.write_text("".join(f"file '{p.name}'\n" for p in parts))
    ffmpeg_cmd.run_graph(ffmpeg_cmd.join_graph(listing, audio, dest), workers=workers,
                         timeout_s=timeout_s)
    return time.perf_counter() - started
