"""The Prefect task maps over items; a bad file fails its item only."""

from __future__ import annotations

from pathlib import Path

import pytest
from flashfirst.tasks.media import prepare_media_items, prepare_media_task
from prefect import flow
from prefect.states import Failed

from flashfirst.errors import MediaError
from flashfirst.items import WorkItem
from flashfirst.media import PreparedMedia
from flashfirst.media.ffmpeg_cmd import ffmpeg_counters, reset_ffmpeg_peak
from flashfirst.media.upload import MediaUploadError
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage


@flow
def prepare_all(items: list[WorkItem], settings: Settings) -> list[PreparedMedia | MediaError]:
    return prepare_media_items(items, settings, Storage(), False)


def test_bad_files_fail_their_items_and_the_others_are_prepared(
        prefect_api: None, video_no_audio: Path, audio_mp3: Path, empty_video: Path,
        text_named_mp4: Path, corrupt_video: Path, media_settings: Settings) -> None:
    items = [
        WorkItem(id="video", kind=MediaKind.VIDEO, uri=str(video_no_audio)),
        WorkItem(id="empty", kind=MediaKind.VIDEO, uri=str(empty_video)),
        WorkItem(id="text", kind=MediaKind.VIDEO, uri=str(text_named_mp4)),
        WorkItem(id="corrupt", kind=MediaKind.VIDEO, uri=str(corrupt_video)),
        WorkItem(id="audio", kind=MediaKind.AUDIO, uri=str(audio_mp3)),
    ]

    results = prepare_all(items, media_settings)

    assert [type(r).__name__ for r in results] == [
        "PreparedMedia", "MediaError", "MediaError", "MediaError", "PreparedMedia"]
    assert [r.item_id for r in results] == [i.id for i in items]
    assert "empty" in results[1].cause and "text" in results[2].cause
    # Summarize routes to the Flash tier, gemini-3.8-flash: Gemini 3 bills audio at 25
    # tokens a second (media-resolution page, stored copy id 70194196183): 5 s × 25.
    assert results[4].stats.tokens_after.total == 125


def test_no_more_ffmpeg_processes_run_at_once_than_workers(
        prefect_api: None, clip_720p60: Path, video_no_audio: Path, vfr_video: Path,
        scene_video: Path, audio_mp3: Path, media_settings: Settings) -> None:
    media_settings.media.workers = 1
    items = [WorkItem(id=p.stem, kind=MediaKind.VIDEO, uri=str(p))
             for p in (clip_720p60, video_no_audio, vfr_video, scene_video)]
    items.append(WorkItem(id="audio", kind=MediaKind.AUDIO, uri=str(audio_mp3)))
    reset_ffmpeg_peak()

    results = prepare_all(items, media_settings)

    assert all(isinstance(r, PreparedMedia) for r in results)
    assert ffmpeg_counters().peak_in_flight == 1


@pytest.mark.parametrize(("error", "retried"), [
    (MediaUploadError("clip", "503 UNAVAILABLE", transient=True), True),
    (MediaUploadError("clip", "Files API could not process it", transient=False), False),
    (MediaError("clip", "file is empty (0 bytes)"), False),
])
def test_only_transient_upload_failures_are_retried(error: MediaError, retried: bool) -> None:
    retry = prepare_media_task.retry_condition_fn

    assert retry(prepare_media_task, None, Failed(data=error)) is retried
