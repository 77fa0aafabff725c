"""Collecting on the event: the flow a gemini.batch.* event starts finishes exactly the
parked run waiting for the named job, on that job (nothing submitted twice); the scheduled
poll then finds nothing left, and an event about a job no run waits for changes nothing."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from fixtures.emulator import client_for
from flashfirst.flows.analyze import analyze_with
from flashfirst.flows.collect_batches import collect_batch_job, collect_batches
from flashfirst.tasks.batches import BatchSubmitted

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.run.overrides import in_process_settings
from flashfirst.settings import Settings


def park_a_run(settings: Settings, output: Path, prefix: str) -> BatchSubmitted:
    items = [WorkItem(id=f"{prefix}{i}", text=f"Note {prefix} {i}") for i in range(2)]
    submitted = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH,
                                           collect_later=True, output=str(output)), settings)
    assert isinstance(submitted, BatchSubmitted) and len(submitted.jobs) == 1
    return submitted


def test_the_event_of_a_jobs_end_finishes_exactly_the_run_waiting_for_it(
        prefect_api, run_settings: Settings, emulator: EmbeddedEmulator,
        tmp_path: Path) -> None:
    emulator.control.configure(batch={"pending_s": 600, "running_s": 60})
    first = park_a_run(run_settings, tmp_path / "first", "a")
    second = park_a_run(run_settings, tmp_path / "second", "b")
    emulator.control.advance_clock(600 + 60)  # both jobs end; the event names the first

    with in_process_settings(run_settings):
        collected = collect_batch_job(job=first.jobs[0])
        polled = collect_batches()

    assert (collected.job, collected.path) == (first.jobs[0], "webhook")
    assert collected.finished == [first.run_id] and collected.waiting == []
    lines = (tmp_path / "first" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["error"] for line in lines] == [None, None]
    # The other run was left to its own event (or the poll, which finishes it now).
    assert polled.finished == [second.run_id]
    assert emulator.stats.batches_created == 2  # each run re-attached to its own job
    # Each path is recorded for its job, in the collector's result and the run's report.
    assert [(j.job, j.path) for j in collected.collected] == [(first.jobs[0], "webhook")]
    assert [(j.job, j.path) for j in polled.collected] == [(second.jobs[0], "poll")]
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    [recorded] = report["batch_collection"]
    assert (recorded["job"], recorded["path"], recorded["state"]) == (
        first.jobs[0], "webhook", "SUCCEEDED")


def test_the_report_says_when_google_deletes_the_jobs_output(
        prefect_api, run_settings: Settings, emulator: EmbeddedEmulator,
        tmp_path: Path) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 30})
    parked = park_a_run(run_settings, tmp_path / "out", "e")
    emulator.control.advance_clock(31)
    with client_for(emulator.base_url) as client:
        ended = client.batches.get(name=parked.jobs[0]).end_time

    with in_process_settings(run_settings):
        polled = collect_batches()

    [job] = polled.collected
    assert job.ended_at == ended
    assert job.output_expires_at == ended + timedelta(hours=48)  # Google's Files API: 48 h
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [recorded] = report["batch_collection"]
    assert datetime.fromisoformat(recorded["output_expires_at"]) == job.output_expires_at
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert f"deletes its output at {job.output_expires_at:%Y-%m-%d %H:%M} UTC" in markdown


def test_an_event_about_a_job_no_run_waits_for_changes_nothing(
        prefect_api, run_settings: Settings, emulator: EmbeddedEmulator,
        tmp_path: Path) -> None:
    emulator.control.configure(batch={"pending_s": 600, "running_s": 60})
    parked = park_a_run(run_settings, tmp_path / "out", "c")

    with in_process_settings(run_settings):
        collected = collect_batch_job(job="batches/not-ours")
        still = collect_batches()

    assert collected.finished == [] and collected.waiting == []
    assert still.waiting == [parked.run_id]
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_a_run_whose_ended_jobs_output_google_deletes_soon_is_collected_before_then(
        prefect_api, run_settings: Settings, emulator: EmbeddedEmulator,
        tmp_path: Path) -> None:
    # One job per model: the label's (1 request) ends after 10 s, the summaries' (3)
    # after 30 s, on the emulator's clock, which runs in real time here.
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0,
                                      "running_s_per_request": 10})
    run_settings.inference.batch_poll_s = 0.5
    items = [WorkItem(id="label", text="Label this: parcel late", task=TaskKind.CLASSIFY),
             *(WorkItem(id=f"s{i}", text=f"Summarize note {i}: parcel late")
               for i in range(3))]
    parked = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH, collect_later=True,
                                        output=str(tmp_path / "out")), run_settings)
    assert isinstance(parked, BatchSubmitted) and len(parked.jobs) == 2
    with client_for(emulator.base_url) as client:
        while not any(client.batches.get(name=j).end_time for j in parked.jobs):
            time.sleep(0.2)

    # The first job's output is kept 48 h: with the default margin there is no hurry.
    with in_process_settings(run_settings):
        relaxed = collect_batches()
    assert relaxed.waiting == [parked.run_id], relaxed

    # A margin as long as the retention: every ended job's output is at risk, so this look
    # finishes the run now, waiting in it for the other job.
    run_settings.inference.batch_output_margin_s = 48 * 3600
    with in_process_settings(run_settings):
        urgent = collect_batches()

    assert urgent.finished == [parked.run_id], urgent
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text()
             .splitlines()]
    assert sorted((line["id"], line["error"]) for line in lines) == [
        ("label", None), ("s0", None), ("s1", None), ("s2", None)]
    # The other job was still running when the collector decided: it did not wait for a
    # later look; nothing was submitted twice, and nothing is left parked.
    assert sorted(j.state for j in urgent.collected) == ["RUNNING", "SUCCEEDED"]
    assert emulator.stats.batches_created == 2
    with in_process_settings(run_settings):
        assert collect_batches().waiting == []
