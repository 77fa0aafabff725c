"""Waiting without a worker: a batch run with ``collect_later`` ends once its jobs are
submitted, the collect-batches flow shows their progress in the Prefect UI and finishes
the run when they are done, on the same jobs."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.prefect import latest_job_table
from flashfirst.flows.analyze import analyze_with
from flashfirst.flows.collect_batches import collect_batches
from flashfirst.tasks.batches import BatchSubmitted

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.run.overrides import in_process_settings
from flashfirst.settings import Settings


def collect_run_settings(settings: Settings):  # noqa: ANN201
    with in_process_settings(settings):
        return collect_batches()



def test_a_run_that_does_not_wait_is_finished_by_the_collector_on_the_same_job(
        prefect_api, run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 600, "running_s": 60})
    output = tmp_path / "out"
    items = [WorkItem(id=f"n{i}", text=f"Note {i}") for i in range(3)]
    params = AnalyzeParams(items=items, mode=RunMode.BATCH, collect_later=True,
                           output=str(output))

    submitted = analyze_with(params, run_settings)
    assert isinstance(submitted, BatchSubmitted) and len(submitted.jobs) == 1
    assert not (output / "results.jsonl").exists()  # the run ended; nothing to write yet

    early = collect_run_settings(run_settings)
    assert early.waiting == [submitted.run_id] and early.finished == []
    assert latest_job_table() == [{"run_id": submitted.run_id, "job": submitted.jobs[0],
                                   "state": "PENDING", "done": 0, "total": 3,
                                   "ended_at": None}]

    emulator.control.advance_clock(600 + 60)
    done = collect_run_settings(run_settings)
    assert done.finished == [submitted.run_id] and done.waiting == []
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["error"]) for line in lines] == [(f"n{i}", None) for i in range(3)]
    assert emulator.stats.batches_created == 1  # the collector re-attached to the job
    assert latest_job_table()[0]["state"] == "SUCCEEDED"

    assert collect_run_settings(run_settings).model_dump() == {"finished": [], "waiting": [],
                                                          "failed": {}, "collected": []}
