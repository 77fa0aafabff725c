"""Media no sampling rate fits into the model's window, split (``fit: split``): one call
per segment, answers joined (transcripts with continuous timestamps, other tasks by one
more call priced in the item); and the shared context counted in the window before any
upload or call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google import genai

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.failures import FailureKind
from flashfirst.inputs.context import SharedContext
from flashfirst.items import ItemResult, MediaPolicy, TaskKind, WorkItem
from flashfirst.media import prepare_media, to_parts
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.pricing.estimate import RunEstimate
from flashfirst.reporting.report import RunReport
from flashfirst.run.terms import RunFailed
from flashfirst.settings import Settings
from flashfirst.storage import Storage

WINDOW = 1_048_576
STAMP = re.compile(r"^\[(\d\d):(\d\d):(\d\d)\]")


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared document of about 900,000 tokens (four characters a token)."""
    dest = tmp_path_factory.mktemp("context") / "handbook.txt"
    dest.write_text("Policy clause about refunds and returns. " * 88_000)
    return dest


@pytest.fixture
def run_settings(run_settings: Settings) -> Settings:
    """The usual run settings, on a project whose token quota these calls of up to a
    million tokens never wait on: at the default 1M a minute each such call held the next
    for a minute (the same limiter across this file's tests), which no test here is about."""
    models = run_settings.models
    roomy = {name: getattr(models, name).model_copy(update={"tpm": 50_000_000})
             for name in type(models).model_fields}
    return run_settings.model_copy(update={"models": models.model_copy(update=roomy)})


def run(params: AnalyzeParams, settings: Settings) -> RunReport:
    try:
        report = analyze_with(params, settings)
    except RunFailed as failed:  # its one item failed
        return failed.report
    assert isinstance(report, RunReport)
    return report


def results_of(report: RunReport, settings: Settings) -> dict[str, ItemResult]:
    lines = Storage().read_text(f"{report.output_uri}/results.jsonl").splitlines()
    return {r.id: r for r in (ItemResult.model_validate_json(line) for line in lines)}


