"""Batch runs on the Agent Platform backend (formerly Vertex AI): requests go to the run's
bucket as JSONL, one job per model (more when a job's limits are passed), answers come back
from the job's output folder in any order and are matched by key, a failed line fails only
its item, and a run killed while it waits is followed by one that re-attaches to its job."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fixtures.gcs import GcsEmulator
from fixtures.prefect import kill_while_waiting, latest_job_table
from flashfirst.flows.analyze import analyze_with
from flashfirst.flows.collect_batches import collect_batches
from flashfirst.tasks.batches import BatchSubmitted
from google import genai
from google.cloud import storage
from google.genai import types
from google.oauth2.credentials import Credentials
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from prefect.client.schemas.objects import TaskRun
from prefect.client.schemas.sorting import TaskRunSort

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import BatchJobFailed
from flashfirst.inference.platform_batch import PlatformBatches
from flashfirst.inputs.context import SharedContext
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.run.overrides import in_process_settings
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage

pytestmark = pytest.mark.usefixtures("prefect_api")
REPO = Path(__file__).resolve().parents[1]


def platform_settings(base_url: str, root: str, **inference: object) -> Settings:
    return Settings(backend=BackendSettings(kind="vertex", vertex_project="acme-ml",
                                            vertex_location="us-central1", base_url=base_url),
                    storage_root=root, inference=InferenceSettings(
                        batch_poll_s=0.1, calibration_share=0, backoff_base_s=0.02,
                        **inference))


def notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(n)]


def task_runs_named(name: str) -> list[TaskRun]:
    """This worker's Prefect server's task runs of that name, the latest first."""
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC, limit=5)


def blobs(bucket: str, prefix: str) -> list[storage.Blob]:
    return list(storage.Client(project="test").list_blobs(bucket, prefix=prefix))


def test_a_batch_run_goes_through_the_runs_bucket_and_matches_answers_by_key(
        emulator: EmbeddedEmulator, gcs_bucket: str, tmp_path: Path):
    emulator.control.configure(batch={"shuffle_output": True})
    for i in range(5):
        emulator.control.add_script(contains=f"Note {i}:", text=f"answer to {i}")
    settings = platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run")
    report = analyze_with(AnalyzeParams(items=notes(5), mode=RunMode.BATCH,
                                        output=str(tmp_path / "out")), settings)
    results = [json.loads(line) for line in
               (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    inputs = [b for b in blobs(gcs_bucket, "run/batch-io/") if b.name.endswith("input.jsonl")]
    lines = [json.loads(line) for line in inputs[0].download_as_text().splitlines()]

    assert report.items_ok == 5 and emulator.stats.batches_created == 1
    assert emulator.stats.generate_calls["gemini-3.8-flash"] == {"batch": 5}
    assert len(inputs) == 1 and len(lines) == 5
    # Each line is the platform's {"request": …} with its key, and labels carrying the run.
    assert all(line["request"]["labels"]["flashfirst-run"] == report.run_id.lower()
               for line in lines)
    # Rows came back shuffled: each item still got its own answer.
    assert {r["id"]: r["output"] for r in results} == {f"n{i}": f"answer to {i}"
                                                      for i in range(5)}
    for result in results:
        attempt = result["attempts"][-1]
        assert attempt["service_tier_served"] == "batch" and attempt["cost_usd"] > 0
    # The job itself is labelled with the run too (a billing export groups by it).
    assert [j.labels for j in emulator.app.emulator_state.platform_batches.values()] == \
        [{"flashfirst-run": report.run_id.lower()}]


def test_a_failed_line_fails_only_its_item(emulator: EmbeddedEmulator, gcs_bucket: str,
                                           tmp_path: Path):
    emulator.control.configure(scripts=[{"contains": "Note 1:", "status": 400,
                                         "message": "Request contains an invalid argument."}])
    settings = platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run",
                                 failure_threshold=1.0)
    report = analyze_with(AnalyzeParams(items=notes(3), mode=RunMode.BATCH,
                                        output=str(tmp_path / "out")), settings)
    results = {r["id"]: r for r in (json.loads(line) for line in (
        tmp_path / "out" / "results.jsonl").read_text().splitlines())}

    assert report.items_ok == 2 and report.items_failed == 1
    assert results["n0"]["output"] and results["n2"]["output"]
    assert results["n1"]["output"] is None
    assert "400 INVALID_ARGUMENT Request contains an invalid argument" in results["n1"]["error"]
    assert emulator.stats.batches_created == 1


def test_requests_above_a_jobs_input_limit_go_to_several_jobs(
        emulator: EmbeddedEmulator, gcs_bucket: str, tmp_path: Path):
    settings = platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run",
                                 batch_file_max_bytes=700)
    report = analyze_with(AnalyzeParams(items=notes(4), mode=RunMode.BATCH,
                                        output=str(tmp_path / "out")), settings)
    inputs = [b for b in blobs(gcs_bucket, "run/batch-io/") if b.name.endswith("input.jsonl")]

    assert report.items_ok == 4
    assert emulator.stats.batches_created == len(inputs) > 1
    assert all(b.size <= 700 for b in inputs)


def test_a_local_storage_root_is_refused_naming_the_setting(
        emulator: EmbeddedEmulator, tmp_path: Path):
    settings = platform_settings(emulator.base_url, str(tmp_path / "store"))
    with pytest.raises(Exception, match="FLASHFIRST_STORAGE_ROOT=gs://"):
        analyze_with(AnalyzeParams(items=notes(2), mode=RunMode.BATCH,
                                   output=str(tmp_path / "out")), settings)
    assert emulator.stats.batches_created == 0
    # A setting that is wrong stays wrong: the run fails at once, not after a retry 30 s on.
    assert [t.run_count for t in task_runs_named("infer-batch")][:1] == [1]


SUBMITTER = """
import sys
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.flows.analyze import analyze_with

