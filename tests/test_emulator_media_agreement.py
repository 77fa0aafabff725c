"""The media stage and the emulator bill a prepared video the same way: audio is 32 tokens
a second of audio, even where a downsampled file outlasts its audio track (its last frame
lasts 1/fps, so 3 s at 0.5 fps is stored as 4 s of video over 3 s of audio)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from google import genai

from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import prepare_media, to_parts
from flashfirst.probe import MediaKind, probe_bytes
from flashfirst.settings import Settings
from flashfirst.storage import Storage
from flashfirst.token_rules import Modality


@pytest.fixture(scope="session")
def clip_3s(media_dir: Path, make_clip_720p60: Callable[[Path, float], Path]) -> Path:
    return make_clip_720p60(media_dir / "clip-720p60-3s.mp4", 3)


@pytest.mark.parametrize("inline", [False, True], ids=["uploaded", "inline"])
def test_half_fps_clip_is_billed_by_its_audio_track_as_accounted(
        inline: bool, clip_3s: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    item = WorkItem(id="clip", kind=MediaKind.VIDEO, uri=str(clip_3s),
                    media_policy=MediaPolicy(fps=0.5, inline=inline))
    prepared = prepare_media(item, media_settings, media_storage, genai_client,
                             model="gemini-2.5-flash-lite")  # accounted by the 2.x rules
    sent = probe_bytes(media_storage.read_bytes(prepared.prepared_uri))

    response = genai_client.models.generate_content(
        model="gemini-2.5-flash-lite", contents=[*to_parts(prepared), "Describe it."])

    assert (sent.duration_s, sent.audio_duration_s) == (4.0, 3.0)  # the case in question
    billed = {d.modality.value: d.token_count
              for d in response.usage_metadata.prompt_tokens_details}
    accounted = prepared.stats.tokens_after.by_modality
    assert billed[Modality.AUDIO] == accounted[Modality.AUDIO] == 3 * 32
    assert billed[Modality.VIDEO] == accounted[Modality.VIDEO] == 2 * 258
