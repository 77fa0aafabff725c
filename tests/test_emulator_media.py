"""Media tokens from the documented rules applied to the bytes really sent, and the Files
API's resumable upload, states and listing. Expected counts are worked out by hand:
a frame is 258 tokens (66 at low resolution), audio 32 a second, an image 258 a
768 px tile (258 when both sides are <= 384 px), a PDF page 258."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from google.genai.client import AsyncClient

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-2.5-flash-lite"  # stays served as itself (2.5 Flash retired 2026-12-01)
PROMPT = "Describe."  # 9 characters: 3 tokens


def _prompt_tokens(client: genai.Client, part: types.Part,
                   config: types.GenerateContentConfig | None = None) -> dict[str, int]:
    response = client.models.generate_content(model=FLASH, contents=[part, PROMPT],
                                              config=config)
    usage = response.usage_metadata
    details = {d.modality.value: d.token_count for d in usage.prompt_tokens_details}
    assert usage.prompt_token_count == sum(details.values())
    return details


def _inline(path: Path, mime: str, **part_fields: object) -> types.Part:
    return types.Part(inline_data=types.Blob(data=path.read_bytes(), mime_type=mime),
                      **part_fields)


def test_three_second_video_with_audio_is_870_tokens(genai_client: genai.Client,
                                                     emulator_media: dict[str, Path]):
    tokens = _prompt_tokens(genai_client, _inline(emulator_media["clip3s"], "video/mp4"))
    assert tokens == {"VIDEO": 3 * 258, "AUDIO": 3 * 32, "TEXT": 3}


def test_video_fps_offsets_and_low_resolution_cut_tokens(genai_client: genai.Client,
                                                         emulator_media: dict[str, Path]):
    clip = emulator_media["clip3s"]
    half_fps = _inline(clip, "video/mp4", video_metadata=types.VideoMetadata(fps=0.5))
    assert _prompt_tokens(genai_client, half_fps)["VIDEO"] == 2 * 258  # ceil(3 × 0.5) frames
    window = _inline(clip, "video/mp4",
                     video_metadata=types.VideoMetadata(start_offset="1s", end_offset="3s"))
    assert _prompt_tokens(genai_client, window) == {"VIDEO": 2 * 258, "AUDIO": 2 * 32,
                                                    "TEXT": 3}
    low = types.GenerateContentConfig(media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW)
    assert _prompt_tokens(genai_client, _inline(clip, "video/mp4"), low)["VIDEO"] == 3 * 66
    silent = _prompt_tokens(genai_client, _inline(emulator_media["silent3s"], "video/mp4"))
    assert silent == {"VIDEO": 3 * 258, "TEXT": 3}


def test_audio_is_billed_for_the_seconds_the_audio_track_covers(
        genai_client: genai.Client, emulator_media: dict[str, Path]):
    clip = emulator_media["clip3s_audio2s"]  # 3 s of video, audio only in the first 2 s
    assert _prompt_tokens(genai_client, _inline(clip, "video/mp4")) == {
        "VIDEO": 3 * 258, "AUDIO": 2 * 32, "TEXT": 3}
    from_1s = _inline(clip, "video/mp4", video_metadata=types.VideoMetadata(start_offset="1s"))
    assert _prompt_tokens(genai_client, from_1s) == {"VIDEO": 2 * 258, "AUDIO": 32, "TEXT": 3}
    from_2s = _inline(clip, "video/mp4", video_metadata=types.VideoMetadata(start_offset="2s"))
    assert _prompt_tokens(genai_client, from_2s) == {"VIDEO": 258, "TEXT": 3}


def test_audio_images_and_pdf_pages(genai_client: genai.Client,
                                    emulator_media: dict[str, Path]):
    assert _prompt_tokens(genai_client, _inline(emulator_media["tone5s"], "audio/wav")) == {
        "AUDIO": 5 * 32, "TEXT": 3}
    small = _prompt_tokens(genai_client, _inline(emulator_media["image320x240"], "image/png"))
    assert small["IMAGE"] == 258
    one_tile = _prompt_tokens(genai_client, _inline(emulator_media["image640x480"], "image/png"))
    assert one_tile["IMAGE"] == 258  # 640 > 384, but one 768 px tile covers it
    four_tiles = _prompt_tokens(genai_client,
                                _inline(emulator_media["image1000x800"], "image/jpeg"))
    assert four_tiles["IMAGE"] == 2 * 2 * 258
    pdf = _prompt_tokens(genai_client, _inline(emulator_media["two_pages"], "application/pdf"))
    assert pdf["DOCUMENT"] == 2 * 258


def test_uploaded_video_is_counted_from_its_bytes(genai_client: genai.Client,
                                                  emulator_media: dict[str, Path]):
    uploaded = genai_client.files.upload(file=emulator_media["clip3s"])
    assert uploaded.name.startswith("files/") and uploaded.state == types.FileState.ACTIVE
    assert uploaded.mime_type == "video/mp4"
    assert uploaded.size_bytes == emulator_media["clip3s"].stat().st_size
    part = types.Part(file_data=types.FileData(file_uri=uploaded.uri, mime_type="video/mp4"),
                      video_metadata=types.VideoMetadata(fps=0.5))
    assert _prompt_tokens(genai_client, part) == {"VIDEO": 2 * 258, "AUDIO": 3 * 32, "TEXT": 3}


async def test_async_upload_and_generate(async_genai_client: AsyncClient,
                                         emulator_media: dict[str, Path]):
    uploaded = await async_genai_client.files.upload(file=emulator_media["tone5s"])
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type=uploaded.mime_type)
    response = await async_genai_client.models.generate_content(model=FLASH,
                                                                contents=[part, PROMPT])
    assert response.usage_metadata.prompt_token_count == 5 * 32 + 3


def test_file_is_processing_until_its_delay_passes(emulator: EmbeddedEmulator,
                                                   genai_client: genai.Client,
                                                   emulator_media: dict[str, Path]):
    emulator.control.configure(file_processing_s=30)
    uploaded = genai_client.files.upload(file=emulator_media["clip3s"])
    assert uploaded.state == types.FileState.PROCESSING
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="video/mp4")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents=[part, PROMPT])
    assert info.value.status == "FAILED_PRECONDITION"
    emulator.control.advance_clock(31)
    assert genai_client.files.get(name=uploaded.name).state == types.FileState.ACTIVE
    assert genai_client.models.generate_content(model=FLASH, contents=[part, PROMPT]).text


def test_corrupt_media_upload_ends_failed_with_an_error(genai_client: genai.Client,
                                                        emulator_media: dict[str, Path]):
    uploaded = genai_client.files.upload(file=emulator_media["corrupt"])
    assert uploaded.state == types.FileState.FAILED
    assert uploaded.error is not None and uploaded.error.code == 400


def test_multi_chunk_upload_keeps_every_byte(emulator: EmbeddedEmulator,
                                             genai_client: genai.Client):
    data = hashlib.sha256(b"seed").digest() * (9 * 1024 * 1024 // 32 + 7)  # > one 8 MiB chunk
    uploaded = genai_client.files.upload(
        file=io.BytesIO(data), config={"mime_type": "application/octet-stream",
                                       "display_name": "big blob"})
    assert uploaded.size_bytes == len(data)
    assert uploaded.display_name == "big blob"
    assert uploaded.sha256_hash  # base64 of the hex digest, as the API sends it
    assert base64.b64decode(uploaded.sha256_hash).decode() == hashlib.sha256(data).hexdigest()
    assert emulator.stats.upload_bytes == len(data)


def test_files_get_list_pages_and_delete(genai_client: genai.Client):
    names = [genai_client.files.upload(file=io.BytesIO(f"note {i}".encode()),
                                       config={"mime_type": "text/plain"}).name
             for i in range(3)]
    pager = genai_client.files.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert sorted(f.name for f in pager) == sorted(names)
    genai_client.files.delete(name=names[0])
    with pytest.raises(errors.ClientError) as info:
        genai_client.files.get(name=names[0])
    assert info.value.code == 403


def test_text_file_is_billed_as_text(genai_client: genai.Client):
    uploaded = genai_client.files.upload(file=io.BytesIO(b"z" * 400),
                                         config={"mime_type": "text/plain"})
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="text/plain")
    assert _prompt_tokens(genai_client, part) == {"TEXT": 100 + 3}


def test_unknown_file_uri_is_refused(emulator: EmbeddedEmulator, genai_client: genai.Client):
    part = types.Part.from_uri(file_uri=f"{emulator.base_url}/v1beta/files/nosuchfile",
                               mime_type="video/mp4")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents=[part, PROMPT])
    assert info.value.code == 403
