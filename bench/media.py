"""Media preparation benchmark: our stage against the plain ffmpeg command line doing the
same conversion, in the same run, on media generated on the spot.

Prints, for a 60 s 720p60 clip with 44.1 kHz stereo audio (a clean test pattern, the same
pattern with a keyframe every second, and a film-grain clip: real video decodes slower than
test patterns) and 10 min of 44.1 kHz stereo audio: wall time of ``prepare_media`` vs. the
plain ``ffmpeg`` command (median of a few interleaved runs), times faster than real time,
which decode the stage chose, a second (reused) run, and bytes and tokens before/after for
each policy. The last line is its figures, per source (no suffix: the clean clip;
``_noisy``, ``_gop1s``, ``_audio``): ``vs_ffmpeg`` and ``cpu_vs_ffmpeg`` (wall and CPU
against the plain command; on a machine shared with other work CPU moves less),
``x_realtime``, ``bytes_ratio``; ``long_fit_fps`` and ``long_fit_window_share`` (the rate
``{"fit": "fps"}`` chose for a 5-hour clip over Gemini 3's window, its share of the
window), ``long_split_segments`` and ``long_split_window_share`` (``{"fit": "split"}``'s
segments, the largest one's share); ``vs_decode_bound`` (our wall time against
``ffmpeg -threads 1 -benchmark -i SRC -f null -`` CPU seconds over the cores this process
may use: the least wall time of anything that decodes every frame, on idle cores),
``cpu_vs_decode`` (our CPU against that decode's) and ``vs_decode_wall`` (our wall time
against that decode run as one process per core over equal spans at once, in the same run:
what the bound is on cores busy with other work).

    python bench/media.py [--video-seconds 60] [--audio-seconds 600] [--repeat 5]
                          [--long-hours 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import PreparedMedia, ffmpeg_invocations, prepare_media
from flashfirst.media.ffmpeg_cmd import ffmpeg_exe
from flashfirst.media.parallel_decode import plan_spans
from flashfirst.media.sampling import Decode, index_video, plan_decode
from flashfirst.probe import MediaKind, probe_file
from flashfirst.settings import Settings
from flashfirst.storage import Storage

VIDEO_POLICIES: dict[str, MediaPolicy] = {
    "default (1 fps, 768 px, 16 kHz)": MediaPolicy(),
    "fps 0.25": MediaPolicy(fps=0.25),
    "low resolution": MediaPolicy(media_resolution="low"),
    "fps 0.25 + low": MediaPolicy(fps=0.25, media_resolution="low"),
    "trim to 0-30 s": MediaPolicy(trim_end_s=30),
    "drop audio": MediaPolicy(drop_audio=True),
    "keyframes as images": MediaPolicy(keyframes_as_images=True),
}
AUDIO_POLICIES: dict[str, MediaPolicy] = {
    "default (16 kHz mono FLAC)": MediaPolicy(),
    "remove silence": MediaPolicy(remove_silence=True),
    "trim to 0-300 s": MediaPolicy(trim_end_s=300),
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def make_video(dest: Path, seconds: int) -> None:
    """720p60 test pattern with a 44.1 kHz stereo tone; colours invert every 10 s (scene
    cuts for the keyframes policy)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=60:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
           "-vf", "negate=enable='lt(mod(t,20),10)'", "-ac", "2", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
           "-shortest", str(dest))


