"""A video decoded in spans, one ffmpeg process per core, is the video one process makes:
the same frames from the same moments, the same duration and audio, the same tokens and
the same store key; a span that fails fails its item and stores nothing.

Sources are time-coded (``time_coded`` in tests/fixtures/media.py), with a keyframe every
2 s: too sparse to decode keyframes only at 1 fps, dense enough to cut at.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from fixtures.media import assert_span_failed, shown_times

from flashfirst.errors import MediaError
from flashfirst.items import WorkItem
from flashfirst.media import PreparedMedia, ffmpeg_invocations, prepare_media
from flashfirst.media.downsample import Converted, convert
from flashfirst.media.policies import plan_media, resolve_policy
from flashfirst.media.sampling import Decode
from flashfirst.probe import MediaKind, probe_file
from flashfirst.settings import Settings
from flashfirst.storage import Storage

_READ_TOLERANCE_S = 0.06


def settings(root: Path, workers: int) -> Settings:
    return Settings(storage_root=str(root), media={"workers": workers})


def convert_with(src: Path, work: Path, workers: int) -> Converted:
    media = settings(work / "store", workers).media
    info = probe_file(src)
    plan = plan_media(MediaKind.VIDEO, info, resolve_policy(None, None), media)
    work.mkdir(parents=True)
    return convert(src, info, plan, media, work)


def prepare(src: Path, root: Path, workers: int, item_id: str = "clip") -> PreparedMedia:
    item = WorkItem(id=item_id, kind=MediaKind.VIDEO, uri=str(src))
    return prepare_media(item, settings(root, workers), Storage(), None)


@pytest.mark.parametrize(("rate", "gop", "preset", "decode"), [
    (25, 50, "ultrafast", Decode.ALL),  # too few frames a window to skip any
    (60, 120, "ultrafast", Decode.REFERENCES),  # no B-frames: every frame decoded
    (60, 120, "veryfast", Decode.REFERENCES),  # B-frames left undecoded in each span
])
def test_spans_send_the_frames_duration_and_audio_of_one_process(
        time_coded: Callable[..., Path], tmp_path: Path, rate: int, gop: int, preset: str,
        decode: Decode) -> None:
    src = time_coded(8.0, rate=rate, gop=gop, preset=preset)

    one = convert_with(src, tmp_path / "one", workers=1)
    spans = convert_with(src, tmp_path / "spans", workers=2)

    assert (spans.decode, spans.decode_why) == (decode.value, spans.decode_why)
    assert "in 2 spans at once" in (spans.decode_why or "")
    assert one.main and spans.main and one.main_info and spans.main_info
    assert shown_times(spans.main) == pytest.approx(shown_times(one.main),
                                                    abs=_READ_TOLERANCE_S)
    assert len(shown_times(spans.main)) == 8
    out, ref = spans.main_info, one.main_info
    assert out.fps == pytest.approx(1.0)
    assert out.duration_s == pytest.approx(ref.duration_s, abs=1e-3)
    assert out.audio_duration_s == pytest.approx(ref.audio_duration_s, abs=0.05)
    assert (out.sample_rate, out.channels) == (16_000, 1)
    assert (out.width, out.height) == (ref.width, ref.height)


def test_spans_bill_the_tokens_of_one_process(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    src = time_coded(8.0, rate=25, gop=50)

    one = prepare(src, tmp_path / "one", workers=1)
    spans = prepare(src, tmp_path / "spans", workers=2)

    assert spans.stats.tokens_after == one.stats.tokens_after
    assert spans.stats.tokens_before == one.stats.tokens_before
    assert spans.stats.frames_sent == one.stats.frames_sent == 8
    assert spans.stats.duration_after_s == pytest.approx(one.stats.duration_after_s, abs=1e-3)


def test_a_video_prepared_by_one_process_is_reused_by_spans(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # Spans make the same frames: how many cores a worker has is not part of the key.
    src = time_coded(8.0, rate=25, gop=50)
    first = prepare(src, tmp_path, workers=1)
    runs = ffmpeg_invocations()

    again = prepare(src, tmp_path, workers=2)

    assert again.key == first.key and again.stats.reused
    assert ffmpeg_invocations() == runs


def corrupt_from(src: Path, dest: Path, from_s: float) -> Path:
    """``src`` with every video frame from ``from_s`` on overwritten with noise (the
    container and its index intact): most of them cannot be decoded."""
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        assert tb is not None
        frames = [(e.pos, e.size) for e in stream.index_entries if e.timestamp * tb >= from_s]
    noise = random.Random(7)
    for pos, size in frames:
        data[pos + 4:pos + size] = noise.randbytes(size - 4)  # keep the NAL length
    dest.write_bytes(bytes(data))
    return dest


def test_a_failing_span_fails_the_item_and_stores_nothing(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # The second span starts at 2.5 s (after the keyframe at 2 s); the first reads to 2.6 s.
    src = corrupt_from(time_coded(8.0, rate=25, gop=50), tmp_path / "damaged.mp4", 3.5)
    root = tmp_path / "store"

    with pytest.raises(MediaError) as caught:
        prepare(src, root, workers=2, item_id="damaged")

    assert_span_failed(caught.value, src, root, "span 2 of 2, from 2.5 s")
