"""Batch jobs fail loudly: a job that ends FAILED, EXPIRED or CANCELLED fails its run with
the job's name and the API's reason; a request that fails inside a finished job fails only
its item, and the answers beside it are kept, priced and never bought again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google import genai
from google.genai import types

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import BatchJobFailed
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.mark.parametrize("outcome", ["FAILED", "EXPIRED", "CANCELLED"])
def test_a_job_that_ends_without_answers_fails_the_run_with_its_name_and_reason(
        outcome: str, run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    # Running for 1 s: the run polls it (every 0.1 s) while it runs, then sees it end.
    emulator.control.configure(batch={"pending_s": 0, "running_s": 1, "outcome": outcome,
                                      "outcome_message": "quota of enqueued tokens exceeded"})
    items = [WorkItem(id=f"n{i}", text=f"Note {i}") for i in range(3)]
    output = tmp_path / "out"
    with pytest.raises(BatchJobFailed) as info:
        analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH, output=str(output)),
                run_settings)
    failed = info.value
    assert failed.state == outcome and failed.job_name.startswith("batches/")
    assert failed.job_name in str(failed)
    if outcome != "CANCELLED":  # a cancelled job carries no error, only its state
        assert failed.reason == "quota of enqueued tokens exceeded"
    # The results are still written, each item naming the job that failed it.
    lines = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["n0", "n1", "n2"]
    assert all(failed.job_name in line["error"] and outcome in line["error"] for line in lines)
    assert all(line["failure"]["kind"] == "batch_job" for line in lines)
    assert emulator.stats.generate_calls == {}  # nothing was answered, nothing billed


def test_a_failed_request_fails_only_its_item_and_the_rest_are_kept_and_not_bought_again(
        run_settings: Settings, emulator: EmbeddedEmulator):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    emulator.control.add_script(contains="POISON", status=400, message="poisoned request")
    items = [WorkItem(id=f"n{i}", text=f"Note {i}") for i in range(4)] + [
        WorkItem(id="bad", text="POISON")]
    report: RunReport = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), run_settings)

    lines = {line.id: line for line in report.items}
    assert report.items_ok == 4 and report.items_failed == 1  # 1 of 5: under the threshold
    assert "poisoned request" in lines["bad"].error and "batches/" in lines["bad"].error
    assert lines["bad"].failure_kind == "rejected" and report.failure_kinds == {"rejected": 1}
    assert all(lines[f"n{i}"].cost_usd > 0 and lines[f"n{i}"].service_tier == "batch"
               for i in range(4))
    assert emulator.stats.batch_requests == 5

    emulator.control.clear_scripts()
    again: RunReport = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), run_settings)
    assert again.items_ok == 5 and again.items_reused == 4
    # Only the failed request went out again, in a job of its own.
    assert emulator.stats.batch_requests == 5 + 1 and emulator.stats.batches_created == 2


@pytest.mark.parametrize("outcome", ["FAILED", "EXPIRED", "CANCELLED"])
def test_emulator_ends_jobs_as_scripted_and_bills_nothing(
        outcome: str, emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 10, "outcome": outcome})
    job = genai_client.batches.create(
        model="gemini-2.5-flash",
        src=[{"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}])
    assert genai_client.batches.get(name=job.name).state == types.JobState.JOB_STATE_RUNNING
    emulator.control.advance_clock(11)
    done = genai_client.batches.get(name=job.name)
    assert done.state == types.JobState[f"JOB_STATE_{outcome}"] and done.dest is None
    assert emulator.stats.generate_calls == {}
