"""Audio in spans: one ffmpeg process decodes and resamples at about one core's speed, and
for long audio that decode is nearly all of the work. The source is cut by time into one
span per core; each span decodes (one thread) and resamples its part to 16-bit mono PCM,
and one FLAC encoder takes the spans' samples back to back. The encoder is light (a fifth
of the decode) and runs beside the spans on the first span's pipe; later spans wait in
files until their turn.

PCM, not FLAC per span: FLAC files joined with ``-c copy`` keep the first one's sample
count in the header (a joined 600 s file claims 300 s) and restart their frame numbers.

The joins are continuous: every span after the first starts decoding ``PREROLL_S`` early
and drops those samples (an MP3 frame leans on the one before it, an AAC frame overlaps
it, and the resampler starts from silence), and every span before the last reads a little
past its end and is cut at its last sample (where the resampler's flush would fade it).
Cuts fall on whole seconds from the start, so a span's first sample is the one a single
decode makes at that instant, at any whole-number source rate.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flashfirst.errors import FfmpegFailed
from flashfirst.media import ffmpeg_cmd

# Shorter audio is prepared by one process: below this the spans' extra process starts
# and pre-roll cost more than the halved decode saves (60 s: no faster; 120 s: 1.4x
# faster, on a loaded 2-core machine).
MIN_SOURCE_S = 90.0
PREROLL_S = 1
_PAST_END_S = 0.1
_SAMPLE_BYTES = 2


@dataclass(frozen=True)
class AudioSpan:
    """Source seconds ``[start_s, end_s)`` (``end_s`` None: to the end of the source)."""

    start_s: float
    end_s: float | None
    first: bool
    last: bool


def plan_audio_spans(trim: tuple[float, float | None] | None, duration_s: float,
                     cores: int) -> list[AudioSpan]:
    """Up to ``cores`` spans of about equal length over the (trimmed) source, cut on whole
    seconds from its start. A single span means: one process."""
    start, end = trim or (0.0, None)
    length = (end if end is not None else duration_s) - start
    if cores < 2 or length < MIN_SOURCE_S:
        return [AudioSpan(start, end, first=True, last=True)]
    cuts = [start + round(length * j / cores) for j in range(cores)]
    ends: list[float | None] = [*cuts[1:], end]
    return [AudioSpan(a, b, first=j == 0, last=j == cores - 1)
            for j, (a, b) in enumerate(zip(cuts, ends, strict=True))]


@dataclass(frozen=True)
class _Decoder:
    """A span's command line, and the bytes of its output to drop and to keep."""

    args: list[str]
    skip: int
    keep: int | None  # None: to the end


def _decoder(src: Path, span: AudioSpan, rate: int) -> _Decoder:
    if span.first:
        seek, skip = (span.start_s or None), 0
    else:
        seek, skip = span.start_s - PREROLL_S, PREROLL_S * rate
    keep = None if span.last or span.end_s is None \
        else round((span.end_s - span.start_s) * rate)
    to = span.end_s if span.last or span.end_s is None else span.end_s + _PAST_END_S
    args = ffmpeg_cmd.compile_args(ffmpeg_cmd.pcm_span_graph(src, rate=rate, seek_s=seek,
                                                             to_s=to))
    return _Decoder(args, skip * _SAMPLE_BYTES,
                    None if keep is None else keep * _SAMPLE_BYTES)


def _copy(stream: IO[bytes], sink: IO[bytes], skip: int, keep: int | None) -> int:
    """Copy ``stream`` to ``sink`` but its first ``skip`` bytes and anything past ``keep``
    more, reading it to its end; return the bytes copied."""
    seen = copied = 0
    while chunk := stream.read(1 << 20):
        start = max(0, skip - seen)
        stop = len(chunk) if keep is None else max(start, min(len(chunk), skip + keep - seen))
        sink.write(chunk[start:stop])
        copied += stop - start
        seen += len(chunk)
    return copied


def _spill(stream: IO[bytes], path: Path, skip: int, keep: int | None) -> tuple[Path, int]:
    with path.open("wb") as fh:
        return path, _copy(stream, fh, skip, keep)


def _failed(span: int, spans: list[AudioSpan], proc: subprocess.Popen[bytes], err: Path
            ) -> FfmpegFailed:
    where = spans[span].start_s
    return FfmpegFailed(proc.returncode, f"audio span {span + 1} of {len(spans)}, from "
                        f"{where:g} s of the source: "
                        f"{ffmpeg_cmd.error_tail(err.read_bytes())}")


