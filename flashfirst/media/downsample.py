"""Run a plan: one ffmpeg process per item writes the prepared file(s) into a work
folder, and each output is probed so the accounting uses what was really produced."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from flashfirst.errors import FfmpegFailed, NoUsableOutput, ProbeError
from flashfirst.gemini.token_rules import GEMINI_VIDEO_FPS, frames_sampled
from flashfirst.media import ffmpeg_cmd, parallel_audio, parallel_decode, sampling
from flashfirst.media.policies import Plan
from flashfirst.media.source_read import SourceRead, video_index
from flashfirst.probe import MediaInfo, MediaKind, probe_file
from flashfirst.settings import MediaSettings


@dataclass
class Keyframe:
    path: Path
    info: MediaInfo
    at_s: float  # seconds into the source


@dataclass
class Converted:
    main: Path | None
    main_info: MediaInfo | None
    keyframes: list[Keyframe] = field(default_factory=list)
    ffmpeg_seconds: float = 0.0
    # How the video was decoded: a skip_frame value, and "default" after a fallback.
    decode: str | None = None
    decode_why: str | None = None


def _timeout(info: MediaInfo) -> float:
    """Generous: a stuck ffmpeg fails the item instead of hanging the run."""
    return 120.0 + 4.0 * info.duration_s


def _probe_output(path: Path, what: str) -> MediaInfo:
    if not path.exists():
        raise NoUsableOutput(f"ffmpeg wrote no {what}")
    try:
        return probe_file(path)
    except ProbeError as exc:
        raise NoUsableOutput(f"the {what} ffmpeg wrote is unusable ({exc.cause})") from exc


def _run_shortcut(run: Callable[[], float], dest: Path, frames: int, fps: float
                  ) -> tuple[float, str | None]:
    """Run a skip_frame decode; return its seconds and why its output is unusable (None:
    it is the full decode's frames). A failing shortcut is a reason to decode in full, not
    to fail the item."""
    started = time.perf_counter()
    try:
        seconds = run()
    except FfmpegFailed as exc:
        return time.perf_counter() - started, f"ffmpeg failed ({exc.stderr_tail})"
    if not dest.exists():
        return seconds, "no output written"
    try:
        return seconds, sampling.output_mismatch(dest, frames, fps)
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        return seconds, f"output unreadable ({exc})"


def _spans(index: sampling.VideoIndex | None, fps: float, decode: sampling.DecodePlan,
           plan: Plan, media: MediaSettings) -> list[parallel_decode.Span]:
    """Spans decoded at once where every frame (or every reference frame) is decoded; a
    keyframes-only decode is cheap enough in one process, a trim is not planned here."""
    if index is None or decode.decode is sampling.Decode.KEYFRAMES \
            or plan.trim is not None or decode.frames == 0:
        return []
    return parallel_decode.plan_spans(index, fps, decode.frames, media.workers)


def _run_spans(src: Path, dest: Path, spans: list[parallel_decode.Span],
               decode: sampling.DecodePlan, fps: float, plan: Plan, media: MediaSettings,
               info: MediaInfo) -> tuple[float, str | None]:
    """Decode in spans; return the seconds and why the joined output is not the full
    decode's frames (None: it is). A span whose ffmpeg fails fails the item."""
    skip = None if decode.decode is sampling.Decode.ALL else decode.decode.value
    seconds = parallel_decode.decode_in_spans(
        src, dest, spans, fps=fps, long_side=media.max_long_side,
        audio_rate=media.audio_sample_rate if plan.keep_audio else None, skip_frame=skip,
        workers=media.workers, timeout_s=_timeout(info))
    try:
        return seconds, sampling.output_mismatch(dest, decode.frames, fps)
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        return seconds, f"output unreadable ({exc})"


def downsample_video(src: Path, info: MediaInfo, plan: Plan, media: MediaSettings,
                     workdir: Path, read: SourceRead | None = None) -> Converted:
    """Decode only the frames the sampling needs where the stream allows it
    (``sampling.plan_decode``); a shortcut whose output is not the full decode's frame
    count on the 1/fps grid is thrown away and the video decoded in full. ``read``: the
    source's index when its first read took it (no second pass over the source)."""
    dest = workdir / f"prepared{plan.ext}"
    fps = plan.encode_fps or media.fps
    index = read.index if read is not None and read.indexed else video_index(src)
    decode = sampling.plan_decode(index, fps, trimmed=plan.trim is not None)

    def run(skip: sampling.Decode) -> float:
        graph = ffmpeg_cmd.video_graph(
            src, dest, fps=fps, long_side=media.max_long_side,
            audio_rate=media.audio_sample_rate if plan.keep_audio else None, trim=plan.trim,
            skip_frame=None if skip is sampling.Decode.ALL else skip.value, frames=decode.frames)
        return ffmpeg_cmd.run_graph(graph, workers=media.workers, timeout_s=_timeout(info))

    spans = _spans(index, fps, decode, plan, media)
    if len(spans) > 1:
        seconds, problem = _run_spans(src, dest, spans, decode, fps, plan, media, info)
        used, why = decode.decode, f"{decode.why}; in {len(spans)} spans at once"
        if problem is not None:
            seconds += run(sampling.Decode.ALL)
            used, why = sampling.Decode.ALL, f"spans fell back to a full decode: {problem}"
    elif decode.decode is sampling.Decode.ALL:
        seconds, used, why = run(decode.decode), decode.decode, decode.why
    else:
        seconds, problem = _run_shortcut(lambda: run(decode.decode), dest, decode.frames, fps)
        used, why = decode.decode, decode.why
        if problem is not None:
            seconds += run(sampling.Decode.ALL)
            used, why = sampling.Decode.ALL, f"{used.value} fell back to a full decode: {problem}"
    return Converted(dest, _probe_output(dest, "video"), ffmpeg_seconds=seconds,
                     decode=used.value, decode_why=why)


def downsample_audio(src: Path, info: MediaInfo, plan: Plan, media: MediaSettings,
                     workdir: Path) -> Converted:
    """Long audio is decoded in spans at once (``parallel_audio``) unless silences are
    removed (a silence may straddle a cut); spans whose samples are not one decode's are
    thrown away and the audio prepared by one process."""
    dest = workdir / f"prepared{plan.ext}"
    graph = ffmpeg_cmd.audio_graph(src, dest, rate=media.audio_sample_rate,
                                   remove_silence=plan.remove_silence, trim=plan.trim)
    spans = [] if plan.remove_silence or dest.suffix != ".flac" else \
        parallel_audio.plan_audio_spans(plan.trim, info.duration_s, media.workers)
    what = "audio (is it silent throughout?)" if plan.remove_silence else "audio"
    seconds = 0.0
    if len(spans) > 1:
        seconds, problem = parallel_audio.decode_in_spans(
            src, dest, spans, rate=media.audio_sample_rate, workers=media.workers,
            timeout_s=_timeout(info))
        if problem is None:
            return Converted(dest, _probe_output(dest, what), ffmpeg_seconds=seconds)
    seconds += ffmpeg_cmd.run_graph(graph, workers=media.workers, timeout_s=_timeout(info))
    return Converted(dest, _probe_output(dest, what), ffmpeg_seconds=seconds)


def resize_image(src: Path, info: MediaInfo, plan: Plan, media: MediaSettings,
                 workdir: Path) -> Converted:
    dest = workdir / f"prepared{plan.ext}"
    graph = ffmpeg_cmd.image_graph(src, dest, long_side=media.max_long_side)
    seconds = ffmpeg_cmd.run_graph(graph, workers=media.workers, timeout_s=_timeout(info))
    return Converted(dest, _probe_output(dest, "image"), ffmpeg_seconds=seconds)


def extract_keyframes(src: Path, info: MediaInfo, plan: Plan, media: MediaSettings,
                      workdir: Path) -> Converted:
    """Never more images than Gemini would sample frames from the video at the plan's
    rate: keyframes must not cost more than the video they replace."""
    start, end = plan.trim or (0.0, None)
    duration = (end if end is not None else info.duration_s) - start
    sample_fps = plan.encode_fps or media.fps
    max_frames = frames_sampled(duration, min(sample_fps, GEMINI_VIDEO_FPS))
    audio_dest = workdir / f"prepared{plan.ext}" if plan.keep_audio else None
    graph = ffmpeg_cmd.keyframes_graph(
        src, workdir / "kf-%06d.jpg", sample_fps=sample_fps, long_side=media.max_long_side,
        max_frames=max_frames, audio_dest=audio_dest, audio_rate=media.audio_sample_rate,
        trim=plan.trim)
    seconds = ffmpeg_cmd.run_graph(graph, workers=media.workers, timeout_s=_timeout(info))
    frames = sorted(workdir.glob("kf-*.jpg"))
    if not frames:
        raise NoUsableOutput("no keyframe could be extracted")
    keyframes = [Keyframe(p, _probe_output(p, "keyframe"),
                          round(start + int(p.stem.removeprefix("kf-")) / sample_fps, 3))
                 for p in frames]
    audio_info = _probe_output(audio_dest, "audio") if audio_dest else None
    return Converted(audio_dest, audio_info, keyframes, seconds)


def convert(src: Path, info: MediaInfo, plan: Plan, media: MediaSettings,
            workdir: Path, read: SourceRead | None = None) -> Converted:
    """Dispatch on the plan; passthrough plans never reach here."""
    if plan.keyframes:
        return extract_keyframes(src, info, plan, media, workdir)
    if plan.kind is MediaKind.VIDEO:
        return downsample_video(src, info, plan, media, workdir, read)
    if plan.kind is MediaKind.AUDIO:
        return downsample_audio(src, info, plan, media, workdir)
    if plan.kind is MediaKind.IMAGE:
        return resize_image(src, info, plan, media, workdir)
    raise ValueError(f"nothing to convert for {plan.kind.value}")
