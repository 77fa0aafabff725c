"""ffmpeg-python graphs for each conversion, and the one place that runs ffmpeg.

Every conversion is a single ffmpeg process reading the source and writing every output
(frames never pass through Python). The runner counts its invocations so tests and
reports can prove a second run did no ffmpeg work, and bounds how many run at once:
ffmpeg is CPU-bound, so more processes than cores only slows each one down.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from flashfirst.errors import FfmpegFailed

# The long side is capped without upscaling; -2 keeps the other side even (x264 needs it).
_SCALE_W = "if(gte(iw,ih),min(iw,{n}),-2)"
_SCALE_H = "if(gte(iw,ih),-2,min(ih,{n}))"
# Silences longer than this are shortened to it (a pause stays audible as a pause).
SILENCE_MIN_S = 1.0
SILENCE_THRESHOLD = "-50dB"
# A scene change is a frame this different from the previous sampled one (0..1).
SCENE_THRESHOLD = 0.3
VIDEO_CRF = 26
AUDIO_BITRATE_IN_VIDEO = "32k"
# The AAC encoder's fast coder: 16 kHz mono speech at 32 kbps sounds the same, and the
# default (twoloop) spent about half the audio track's CPU, beside the video's decode.
_AAC_IN_VIDEO = {"acodec": "aac", "aac_coder": "fast", "b:a": AUDIO_BITRATE_IN_VIDEO}
# FLAC blocks of 4,096 samples (the format's usual size at 16 kHz): left alone, ffmpeg
# hands the encoder each decoded frame as a block (419 samples from MP3), which made the
# file 2.7x larger and the encode slower.
_FLAC_BLOCKS = {"frame_size": 4096}


@cache
def ffmpeg_exe() -> str:
    """The static ffmpeg shipped in the imageio-ffmpeg wheel (no system install needed)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass
class FfmpegCounters:
    """What this process's ffmpeg runs did: the observables of idempotence and bounds."""

    runs: int = 0
    seconds: float = 0.0
    in_flight: int = 0
    peak_in_flight: int = 0


_counters = FfmpegCounters()
_counter_lock = threading.Lock()
_slots_lock = threading.Lock()
_group_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def ffmpeg_counters() -> FfmpegCounters:
    """A snapshot of the counters."""
    with _counter_lock:
        return replace(_counters)


def ffmpeg_invocations() -> int:
    """How many ffmpeg processes this process has started (a second run adds none)."""
    return ffmpeg_counters().runs


def reset_ffmpeg_peak() -> None:
    """Start measuring the most ffmpeg processes at once afresh."""
    with _counter_lock:
        _counters.peak_in_flight = _counters.in_flight


