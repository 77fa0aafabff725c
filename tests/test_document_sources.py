"""Text items read from files the model takes as documents (RTF here): above the inline
limit they go through the Files API, and one the API refuses fails alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.failures import FailureKind
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_refused_document_upload_fails_that_item_and_its_sibling_completes(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    emulator.control.configure(faults={"refuse_uploads_named": "memo-b"})
    settings = run_settings.model_copy(deep=True)
    settings.media.inline_max_bytes = 0  # every document goes through the Files API
    settings.inference.failure_threshold = 1.0  # the run reports, rather than raises
    items = []
    for name in ("memo-a", "memo-b"):
        path = tmp_path / f"{name}.rtf"
        path.write_text(r"{\rtf1\ansi Parcel 4411 arrived two days late.\par}")
        items.append(WorkItem(id=name, uri=str(path), task="summarize"))

    report = analyze_with(AnalyzeParams(items=items, output=str(tmp_path / "out")), settings)

    assert report.items_ok == 1 and report.items_failed == 1
    assert "memo-b.rtf" in report.failures["memo-b"]
    assert "400" in report.failures["memo-b"]
    assert report.failure_kinds == {FailureKind.UPLOAD_FAILED: 1}
    assert emulator.stats.uploads == 1
