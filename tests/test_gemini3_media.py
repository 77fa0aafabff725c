"""Gemini 3 media tokens: the media stage's accounting for an item routed to a Gemini 3
model, and what the emulator bills for the same parts through the real SDK, both against
values computed by hand from https://ai.google.dev/gemini-api/docs/media-resolution
(stored copy id 70194196183, read 2026-10; research file §1.7):
video 70 tokens a frame at default/low/medium and 280 at high, sampled at 1 fps; audio 25
tokens a second at every resolution; images 1,120 (default), 280 (low), 560 (medium),
1,120 (high), 2,240 (ultra_high, per part only); PDF 560 a page (280 at low)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures.media import run_ffmpeg
from google import genai

from flashfirst.gemini.token_rules import Modality
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import PreparedMedia, prepare_media, to_parts
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings
from flashfirst.storage import Storage

FLASH_3 = "gemini-3.8-flash"


@pytest.fixture(scope="session")
def clip_10s(media_dir: Path, make_clip_720p60: Callable[[Path, float], Path]) -> Path:
    return make_clip_720p60(media_dir / "clip-720p60-10s.mp4", 10)


@pytest.fixture(scope="session")
def audio_30s(media_dir: Path) -> Path:
    dest = media_dir / "tone-30s.mp3"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=30",
               "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k", str(dest))
    return dest


@pytest.fixture(scope="session")
def pdf_2_pages(media_dir: Path) -> Path:
    dest = media_dir / "two-pages.pdf"
    dest.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                     b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n"
                     b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
                     b"4 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
                     b"trailer << /Root 1 0 R >>\n%%EOF\n")
    return dest


def prepared_for_gemini_3(path: Path, kind: MediaKind, settings: Settings, storage: Storage,
                          client: genai.Client, **policy: object) -> PreparedMedia:
    item = WorkItem(id=path.stem, kind=kind, uri=str(path),
                    media_policy=MediaPolicy(**policy) if policy else None)
    return prepare_media(item, settings, storage, client, model=FLASH_3)


def billed(client: genai.Client, prepared: PreparedMedia) -> dict[str, int]:
    response = client.models.generate_content(model=FLASH_3,
                                              contents=[*to_parts(prepared), "Describe it."])
    return {d.modality.value: d.token_count
            for d in response.usage_metadata.prompt_tokens_details if d.modality.value
            != "TEXT"}


@pytest.mark.parametrize(("resolution", "video"), [
    (None, 700),      # 10 s at 1 fps: 10 frames × 70
    ("low", 700),     # low = default on Gemini 3 video: saves nothing
    ("high", 2800),   # 10 × 280
])
def test_a_10_second_clip(clip_10s: Path, media_settings: Settings, media_storage: Storage,
                          genai_client: genai.Client, resolution: str | None, video: int):
    policy = {"media_resolution": resolution} if resolution else {}
    prepared = prepared_for_gemini_3(clip_10s, MediaKind.VIDEO, media_settings,
                                     media_storage, genai_client, **policy)
    hand = {Modality.VIDEO: video, Modality.AUDIO: 250}  # audio 10 s × 25
    assert prepared.stats.tokens_after.by_modality == hand
    assert billed(genai_client, prepared) == hand
    if resolution == "low":
        assert any("saves nothing" in n for n in prepared.stats.notes)


@pytest.mark.parametrize(("resolution", "pages"), [(None, 1120), ("low", 560)])
def test_a_2_page_pdf(pdf_2_pages: Path, media_settings: Settings, media_storage: Storage,
                      genai_client: genai.Client, resolution: str | None, pages: int):
    # 2 pages × 560 at default, 2 × 280 at low.
    policy = {"media_resolution": resolution} if resolution else {}
    prepared = prepared_for_gemini_3(pdf_2_pages, MediaKind.DOCUMENT, media_settings,
                                     media_storage, genai_client, **policy)
    assert prepared.stats.tokens_after.by_modality == {Modality.DOCUMENT: pages}
    assert billed(genai_client, prepared) == {Modality.DOCUMENT: pages}


def test_30_seconds_of_audio(audio_30s: Path, media_settings: Settings, media_storage: Storage,
                             genai_client: genai.Client):
    prepared = prepared_for_gemini_3(audio_30s, MediaKind.AUDIO, media_settings,
                                     media_storage, genai_client)
    assert prepared.stats.tokens_before.by_modality == {Modality.AUDIO: 750}  # 30 × 25
    assert prepared.stats.tokens_after.by_modality == {Modality.AUDIO: 750}
    assert billed(genai_client, prepared) == {Modality.AUDIO: 750}


@pytest.mark.parametrize(("resolution", "tokens"), [
    (None, 1120), ("low", 280), ("medium", 560), ("high", 1120), ("ultra_high", 2240)])
def test_an_image_at_each_resolution(large_image: Path, media_settings: Settings,
                                     media_storage: Storage, genai_client: genai.Client,
                                     resolution: str | None, tokens: int):
    policy = {"media_resolution": resolution} if resolution else {}
    prepared = prepared_for_gemini_3(large_image, MediaKind.IMAGE, media_settings,
                                     media_storage, genai_client, **policy)
    # 1920x1080 as given: one image, 1,120 at default (no tiles on Gemini 3).
    assert prepared.stats.tokens_before.by_modality == {Modality.IMAGE: 1120}
    assert prepared.stats.tokens_after.by_modality == {Modality.IMAGE: tokens}
    assert billed(genai_client, prepared) == {Modality.IMAGE: tokens}
    if resolution:  # sent per part, which Gemini 3 takes
        assert to_parts(prepared)[0].media_resolution is not None
