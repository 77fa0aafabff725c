"""Token accounting against values computed by hand from Gemini's documented rules.

Gemini 2.x (items routed to gemini-2.5-flash-lite): 258 tokens a frame (66 at low
resolution, https://ai.google.dev/gemini-api/docs/video-understanding) sampled at 1 fps,
32 tokens a second of audio, 258 tokens an image tile of 768 px
(https://ai.google.dev/gemini-api/docs/tokens), 258 a PDF page
(https://ai.google.dev/gemini-api/docs/document-processing).
Gemini 3 (gemini-3.8-flash): https://ai.google.dev/gemini-api/docs/media-resolution
(stored copy id 70194196183, 2026-10): 70 a frame at default/low/medium, 280 at high;
images 1,120 default, 280 low, 560 medium, 1,120 high, 2,240 ultra_high; 560 a PDF page
(280 low); audio 25 tokens a second."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.genai import types

from flashfirst.gemini.token_rules import Modality
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import prepare_media, request_media_resolution, to_parts
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage

LITE_2_5, FLASH_3 = "gemini-2.5-flash-lite", "gemini-3.8-flash"


def prepare(path: Path, kind: MediaKind, settings: Settings, storage: Storage,
            policy: MediaPolicy | None = None, model: str = LITE_2_5):
    item = WorkItem(id=path.stem, kind=kind, uri=str(path), media_policy=policy)
    return prepare_media(item, settings, storage, None, model=model)


def test_downsampling_alone_cuts_bytes_not_tokens(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage).stats

    # 4 s: 4 frames x 258 + 4 s x 32 = 1,160 tokens, before and after.
    assert stats.tokens_before.by_modality == {Modality.VIDEO: 1032, Modality.AUDIO: 128}
    assert stats.tokens_after == stats.tokens_before
    assert stats.frames_before == stats.frames_sent == 4
    assert stats.bytes_ratio < 0.1
    assert any("cut bytes only" in note for note in stats.notes)


def test_half_fps_at_low_resolution_is_sent_as_video_metadata(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    policy = MediaPolicy(fps=0.5, media_resolution="low")
    prepared = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage, policy)

    # 2 frames x 66 + 4 s x 32 = 260 tokens.
    assert prepared.stats.tokens_after.by_modality == {Modality.VIDEO: 132, Modality.AUDIO: 128}
    assert prepared.stats.frames_sent == 2
    (part,) = to_parts(prepared)
    assert part.video_metadata is not None and part.video_metadata.fps == 0.5
    assert request_media_resolution([prepared]) == types.MediaResolution.MEDIA_RESOLUTION_LOW


def test_dropping_audio_saves_32_tokens_a_second(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage,
                    MediaPolicy(drop_audio=True)).stats

    assert stats.tokens_after.by_modality == {Modality.VIDEO: 1032}


def test_trimming_bills_only_the_kept_range(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage,
                    MediaPolicy(trim_start_s=1, trim_end_s=3)).stats

    # 2 s: 2 frames x 258 + 2 s x 32.
    assert stats.tokens_after.by_modality == {Modality.VIDEO: 516, Modality.AUDIO: 64}
    assert stats.duration_after_s == pytest.approx(2.0, abs=0.05)


def test_keyframes_cost_one_image_each_instead_of_a_frame_a_second(
        scene_video: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(scene_video, MediaKind.VIDEO, media_settings, media_storage,
                    MediaPolicy(keyframes_as_images=True)).stats

    # 6 s silent video: 6 frames x 258 as is; 3 keyframes of 640x360 (one tile) x 258.
    assert stats.tokens_before.by_modality == {Modality.VIDEO: 1548}
    assert stats.tokens_after.by_modality == {Modality.IMAGE: 774}
    assert stats.frames_sent == 3


def test_keyframes_keep_the_audio_track_as_audio(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    prepared = prepare(clip_720p60, MediaKind.VIDEO, media_settings, media_storage,
                       MediaPolicy(keyframes_as_images=True))

    # The test pattern never cuts: one keyframe, plus 4 s of audio.
    assert prepared.stats.tokens_after.by_modality == {Modality.IMAGE: 258, Modality.AUDIO: 128}
    assert [p.inline_data.mime_type for p in to_parts(prepared)] == ["image/jpeg", "audio/flac"]


def test_removing_silence_bills_only_the_remaining_seconds(
        speech_with_silence: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(speech_with_silence, MediaKind.AUDIO, media_settings, media_storage,
                    MediaPolicy(remove_silence=True)).stats

    assert stats.tokens_before.by_modality == {Modality.AUDIO: 256}  # 8 s x 32
    assert stats.duration_after_s == pytest.approx(5.0, abs=0.1)
    assert 157 <= stats.tokens_after.total <= 164  # about 5 s x 32


def test_audio_downsampling_cuts_bytes_not_tokens(
        audio_mp3: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(audio_mp3, MediaKind.AUDIO, media_settings, media_storage).stats

    assert stats.tokens_before.by_modality == stats.tokens_after.by_modality \
        == {Modality.AUDIO: 160}


def test_audio_item_over_a_video_bills_no_frames(
        clip_720p60: Path, media_settings: Settings, media_storage: Storage) -> None:
    stats = prepare(clip_720p60, MediaKind.AUDIO, media_settings, media_storage).stats

    assert stats.tokens_before.total == 1160
    assert stats.tokens_after.by_modality == {Modality.AUDIO: 128}


# Low: 64 tokens an image on 2.x (google-genai 3.6.1, types.MediaResolution
# .MEDIA_RESOLUTION_LOW: "Media resolution set to low (64 tokens)"); 66 is Google's figure
# for a video frame at low (video-understanding page), not for an image.
@pytest.mark.parametrize(("resolution", "tokens_after"), [("default", 258), ("low", 64)])
def test_resizing_a_large_image_cuts_its_tiles(
        large_image: Path, media_settings: Settings, media_storage: Storage,
        resolution: str, tokens_after: int) -> None:
    stats = prepare(large_image, MediaKind.IMAGE, media_settings, media_storage,
                    MediaPolicy(media_resolution=resolution)).stats

    # 1920x1080 is 3 x 2 tiles of 768 px; 768x432 is one.
    assert stats.tokens_before.by_modality == {Modality.IMAGE: 1548}
    assert stats.tokens_after.by_modality == {Modality.IMAGE: tokens_after}


def test_pdf_is_sent_as_is_at_258_tokens_a_page(
        media_settings: Settings, media_storage: Storage, tmp_path: Path) -> None:
    pdf = tmp_path / "two-pages.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                    b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n"
                    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
                    b"4 0 obj << /Type /Page /Parent 2 0 R >> endobj\n%%EOF\n")
    prepared = prepare(pdf, MediaKind.DOCUMENT, media_settings, media_storage)

    assert prepared.mime_type == "application/pdf"
    assert Path(prepared.prepared_uri).read_bytes() == pdf.read_bytes()
    assert prepared.stats.tokens_before == prepared.stats.tokens_after
    assert prepared.stats.tokens_after.by_modality == {Modality.DOCUMENT: 516}
