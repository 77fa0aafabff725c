"""A run's shared state (``run-state/<run id>/`` under the storage root) goes once the run
is done with it: a finished run removes its own, so does a batch run parked for the
collector (which finishes it as a new run, with a state of its own), and the cache janitor
removes what killed runs left, once older than FLASHFIRST_RUN_STATE_MAX_AGE_S. The Gemini
emulator, a real Prefect server."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from flashfirst.flows.cache_janitor import cache_janitor
from flashfirst.flows.collect_batches import collect_batches
from flashfirst.tasks.batches import BatchSubmitted

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inputs.context import SharedContext
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.run.overrides import in_process_settings
from flashfirst.run.state import RunState, remove_stale_run_states
from flashfirst.settings import Settings
from flashfirst.storage import Storage

pytestmark = pytest.mark.usefixtures("prefect_api")

DAY_S = 86_400


def run_states(settings: Settings) -> list[str]:
    folder = Path(settings.storage_root) / "run-state"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel came late.") for i in range(n)]


def handbook(tmp_path: Path) -> str:
    """Above 3.8 Flash's minimum for an explicit cache: the run records its cache."""
    path = tmp_path / "handbook.md"
    path.write_text("".join(f"Section {n}: refunds take {n % 9 + 1} days.\n"
                            for n in range(500)))
    return str(path)


def test_a_finished_run_leaves_no_run_state(run_settings: Settings,
                                            emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    params = AnalyzeParams(items=notes(6), budget_usd=5.0, keep_caches_s=0, context=SharedContext(
        system_instruction="Answer from the handbook.", documents=[handbook(tmp_path)]))

    report = analyze_with(params, run_settings)

    assert isinstance(report, RunReport) and report.items_ok == 6
    assert report.cache.decisions[0].create  # the run kept a budget and a cache record
    assert run_states(run_settings) == []


def test_a_parked_batch_run_leaves_no_run_state_and_the_collector_still_finishes_it(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    emulator.control.configure(batch={"pending_s": 600, "running_s": 60})
    output = tmp_path / "out"
    params = AnalyzeParams(items=notes(3), mode=RunMode.BATCH, collect_later=True,
                           budget_usd=5.0, output=str(output))

    submitted = analyze_with(params, run_settings)
    assert isinstance(submitted, BatchSubmitted)
    assert run_states(run_settings) == []

    emulator.control.advance_clock(600 + 60)
    with in_process_settings(run_settings):
        done = collect_batches()
    assert done.finished == [submitted.run_id]
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["error"]) for line in lines] == [(f"n{i}", None) for i in range(3)]
    assert emulator.stats.batches_created == 1
    assert run_states(run_settings) == []


def left_by_a_killed_run(settings: Settings, run_id: str, age_s: float) -> None:
    """A budget lease never settled, last written ``age_s`` ago."""
    state = RunState(Storage(), settings.storage_root, run_id)
    state.lease_budget("holder-1", Decimal(1), Decimal("0.10"))
    folder = Path(settings.storage_root) / "run-state" / run_id
    then = time.time() - age_s
    for path in folder.iterdir():
        os.utime(path, (then, then))


def test_the_janitor_removes_run_state_left_by_killed_runs_once_stale_and_keeps_fresh_ones(
        run_settings: Settings, emulator: EmbeddedEmulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    left_by_a_killed_run(run_settings, "20261120T101010Z-analyze-online-0a1b2c3d", 8 * DAY_S)
    left_by_a_killed_run(run_settings, "20261201T101010Z-analyze-online-4e5f6a7b", 3600)
    monkeypatch.setenv("FLASHFIRST_BACKEND__BASE_URL", emulator.base_url)
    monkeypatch.setenv("FLASHFIRST_STORAGE_ROOT", run_settings.storage_root)

    report = cache_janitor()

    assert run_states(run_settings) == ["20261201T101010Z-analyze-online-4e5f6a7b"]
    assert report.run_states_removed == ["20261120T101010Z-analyze-online-0a1b2c3d"]


def test_on_gcs_a_run_state_goes_once_stale_and_when_its_run_removes_it(gcs_bucket: str) -> None:
    root, storage = f"gs://{gcs_bucket}/flashfirst", Storage()
    for run_id in ("run-a", "run-b"):
        RunState(storage, root, run_id).lease_budget("holder-1", Decimal(1), Decimal(0))
    now = datetime.now(UTC)

    assert remove_stale_run_states(storage, root, 7 * DAY_S, now) == []
    RunState(storage, root, "run-a").remove()
    assert storage.list(f"{root}/run-state") == [f"{root}/run-state/run-b/budget.json"]
    assert remove_stale_run_states(storage, root, 7 * DAY_S, now + timedelta(days=8)) == [
        "run-b"]
    assert storage.list(f"{root}/run-state") == []