settings = Settings(backend=BackendSettings(kind="vertex", vertex_project="acme-ml",
                                            vertex_location="us-central1", base_url=sys.argv[1]),
                    storage_root=sys.argv[2], inference=InferenceSettings(batch_poll_s=0.2))
items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), settings)
"""


def test_a_worker_killed_while_waiting_is_followed_by_a_run_that_reuses_its_job(
        emulator: EmbeddedEmulator, gcs_server: GcsEmulator, gcs_bucket: str, prefect_api,
        tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 3600, "running_s": 60})  # a slow batch
    root = f"gs://{gcs_bucket}/run"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "GEMINI_", "GOOGLE_", "FLASHFIRST_"))}
    env |= {"PREFECT_API_URL": prefect_api.api_url, "PYTHONPATH": str(REPO),
            "STORAGE_EMULATOR_HOST": gcs_server.url}
    kill_while_waiting(SUBMITTER, [emulator.base_url, root], env, REPO, tmp_path / "submitter.log",
                       emulator, "batchPredictionJobs.get")
    assert emulator.stats.batches_created == 1

    emulator.control.advance_clock(3600 + 60)  # the job finishes while no one waits
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})  # a 2nd would too
    report = analyze_with(AnalyzeParams(items=notes(3), mode=RunMode.BATCH),
                          platform_settings(emulator.base_url, root))

    assert report.items_ok == 3
    assert emulator.stats.batches_created == 1  # the re-run waited for the first job
    assert emulator.stats.generate_calls["gemini-3.8-flash"] == {"batch": 3}


def test_the_shared_context_travels_in_each_line_and_no_cache_is_bought(
        emulator: EmbeddedEmulator, gcs_bucket: str, tmp_path: Path):
    """Platform batch cannot read an explicit cache (a cachedContent line fails): the run
    creates none and sends its handbook inline, where implicit caching may still hit."""
    handbook = tmp_path / "handbook.md"
    handbook.write_text("".join(f"Rule {n}: refunds within {n % 9 + 1} days.\n"
                                for n in range(1500)))
    settings = platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run")
    report = analyze_with(AnalyzeParams(
        items=notes(3), mode=RunMode.BATCH, output=str(tmp_path / "out"),
        context=SharedContext(documents=[str(handbook)])), settings)
    inputs = [b for b in blobs(gcs_bucket, "run/batch-io/") if b.name.endswith("input.jsonl")]
    lines = [json.loads(line) for line in inputs[0].download_as_text().splitlines()]

    assert report.items_ok == 3
    assert emulator.stats.calls_to("cachedContents.create") == 0
    assert all("cachedContent" not in line["request"] for line in lines)
    assert all("Rule 1499:" in json.dumps(line["request"]["contents"]) for line in lines)


def test_a_job_that_ends_failed_fails_the_run_naming_it(
        emulator: EmbeddedEmulator, gcs_bucket: str, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 1, "outcome": "FAILED",
                                      "outcome_message": "quota of enqueued tokens exceeded"})
    with pytest.raises(BatchJobFailed) as info:
        analyze_with(AnalyzeParams(items=notes(2), mode=RunMode.BATCH,
                                   output=str(tmp_path / "out")),
                     platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run"))
    failed = info.value
    lines = [json.loads(line) for line in
             (tmp_path / "out" / "results.jsonl").read_text().splitlines()]

    assert failed.state == "FAILED" and "/batchPredictionJobs/" in failed.job_name
    assert failed.reason == "quota of enqueued tokens exceeded"
    assert all(failed.job_name in line["error"] for line in lines)
    assert emulator.stats.generate_calls == {}


def _job(folder: str, ok: int, failed: int) -> types.BatchJob:
    return types.BatchJob(
        name="projects/p/locations/l/batchPredictionJobs/1",
        state=types.JobState.JOB_STATE_SUCCEEDED,
        output_info=types.BatchJobOutputInfo(gcs_output_directory=folder),
        completion_stats=types.CompletionStats(successful_count=ok, failed_count=failed))


def test_rows_without_their_key_are_matched_by_the_key_label_and_stats_must_agree(
        gcs_bucket: str, tmp_path: Path):
    """The platform documents ``request``/``response``/``status`` per row, not our extra
    field: a row that lost ``key`` still reaches its item through the request's label."""
    a, b = "a" * 64, "b" * 64
    folder = f"gs://{gcs_bucket}/out/prediction-model-1"
    rows = [{"status": "", "request": {"labels": {"flashfirst-request": a[:63]}},
             "response": {"candidates": [{"content": {"parts": [{"text": "A"}]}}]}},
            {"key": b, "status": 'Bad Request: {"error": {"code": 400, "message": "no", '
                                 '"status": "INVALID_ARGUMENT"}}', "request": {}}]
    Storage().write_text(f"{folder}/predictions.jsonl",
                         "".join(json.dumps(r) + "\n" for r in rows))
    settings = Settings(storage_root=f"gs://{gcs_bucket}/run",
                        backend=BackendSettings(kind="emulator"))
    platform = PlatformBatches(genai.Client(vertexai=True, project="p", location="l",
                                            credentials=Credentials(token="t")), settings, "r")

    answers, why = platform.collect(_job(folder, ok=1, failed=1), [a, b])
    _, disagree = platform.collect(_job(folder, ok=2, failed=0), [a, b])

    assert why is None and answers[a]["response"]["candidates"]
    assert answers[b]["error"] == {"code": 400, "message": "no", "status": "INVALID_ARGUMENT"}
    assert disagree is not None and disagree[0] == "INCOMPLETE" and "2 succeeded" in disagree[1]



def test_a_platform_run_that_does_not_wait_is_finished_by_the_collector(
        emulator: EmbeddedEmulator, gcs_bucket: str, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 600, "running_s": 60})
    settings = platform_settings(emulator.base_url, f"gs://{gcs_bucket}/run")
    submitted = analyze_with(AnalyzeParams(items=notes(3), mode=RunMode.BATCH,
                                           collect_later=True, output=str(tmp_path / "out")),
                             settings)
    assert isinstance(submitted, BatchSubmitted) and len(submitted.jobs) == 1

    emulator.control.advance_clock(600 + 60)
    with in_process_settings(settings):
        done = collect_batches()
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]

    assert done.finished == [submitted.run_id]
    assert [(line["id"], line["error"]) for line in lines] == [(f"n{i}", None) for i in range(3)]
    assert emulator.stats.batches_created == 1  # the collector re-attached to the job
    [row] = latest_job_table()
    assert row.pop("ended_at")  # the platform's job says when it ended (output expiry)
    assert row == {"run_id": submitted.run_id, "job": submitted.jobs[0],
                   "state": "SUCCEEDED", "done": 3, "total": 3}
