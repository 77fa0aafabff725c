"""The analyze flow end to end over mixed inputs: local folders and gs:// on the GCS
emulator, the Gemini emulator, ffmpeg, and a Prefect test server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inputs.context import SharedContext
from flashfirst.media import ffmpeg_invocations
from flashfirst.params import AnalyzeParams
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings
from flashfirst.storage import Storage

pytestmark = pytest.mark.usefixtures("prefect_api")

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
       b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


@pytest.fixture
def inputs(tmp_path: Path, clip_720p60: Path, audio_mp3: Path, large_image: Path,
           corrupt_video: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(clip_720p60, folder / "walkthrough.mp4")
    shutil.copy(audio_mp3, folder / "call.mp3")
    shutil.copy(large_image, folder / "shelf.png")
    shutil.copy(corrupt_video, folder / "broken.mp4")
    (folder / "invoice.pdf").write_bytes(PDF)
    (folder / "note.txt").write_text("The delivery arrived two days late; refund requested.")
    (tmp_path / "handbook.md").write_text("".join(
        f"Rule {n}: refunds within {n % 9 + 1} days; escalate to team {n % 5}.\n"
        for n in range(400)))
    return folder


def run_params(source: str, context_doc: str, output: str) -> AnalyzeParams:
    return AnalyzeParams(source=source, output=output, context=SharedContext(
        system_instruction="You are a support analyst.", documents=[context_doc]))


def check_first_run(report: RunReport, results: list[dict]) -> None:
    good = {"walkthrough.mp4", "call.mp3", "shelf.png", "invoice.pdf", "note.txt"}
    assert report.items_total == 6 and report.items_ok == 5
    assert {r["id"] for r in results if r["error"] is None} == good
    assert all(r["output"] for r in results if r["id"] in good)
    cause = report.failures["broken.mp4"]
    assert "broken.mp4" in cause and "not a readable" in cause
    paid = sum(a["cost_usd"] for r in results for a in r["attempts"])
    assert report.costs.calls_usd == pytest.approx(paid, abs=1e-9)
    assert report.costs.actual_usd == pytest.approx(
        paid + report.costs.cache_write_usd + report.costs.cache_storage_usd, abs=1e-9)
    assert report.costs.naive_usd > report.costs.actual_usd > 0
    assert sum(s.cost_usd for s in report.stages) == pytest.approx(
        report.costs.actual_usd, abs=1e-8)  # every dollar is some stage's
    assert report.media.bytes_after < report.media.bytes_before


def check_second_run_is_free(run, emulator: EmbeddedEmulator) -> None:  # noqa: ANN001
    before = emulator.stats
    ffmpeg_before = ffmpeg_invocations()
    report = run()
    after = emulator.stats
    assert ffmpeg_invocations() == ffmpeg_before, "second run re-ran ffmpeg"
    assert after.uploads == before.uploads, "second run uploaded again"
    assert after.calls_to("generateContent") == before.calls_to("generateContent")
    assert report.items_reused == 5 and report.generate_calls == 0
    assert report.media.reused == report.media.items == 4


def test_analyze_a_local_folder_then_rerun_for_free(run_settings: Settings,
                                                    emulator: EmbeddedEmulator,
                                                    inputs: Path, tmp_path: Path):
    settings = run_settings.model_copy(deep=True)
    settings.media.inline_max_bytes = 0  # make every media item use the Files API
    out = tmp_path / "out"
    params = run_params(str(inputs), str(tmp_path / "handbook.md"), str(out))
    report = analyze_with(params, settings)
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    check_first_run(report, results)
    assert emulator.stats.uploads >= 4
    saved = RunReport.model_validate_json((out / "report.json").read_text())
    assert saved.costs == report.costs
    check_second_run_is_free(lambda: analyze_with(params, settings), emulator)


def test_analyze_a_bucket_prefix_into_a_bucket(run_settings: Settings,
                                               emulator: EmbeddedEmulator, inputs: Path,
                                               tmp_path: Path, gcs_bucket: str):
    storage = Storage()
    for path in inputs.iterdir():
        storage.upload_file(path, f"gs://{gcs_bucket}/incoming/{path.name}")
    storage.upload_file(tmp_path / "handbook.md", f"gs://{gcs_bucket}/context/handbook.md")
    settings = run_settings.model_copy(update={"storage_root": f"gs://{gcs_bucket}/state"})
    params = run_params(f"gs://{gcs_bucket}/incoming", f"gs://{gcs_bucket}/context/handbook.md",
                        f"gs://{gcs_bucket}/out")
    report = analyze_with(params, settings)
    results = [json.loads(line) for line in
               storage.read_text(f"gs://{gcs_bucket}/out/results.jsonl").splitlines()]
    check_first_run(report, results)
    assert storage.exists(f"gs://{gcs_bucket}/out/report.json")
    check_second_run_is_free(lambda: analyze_with(params, settings), emulator)