def make_video_gop1s(src: Path, dest: Path) -> None:
    """The clean clip re-encoded with a keyframe every second (and no scene-cut ones)."""
    ffmpeg("-i", str(src), "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
           "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "copy", str(dest))


def make_noisy_video(dest: Path, seconds: int) -> None:
    """720p60 with strong temporal noise (film grain), x264 veryfast (B-frames, CABAC,
    deblocking: how most encoders write), about 19 Mbps. Encoding noise is slow, so 5 s are
    encoded and repeated without re-encoding."""
    segment = dest.with_name("noisy-segment.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=60:duration=5",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5",
           "-vf", "noise=alls=16:allf=t", "-ac", "2", "-c:v", "libx264", "-preset", "veryfast",
           "-maxrate", "16M", "-bufsize", "32M", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-b:a", "192k", "-shortest", str(segment))
    ffmpeg("-stream_loop", str(max(0, seconds // 5 - 1)), "-i", str(segment), "-c", "copy",
           str(dest))


def make_audio(dest: Path, seconds: int) -> None:
    """44.1 kHz stereo MP3: 7 s of tone then 3 s of silence, repeated."""
    expr = "if(lt(mod(t,10),7),0.5*sin(2*PI*(300+20*floor(t/10))*t),0)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs='{expr}|{expr}':s=44100:d={seconds}",
           "-c:a", "libmp3lame", "-b:a", "192k", str(dest))


def plain_video(src: Path, dest: Path) -> None:
    """The same conversion as our default video plan, typed as one command line: every
    frame decoded, as a user's ``ffmpeg -i in -vf fps=1,scale=... -ac 1 -ar 16000 out``."""
    ffmpeg("-i", str(src), "-map", "0:v:0", "-map", "0:a:0", "-vf",
           "fps=1,scale=w='if(gte(iw,ih),min(iw,768),-2)':h='if(gte(iw,ih),-2,min(ih,768))',"
           "format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
           "-c:a", "aac", "-ar", "16000", "-ac", "1", "-b:a", "32k", "-movflags", "+faststart",
           str(dest))


def plain_audio(src: Path, dest: Path) -> None:
    ffmpeg("-i", str(src), "-vn", "-map", "0:a:0", "-c:a", "flac", "-ar", "16000", "-ac", "1",
           "-sample_fmt", "s16", str(dest))


def cores() -> int:
    """The cores this process may run on (the affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_BENCH = re.compile(r"bench: utime=([\d.]+)s stime=([\d.]+)s")


def decode_cpu_s(src: Path) -> float:
    """CPU seconds ffmpeg takes to decode every stream of ``src`` on one thread and
    discard it (``-benchmark``): the work nothing that needs every frame can skip."""
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-benchmark",
                           "-threads", "1", "-i", str(src), "-f", "null", "-"],
                          check=True, capture_output=True, text=True)
    found = _BENCH.search(proc.stderr)
    assert found, f"no -benchmark line in ffmpeg's output for {src}"
    return float(found[1]) + float(found[2])


def decode_wall_s(src: Path) -> float:
    """The decode bound as wall time under this run's load: every stream decoded and
    discarded by one single-threaded process per core over equal spans, all at once."""
    duration = probe_file(src).duration_s
    n = cores()
    cuts = [duration * j / n for j in range(n + 1)]
    started = time.perf_counter()
    procs = [subprocess.Popen(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
         *(["-ss", f"{cuts[j]:.3f}"] if j else []),
         *(["-to", f"{cuts[j + 1]:.3f}"] if j < n - 1 else []),
         "-i", str(src), "-f", "null", "-"]) for j in range(n)]
    codes = [p.wait() for p in procs]
    assert codes == [0] * n, f"a decode of {src} failed: {codes}"
    return time.perf_counter() - started


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def ours(src: Path, kind: MediaKind, root: Path, policy: MediaPolicy) -> PreparedMedia:
    settings = Settings(storage_root=str(root))
    item = WorkItem(id=src.stem, kind=kind, uri=str(src), media_policy=policy)
    return prepare_media(item, settings, Storage(), None,
                         policy=MediaPolicy(inline=False))


@dataclass
class Figures:
    """Medians over the repeats: wall seconds, and CPU seconds (ours: this process plus its
    ffmpeg; plain: the ffmpeg process), which a machine busy with other work disturbs less."""

    ours_s: float
    inner_s: float
    plain_s: float
    ours_cpu_s: float
    plain_cpu_s: float
    decode_cpu_s: float
    decode_wall_s: float
    prepared: PreparedMedia

    @property
    def ratio(self) -> float:
        return self.ours_s / self.plain_s

    @property
    def cpu_ratio(self) -> float:
        return self.ours_cpu_s / self.plain_cpu_s

    @property
    def decode_bound_s(self) -> float:
        """The decode's CPU spread over every core: no faster wall time needs every frame."""
        return self.decode_cpu_s / cores()

    @property
    def vs_decode_bound(self) -> float:
        return self.ours_s / self.decode_bound_s

    @property
    def vs_decode_wall(self) -> float:
        return self.ours_s / self.decode_wall_s

    @property
    def cpu_vs_decode(self) -> float:
        return self.ours_cpu_s / self.decode_cpu_s


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def compare(src: Path, kind: MediaKind, work: Path, repeat: int,
            plain: Callable[[Path, Path], None], ext: str, label: str = "") -> Figures:
    """Ours (fresh store each run), the ffmpeg process inside it, plain ffmpeg and the
    decode alone, interleaved so a busy machine slows them alike."""
    ours_s, inner_s, plain_s, ours_cpu, plain_cpu, decode_cpu, decode_wall = ([] for _ in range(7))
    prepared = None
    for i in range(repeat):
        root = work / f"store-{kind.value}{label}-{i}"
        started, cpu = time.perf_counter(), cpu_seconds()
        prepared = ours(src, kind, root, MediaPolicy())
        ours_s.append(time.perf_counter() - started)
        ours_cpu.append(cpu_seconds() - cpu)
        inner_s.append(prepared.stats.ffmpeg_seconds)
        dest = work / f"plain{label}-{i}{ext}"
        cpu = cpu_seconds()
        plain_s.append(timed(lambda dest=dest: plain(src, dest)))
        plain_cpu.append(cpu_seconds() - cpu)
        decode_cpu.append(decode_cpu_s(src))
        decode_wall.append(decode_wall_s(src))
    assert prepared is not None
    m = statistics.median
    return Figures(m(ours_s), m(inner_s), m(plain_s), m(ours_cpu), m(plain_cpu),
                   m(decode_cpu), m(decode_wall), prepared)


def long_clip(work: Path, hours: float) -> Path:
    """A recording longer than Gemini 3's window (a dashcam day at 1 fps, tiny frames so it
    is made in a second)."""
    src = work / "dashcam-long.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=c=gray:s=32x18:r=1:d={int(hours * 3600)}",
           "-c:v", "libx264", "-preset", "ultrafast", "-g", "3600", str(src))
    return src


def long_clip_fit(src: Path, work: Path, hours: float) -> tuple[float, float]:
    """The long clip fitted with ``{"fit": "fps"}``: the rate chosen and the share of the
    window its tokens take."""
    item = WorkItem(id="dashcam", uri=str(src), media_policy=MediaPolicy(fit="fps"))
    started = time.perf_counter()
    prepared = prepare_media(item, Settings(storage_root=str(work / "store-long")), Storage(),
                             None, model="gemini-3.8-flash")
    seconds = time.perf_counter() - started
    s, window = prepared.stats, 1_048_576
    print(f"\nlong clip, {hours:g} h at 1 fps on gemini-3.8-flash (window {window:,}), "
          f'media_policy {{"fit": "fps"}}:')
    print(f"  tokens {s.tokens_before.total:,} -> {s.tokens_after.total:,} "
          f"({s.tokens_after.total / window:.1%} of the window), frames {s.frames_before:,} -> "
          f"{s.frames_sent:,}, sampled at {prepared.video_fps} fps, prepared in {seconds:.1f} s")
    return prepared.video_fps or 1.0, s.tokens_after.total / window


def long_clip_split(src: Path, work: Path, hours: float) -> tuple[int, float]:
    """The long clip with ``{"fit": "split"}``: its segments, and the largest one's share
    of the window (each is sent in a call of its own, the whole at the default rate)."""
    item = WorkItem(id="dashcam", uri=str(src), media_policy=MediaPolicy(fit="split"))
    started = time.perf_counter()
    prepared = prepare_media(item, Settings(storage_root=str(work / "store-split")),
                             Storage(), None, model="gemini-3.8-flash")
    seconds = time.perf_counter() - started
    s, window = prepared.stats, 1_048_576
    # A clip that fits the window is not cut: one "segment", the whole.
    largest = max((p.stats.tokens_after.total for p in prepared.segments),
                  default=s.tokens_after.total)
    spans = ", ".join(f"{p.span[0]:g}-{p.span[1]:g} s" for p in prepared.segments if p.span)
    print(f'\nlong clip, {hours:g} h, media_policy {{"fit": "split"}}: '
          f"{len(prepared.segments)} segments ({spans}), tokens {s.tokens_before.total:,} -> "
          f"{s.tokens_after.total:,} in all, the largest {largest:,} "
          f"({largest / window:.1%} of the window), prepared in {seconds:.1f} s")
    return len(prepared.segments), largest / window


def policy_table(src: Path, kind: MediaKind, work: Path,
                 policies: dict[str, MediaPolicy]) -> None:
    print(f"  {'policy':34} {'bytes before':>13} {'bytes after':>12} {'tokens before':>14} "
          f"{'tokens after':>13} {'ffmpeg s':>9}")
    print("  (ffmpeg 0.00: the file was reused; media resolution is a request setting)")
    for name, policy in policies.items():
        prepared = ours(src, kind, work / f"policies-{kind.value}", policy)
        s = prepared.stats
        print(f"  {name:34} {s.bytes_before:13,} {s.bytes_after:12,} "
              f"{s.tokens_before.total:14,} {s.tokens_after.total:13,} {s.ffmpeg_seconds:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video-seconds", type=int, default=60)
    parser.add_argument("--audio-seconds", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--long-hours", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        work = Path(tmp)
        video, audio = work / "clip-720p60.mp4", work / "talk-44k-stereo.mp3"
        gen = timed(lambda: (make_video(video, args.video_seconds),
                             make_audio(audio, args.audio_seconds)))
        print(f"generated sources in {gen:.1f} s")

        clips = {"": video, "-gop1s": work / "clip-720p60-gop1s.mp4",
                 "-noisy": work / "grain-720p60.mp4"}
        gen = timed(lambda: (make_video_gop1s(video, clips["-gop1s"]),
                             make_noisy_video(clips["-noisy"], args.video_seconds)))
        print(f"generated the 1 s keyframe and film-grain variants in {gen:.1f} s")
        titles = {"": "clean test pattern, keyframe every 4.2 s",
                  "-gop1s": "same pattern, keyframe every 1 s",
                  "-noisy": "film grain, x264 veryfast"}
        figures: dict[str, Figures] = {}
        for label, src in clips.items():
            f = compare(src, MediaKind.VIDEO, work, args.repeat, plain_video, ".mp4", label)
            figures[label] = f
            index = index_video(src)
            decode = plan_decode(index, 1.0, trimmed=False)
            spans = 1 if index is None or decode.decode is Decode.KEYFRAMES else \
                len(plan_spans(index, 1.0, decode.frames, Settings().media.workers))
            plain_bytes = (work / f"plain{label}-0.mp4").stat().st_size
            print(f"\nvideo {args.video_seconds} s 1280x720 60 fps, 44.1 kHz stereo "
                  f"({titles[label]}, {src.stat().st_size / 1e6:.0f} MB):")
            print(f"  ours {f.ours_s:.2f} s (its ffmpeg {f.inner_s:.2f} s), plain ffmpeg "
                  f"{f.plain_s:.2f} s, ratio {f.ratio:.2f}; "
                  f"{args.video_seconds / f.ours_s:.1f}x real time")
            print(f"  CPU: ours {f.ours_cpu_s:.2f} s, plain {f.plain_cpu_s:.2f} s, "
                  f"ratio {f.cpu_ratio:.2f}")
            print(f"  decode bound: {f.decode_cpu_s:.2f} s of one-thread decode CPU on "
                  f"{cores()} cores = {f.decode_bound_s:.2f} s; ours "
                  f"{f.vs_decode_bound:.2f}x the bound; the same decode in {cores()} "
                  f"processes at once took {f.decode_wall_s:.2f} s here, ours "
                  f"{f.vs_decode_wall:.2f}x that; CPU {f.cpu_vs_decode:.2f}x the decode's")
            print(f"  decode: {decode.decode.value} ({decode.why}) in {spans} process(es) at "
                  f"once; output "
                  f"{f.prepared.stats.bytes_after:,} bytes, plain command {plain_bytes:,}")
        v = figures[""].prepared
        runs = ffmpeg_invocations()
        v_again = timed(lambda: ours(video, MediaKind.VIDEO, work / "store-video-0",
                                     MediaPolicy()))
        assert ffmpeg_invocations() == runs, "a reused item ran ffmpeg"
        print(f"\nclean clip again: {v_again * 1000:.0f} ms (reused, no ffmpeg)")
        policy_table(video, MediaKind.VIDEO, work, VIDEO_POLICIES)

        a = compare(audio, MediaKind.AUDIO, work, args.repeat, plain_audio, ".flac")
        print(f"\naudio {args.audio_seconds} s 44.1 kHz stereo MP3:")
        print(f"  ours {a.ours_s:.2f} s (its ffmpeg {a.inner_s:.2f} s), plain ffmpeg "
              f"{a.plain_s:.2f} s, ratio {a.ratio:.2f}; "
              f"{args.audio_seconds / a.ours_s:.0f}x real time; "
              f"bytes ratio {a.prepared.stats.bytes_ratio:.3f}")
        print(f"  decode bound: {a.decode_cpu_s:.2f} s of decode CPU on {cores()} cores = "
              f"{a.decode_bound_s:.2f} s; ours {a.vs_decode_bound:.2f}x the bound; the decode "
              f"in {cores()} processes at once took {a.decode_wall_s:.2f} s here, ours "
              f"{a.vs_decode_wall:.2f}x that; CPU {a.cpu_vs_decode:.2f}x the decode's")
        policy_table(audio, MediaKind.AUDIO, work, AUDIO_POLICIES)

        long_src = long_clip(work, args.long_hours)
        fit_fps, fit_share = long_clip_fit(long_src, work, args.long_hours)
        segments, split_share = long_clip_split(long_src, work, args.long_hours)

        print("\nnote: 1 fps, 768 px and 16 kHz mono cut bytes, not tokens (Gemini samples "
              "at those rates itself); tokens fall only with the policies above.")
        clean, noisy, gop1s = figures[""], figures["-noisy"], figures["-gop1s"]
        realtime = args.video_seconds
        print(f"vs_ffmpeg={clean.ratio:.2f} x_realtime={realtime / clean.ours_s:.1f} "
              f"bytes_ratio={v.stats.bytes_ratio:.4f} "
              f"vs_ffmpeg_noisy={noisy.ratio:.2f} x_realtime_noisy={realtime / noisy.ours_s:.1f} "
              f"vs_ffmpeg_gop1s={gop1s.ratio:.2f} x_realtime_gop1s={realtime / gop1s.ours_s:.1f} "
              f"cpu_vs_ffmpeg={clean.cpu_ratio:.2f} cpu_vs_ffmpeg_noisy={noisy.cpu_ratio:.2f} "
              f"cpu_vs_ffmpeg_gop1s={gop1s.cpu_ratio:.2f} "
              f"long_fit_fps={fit_fps:.4f} long_fit_window_share={fit_share:.3f} "
              f"long_split_segments={segments} long_split_window_share={split_share:.3f} "
              f"vs_decode_bound={clean.vs_decode_bound:.2f} "
              f"vs_decode_bound_noisy={noisy.vs_decode_bound:.2f} "
              f"vs_decode_bound_gop1s={gop1s.vs_decode_bound:.2f} "
              f"vs_decode_bound_audio={a.vs_decode_bound:.2f} "
              f"cpu_vs_decode={clean.cpu_vs_decode:.2f} "
              f"cpu_vs_decode_noisy={noisy.cpu_vs_decode:.2f} "
              f"cpu_vs_decode_gop1s={gop1s.cpu_vs_decode:.2f} "
              f"cpu_vs_decode_audio={a.cpu_vs_decode:.2f} "
              f"vs_decode_wall={clean.vs_decode_wall:.2f} "
              f"vs_decode_wall_noisy={noisy.vs_decode_wall:.2f} "
              f"vs_decode_wall_gop1s={gop1s.vs_decode_wall:.2f} "
              f"vs_decode_wall_audio={a.vs_decode_wall:.2f}")


if __name__ == "__main__":
    main()
