"""Decoding shortcuts send the same sampled frames as a full decode, or are not taken.

The sources are time-coded (``time_coded`` in tests/fixtures/media.py): reading an output
frame's brightness tells which moment of the source it shows (to about 0.05 s after H.264).
ffmpeg's fps filter gives output frame k the latest frame whose time rounds to k periods:
a frame from the window [k - 0.5, k + 0.5) periods.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures.media import run_ffmpeg, shown_times

from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import ffmpeg_cmd, prepare_media
from flashfirst.media.downsample import convert
from flashfirst.media.policies import plan_media, resolve_policy
from flashfirst.media.sampling import Decode, index_video, output_mismatch, plan_decode
from flashfirst.probe import MediaKind, probe_file
from flashfirst.settings import Settings
from flashfirst.storage import Storage

_READ_TOLERANCE_S = 0.06


def assert_each_frame_from_its_window(video: Path, fps: float = 1.0) -> None:
    for k, t in enumerate(shown_times(video)):
        assert k - 0.5 - _READ_TOLERANCE_S <= t * fps < k + 0.5 + _READ_TOLERANCE_S, \
            f"frame {k} shows {t:.2f} s of the source"


def video_settings(tmp_path: Path) -> Settings:
    return Settings(storage_root=str(tmp_path / "store"))


def convert_video(src: Path, tmp_path: Path, policy: MediaPolicy | None = None):
    """Our conversion of ``src`` as a video item, into a fresh folder."""
    settings = video_settings(tmp_path)
    info = probe_file(src)
    plan = plan_media(MediaKind.VIDEO, info, resolve_policy(None, policy), settings.media)
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    work.mkdir()
    return convert(src, info, plan, settings.media, work)


def plain_full_decode(src: Path, dest: Path, fps: float = 1.0) -> Path:
    """The plain command (every frame decoded): the reference for counts and durations."""
    run_ffmpeg("-i", str(src), "-vf", f"fps={fps}", "-c:v", "libx264", "-preset", "veryfast",
               "-c:a", "aac", "-ac", "1", "-ar", "16000", str(dest))
    return dest


# 6.0 s: the last keyframe (5 s) ends at 5.03 s, which a keyframes-only decode would take
# for the end and lose frame 5; 5.5 s rounds up to 6 frames; 5.4 s rounds down to 5.
@pytest.mark.parametrize("seconds", [6.0, 5.5, 5.4])
def test_keyframe_only_decode_sends_the_frames_and_duration_of_a_full_decode(
        time_coded: Callable[..., Path], tmp_path: Path, seconds: float) -> None:
    src = time_coded(seconds, rate=30, gop=30)  # a keyframe every second, on the second

    converted = convert_video(src, tmp_path)
    plain = probe_file(plain_full_decode(src, tmp_path / "plain.mp4"))

    assert converted.decode == Decode.KEYFRAMES.value
    out = converted.main_info
    assert out is not None and converted.main is not None
    # Frames Gemini bills: one a second of video, so the durations must match.
    assert out.duration_s == pytest.approx(plain.duration_s, abs=1e-3)
    assert out.audio_duration_s == pytest.approx(plain.audio_duration_s, abs=0.05)
    assert (out.sample_rate, out.channels) == (16_000, 1)
    times = shown_times(converted.main)
    assert len(times) == round(seconds)  # fps rounds the end to the nearest second
    # Keyframes sit on the second, so each frame shows exactly its own second.
    assert times == pytest.approx(list(range(len(times))), abs=_READ_TOLERANCE_S)


def test_keyframes_half_a_second_apart_fit_and_each_frame_stays_in_its_window(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    src = time_coded(6.0, rate=30, gop=15)

    converted = convert_video(src, tmp_path)

    assert converted.decode == Decode.KEYFRAMES.value and converted.main is not None
    assert len(shown_times(converted.main)) == 6
    assert_each_frame_from_its_window(converted.main)


def test_sparse_keyframes_are_not_used_alone(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # One keyframe in 4 s: decoding keyframes only sends the first second and nothing else
    # (and the output check says so).
    src = time_coded(4.0, rate=30, gop=300, preset="veryfast")
    nokey = tmp_path / "nokey.mp4"
    ffmpeg_cmd.run_graph(ffmpeg_cmd.video_graph(
        src, nokey, fps=1.0, long_side=768, audio_rate=None, trim=None, skip_frame="nokey",
        frames=4), workers=1, timeout_s=60)
    assert shown_times(nokey) == pytest.approx([0.0], abs=_READ_TOLERANCE_S)
    assert output_mismatch(nokey, 4, 1.0) == "1 frames written, 4 expected"

    converted = convert_video(src, tmp_path)

    assert converted.decode != Decode.KEYFRAMES.value
    assert converted.main is not None
    assert len(shown_times(converted.main)) == 4
    assert_each_frame_from_its_window(converted.main)


def test_skipping_b_frames_keeps_every_frame_in_its_window(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    src = time_coded(5.0, rate=60, gop=600, preset="veryfast")  # 3 B-frames in a row

    converted = convert_video(src, tmp_path)
    plain = probe_file(plain_full_decode(src, tmp_path / "plain.mp4"))

    assert converted.decode == Decode.REFERENCES.value and converted.main is not None
    assert converted.main_info is not None
    assert converted.main_info.duration_s == pytest.approx(plain.duration_s, abs=1e-3)
    assert_each_frame_from_its_window(converted.main)


def test_a_low_frame_rate_source_with_sparse_keyframes_is_decoded_in_full(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # 10 fps: a 1 s window holds 10 frames, fewer than a run of B-frames may be long.
    src = time_coded(4.0, rate=10, gop=100, preset="veryfast")

    converted = convert_video(src, tmp_path)

    assert converted.decode == Decode.ALL.value and converted.main is not None
    assert_each_frame_from_its_window(converted.main)


def test_a_variable_rate_source_with_a_sparse_stretch_is_decoded_in_full(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # 60 fps for 2 s, then one frame in 20 (3 fps): those windows hold 3 frames, and a
    # skipped non-reference frame could leave one without any.
    src = tmp_path / "vfr.mp4"
    run_ffmpeg("-i", str(time_coded(5.0, rate=60, gop=600, preset="veryfast")),
               "-vf", r"select='lt(t\,2)+not(mod(n\,20))'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "veryfast", "-g", "600", "-an", str(src))

    converted = convert_video(src, tmp_path)

    assert converted.decode == Decode.ALL.value and converted.main is not None
    assert_each_frame_from_its_window(converted.main)


def test_sparse_sampling_uses_keyframes_when_each_window_holds_one(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    # Keyframes every 2 s are too sparse for 1 fps but fit 0.25 fps (a 4 s window).
    src = time_coded(8.0, rate=30, gop=60)
    assert plan_decode(index_video(src), 1.0, trimmed=False).decode is not Decode.KEYFRAMES

    converted = convert_video(src, tmp_path, MediaPolicy(fps=0.25))

    assert converted.decode == Decode.KEYFRAMES.value and converted.main is not None
    plain = probe_file(plain_full_decode(src, tmp_path / "plain.mp4", fps=0.25))
    assert converted.main_info is not None
    assert converted.main_info.duration_s == pytest.approx(plain.duration_s, abs=1e-3)
    assert_each_frame_from_its_window(converted.main, fps=0.25)


def test_a_trimmed_video_is_decoded_in_full_from_its_start(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    src = time_coded(6.0, rate=30, gop=30)

    converted = convert_video(src, tmp_path, MediaPolicy(trim_start_s=1, trim_end_s=4))

    assert converted.decode == Decode.ALL.value and converted.main is not None
    times = shown_times(converted.main)
    assert len(times) == 3
    for k, t in enumerate(times):  # counted from the cut at 1 s
        assert k - 0.5 - _READ_TOLERANCE_S <= t - 1 < k + 0.5 + _READ_TOLERANCE_S


def test_an_output_off_the_expected_frames_is_reported(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    plain = plain_full_decode(time_coded(6.0, rate=30, gop=30), tmp_path / "plain.mp4")

    assert output_mismatch(plain, 6, 1.0) is None
    assert output_mismatch(plain, 7, 1.0) == "6 frames written, 7 expected"
    assert "expected 0.500 s" in (output_mismatch(plain, 6, 2.0) or "")


def test_a_keyframe_only_decode_bills_one_frame_a_second(
        time_coded: Callable[..., Path], tmp_path: Path) -> None:
    src = time_coded(6.0, rate=30, gop=30)
    settings, storage = video_settings(tmp_path), Storage()
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(src))

    prepared = prepare_media(item, settings, storage, None)

    # 6 s of video at 1 fps: ceil(6 x 1) = 6 frames; 6 s of audio.
    assert prepared.stats.frames_sent == 6
    assert prepared.stats.duration_after_s == pytest.approx(6.0, abs=0.05)
