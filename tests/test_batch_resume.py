"""Batch jobs are submitted once: a worker killed while waiting is followed by a run that
re-attaches to the job it created, never a second job for the same requests."""

from __future__ import annotations

import os
from pathlib import Path

from fixtures.prefect import kill_while_waiting
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.settings import BackendSettings, InferenceSettings, Settings

REPO = Path(__file__).resolve().parents[1]

# The batch path as a user runs it: the analyze flow, in its own process.
SUBMITTER = """
import sys
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.flows.analyze import analyze_with

settings = Settings(backend=BackendSettings(base_url=sys.argv[1]), storage_root=sys.argv[2],
                    inference=InferenceSettings(batch_poll_s=0.2))
items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), settings)
"""


def test_a_worker_killed_while_waiting_is_followed_by_a_run_that_reuses_its_job(
        emulator: EmbeddedEmulator, prefect_api, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 3600, "running_s": 60})  # a slow batch
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "GEMINI_", "GOOGLE_", "FLASHFIRST_"))}
    env |= {"PREFECT_API_URL": prefect_api.api_url, "PYTHONPATH": str(REPO)}
    kill_while_waiting(SUBMITTER, [emulator.base_url, str(store)], env, REPO,
                       tmp_path / "submitter.log", emulator, "batches.get")
    assert emulator.stats.batches_created == 1

    emulator.control.advance_clock(3600 + 60)  # the job finishes while no one waits
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})  # a 2nd would too
    settings = Settings(backend=BackendSettings(base_url=emulator.base_url),
                        storage_root=str(store), inference=InferenceSettings(batch_poll_s=0.1))
    items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
    report: RunReport = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), settings)

    assert report.items_ok == 3
    assert emulator.stats.batches_created == 1  # the re-run waited for the first job
    assert emulator.stats.generate_calls["gemini-3.8-flash"] == {"batch": 3}