def _gap(sizes: list[int], spans: list[AudioSpan], rate: int) -> str | None:
    """Why the spans' samples are not one decode's (None: they are): a span that ended
    short of its cut while a later one found samples (the source is shorter than its
    header says, or has a hole)."""
    for j, (size, span) in enumerate(zip(sizes, spans, strict=True)):
        if span.end_s is None or span.last:
            continue
        wanted = round((span.end_s - span.start_s) * rate) * _SAMPLE_BYTES
        if size < wanted and any(sizes[j + 1:]):
            return (f"audio span {j + 1} ended {(wanted - size) / _SAMPLE_BYTES / rate:.3f} s "
                    f"before its cut at {span.end_s:g} s")
    return None


def decode_in_spans(src: Path, dest: Path, spans: list[AudioSpan], *, rate: int,
                    workers: int, timeout_s: float) -> tuple[float, str | None]:
    """Decode the spans at once into one FLAC file; return the wall seconds and why the
    output is not one decode's (None: it is). A span that fails raises ``FfmpegFailed``
    naming it, and ``dest`` is removed."""
    work = dest.parent / f"{dest.stem}-spans"
    work.mkdir(exist_ok=True)
    errs = [work / f"span{j:02d}.err" for j in range(len(spans))]
    enc_err = work / "encoder.err"
    procs: list[subprocess.Popen[bytes]] = []
    timed_out = threading.Event()

    def kill_all() -> None:
        timed_out.set()
        for proc in procs:
            proc.kill()

    started = time.perf_counter()
    timer = threading.Timer(timeout_s, kill_all)
    plans = [_decoder(src, span, rate) for span in spans]
    with ffmpeg_cmd.running_together(len(spans), 1, workers=workers), ExitStack() as files:
        try:
            encoder = subprocess.Popen(
                ffmpeg_cmd.compile_args(ffmpeg_cmd.flac_from_pcm_graph(dest, rate=rate)),
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=files.enter_context(enc_err.open("wb")))
            procs.append(encoder)
            decoders = [subprocess.Popen(d.args, stdout=subprocess.PIPE,
                                         stderr=files.enter_context(err.open("wb")))
                        for d, err in zip(plans, errs, strict=True)]
            procs.extend(decoders)
            timer.start()
            sizes = _join(decoders, plans, encoder, spans, errs, work)
            if encoder.wait() != 0:
                raise FfmpegFailed(encoder.returncode, "the FLAC encoder after audio spans: "
                                   + ffmpeg_cmd.error_tail(enc_err.read_bytes()))
        except BaseException as exc:
            dest.unlink(missing_ok=True)
            if timed_out.is_set():
                raise FfmpegFailed(-1, f"timed out after {timeout_s:.0f} s") from exc
            raise
        finally:
            timer.cancel()
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    return time.perf_counter() - started, _gap(sizes, spans, rate)


def _join(decoders: list[subprocess.Popen[bytes]], plans: list[_Decoder],
          encoder: subprocess.Popen[bytes], spans: list[AudioSpan], errs: list[Path],
          work: Path) -> list[int]:
    """Feed the encoder the first span as it comes, then each later one from its file once
    it has ended well; return the bytes each span gave."""
    sink = encoder.stdin
    assert sink is not None
    streams = [d.stdout for d in decoders]
    sizes: list[int] = []

    def check(j: int) -> None:
        if decoders[j].wait() != 0:
            raise _failed(j, spans, decoders[j], errs[j])

    with ThreadPoolExecutor(max_workers=len(decoders) - 1) as pool:
        spilled = {j: pool.submit(_spill, stream, work / f"span{j:02d}.pcm", plans[j].skip,
                                  plans[j].keep)
                   for j, stream in enumerate(streams) if j and stream is not None}
        try:
            assert streams[0] is not None
            sizes.append(_copy(streams[0], sink, plans[0].skip, plans[0].keep))
            check(0)
            for j in range(1, len(decoders)):
                path, size = spilled[j].result()
                check(j)
                with path.open("rb") as fh:
                    shutil.copyfileobj(fh, sink, 1 << 20)
                sizes.append(size)
            sink.close()
        except BrokenPipeError:
            pass  # the encoder died: its exit code and error say why
        except BaseException:
            for proc in decoders:
                proc.kill()  # the spilling threads end with them
            raise
    return sizes
