"""Scale-out: with FLASHFIRST_DASK_ADDRESS, the deployed analyze flow sends its tasks to an
existing Dask cluster (prefect-dask); here a LocalCluster, with workers as threads of this
process and as processes of their own (every task argument crosses a pickle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from distributed import LocalCluster
from fixtures.media import run_ffmpeg
from fixtures.prefect import PrefectServer
from flashfirst.flows.analyze import analyze
from flashfirst.flows.task_runners import DaskSettings, with_configured_task_runner
from prefect_dask import DaskTaskRunner

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.params import AnalyzeParams
from flashfirst.run.overrides import in_process_settings
from flashfirst.settings import Settings

NOTES = ["Parcel two days late, refund asked.", "Great support call, issue solved.",
         "Invoice total is wrong: charged twice."]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n, text in enumerate(NOTES):
        (folder / f"note{n}.txt").write_text(text)
    return folder


def test_without_an_address_the_flow_keeps_its_own_task_runner(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHFIRST_DASK_ADDRESS", raising=False)

    assert with_configured_task_runner(analyze) is analyze


def test_the_address_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHFIRST_DASK_ADDRESS", "tcp://10.0.0.5:8786")

    runner = with_configured_task_runner(analyze).task_runner

    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_text_items_are_analyzed_on_an_existing_dask_cluster(
        processes: bool, inbox: Path, run_settings: Settings, emulator: EmbeddedEmulator,
        dask_prefect_api: PrefectServer, tmp_path: Path) -> None:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=processes,
                      dashboard_address=None) as cluster:
        on_dask = with_configured_task_runner(
            analyze, DaskSettings(address=cluster.scheduler_address))
        with in_process_settings(run_settings):
            report = on_dask(params=AnalyzeParams(source=str(inbox),
                                                  output=str(tmp_path / "out")))
        ran_on_dask = set(cluster.scheduler.task_prefixes)

    assert report.items_ok == len(NOTES) and report.items_failed == 0
    assert "infer_chunk" in ran_on_dask
    assert emulator.stats.calls_to("generateContent") == len(NOTES)


def test_media_items_are_prepared_on_a_dask_cluster(
        inbox: Path, run_settings: Settings, emulator: EmbeddedEmulator,
        dask_prefect_api: PrefectServer, tmp_path: Path) -> None:
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1",
               str(inbox / "shelf.png"))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        on_dask = with_configured_task_runner(  # no flow retry: it would fail the same way
            analyze.with_options(retries=0), DaskSettings(address=cluster.scheduler_address))
        with in_process_settings(run_settings):
            report = on_dask(params=AnalyzeParams(source=str(inbox),
                                                  output=str(tmp_path / "out")))

    assert report.items_ok == len(NOTES) + 1
