"""Batches of any size: above the inline limit the requests go up as JSONL through the
Files API, split into several jobs when one file would pass the file limit, and every
answer finds its item by key whatever order the job answers in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google import genai

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_batch_above_the_inline_limit_goes_as_jsonl_files_and_maps_every_answer(
        run_settings: Settings, emulator: EmbeddedEmulator, genai_client: genai.Client,
        tmp_path: Path):
    # The emulator refuses a request body above 6 kB, as the API refuses one above 20 MB:
    # these 12 requests (~0.5 kB each on the wire) cannot go inline in one job.
    emulator.control.configure(max_request_bytes=6000,
                               batch={"pending_s": 0, "running_s": 0, "shuffle_output": True})
    for i in range(12):
        emulator.control.add_script(contains=f"ITEM-{i:02d} ", text=f"answer to {i:02d}")
    run_settings.inference.batch_inline_max_bytes = 2000
    run_settings.inference.batch_file_max_bytes = 2500
    items = [WorkItem(id=f"i{i:02d}", text=f"ITEM-{i:02d} " + "padding " * 20) for i in range(12)]

    output = tmp_path / "out"
    report: RunReport = analyze_with(
        AnalyzeParams(items=items, mode=RunMode.BATCH, output=str(output)), run_settings)

    assert report.items_ok == 12
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    # Each job answered in shuffled order; each item still got its own scripted answer.
    assert {line["id"]: line["output"] for line in lines} == {
        f"i{i:02d}": f"answer to {i:02d}" for i in range(12)}
    stats = emulator.stats
    assert stats.batch_requests == 12 and stats.batches_created >= 2  # split: 2.5 kB a file
    assert stats.uploads == stats.batches_created  # one JSONL file per job
    files = list(genai_client.files.list())
    assert len(files) >= stats.batches_created  # inputs (and the jobs' response files)
    inputs = [f for f in files if (f.display_name or "").startswith("flashfirst-")]
    assert len(inputs) == stats.batches_created
    assert all(f.size_bytes <= 2500 and f.mime_type == "application/jsonl" for f in inputs)

