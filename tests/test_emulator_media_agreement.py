"""Two readings of Google's token rules compared: the media stage's accounting
(``flashfirst.gemini.token_rules``) and the emulator's own tables
(``flashfirst.emulator.tokens.rules``, which imports nothing of the product's), on a
prepared video the emulator probes from the bytes it received. Each side is also pinned
to a figure worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from google import genai

from flashfirst.gemini.token_rules import Modality
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.media import prepare_media, to_parts
from flashfirst.probe import MediaKind, probe_bytes
from flashfirst.settings import Settings
from flashfirst.storage import Storage


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

    # A precondition, not an expected value: our encoder's 0.5 fps file lasts longer than
    # its sound (the last frame is shown for 1/fps), the case where the two could differ.
    assert sent.duration_s > sent.audio_duration_s
    billed = {d.modality.value: d.token_count
              for d in response.usage_metadata.prompt_tokens_details}
    accounted = prepared.stats.tokens_after.by_modality
    # Audio: 32 tokens a second on 2.x (ai.google.dev/gemini-api/docs/video-understanding)
    # over the 3 s of sound the clip has. Billing the sound's seconds rather than the
    # container's is OUR rule (Google documents nothing for a track shorter than the
    # picture), held by both readings: 3 x 32 = 96.
    assert billed[Modality.AUDIO] == accounted[Modality.AUDIO] == 3 * 32
    # Video: frames at the part's 0.5 fps over the file, ceil(4 s x 0.5) = 2 (3 s would
    # also give ceil(1.5) = 2), 258 tokens a frame at default resolution (same page): 516.
    assert billed[Modality.VIDEO] == accounted[Modality.VIDEO] == 2 * 258
