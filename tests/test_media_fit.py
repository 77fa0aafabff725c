"""Media longer than the model's window: refused before any upload or call, naming what
would make it fit; or fitted (a lower sampling rate, a lower media resolution) when the
item asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google import genai

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import MediaError
from flashfirst.failures import FailureKind
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.media import prepare_media
from flashfirst.params import AnalyzeParams
from flashfirst.run.terms import RunFailed
from flashfirst.settings import Settings
from flashfirst.storage import Storage

GEMINI_3_WINDOW = 1_048_576


def clip_item(path: Path, policy: MediaPolicy | None = None) -> WorkItem:
    return WorkItem(id="dashcam", uri=str(path), task=TaskKind.SUMMARIZE, media_policy=policy)


@pytest.mark.usefixtures("prefect_api")
def test_a_video_over_the_window_fails_too_long_with_no_upload_and_no_call(
        five_hour_clip: Path, run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    with pytest.raises(RunFailed) as failed:  # its one item failed: the run fails
        analyze_with(AnalyzeParams(items=[clip_item(five_hour_clip)]), run_settings)
    report = failed.value.report
    [result] = report.items
    assert result.failure_kind is FailureKind.TOO_LONG
    cause = report.failures["dashcam"]
    assert "1,260,000" in cause and f"{GEMINI_3_WINDOW:,}" in cause, cause
    assert '"fit": "fps"' in cause and "trim_end_s" in cause, cause
    assert emulator.stats.uploads == 0
    assert emulator.stats.calls_to("generateContent") == 0


def test_fit_fps_samples_at_the_highest_rate_that_fits(
        five_hour_clip: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    prepared = prepare_media(clip_item(five_hour_clip, MediaPolicy(fit="fps")), media_settings,
                             media_storage, genai_client, model="gemini-3.8-flash")
    sent = prepared.stats.tokens_after.total
    assert 0.97 * GEMINI_3_WINDOW < sent < GEMINI_3_WINDOW
    assert prepared.video_fps is not None and 0.8 < prepared.video_fps < 0.84
    assert any("fitted to the window" in n for n in prepared.stats.notes), prepared.stats.notes
    assert prepared.inline_data or prepared.file_uri  # delivered: it will be sent


def test_fit_fps_never_samples_below_its_floor(
        five_hour_clip: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    settings = media_settings.model_copy(deep=True)
    settings.media.fit_min_fps = 0.9  # one frame every 1.1 s: still 1.13M tokens
    with pytest.raises(MediaError) as refused:
        prepare_media(clip_item(five_hour_clip, MediaPolicy(fit="fps")), settings,
                      media_storage, genai_client, model="gemini-3.8-flash")
    assert refused.value.kind is FailureKind.TOO_LONG
    assert "0.9 fps" in refused.value.cause, refused.value.cause


def test_fit_resolution_uses_low_resolution_where_the_rules_make_it_cheaper(
        five_hour_clip: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    # 2.x rules: 258 tokens a frame, 66 at low: 4.6M tokens fall to 1.19M, still too many
    # for a 1M window; at low on half the clip it fits.
    policy = MediaPolicy(fit="resolution", trim_end_s=9000)
    prepared = prepare_media(clip_item(five_hour_clip, policy), media_settings, media_storage,
                             genai_client, model="gemini-2.5-flash-lite")
    assert prepared.media_resolution == "low"
    assert prepared.stats.tokens_after.total == 9000 * 66
    # On Gemini 3 low saves nothing on video: the same policy cannot fit it there.
    with pytest.raises(MediaError) as refused:
        prepare_media(clip_item(five_hour_clip, MediaPolicy(fit="resolution")),
                      media_settings, media_storage, genai_client, model="gemini-3.8-flash")
    assert refused.value.kind is FailureKind.TOO_LONG


def test_long_audio_within_the_window_is_sent_as_it_is(
        three_hour_call: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    item = WorkItem(id="call", uri=str(three_hour_call), task=TaskKind.TRANSCRIBE)
    prepared = prepare_media(item, media_settings, media_storage, genai_client,
                             model="gemini-3.8-flash")
    assert prepared.stats.tokens_after.total == 10800 * 25