@pytest.mark.usefixtures("prefect_api")
def test_a_split_summary_is_one_call_per_segment_and_one_combining_call_priced_in_the_item(
        five_hour_clip: Path, run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    item = WorkItem(id="dashcam", uri=str(five_hour_clip), task=TaskKind.SUMMARIZE,
                    media_policy=MediaPolicy(fit="split"))
    report = run(AnalyzeParams(items=[item]), run_settings)
    result = results_of(report, run_settings)["dashcam"]
    assert result.ok, result.error
    assert [a.part for a in result.attempts] == ["segment 1/2", "segment 2/2", "combine"]
    assert emulator.stats.calls_to("generateContent") == 3
    for segment in result.attempts[:2]:  # each under the window, as the emulator counted it
        assert 500_000 < segment.usage.prompt_tokens < WINDOW
    combine = result.attempts[2]
    assert combine.cost_usd > 0
    [line] = report.items
    assert line.cost_usd == pytest.approx(sum(a.cost_usd for a in result.attempts))
    assert line.cost_usd > result.attempts[0].cost_usd + result.attempts[1].cost_usd
    fit = result.media.fit if result.media else None
    assert fit is not None and fit.tokens_unfitted == 1_260_000
    assert [round(a) for a, _ in fit.segments] == [0, 8995]  # 5 s overlap before the cut
    assert fit.tokens_fitted == result.media.tokens_after < 2 * WINDOW
    [shown] = report.media.fitted
    assert "2 segments" in shown and "combining call" in shown, shown


@pytest.mark.usefixtures("prefect_api")
def test_a_split_transcript_has_continuous_timestamps_and_says_the_overlap_once(
        five_hour_clip: Path, run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    # Each segment answers with timestamps from its own start, as it was asked to.
    emulator.control.add_script(contains="part 1 of 2", text=(
        "[00:00:01] Leaving the depot.\n[02:29:50] Approaching the bridge."))
    emulator.control.add_script(contains="part 2 of 2", text=(
        "[00:00:01] Approaching the bridge.\n[00:00:09] On the bridge.\n"
        "[02:29:59] Parked."))
    item = WorkItem(id="dashcam", uri=str(five_hour_clip), task=TaskKind.TRANSCRIBE,
                    media_policy=MediaPolicy(fit="split"))
    report = run(AnalyzeParams(items=[item]), run_settings)
    result = results_of(report, run_settings)["dashcam"]
    assert result.ok, result.error
    assert [a.part for a in result.attempts] == ["segment 1/2", "segment 2/2"]  # no combine
    lines = result.output.splitlines()
    # The second segment starts at 8995 s (5 s of overlap): its line at 1 s is the first
    # segment's last line again, said once; the rest moves onto the recording's clock.
    assert lines == ["[00:00:01] Leaving the depot.", "[02:29:50] Approaching the bridge.",
                     "[02:30:04] On the bridge.", "[04:59:54] Parked."]
    seconds = [int(h) * 3600 + int(m) * 60 + int(s)
               for h, m, s in (STAMP.match(line).groups() for line in lines)]
    assert seconds == sorted(seconds)


@pytest.mark.usefixtures("prefect_api")
def test_the_shared_context_counts_in_the_window_before_any_upload_or_call(
        three_hour_call: Path, handbook: Path, run_settings: Settings,
        emulator: EmbeddedEmulator) -> None:
    """270,000 tokens of sound fit alone; beside a 900,000-token handbook they do not."""
    item = WorkItem(id="call", uri=str(three_hour_call), task=TaskKind.TRANSCRIBE)
    report = run(AnalyzeParams(items=[item], context=SharedContext(documents=[str(handbook)])),
                 run_settings)
    [line] = report.items
    assert line.failure_kind is FailureKind.TOO_LONG
    cause = report.failures["call"]
    assert "shared context" in cause and f"{WINDOW:,}" in cause, cause
    assert '"fit": "split"' in cause, cause
    assert emulator.stats.uploads == 0
    assert emulator.stats.calls_to("generateContent") == 0


@pytest.mark.usefixtures("prefect_api")
def test_a_split_leaves_room_for_the_shared_context(
        three_hour_call: Path, handbook: Path, run_settings: Settings,
        emulator: EmbeddedEmulator) -> None:
    item = WorkItem(id="call", uri=str(three_hour_call), task=TaskKind.TRANSCRIBE,
                    media_policy=MediaPolicy(fit="split"))
    report = run(AnalyzeParams(items=[item], context=SharedContext(documents=[str(handbook)])),
                 run_settings)
    result = results_of(report, run_settings)["call"]
    assert result.ok, result.error
    segments = [a for a in result.attempts if (a.part or "").startswith("segment")]
    assert len(segments) >= 2
    for a in segments:  # the handbook (cached or not) and a segment, under the window
        assert a.usage.prompt_tokens < WINDOW


@pytest.mark.usefixtures("prefect_api")
def test_batch_mode_refuses_a_split_item_before_any_call_naming_it(
        five_hour_clip: Path, run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    item = WorkItem(id="dashcam", uri=str(five_hour_clip), task=TaskKind.SUMMARIZE,
                    media_policy=MediaPolicy(fit="split"))
    report = run(AnalyzeParams(items=[item], mode=RunMode.BATCH), run_settings)
    [line] = report.items
    assert line.failure_kind is FailureKind.TOO_LONG
    assert "dashcam" in report.failures["dashcam"]
    assert "batch mode" in report.failures["dashcam"]
    assert emulator.stats.calls_to("generateContent") == 0
    assert emulator.stats.calls_to("batchGenerateContent") == 0


def test_the_emulator_counts_each_segment_as_the_product_does(
        five_hour_clip: Path, media_settings: Settings, media_storage: Storage,
        genai_client: genai.Client) -> None:
    item = WorkItem(id="dashcam", uri=str(five_hour_clip),
                    media_policy=MediaPolicy(fit="split"))
    prepared = prepare_media(item, media_settings, media_storage, genai_client,
                             model="gemini-3.8-flash")
    assert len(prepared.segments) == 2
    for segment in prepared.segments:
        counted = genai_client.models.count_tokens(model="gemini-3.8-flash",
                                                   contents=to_parts(segment))
        assert counted.total_tokens == segment.stats.tokens_after.total
    assert sum(s.stats.tokens_after.total for s in prepared.segments) \
        == prepared.stats.tokens_after.total


@pytest.mark.usefixtures("prefect_api")
def test_the_estimate_prices_a_split_item_as_its_calls_and_says_how_it_was_fitted(
        five_hour_clip: Path, run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    item = WorkItem(id="dashcam", uri=str(five_hour_clip), task=TaskKind.SUMMARIZE,
                    media_policy=MediaPolicy(fit="split"))
    estimate = analyze_with(AnalyzeParams(items=[item], estimate_only=True), run_settings)
    assert isinstance(estimate, RunEstimate)
    assert (estimate.items, estimate.calls) == (1, 3)  # two segments and the combining call
    assert estimate.input_tokens > 1_260_000  # every segment counted, by the API
    [fitted] = estimate.fitted
    assert "2 segments" in fitted and "1,260,000" in fitted, fitted
    assert emulator.stats.calls_to("generateContent") == 0


@pytest.mark.usefixtures("prefect_api")
def test_a_text_item_over_the_window_beside_the_shared_context_is_refused_before_any_call(
        handbook: Path, run_settings: Settings, emulator: EmbeddedEmulator,
        tmp_path: Path) -> None:
    """Text has no media stage: the request's own pre-flight refuses it."""
    minutes = tmp_path / "minutes.txt"
    minutes.write_text("The board met and agreed. " * 40_000)  # about 260,000 tokens
    item = WorkItem(id="minutes", uri=str(minutes), task=TaskKind.SUMMARIZE)
    report = run(AnalyzeParams(items=[item], context=SharedContext(documents=[str(handbook)])),
                 run_settings)
    [line] = report.items
    assert line.failure_kind is FailureKind.TOO_LONG
    cause = report.failures["minutes"]
    assert "refused before any call" in cause and "shared context" in cause, cause
    assert emulator.stats.calls_to("generateContent") == 0
