"""Office and OpenDocument files as item inputs: sent as they are to the models whose
catalogue row lists them (Gemini 4 Hydrogen and Carbon: "Microsoft Office (.docx, .dotx,
.doc, .pptx, .ppt, .xlsx, .xls) and OpenDocument (.odt, .odp, .ods)", their developer
guides on docs.cloud.google.com, read 2026-12-02), refused before any call, naming the
item and the model, for the others; their siblings go on."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fixtures.engine import answer
from flashfirst.flows.analyze import analyze_with
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inputs.extensions import OFFICE_MIME_TYPES
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.probe import MediaKind
from flashfirst.settings import Settings

DOCX = OFFICE_MIME_TYPES[".docx"]


def office_file(folder: Path, name: str) -> Path:
    """A small zip package, as .docx/.xlsx/.pptx and OpenDocument files are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("content.xml", "<doc>Quarterly refunds rose by 4%.</doc>" * 50)
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


def test_office_and_opendocument_files_reach_hydrogen_as_they_are(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    run_settings.models.flash.id = "gemini-4-hydrogen"
    items = [WorkItem(id=n, uri=str(office_file(tmp_path, n))) for n in
             ("report.docx", "sheet.xlsx", "deck.pptx", "notes.odt", "table.ods", "slides.odp")]
    assert {i.kind for i in items} == {MediaKind.OFFICE}
    assert {i.task for i in items} == {TaskKind.SUMMARIZE}

    results = answer(run_settings, items)
    assert all(r.ok for r in results), [r.error for r in results]
    assert all(r.attempts[0].served_model == "gemini-4-hydrogen" for r in results)
    # The emulator's own rule (Google publishes none): 560 tokens per 4 KiB of file.
    assert all(r.attempts[0].usage.prompt_by_modality.get("DOCUMENT") == 560 for r in results)


def test_an_office_file_for_a_model_that_takes_none_is_refused_naming_item_and_model(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # The flash tier is 3.8 Flash: PDF and text only.
    report = WorkItem(id="report", uri=str(office_file(tmp_path, "report.docx")))
    note = WorkItem(id="note", text="The parcel came late.")
    refused, answered = answer(run_settings, [report, note])

    assert refused.failure is not None and refused.failure.kind == "bad_input"
    assert refused.failure.message.startswith("refused before any call: item 'report': "
                                              "gemini-3.8-flash does not take .docx files")
    assert refused.attempts == [] and answered.ok
    assert emulator.stats.calls_to("generateContent") == 1  # only the note


@pytest.mark.usefixtures("prefect_api")
def test_a_folder_runs_office_files_its_model_reads_and_lists_the_others_as_skipped(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    office_file(inbox, "minutes.odt")
    (inbox / "memo.txt").write_text("Refunds within 14 days.")
    run_settings.models.pro.id = "gemini-4-carbon"
    forced = WorkItem(id="carbon", uri=str(office_file(tmp_path, "budget.xlsx")),
                      model="gemini-4-carbon")
    report = analyze_with(AnalyzeParams(source=str(inbox), items=[forced]), run_settings)
    assert report.items_ok == 2 and report.failures == {}
    [skipped] = report.skipped_inputs
    assert (skipped.name, skipped.reason) == ("minutes.odt", "not_read_by_model")
    assert "gemini-3.8-flash does not read .odt files" in skipped.detail
    # With a flash tier that reads it, the same folder runs it.
    run_settings.models.flash.id = "gemini-4-hydrogen"
    report = analyze_with(AnalyzeParams(source=str(inbox)), run_settings)
    assert report.items_ok == 2 and report.skipped_inputs == []


def test_the_emulator_takes_office_files_only_on_models_that_do(genai_client: genai.Client,
                                                               tmp_path: Path):
    part = types.Part(inline_data=types.Blob(
        data=office_file(tmp_path, "a.docx").read_bytes(), mime_type=DOCX))
    for model in ("gemini-4-hydrogen", "gemini-4-carbon"):
        usage = genai_client.models.count_tokens(model=model, contents=[part, "Summarize."])
        assert usage.total_tokens > 560
    with pytest.raises(errors.ClientError) as refused:
        genai_client.models.generate_content(model="gemini-3.8-flash",
                                             contents=[part, "Summarize."])
    assert refused.value.code == 400 and "Unsupported MIME type" in refused.value.message
