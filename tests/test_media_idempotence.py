"""A second run over the same inputs does no ffmpeg work and says so; a change that
alters the output does the work again."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import ffmpeg_invocations, prepare_media
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage


def test_second_run_runs_no_ffmpeg_and_reports_reuse(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_720p60))
    first = prepare_media(item, media_settings, media_storage, None)
    runs = ffmpeg_invocations()

    second = prepare_media(item, media_settings, media_storage, None)

    assert ffmpeg_invocations() == runs
    assert not first.stats.reused and first.stats.ffmpeg_seconds > 0
    assert second.stats.reused and second.stats.ffmpeg_seconds == 0
    assert second.prepared_uri == first.prepared_uri
    assert second.stats.tokens_after == first.stats.tokens_after
    assert second.inline_data == first.inline_data


def test_same_content_under_another_name_is_reused(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage,
        tmp_path: Path) -> None:
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(video_no_audio.read_bytes())
    prepare_media(WorkItem(id="a", kind=MediaKind.VIDEO, uri=str(video_no_audio)),
                  media_settings, media_storage, None)
    runs = ffmpeg_invocations()

    again = prepare_media(WorkItem(id="b", kind=MediaKind.VIDEO, uri=str(copy)),
                          media_settings, media_storage, None)

    assert ffmpeg_invocations() == runs and again.stats.reused
    assert again.item_id == "b" and again.source_uri == str(copy)


def test_changing_the_size_cap_prepares_again(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio))
    first = prepare_media(item, media_settings, media_storage, None)
    media_settings.media.max_long_side = 320
    runs = ffmpeg_invocations()

    second = prepare_media(item, media_settings, media_storage, None)

    assert ffmpeg_invocations() == runs + 1
    assert not second.stats.reused and second.prepared_uri != first.prepared_uri


def test_switching_to_low_resolution_reuses_the_file_but_recounts_tokens(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    # On a 2.x model, where low resolution bills 66 instead of 258 tokens a frame
    # (https://ai.google.dev/gemini-api/docs/video-understanding); 3 s at 1 fps.
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio))
    lite = "gemini-2.5-flash-lite"
    first = prepare_media(item, media_settings, media_storage, None, model=lite)
    runs = ffmpeg_invocations()

    low = prepare_media(item, media_settings, media_storage, None,
                        policy=MediaPolicy(media_resolution="low"), model=lite)

    assert ffmpeg_invocations() == runs and low.stats.reused
    assert first.stats.tokens_after.total == 3 * 258
    assert low.stats.tokens_after.total == 3 * 66


def test_a_lost_output_is_prepared_again(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio))
    first = prepare_media(item, media_settings, media_storage, None)
    Path(first.prepared_uri).unlink()
    runs = ffmpeg_invocations()

    second = prepare_media(item, media_settings, media_storage, None)

    assert ffmpeg_invocations() == runs + 1 and not second.stats.reused
    assert Path(second.prepared_uri).exists()


def test_outputs_and_sidecar_live_under_media_keyed_by_content(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare_media(WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio)),
                             media_settings, media_storage, None)

    media_root = Path(media_settings.storage_root) / "media"
    assert sorted(p.name for p in media_root.iterdir()) == [
        f"{prepared.key}.json", f"{prepared.key}.mp4"]


def test_the_key_names_every_byte_of_a_video_indexed_while_it_is_hashed(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage,
        tmp_path: Path) -> None:
    # The hash and the decode plan's index share the first read of the source: the key
    # is still the whole file's SHA-256, so bytes the index never reads (a trailing
    # "free" box, which players skip) make another key, not a wrong reuse.
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(clip_720p60.read_bytes() + b"\x00\x00\x00\x10free" + b"\x07" * 8)
    first = prepare_media(WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_720p60)),
                          media_settings, media_storage, None)
    runs = ffmpeg_invocations()

    other = prepare_media(WorkItem(id="padded", kind=MediaKind.VIDEO, uri=str(padded)),
                          media_settings, media_storage, None)

    assert first.source_sha256 == hashlib.sha256(clip_720p60.read_bytes()).hexdigest()
    assert other.source_sha256 == hashlib.sha256(padded.read_bytes()).hexdigest()
    assert other.key != first.key and not other.stats.reused
    assert ffmpeg_invocations() > runs
    assert other.stats.tokens_after == first.stats.tokens_after
