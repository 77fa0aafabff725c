"""The on-upload flow on the GCS emulator and the Gemini emulator: one object version in,
its results and report beside it, never a later overwrite analyzed in its place."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flashfirst.flows.on_upload import on_upload
from google.cloud import storage

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import ConfigError, StorageError
from flashfirst.storage import Storage

pytestmark = pytest.mark.usefixtures("prefect_api")

SHORT = "Parcel late."
LONG = "The parcel arrived two days late and the box was crushed on one side. " * 40


@pytest.fixture
def env_on_emulator(emulator: EmbeddedEmulator, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> EmbeddedEmulator:
    """The flow reads its settings from the environment, as a deployed run does."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASHFIRST_BACKEND__BASE_URL", emulator.base_url)
    monkeypatch.setenv("FLASHFIRST_STORAGE_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("FLASHFIRST_INFERENCE__BACKOFF_BASE_S", "0.02")
    return emulator


def results(output: str) -> list[dict]:
    return [json.loads(line) for line in Storage().read_text(f"{output}/results.jsonl")
            .splitlines()]


def prompt_tokens(result: dict) -> int:
    return result["attempts"][0]["usage"]["prompt_tokens"]


def test_an_upload_is_analyzed_with_results_under_its_name_and_generation(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/incoming/note.txt"
    generation = Storage().write_text(uri, SHORT)

    report = on_upload(uri=uri, generation=generation)

    output = f"gs://{gcs_bucket}/.flashfirst/results/incoming/note.txt/{generation}"
    assert report.output_uri == output
    assert report.items_ok == 1 and report.items_failed == 0
    [result] = results(output)
    assert result["id"] == "incoming/note.txt" and result["output"]
    assert json.loads(Storage().read_text(f"{output}/report.json"))["items_ok"] == 1
    assert Storage().list(f"gs://{gcs_bucket}/.flashfirst/results") == [
        f"{output}/{name}" for name in ("report.json", "report.md", "report.svg",
                                         "results.jsonl")], "nothing left beside the results"


def test_the_named_generation_is_analyzed_not_a_later_overwrite(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    bucket = storage.Client(project="test").bucket(gcs_bucket)
    bucket.versioning_enabled = True
    bucket.patch()
    uri = f"gs://{gcs_bucket}/incoming/note.txt"
    first = Storage().write_text(uri, SHORT)
    second = Storage().write_text(uri, LONG)  # overwritten before the first run starts

    report_first = on_upload(uri=uri, generation=first)
    report_second = on_upload(uri=uri, generation=second)

    [short] = results(report_first.output_uri)
    [long] = results(report_second.output_uri)
    assert report_first.output_uri.endswith(f"/{first}")
    assert prompt_tokens(short) * 10 < prompt_tokens(long)


def test_a_version_overwritten_in_a_bucket_without_versioning_is_left_to_its_successor(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/incoming/note.txt"
    first = Storage().write_text(uri, SHORT)
    second = Storage().write_text(uri, LONG)  # GCS keeps only the newest without versioning

    assert on_upload(uri=uri, generation=first) is None
    assert env_on_emulator.stats.calls_to("generateContent") == 0
    [long] = results(on_upload(uri=uri, generation=second).output_uri)
    assert prompt_tokens(long) > 100


def test_without_a_generation_the_current_version_is_analyzed_and_named(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/by-hand/{uuid.uuid4().hex}.txt"
    generation = Storage().write_text(uri, SHORT)

    report = on_upload(uri=uri)

    assert report.output_uri.endswith(f"/{generation}") and report.items_ok == 1


def test_a_second_event_for_the_same_version_makes_no_calls(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/incoming/note.txt"
    generation = Storage().write_text(uri, SHORT)
    first = on_upload(uri=uri, generation=generation)
    calls = env_on_emulator.stats.calls_to("generateContent")

    again = on_upload(uri=uri, generation=generation)

    assert env_on_emulator.stats.calls_to("generateContent") == calls
    assert again.run_id == first.run_id


def test_our_own_results_are_never_analyzed(env_on_emulator: EmbeddedEmulator,
                                            gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/.flashfirst/results/incoming/note.txt/1/report.json"
    Storage().write_text(uri, "{}")

    assert on_upload(uri=uri) is None
    assert env_on_emulator.stats.calls_to("generateContent") == 0


def test_an_upload_of_unknown_kind_fails_naming_the_object(
        env_on_emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    path = tmp_path / "inbox" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(b"\x00\x01")

    with pytest.raises(ConfigError, match=r"data\.bin: not analyzed: no task takes '\.bin' files"):
        on_upload.with_options(retries=0)(uri=str(path))


def test_an_upload_a_folder_run_would_skip_is_refused_for_the_same_reason(
        env_on_emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    for name, reason in ((".notes.txt", "hidden"), ("photos.zip", "an archive")):
        path = tmp_path / "inbox" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(SHORT)
        with pytest.raises(ConfigError, match=f"{name}: not analyzed: {reason}"):
            on_upload.with_options(retries=0)(uri=str(path))
    assert env_on_emulator.stats.calls_to("generateContent") == 0


def test_a_local_file_gets_results_in_a_folder_beside_it(
        env_on_emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    path = tmp_path / "inbox" / "note.txt"
    path.parent.mkdir()
    path.write_text(SHORT)

    report = on_upload(uri=str(path))

    generation = path.stat().st_mtime_ns
    assert report.output_uri == str(tmp_path / "inbox/.flashfirst/results/note.txt" /
                                    str(generation))
    assert results(report.output_uri)[0]["id"] == str(path)


def test_a_generation_that_never_existed_fails_the_run_naming_it(
        env_on_emulator: EmbeddedEmulator, gcs_bucket: str) -> None:
    uri = f"gs://{gcs_bucket}/incoming/typo.txt"
    generation = Storage().write_text(uri, SHORT)

    with pytest.raises(StorageError, match=f"no generation {generation + 1}"):
        on_upload.with_options(retries=0)(uri=uri, generation=generation + 1)
