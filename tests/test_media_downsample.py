"""Prepared files have the properties a user asked for, as probed from the files."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import ffmpeg_invocations, prepare_media
from flashfirst.probe import MediaKind, probe_file
from flashfirst.settings import Settings
from flashfirst.storage import Storage


def prepare(path: Path, kind: MediaKind, settings: Settings, storage: Storage,
            policy: MediaPolicy | None = None):
    item = WorkItem(id=path.stem, kind=kind, uri=str(path), media_policy=policy)
    return prepare_media(item, settings, storage, None)


def test_720p60_video_becomes_1fps_768px_with_16k_mono_audio(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert prepared.mime_type == "video/mp4" and out.video_codec == "h264"
    assert out.fps == pytest.approx(1.0)
    assert (out.width, out.height) == (768, 432)
    assert (out.sample_rate, out.channels) == (16_000, 1)
    assert out.duration_s == pytest.approx(4.0, abs=0.5)
    assert prepared.stats.bytes_after < prepared.stats.bytes_before / 10


def test_video_without_audio_stays_without_audio(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(video_no_audio, MediaKind.VIDEO, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert not out.has_audio
    assert (out.width, out.height) == (640, 360)  # never upscaled
    assert out.fps == pytest.approx(1.0)


def test_variable_frame_rate_video_comes_out_at_a_constant_1fps(
        vfr_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(vfr_video, MediaKind.VIDEO, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert out.fps == pytest.approx(1.0)
    assert out.duration_s == pytest.approx(probe_file(vfr_video).duration_s, abs=1.0)
    assert prepared.stats.frames_sent == 4


def test_audio_becomes_16k_mono_16bit_flac(
        audio_mp3: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(audio_mp3, MediaKind.AUDIO, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert prepared.mime_type == "audio/flac" and out.audio_codec == "flac"
    assert (out.sample_rate, out.channels) == (16_000, 1)
    assert out.duration_s == pytest.approx(5.0, abs=0.1)
    with av.open(prepared.prepared_uri) as container:  # not 24-bit: twice the bytes
        assert container.streams.audio[0].format.name == "s16"


def test_audio_item_over_a_video_file_sends_only_its_sound(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(clip_720p60, MediaKind.AUDIO, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert prepared.kind is MediaKind.AUDIO and out.kind is MediaKind.AUDIO
    assert (out.sample_rate, out.channels) == (16_000, 1)


def test_large_image_is_resized_to_768_long_side_and_stays_png(
        large_image: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(large_image, MediaKind.IMAGE, media_settings, media_storage)

    out = probe_file(prepared.prepared_uri)
    assert (out.width, out.height) == (768, 432)
    assert prepared.mime_type == "image/png"


def test_trimmed_video_holds_only_the_range(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    policy = MediaPolicy(trim_start_s=1, trim_end_s=3)
    prepared = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage, policy)

    assert probe_file(prepared.prepared_uri).duration_s == pytest.approx(2.0, abs=0.5)
    assert prepared.start_offset_s is None  # cut by ffmpeg, not by request metadata


def test_drop_audio_removes_the_track(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage,
                       MediaPolicy(drop_audio=True))

    assert not probe_file(prepared.prepared_uri).has_audio


def test_long_silences_are_cut_to_one_second(
        speech_with_silence: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(speech_with_silence, MediaKind.AUDIO, media_settings, media_storage,
                       MediaPolicy(remove_silence=True))

    # 2 s tone + the 4 s silence shortened to 1 s + 2 s tone.
    assert probe_file(prepared.prepared_uri).duration_s == pytest.approx(5.0, abs=0.2)


def test_scene_changes_become_keyframe_images(
        scene_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(scene_video, MediaKind.VIDEO, media_settings, media_storage,
                       MediaPolicy(keyframes_as_images=True))

    assert len(prepared.keyframe_uris) == 3
    assert [k.at_s for k in prepared.keyframes] == [0, 2, 4]  # when each scene starts
    assert prepared.prepared_uri is None  # no audio track to send beside them
    first = probe_file(prepared.keyframe_uris[0])
    assert first.kind is MediaKind.IMAGE and (first.width, first.height) == (640, 360)


def test_an_already_compact_video_is_not_reencoded_and_trims_by_metadata(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage,
        tmp_path: Path) -> None:
    compact = tmp_path / "compact.mp4"
    shutil.copy(prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage)
                .prepared_uri, compact)
    runs = ffmpeg_invocations()

    prepared = prepare(compact, MediaKind.VIDEO, media_settings, media_storage,
                       MediaPolicy(trim_start_s=1, trim_end_s=3))

    assert ffmpeg_invocations() == runs
    assert Path(prepared.prepared_uri).read_bytes() == compact.read_bytes()
    assert (prepared.start_offset_s, prepared.end_offset_s) == (1, 3)
    assert prepared.stats.duration_after_s == pytest.approx(2.0)


def test_keyframe_times_count_from_the_source_start_when_trimmed(
        scene_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(scene_video, MediaKind.VIDEO, media_settings, media_storage,
                       MediaPolicy(keyframes_as_images=True, trim_start_s=1))

    # Sampled once a second from 1 s: red at 1 s, blue from 2 s, the pattern from 4 s.
    assert [k.at_s for k in prepared.keyframes] == [1, 2, 4]
