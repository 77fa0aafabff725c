"""Which source frames a sampled video needs decoded, read from packet headers only.

ffmpeg's ``fps`` filter gives output slot ``k`` the latest decoded frame whose time rounds
to ``k`` periods (so a full decode sends, for second ``k``, the frame just before
``k + 0.5`` s). When a shortcut leaves frames undecoded, slot ``k`` still gets a frame
from its own window ``[k - 0.5, k + 0.5)`` periods as long as the window holds a decoded
frame; otherwise it would repeat an earlier one. The plan takes a shortcut only where
every window keeps a decoded frame, and names the frame count a full decode would write,
so the shortcut's output can be checked against it (and redone in full when it differs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

import av

# x264 writes at most 16 B-frames in a row (its --bframes limit); a window holding more
# frames than that always holds a reference frame, so skipping the others is safe.
_MAX_NONREF_RUN = 16
# Output timestamps must sit on the 1/fps grid to this precision (seconds).
_PTS_TOLERANCE_S = 1e-3


class Decode(StrEnum):
    """ffmpeg's ``-skip_frame`` values, from the cheapest decode to the full one."""

    KEYFRAMES = "nokey"
    REFERENCES = "noref"
    ALL = "default"


@dataclass(frozen=True)
class VideoIndex:
    """The video stream's timing in ffmpeg's filter clock (container start subtracted)."""

    first_s: Fraction
    end_s: Fraction  # the last frame's end: where the fps filter stops
    keyframes_s: tuple[Fraction, ...]
    frames_s: tuple[float, ...]  # every frame's time, to count frames per window


@dataclass(frozen=True)
class DecodePlan:
    decode: Decode
    frames: int  # what a full decode writes; a shortcut's output must have as many
    why: str


def index_video(src: Path) -> VideoIndex | None:
    """Keyframe times and the stream's span from its packets (no decoding: tens of ms
    for a minute of 720p). None when packets carry no timestamps to plan with."""
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        if tb is None:
            return None
        start = Fraction(container.start_time or 0, av.time_base)
        first: int | None = None
        end: int | None = None
        keys: list[int] = []
        every: list[int] = []
        for packet in container.demux(stream):
            if packet.pts is None:
                if packet.size:  # a real frame without a timestamp: cannot plan
                    return None
                continue
            every.append(packet.pts)
            first = packet.pts if first is None else min(first, packet.pts)
            stop = packet.pts + (packet.duration or 0)
            end = stop if end is None else max(end, stop)
            if packet.is_keyframe:
                keys.append(packet.pts)
    if first is None or end is None:
        return None
    tb = Fraction(tb)
    tb_f, start_f = float(tb), float(start)  # frame counts per window need no exactness
    return VideoIndex(first_s=first * tb - start, end_s=end * tb - start,
                      keyframes_s=tuple(sorted(k * tb - start for k in keys)),
                      frames_s=tuple(p * tb_f - start_f for p in every))


def _slot(t: Fraction, fps: Fraction) -> int:
    """The fps filter's rounding (to nearest, halves away from zero)."""
    x = t * fps
    return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))


def first_slot(index: VideoIndex, fps: float) -> int:
    """The output slot of the video's first frame (where the fps filter starts)."""
    return _slot(index.first_s, Fraction(fps).limit_denominator(1_000_000))


def full_decode_frames(index: VideoIndex, fps: float) -> int:
    """Frames the fps filter writes from a full decode: slots from the first frame's up to
    (not including) the one the stream's end rounds to."""
    f = Fraction(fps).limit_denominator(1_000_000)
    return max(0, _slot(index.end_s, f) - _slot(index.first_s, f))


def keyframes_cover(index: VideoIndex, fps: float, frames: int) -> bool:
    """Every output slot's window holds a keyframe (so decoding only keyframes changes
    no slot's frame to one from outside its window)."""
    f = Fraction(fps).limit_denominator(1_000_000)
    first = _slot(index.first_s, f)
    covered = {_slot(k, f) for k in index.keyframes_s}
    return all(first + k in covered for k in range(frames))


def windows_are_dense(index: VideoIndex, fps: float, frames: int) -> bool:
    """Every output slot's window holds more frames than a run of B-frames can be long
    (so skipping non-reference frames leaves each window a decoded one)."""
    first = _slot(index.first_s, Fraction(fps).limit_denominator(1_000_000))
    counts = [0] * frames
    for t in index.frames_s:
        k = math.floor(t * fps + 0.5) - first
        if 0 <= k < frames:
            counts[k] += 1
    return all(n > _MAX_NONREF_RUN for n in counts)


def plan_decode(index: VideoIndex | None, fps: float, *, trimmed: bool) -> DecodePlan:
    """The cheapest decode that sends a frame from every slot's own window."""
    if index is None:
        return DecodePlan(Decode.ALL, 0, "no packet timestamps to plan with")
    frames = full_decode_frames(index, fps)
    if trimmed:
        # Input seeking already skips what is cut; the cut's end is not planned here.
        return DecodePlan(Decode.ALL, frames, "trimmed: full decode of the kept range")
    if frames == 0:
        return DecodePlan(Decode.ALL, frames, "no frame to sample")
    if keyframes_cover(index, fps, frames):
        return DecodePlan(Decode.KEYFRAMES, frames, "a keyframe in every sampling window")
    if windows_are_dense(index, fps, frames):
        return DecodePlan(Decode.REFERENCES, frames,
                          "keyframes too sparse; every window holds a reference frame")
    return DecodePlan(Decode.ALL, frames, "keyframes too sparse, and some window holds too "
                      "few frames to be sure of a reference frame")


def output_mismatch(path: Path, frames: int, fps: float) -> str | None:
    """Why the written video is not ``frames`` frames on the 1/fps grid, or None."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    if len(pts) != frames:
        return f"{len(pts)} frames written, {frames} expected"
    if not pts or tb is None:
        return None
    origin = pts[0]
    for k, p in enumerate(pts):
        if abs(float((p - origin) * tb) - k / fps) > _PTS_TOLERANCE_S:
            return f"frame {k} at {float((p - origin) * tb):.3f} s, expected {k / fps:.3f} s"
    return None
