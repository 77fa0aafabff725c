"""Runs of the analyze flow started together (two uploads, a schedule and a manual run)
each keep their own result folder: the Gemini emulator, a real Prefect server."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def upload(name: str) -> AnalyzeParams:
    return AnalyzeParams(items=[WorkItem(id=f"{name}-{i}", task=TaskKind.CLASSIFY,
                                         text=f"Note {i} of {name}: parcel late.")
                                for i in range(3)])


def start_together(names: list[str], settings: Settings) -> list[RunReport]:
    """One thread a run, all released at once just after a second begins, so that their
    run ids are made within the same second."""
    start = threading.Barrier(len(names))
    contexts = {name: contextvars.copy_context() for name in names}  # Prefect's API URL

    def run(name: str) -> RunReport:
        start.wait()
        return analyze_with(upload(name), settings)

    time.sleep(1 - time.time() % 1)
    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(lambda name: contexts[name].run(run, name), names))


def test_two_runs_started_in_the_same_second_write_two_result_folders(
        run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    for attempt in range(3):  # until two of them started within one second
        names = [f"upload{attempt}a", f"upload{attempt}b"]
        reports = start_together(names, run_settings)

        assert len({r.output_uri for r in reports}) == 2
        for name, report in zip(names, reports, strict=True):
            folder = Path(report.output_uri or "")
            assert folder.parent == Path(run_settings.storage_root) / "runs"
            results = (folder / "results.jsonl").read_text().splitlines()
            assert [json.loads(line)["id"] for line in results] == [
                f"{name}-{i}" for i in range(3)]
            assert json.loads((folder / "report.json").read_text())["run_id"] == report.run_id
            # Readable, and sorted by the time the run started.
            assert report.run_id.startswith(f"{report.started_at:%Y%m%dT%H%M%SZ}-analyze-")
        if len({f"{r.started_at:%Y%m%dT%H%M%S}" for r in reports}) == 1:
            break
