"""Delivery to where the model reads the media: the Files API (through the real SDK and
the emulator), gs:// for Vertex AI (through the GCS emulator), or inline bytes; and the
emulator bills what was sent exactly as our accounting said it would."""

from __future__ import annotations

from pathlib import Path

import pytest
from google import genai
from google.genai import types

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.gemini.token_rules import Modality
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import MediaUploadError, ffmpeg_invocations, prepare_media, to_parts
from flashfirst.media.prepared import MediaStore, StoredFile
from flashfirst.media.upload import upload_file
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage

NOT_INLINE = MediaPolicy(inline=False)


def test_second_run_reuses_the_active_upload(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage,
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_720p60),
                    media_policy=NOT_INLINE)
    first = prepare_media(item, media_settings, media_storage, genai_client)
    runs = ffmpeg_invocations()

    second = prepare_media(item, media_settings, media_storage, genai_client)

    assert first.stats.uploaded and first.file_uri
    assert genai_client.files.get(name=first.file_name).state == types.FileState.ACTIVE
    assert not second.stats.uploaded and second.stats.reused
    assert second.file_uri == first.file_uri
    assert ffmpeg_invocations() == runs
    assert emulator.stats.uploads == 1


def test_expired_upload_is_uploaded_again_without_ffmpeg(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage,
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio),
                    media_policy=NOT_INLINE)
    first = prepare_media(item, media_settings, media_storage, genai_client)
    emulator.control.advance_clock(49 * 3600)  # Files API files live 48 hours
    runs = ffmpeg_invocations()

    second = prepare_media(item, media_settings, media_storage, genai_client)

    assert second.stats.uploaded and second.stats.reused
    assert second.file_uri != first.file_uri
    assert ffmpeg_invocations() == runs
    assert emulator.stats.uploads == 2


def test_upload_waits_until_the_file_is_active(
        video_no_audio: Path, media_settings: Settings, media_storage: Storage,
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    emulator.control.configure(file_processing_s=0.5)
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(video_no_audio),
                    media_policy=NOT_INLINE)

    prepared = prepare_media(item, media_settings, media_storage, genai_client)

    assert genai_client.files.get(name=prepared.file_name).state == types.FileState.ACTIVE


def test_a_file_the_files_api_cannot_process_fails_clearly(
        corrupt_video: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    store = MediaStore(media_storage, media_settings.storage_root)
    uri = store.uri("broken", ".mp4")
    media_storage.upload_file(corrupt_video, uri)
    broken = StoredFile(uri=uri, mime_type="video/mp4", size_bytes=corrupt_video.stat().st_size)

    with pytest.raises(MediaUploadError, match="could not process") as caught:
        upload_file("broken-item", genai_client, store, broken)

    assert caught.value.item_id == "broken-item" and not caught.value.transient


@pytest.mark.parametrize(("model", "video", "audio"), [
    # 2.x: 4 s at 0.5 fps = 2 frames × 66 at low (video-understanding page) = 132;
    # audio 4 s × 32 (tokens page) = 128.
    ("gemini-2.5-flash-lite", 132, 128),
    # Gemini 3: 2 frames × 70 — low saves nothing on video — = 140; audio 4 s × 25 = 100
    # (media-resolution page, stored copy id 70194196183).
    ("gemini-3.8-flash", 140, 100),
])
def test_emulator_bills_uploaded_video_as_accounted(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client, model: str, video: int, audio: int) -> None:
    policy = MediaPolicy(fps=0.5, media_resolution="low", inline=False)
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_720p60), media_policy=policy)
    prepared = prepare_media(item, media_settings, media_storage, genai_client, model=model)

    response = genai_client.models.generate_content(
        model=model, contents=[*to_parts(prepared), "Describe it."],
        config=types.GenerateContentConfig(
            media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW))

    billed = {d.modality.value: d.token_count
              for d in response.usage_metadata.prompt_tokens_details}
    accounted = prepared.stats.tokens_after.by_modality
    assert billed[Modality.VIDEO] == accounted[Modality.VIDEO] == video
    assert billed[Modality.AUDIO] == accounted[Modality.AUDIO] == audio
    if model == "gemini-3.8-flash":
        assert any("saves nothing" in note for note in prepared.stats.notes)


def test_emulator_bills_inline_keyframes_and_audio_as_accounted(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage,
        emulator: EmbeddedEmulator, genai_client: genai.Client) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_720p60),
                    media_policy=MediaPolicy(keyframes_as_images=True))
    prepared = prepare_media(item, media_settings, media_storage, genai_client,
                             model="gemini-3.8-flash")

    response = genai_client.models.generate_content(
        model="gemini-3.8-flash", contents=[*to_parts(prepared), "Describe it."])

    billed = {d.modality.value: d.token_count
              for d in response.usage_metadata.prompt_tokens_details}
    images = [p for p in to_parts(prepared) if p.inline_data.mime_type == "image/jpeg"]
    assert not prepared.stats.uploaded and emulator.stats.uploads == 0
    # Gemini 3: an image is 1,120 tokens at default resolution whatever its size, and the
    # 4 s audio track 4 × 25 = 100 (media-resolution page, stored copy id 70194196183).
    assert len(images) >= 1
    assert billed[Modality.IMAGE] == prepared.stats.tokens_after.by_modality[Modality.IMAGE] \
        == 1120 * len(images)
    assert billed[Modality.AUDIO] == prepared.stats.tokens_after.by_modality[Modality.AUDIO] \
        == 100


def test_vertex_reads_prepared_media_from_the_bucket(
        clip_720p60: Path, gcs_bucket: str, tmp_path: Path) -> None:
    settings = Settings(storage_root=f"gs://{gcs_bucket}/run",
                        backend={"vertex_project": "test-project"})
    storage = Storage(project="test")
    source = f"gs://{gcs_bucket}/inbox/clip.mp4"
    storage.upload_file(clip_720p60, source)
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=source, media_policy=NOT_INLINE)

    first = prepare_media(item, settings, storage, None)
    runs = ffmpeg_invocations()
    second = prepare_media(item, settings, storage, None)

    assert first.file_uri == first.prepared_uri
    assert first.file_uri.startswith(f"gs://{gcs_bucket}/run/media/")
    assert first.stats.uploaded and storage.exists(first.file_uri)
    assert second.stats.reused and not second.stats.uploaded
    assert ffmpeg_invocations() == runs
    assert to_parts(second)[0].file_data.file_uri == first.file_uri
