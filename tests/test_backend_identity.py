"""Everything a backend holds or produced stays with that backend: answers, uploads and
caches made on one are never reused against another, and results say where they came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from pydantic import SecretStr

from flashfirst.client import backend_id
from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig
from flashfirst.inputs.context import SharedContext
from flashfirst.params import AnalyzeParams
from flashfirst.settings import BackendSettings, Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def inputs(tmp_path: Path, clip_720p60: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(clip_720p60, folder / "walkthrough.mp4")
    (folder / "note.txt").write_text("The delivery arrived two days late; refund requested.")
    (folder / "other.txt").write_text("The parcel was opened before it reached me.")
    (tmp_path / "handbook.md").write_text("".join(
        f"Rule {n}: refunds within {n % 9 + 1} days; escalate to team {n % 5}.\n"
        for n in range(400)))
    return folder


def test_answers_from_one_backend_are_never_reused_against_another(
        run_settings: Settings, emulator: EmbeddedEmulator, inputs: Path, tmp_path: Path):
    settings = run_settings.model_copy(deep=True)
    settings.media.inline_max_bytes = 0  # the video goes through the Files API
    params = AnalyzeParams(source=str(inputs), output=str(tmp_path / "out"),
                           context=SharedContext(system_instruction="You are a support analyst.",
                                                 documents=[str(tmp_path / "handbook.md")]))
    first = analyze_with(params, settings)
    assert first.items_ok == 3 and emulator.stats.uploads >= 1

    with EmbeddedEmulator(EmulatorConfig(latency_scale=0, seed=7)) as other:
        elsewhere = settings.model_copy(deep=True)
        elsewhere.backend = BackendSettings(base_url=other.base_url)
        second = analyze_with(params, elsewhere)  # same storage root, another backend
        stats, other_url = other.stats, other.base_url

    assert second.items_ok == 3
    assert second.items_reused == 0, "an answer of the first backend was reused"
    assert stats.calls_to("generateContent") >= 3  # every item called again, on `other`
    assert stats.uploads >= 1, "the other backend's upload record was trusted"
    assert second.backend == f"Gemini API at {other_url}" != first.backend
    results = [json.loads(line)
               for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert {r["backend"] for r in results} == {second.backend}
    assert not any(r["reused"] for r in results)


def test_backend_identity_separates_backends_and_hides_the_key(tmp_path: Path):
    def ident(**backend: object) -> str:
        return backend_id(Settings(backend=BackendSettings(**backend),
                                   storage_root=str(tmp_path)))

    key_a, key_b = "AIza-canary-one-0123456789", "AIza-canary-two-0123456789"
    ids = {ident(kind="emulator"), ident(kind="emulator", emulator={"seed": 1}),
           ident(base_url="http://127.0.0.1:1"), ident(base_url="http://127.0.0.1:2"),
           ident(api_key=SecretStr(key_a)), ident(api_key=SecretStr(key_b)),
           ident(vertex_project="p1"), ident(vertex_project="p1", vertex_location="eu-west1")}
    assert len(ids) == 8
    assert ident(api_key=SecretStr(key_a)) == ident(api_key=SecretStr(key_a))  # stable
    assert not any(key_a in i or key_a[:12] in i for i in ids)
    labelled = ident(api_key=SecretStr(key_a), project_label="acme-prod")
    assert labelled == ident(api_key=SecretStr(key_b), project_label="acme-prod")
    assert "acme-prod" in labelled
