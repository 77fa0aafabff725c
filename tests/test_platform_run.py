"""Runs on the Agent Platform backend (formerly Vertex AI) against the emulator's platform
surface, through the analyze flow: generate, count tokens and explicit caches on the
platform's paths, served tiers read as the platform reports them."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google.cloud import storage

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inputs.context import SharedContext
from flashfirst.items import ServiceTier
from flashfirst.params import AnalyzeParams
from flashfirst.settings import BackendSettings, Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def platform_settings(run_settings: Settings, emulator: EmbeddedEmulator) -> Settings:
    return run_settings.model_copy(update={"backend": BackendSettings(
        kind="vertex", vertex_project="acme-ml", vertex_location="us-central1",
        base_url=emulator.base_url)})


def notes_with_a_handbook(tmp_path: Path, **params: object) -> AnalyzeParams:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(3):
        (folder / f"note{n}.txt").write_text(f"Parcel {n} arrived {n + 1} days late; refund?")
    (tmp_path / "handbook.md").write_text("".join(
        f"Rule {n}: refunds within {n % 9 + 1} days; escalate to team {n % 5}.\n"
        for n in range(800)))
    return AnalyzeParams(source=str(folder), output=str(tmp_path / "out"),
                         context=SharedContext(system_instruction="You are a support analyst.",
                                               documents=[str(tmp_path / "handbook.md")]),
                         **params)


def results_of(tmp_path: Path) -> list[dict]:
    return [json.loads(line)
            for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]


def test_a_run_on_the_platform_counts_caches_and_answers_then_reruns_for_free(
        platform_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    params = notes_with_a_handbook(tmp_path)
    report = analyze_with(params, platform_settings)
    results = results_of(tmp_path)
    calls = emulator.stats.calls

    assert report.items_ok == 3 and report.generate_calls == 3
    assert {r["backend"] for r in results} == \
        {f"Agent Platform (acme-ml, us-central1) at {emulator.base_url}"}
    for result in results:
        attempt = result["attempts"][-1]
        assert attempt["cached_content"].startswith(
            "projects/acme-ml/locations/us-central1/cachedContents/")
        assert attempt["usage"]["cached_tokens"] > 0 and attempt["cost_usd"] > 0
    assert calls["countTokens"] and calls["cachedContents.create"] == {"gemini-3.8-flash": 1}
    assert report.costs.naive_usd > report.costs.actual_usd > 0
    # Labels carry the run id, so a billing export groups the run's calls (label values
    # are lowercase letters, digits, "_" and "-": the emulator refuses others, as Google).
    labels = [e.labels for e in emulator.stats.request_log if e.endpoint == "generateContent"]
    assert labels == [{"flashfirst-run": report.run_id.lower()}] * 3

    again = analyze_with(params, platform_settings)
    assert again.items_reused == 3 and again.generate_calls == 0
    assert emulator.stats.calls["generateContent"] == calls["generateContent"]


def test_priority_downgraded_on_the_platform_is_priced_as_the_tier_that_served(
        platform_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    """The platform says which tier served in usageMetadata.trafficType (no Developer API
    tier header): two of three Priority calls over the limit are Standard, and billed so."""
    policy = (files("flashfirst.data") / "routing.yaml").read_text()
    (tmp_path / "routing.yaml").write_text(
        policy.replace("allow_priority: false", "allow_priority: true"))
    settings = platform_settings.model_copy(
        update={"routing_policy_path": tmp_path / "routing.yaml"})
    emulator.control.configure(tiers={"priority_rpm_limit": 1})
    analyze_with(notes_with_a_handbook(tmp_path, deadline_s=30), settings)
    attempts = [r["attempts"][-1] for r in results_of(tmp_path)]
    assert emulator.stats.generate_calls["gemini-3.8-flash"] == {"priority": 1, "standard": 2}
    assert sorted(a["service_tier_served"] for a in attempts) == \
        [ServiceTier.PRIORITY.value, ServiceTier.STANDARD.value, ServiceTier.STANDARD.value]
    assert {a["service_tier_requested"] for a in attempts} == {ServiceTier.PRIORITY.value}


def test_media_on_the_platform_is_read_from_the_runs_bucket_by_uri(
        platform_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path,
        gcs_bucket: str, large_image: Path, audio_mp3: Path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(large_image, folder / "shelf.png")
    shutil.copy(audio_mp3, folder / "call.mp3")
    settings = platform_settings.model_copy(update={"storage_root": f"gs://{gcs_bucket}/run"})
    settings.media.inline_max_bytes = 0  # every media item by reference
    report = analyze_with(AnalyzeParams(source=str(folder), output=str(tmp_path / "out")),
                          settings)
    results = results_of(tmp_path)

    assert report.items_ok == 2 and emulator.stats.uploads == 0  # no Files API
    assert len(list(storage.Client(project="test").list_blobs(
        gcs_bucket, prefix="run/media/"))) >= 2  # the prepared files, read by their URIs
    billed = {r["id"]: r["attempts"][-1]["usage"]["prompt_by_modality"] for r in results}
    assert billed["shelf.png"]["IMAGE"] > 0 and billed["call.mp3"]["AUDIO"] > 0