def _slots_for(workers: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(workers, threading.BoundedSemaphore(workers))


def compile_args(graph: ffmpeg.nodes.OutputStream) -> list[str]:
    """The command line for ``graph``: quiet but for errors, never waiting on stdin."""
    return graph.global_args("-nostdin", "-hide_banner", "-loglevel", "error") \
        .overwrite_output().compile(cmd=ffmpeg_exe())


@contextmanager
def _counted(count: int) -> Iterator[None]:
    with _counter_lock:
        _counters.runs += count
        _counters.in_flight += count
        _counters.peak_in_flight = max(_counters.peak_in_flight, _counters.in_flight)
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        with _counter_lock:
            _counters.in_flight -= count
            _counters.seconds += elapsed


@contextmanager
def running_together(slotted: int, light: int, *, workers: int) -> Iterator[None]:
    """For processes that feed one another and so must run at once: ``slotted`` of the
    ``workers`` slots, taken by one group at a time (two groups holding one slot each
    would wait on each other forever), and ``light`` processes beside them that take
    little CPU and no slot; all counted."""
    slots = _slots_for(workers)
    with _group_lock:
        for _ in range(slotted):
            slots.acquire()
    try:
        with _counted(slotted + light):
            yield
    finally:
        for _ in range(slotted):
            slots.release()


def run_graph(graph: ffmpeg.nodes.OutputStream, *, workers: int, timeout_s: float) -> float:
    """Run one ffmpeg process for ``graph``; return its wall time in seconds.

    At most ``workers`` run at once in this process (one semaphore per worker count)."""
    args = compile_args(graph)
    with _slots_for(workers), _counted(1):
        started = time.perf_counter()
        try:
            proc = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise FfmpegFailed(-1, f"timed out after {timeout_s:.0f} s") from exc
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise FfmpegFailed(proc.returncode, error_tail(proc.stderr))
    return elapsed


def error_tail(stderr: bytes) -> str:
    """ffmpeg's last error lines, on one line."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return " | ".join(lines[-3:]) or "no error output"


def _cap_long_side(stream: ffmpeg.nodes.FilterableStream, long_side: int
                   ) -> ffmpeg.nodes.FilterableStream:
    return stream.filter("scale", w=_SCALE_W.format(n=long_side), h=_SCALE_H.format(n=long_side))


def _input(src: Path, trim: tuple[float, float | None] | None, *, skip_frame: str | None = None
           ) -> ffmpeg.nodes.FilterableStream:
    """Input-side seeking: ffmpeg never decodes what is trimmed away. ``skip_frame``
    (``nokey``, ``noref``) leaves those frames undecoded: sampling at 1 fps or less,
    decoding is nearly all of the work (``python bench/media.py``)."""
    opts: dict[str, float | str] = {"skip_frame": skip_frame} if skip_frame else {}
    if trim is not None:
        start, end = trim
        if start > 0:
            opts["ss"] = start
        if end is not None:
            opts["to"] = end
    return ffmpeg.input(str(src), **opts)


def video_graph(src: Path, dest: Path, *, fps: float, long_side: int, audio_rate: int | None,
                trim: tuple[float, float | None] | None, skip_frame: str | None = None,
                frames: int | None = None) -> ffmpeg.nodes.OutputStream:
    """H.264 in MP4 at ``fps`` with the long side capped; 16 kHz mono AAC when kept.

    ``fps`` runs before ``scale`` so only the kept frames are scaled (2.4× faster
    than the other order on 720p60).
    With ``skip_frame`` the decoder stops at the last frame it keeps, so the fps filter
    would end early: the last kept frame is held for one more period and the video
    cut at ``frames``, the count a full decode writes (``sampling.full_decode_frames``)."""
    inp = _input(src, trim, skip_frame=skip_frame)
    video = inp["v:0"]
    if skip_frame:
        video = video.filter("tpad", stop_mode="clone", stop_duration=f"{1 / fps:.6f}")
    video = video.filter("fps", fps=fps)
    if skip_frame and frames:
        # In the graph, not -frames:v: that would end the audio track there too.
        video = video.filter("trim", end_frame=frames)
    video = _cap_long_side(video, long_side).filter("format", "yuv420p")
    opts = {"vcodec": "libx264", "preset": "veryfast", "crf": VIDEO_CRF,
            "movflags": "+faststart"}
    if audio_rate is None:
        return ffmpeg.output(video, str(dest), an=None, **opts)
    return ffmpeg.output(video, inp["a:0"], str(dest), ar=audio_rate, ac=1, **_AAC_IN_VIDEO,
                         **opts)


def span_graph(src: Path, dest: Path, *, fps: float, long_side: int, seek_s: float | None,
               to_s: float | None, frames: int, skip_frame: str | None,
               audio: tuple[Path, int] | None) -> ffmpeg.nodes.OutputStream:
    """One span of a segment-parallel decode (``parallel_decode``): one thread decodes
    from ``seek_s`` (exact: frames before it are dropped) and writes ``frames`` frames;
    ``audio`` (the first span only): also the whole audio track, to that file at that rate.

    After a seek to a window's start, rounding down puts each frame in the slot a full
    decode's rounding to nearest gives it."""
    opts: dict[str, float | str | int] = {"threads": 1}
    if skip_frame:
        opts["skip_frame"] = skip_frame
    if seek_s is not None:
        opts["ss"] = f"{seek_s:.6f}"
    if to_s is not None:
        opts["to"] = f"{to_s:.6f}"
    video = ffmpeg.input(str(src), **opts)["v:0"]
    if skip_frame:
        video = video.filter("tpad", stop_mode="clone", stop_duration=f"{1 / fps:.6f}")
    video = video.filter("fps", fps=fps, round="near" if seek_s is None else "down")
    video = _cap_long_side(video.filter("trim", end_frame=frames), long_side)
    out = ffmpeg.output(video.filter("format", "yuv420p"), str(dest), an=None,
                        vcodec="libx264", preset="veryfast", crf=VIDEO_CRF, threads=1)
    if audio is None:
        return out.global_args("-filter_threads", "1")
    path, rate = audio
    track = ffmpeg.input(str(src), vn=None, threads=1)["a:0"]
    sound = ffmpeg.output(track, str(path), ar=rate, ac=1, **_AAC_IN_VIDEO)
    return ffmpeg.merge_outputs(out, sound).global_args("-filter_threads", "1")


def join_graph(listing: Path, audio: Path | None, dest: Path) -> ffmpeg.nodes.OutputStream:
    """The spans' videos back to back as one stream (no re-encoding), with the audio."""
    video = ffmpeg.input(str(listing), f="concat", safe=0)["v:0"]
    streams = [video] if audio is None else [video, ffmpeg.input(str(audio))["a:0"]]
    return ffmpeg.output(*streams, str(dest), c="copy", movflags="+faststart")


def _audio_out(stream: ffmpeg.nodes.FilterableStream, dest: Path, rate: int
               ) -> ffmpeg.nodes.OutputStream:
    """FLAC 16-bit mono, or Opus in OGG (never in MP4: it would report 48 kHz)."""
    if dest.suffix == ".ogg":
        return ffmpeg.output(stream, str(dest), vn=None, acodec="libopus", ar=rate, ac=1,
                             **{"b:a": "32k"})
    # From mp3/aac (float samples) FLAC would otherwise be written 24-bit: twice the size.
    return ffmpeg.output(stream, str(dest), vn=None, acodec="flac", ar=rate, ac=1,
                         sample_fmt="s16", **_FLAC_BLOCKS)


def pcm_span_graph(src: Path, *, rate: int, seek_s: float | None, to_s: float | None
                   ) -> ffmpeg.nodes.OutputStream:
    """One span of an audio decode in spans (``parallel_audio``): one thread decodes from
    ``seek_s`` to ``to_s`` and writes it mono at ``rate`` as raw 16-bit PCM to stdout,
    resampled by the same output options as ``_audio_out`` (a resampler set up in the
    filter graph instead puts the samples a fraction of a sample apart)."""
    opts: dict[str, float | str | int] = {"threads": 1}
    if seek_s is not None:
        opts["ss"] = f"{seek_s:.6f}"
    if to_s is not None:
        opts["to"] = f"{to_s:.6f}"
    audio = ffmpeg.input(str(src), **opts)["a:0"]
    return ffmpeg.output(audio, "pipe:", vn=None, f="s16le", acodec="pcm_s16le", ar=rate,
                         ac=1).global_args("-filter_threads", "1")


def flac_from_pcm_graph(dest: Path, *, rate: int) -> ffmpeg.nodes.OutputStream:
    """Raw 16-bit mono PCM on stdin to FLAC, as ``_audio_out`` writes it."""
    pcm = ffmpeg.input("pipe:", f="s16le", ar=rate, ac=1)
    return ffmpeg.output(pcm, str(dest), acodec="flac", **_FLAC_BLOCKS)


def audio_graph(src: Path, dest: Path, *, rate: int, remove_silence: bool,
                trim: tuple[float, float | None] | None) -> ffmpeg.nodes.OutputStream:
    """The first audio track, mono at ``rate``; ``-vn`` so a video's frames are never decoded."""
    audio = _input(src, trim)["a:0"]
    if remove_silence:
        audio = audio.filter("aresample", rate).filter(
            "silenceremove", stop_periods=-1, stop_duration=SILENCE_MIN_S,
            stop_threshold=SILENCE_THRESHOLD)
    return _audio_out(audio, dest, rate)


def image_graph(src: Path, dest: Path, *, long_side: int) -> ffmpeg.nodes.OutputStream:
    """One image with its long side capped (JPEG, or PNG when the source was PNG)."""
    image = _cap_long_side(ffmpeg.input(str(src))["v:0"], long_side)
    opts = {"frames:v": 1, **({"q:v": 3} if dest.suffix == ".jpg" else {})}
    return ffmpeg.output(image, str(dest), **opts)


def keyframes_graph(src: Path, pattern: Path, *, sample_fps: float, long_side: int,
                    max_frames: int, audio_dest: Path | None, audio_rate: int,
                    trim: tuple[float, float | None] | None) -> ffmpeg.nodes.OutputStream:
    """Scene-change frames as JPEGs (plus the audio track) from one ffmpeg process.

    Frames are first sampled at ``sample_fps`` (cheap), then a frame is kept when it
    differs from the previous sample by more than ``SCENE_THRESHOLD``; the first frame is
    always kept and at most ``max_frames`` are written. ``pattern`` holds one ``%d``: it
    becomes the frame's timestamp counted in samples from the (trimmed) start."""
    # Frames no other frame refers to are not decoded: scene detection on 1 fps samples
    # tolerates a neighbour of the exact frame, and B-frame-heavy sources decode faster.
    inp = _input(src, trim, skip_frame="noref")
    frames = inp["v:0"].filter("fps", fps=sample_fps).filter(
        "select", f"eq(n,0)+gt(scene,{SCENE_THRESHOLD})")
    frames = _cap_long_side(frames, long_side)
    # frame_pts names each file by its timestamp in 1/sample_fps units: when it was shot.
    images = ffmpeg.output(frames, str(pattern), fps_mode="vfr", frame_pts=1,
                           **{"frames:v": max_frames, "q:v": 3})
    if audio_dest is None:
        return images
    return ffmpeg.merge_outputs(images, _audio_out(inp["a:0"], audio_dest, audio_rate))
