"""Media tokens from the documented rules applied to the bytes really sent, by the serving
model's family, and the Files API's resumable upload, states and listing. Expected counts
are worked out by hand from Google's pages:

- 2.x (here 2.5 Flash-Lite, the 2.5 model still served): a frame is 258 tokens, 66 at low
  media resolution, audio 32 a second (ai.google.dev/gemini-api/docs/video-understanding);
  an image 258 a 768 px tile, 258 when both sides are <= 384 px
  (ai.google.dev/gemini-api/docs/tokens); a PDF page 258
  (ai.google.dev/gemini-api/docs/document-processing); an image at low resolution 64
  (the SDK's ``MEDIA_RESOLUTION_LOW`` docstring, google-genai 3.6.1).
- Gemini 3 / 4: ai.google.dev/gemini-api/docs/media-resolution, Gemini 3 table (copy id
  70194196183, research file 1.7): image 1120 default, 280 low, 560 medium, 1120 high,
  2240 ultra_high; video 70 a frame (default/low/medium), 280 high; PDF 560 a page,
  280 low, 1120 high (plus native text: our PDFs have none); audio 25 a second."""

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
    """OUR rule, not Google's: the pages give a rate per second of audio (32 on 2.x) and say
    nothing of a video whose sound stops before its picture; the emulator bills the seconds
    of sound that exist (the product's accounting assumes the same), so a test that a real
    call settles would replace this one."""
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
    low = types.GenerateContentConfig(media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW)
    assert _prompt_tokens(genai_client, _inline(emulator_media["image1000x800"], "image/jpeg"),
                          low)["IMAGE"] == 64  # the SDK docstring's low figure, not 4 tiles


GEMINI3 = "gemini-3.8-flash"
_LEVEL = types.PartMediaResolutionLevel


def _g3_tokens(client: genai.Client, *parts: types.Part,
               config: types.GenerateContentConfig | None = None,
               model: str = GEMINI3) -> dict[str, int]:
    response = client.models.generate_content(model=model, contents=[*parts, PROMPT],
                                              config=config)
    assert response.model_version == model
    return {d.modality.value: d.token_count
            for d in response.usage_metadata.prompt_tokens_details}


def _at(level: types.PartMediaResolutionLevel) -> dict[str, object]:
    return {"media_resolution": types.PartMediaResolution(level=level)}


def test_gemini3_video_is_70_a_frame_and_25_a_second_of_audio(
        genai_client: genai.Client, emulator_media: dict[str, Path]):
    clip = emulator_media["clip10s"]  # 10 s at 1 fps: 10 frames, 10 s of sound
    assert _g3_tokens(genai_client, _inline(clip, "video/mp4")) == {
        "VIDEO": 10 * 70, "AUDIO": 10 * 25, "TEXT": 3}  # 700 + 250 + "Describe." 3
    low = types.GenerateContentConfig(media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW)
    assert _g3_tokens(genai_client, _inline(clip, "video/mp4"), config=low)["VIDEO"] == 700
    high = _inline(clip, "video/mp4", **_at(_LEVEL.MEDIA_RESOLUTION_HIGH))
    assert _g3_tokens(genai_client, high)["VIDEO"] == 10 * 280  # 2800: high is 4x
    argon = _g3_tokens(genai_client, _inline(clip, "video/mp4"), model="gemini-4-argon")
    assert argon == {"VIDEO": 700, "AUDIO": 250, "TEXT": 3}


def test_gemini3_pdf_pages_and_audio(genai_client: genai.Client,
                                     emulator_media: dict[str, Path]):
    pdf = emulator_media["two_pages"]
    assert _g3_tokens(genai_client, _inline(pdf, "application/pdf"))["DOCUMENT"] == 2 * 560
    low = _inline(pdf, "application/pdf", **_at(_LEVEL.MEDIA_RESOLUTION_LOW))
    assert _g3_tokens(genai_client, low)["DOCUMENT"] == 2 * 280
    high = _inline(pdf, "application/pdf", **_at(_LEVEL.MEDIA_RESOLUTION_HIGH))
    assert _g3_tokens(genai_client, high)["DOCUMENT"] == 2 * 1120
    audio = _g3_tokens(genai_client, _inline(emulator_media["tone30s"], "audio/wav"))
    assert audio == {"AUDIO": 30 * 25, "TEXT": 3}  # 750, at any resolution
    audio_low = _inline(emulator_media["tone30s"], "audio/wav", **_at(_LEVEL.MEDIA_RESOLUTION_LOW))
    assert _g3_tokens(genai_client, audio_low)["AUDIO"] == 750


@pytest.mark.parametrize(("level", "tokens"), [
    (None, 1120), (_LEVEL.MEDIA_RESOLUTION_LOW, 280), (_LEVEL.MEDIA_RESOLUTION_MEDIUM, 560),
    (_LEVEL.MEDIA_RESOLUTION_HIGH, 1120), (_LEVEL.MEDIA_RESOLUTION_ULTRA_HIGH, 2240)],
    ids=["default", "low", "medium", "high", "ultra_high"])
def test_gemini3_image_at_each_resolution(genai_client: genai.Client,
                                          emulator_media: dict[str, Path],
                                          level: types.PartMediaResolutionLevel | None,
                                          tokens: int):
    part = _inline(emulator_media["image1000x800"], "image/jpeg",
                   **(_at(level) if level else {}))
    assert _g3_tokens(genai_client, part)["IMAGE"] == tokens  # no tiling on Gemini 3


def test_per_part_resolution_overrides_global_and_is_gemini3_only(
        genai_client: genai.Client, emulator_media: dict[str, Path]):
    image = emulator_media["image640x480"]
    low = types.GenerateContentConfig(media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW)
    both = _g3_tokens(genai_client, _inline(image, "image/png"),
                      _inline(image, "image/png", **_at(_LEVEL.MEDIA_RESOLUTION_HIGH)),
                      config=low)
    assert both["IMAGE"] == 280 + 1120  # the global low, and the part's own high
    part = _inline(image, "image/png", **_at(_LEVEL.MEDIA_RESOLUTION_HIGH))
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents=[part, PROMPT])
    assert info.value.code == 400 and "media_resolution" in info.value.message


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
