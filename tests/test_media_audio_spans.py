"""Long audio decoded in spans, one ffmpeg process per core, is the audio one process
makes: its whole duration in the FLAC header (not the first span's), 16 kHz mono, the
same samples across every join (no click), the same tokens and store key; short audio
stays in one process; a span that fails fails its item and stores nothing.
"""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import av
import pytest
from fixtures.media import assert_span_failed, run_ffmpeg

from flashfirst.errors import MediaError
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import PreparedMedia, prepare_media
from flashfirst.media.downsample import Converted, convert
from flashfirst.media.ffmpeg_cmd import ffmpeg_invocations
from flashfirst.media.parallel_audio import MIN_SOURCE_S
from flashfirst.media.policies import plan_media, resolve_policy
from flashfirst.probe import MediaKind, probe_file
from flashfirst.settings import Settings
from flashfirst.storage import Storage

# A tone whose pitch steps every 10 s, with 3 s of silence in each 10: a shifted or faded
# join shows in the samples.
_SPEECH_LIKE = "if(lt(mod(t,10),7),0.5*sin(2*PI*(300+20*floor(t/10))*t),0)"
# At the cuts the resampler may round a sample differently; nothing more.
_TOLERANCE = 2


@pytest.fixture(scope="module")
def long_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 s of 44.1 kHz stereo MP3: long enough to be cut in two."""
    dest = tmp_path_factory.mktemp("audio-spans") / "talk-100s.mp3"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs='{_SPEECH_LIKE}|{_SPEECH_LIKE}':"
               "s=44100:d=100", "-c:a", "libmp3lame", "-b:a", "128k", str(dest))
    return dest


def settings(root: Path, workers: int) -> Settings:
    return Settings(storage_root=str(root), media={"workers": workers})


def convert_with(src: Path, work: Path, workers: int,
                 policy: MediaPolicy | None = None) -> Converted:
    media = settings(work / "store", workers).media
    info = probe_file(src)
    plan = plan_media(MediaKind.AUDIO, info, resolve_policy(None, policy), media)
    work.mkdir(parents=True)
    return convert(src, info, plan, media, work)


def samples(path: Path) -> array:
    out = array("h")
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            out.frombytes(bytes(frame.planes[0])[:frame.samples * 2])
    return out


def prepare(src: Path, root: Path, workers: int, item_id: str = "talk") -> PreparedMedia:
    item = WorkItem(id=item_id, kind=MediaKind.AUDIO, uri=str(src))
    return prepare_media(item, settings(root, workers), Storage(), None)


@pytest.mark.parametrize(("policy", "seconds"), [
    (None, 100.0),
    (MediaPolicy(trim_start_s=4.5, trim_end_s=97.5), 93.0),
])
def test_audio_in_spans_is_the_audio_one_process_makes(
        long_mp3: Path, tmp_path: Path, policy: MediaPolicy | None, seconds: float) -> None:
    one = convert_with(long_mp3, tmp_path / "one", workers=1, policy=policy)
    runs = ffmpeg_invocations()
    spans = convert_with(long_mp3, tmp_path / "spans", workers=2, policy=policy)

    assert ffmpeg_invocations() - runs == 3  # two spans and the FLAC encoder
    assert one.main and spans.main and one.main_info and spans.main_info
    out = spans.main_info
    assert out.duration_s == pytest.approx(seconds, abs=0.01)
    assert out.duration_s == pytest.approx(one.main_info.duration_s, abs=1e-3)
    assert (out.sample_rate, out.channels, out.container) == (16_000, 1, "flac")
    ours, ref = samples(spans.main), samples(one.main)
    assert len(ours) == len(ref)
    cut = round(seconds / 2) * 16_000
    assert max(abs(a - b) for a, b in zip(ours[cut - 1_600:cut + 1_600],
                                          ref[cut - 1_600:cut + 1_600], strict=True)) \
        <= _TOLERANCE
    assert max(abs(a - b) for a, b in zip(ours, ref, strict=True)) <= _TOLERANCE


def test_audio_in_spans_bills_the_tokens_and_key_of_one_process(
        long_mp3: Path, tmp_path: Path) -> None:
    one = prepare(long_mp3, tmp_path / "one", workers=1)
    spans = prepare(long_mp3, tmp_path / "spans", workers=2)

    assert spans.key == one.key
    assert spans.stats.tokens_after == one.stats.tokens_after
    assert spans.stats.duration_after_s == pytest.approx(100.0, abs=0.01)
    runs = ffmpeg_invocations()
    again = prepare(long_mp3, tmp_path / "one", workers=2)
    assert again.stats.reused and ffmpeg_invocations() == runs


def test_short_audio_stays_in_one_process(tmp_path: Path) -> None:
    src = tmp_path / "short.mp3"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs='{_SPEECH_LIKE}':s=44100:"
               f"d={MIN_SOURCE_S - 5:g}", "-c:a", "libmp3lame", str(src))
    runs = ffmpeg_invocations()

    converted = convert_with(src, tmp_path / "work", workers=2)

    assert ffmpeg_invocations() - runs == 1
    assert converted.main_info and converted.main_info.duration_s == pytest.approx(
        MIN_SOURCE_S - 5, abs=0.05)


def test_a_failing_audio_span_fails_the_item_and_stores_nothing(
        long_mp3: Path, tmp_path: Path) -> None:
    # Noise from the middle on: the second span (decoding from 49 s) finds almost no
    # valid MP3 frame and ffmpeg gives up on its error rate.
    data = bytearray(long_mp3.read_bytes())
    half = len(data) // 2
    data[half:] = random.Random(7).randbytes(len(data) - half)
    src = tmp_path / "damaged.mp3"
    src.write_bytes(bytes(data))
    root = tmp_path / "store"

    with pytest.raises(MediaError) as caught:
        prepare(src, root, workers=2, item_id="damaged")

    assert_span_failed(caught.value, src, root, "audio span 2 of 2, from 50 s")
