"""Files that cannot be prepared fail their item with a cause naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashfirst.errors import MediaError
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.media import NotDelivered, prepare_media, to_parts
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage


def failure(item: WorkItem, settings: Settings, storage: Storage) -> MediaError:
    with pytest.raises(MediaError) as caught:
        prepare_media(item, settings, storage, None)
    assert caught.value.item_id == item.id
    return caught.value


def test_zero_byte_file_is_reported_empty(
        empty_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    err = failure(WorkItem(id="empty", kind=MediaKind.VIDEO, uri=str(empty_video)),
                  media_settings, media_storage)

    assert str(empty_video) in err.cause and "empty (0 bytes)" in err.cause


def test_text_file_named_mp4_is_reported_as_text(
        text_named_mp4: Path, media_settings: Settings, media_storage: Storage) -> None:
    err = failure(WorkItem(id="notes", kind=MediaKind.VIDEO, uri=str(text_named_mp4)),
                  media_settings, media_storage)

    assert str(text_named_mp4) in err.cause and "holds text, not media" in err.cause
    assert "Meeting notes" in err.cause


def test_corrupt_video_is_reported_unreadable(
        corrupt_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    err = failure(WorkItem(id="cut", kind=MediaKind.VIDEO, uri=str(corrupt_video)),
                  media_settings, media_storage)

    assert str(corrupt_video) in err.cause and "not a readable" in err.cause


def test_missing_file_is_reported(media_settings: Settings, media_storage: Storage,
                                  tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    err = failure(WorkItem(id="gone", kind=MediaKind.VIDEO, uri=str(missing)),
                  media_settings, media_storage)

    assert str(missing) in err.cause and "no such file" in err.cause


def test_video_declared_as_image_is_reported_mislabelled(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    err = failure(WorkItem(id="pic", kind=MediaKind.IMAGE, uri=str(video_no_audio)),
                  media_settings, media_storage)

    assert "declared image, but the file is video" in err.cause


def test_audio_item_over_a_silent_video_is_reported(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    err = failure(WorkItem(id="talk", kind=MediaKind.AUDIO, uri=str(video_no_audio)),
                  media_settings, media_storage)

    assert "no audio track" in err.cause


def test_trim_past_the_end_is_reported(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="late", kind=MediaKind.VIDEO, uri=str(video_no_audio),
                    media_policy=MediaPolicy(trim_start_s=30))
    err = failure(item, media_settings, media_storage)

    assert "trim starts at 30 s, past the end" in err.cause


def test_empty_trim_range_is_reported(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="nil", kind=MediaKind.VIDEO, uri=str(video_no_audio),
                    media_policy=MediaPolicy(trim_start_s=2, trim_end_s=1))

    assert "is empty" in failure(item, media_settings, media_storage).cause


def test_text_item_has_no_media(media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="t", kind=MediaKind.TEXT, task=TaskKind.SUMMARIZE, text="hello")

    assert "no media" in failure(item, media_settings, media_storage).cause


def test_parts_of_undelivered_media_say_what_is_missing(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    item = WorkItem(id="big", kind=MediaKind.VIDEO, uri=str(clip_720p60),
                    media_policy=MediaPolicy(inline=False))
    prepared = prepare_media(item, media_settings, media_storage, None)

    with pytest.raises(NotDelivered, match="neither uploaded nor inlined"):
        to_parts(prepared)
