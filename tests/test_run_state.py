"""One run's budget and cache records hold across chunks in other processes: real worker
processes (multiprocessing, a Dask LocalCluster), the run state on local disk and on the
GCS emulator, the Gemini emulator answering over HTTP."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from fixtures.prefect import PrefectServer
from flashfirst.flows.analyze import analyze
from flashfirst.flows.task_runners import DaskSettings, with_configured_task_runner

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.shared_budget import BudgetLease
from flashfirst.inputs.context import SharedContext
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.reporting.report import RunReport
from flashfirst.run.overrides import in_process_settings
from flashfirst.run.state import RunState
from flashfirst.settings import Settings
from flashfirst.storage import Storage

CALL_USD = Decimal("0.01")


def spend_until_stopped(state_root: str, start: threading.Barrier) -> Decimal:
    """One holder (in its own process): a call of $0.01 at a time until the budget of $1
    stops it, then settle. Returns what it spent."""
    lease = BudgetLease(RunState(Storage(), state_root, "run-1"), 1.0)
    spent = Decimal(0)
    start.wait()  # the other holder is ready too
    while not lease.reached:
        time.sleep(0.005)  # the call
        lease.add(CALL_USD)
        spent += CALL_USD
    lease.settle()
    return spent


@pytest.fixture(params=["local", "gcs"])
def state_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "state")
    bucket = request.getfixturevalue("gcs_bucket")
    return f"gs://{bucket}/state"


def test_holders_in_two_processes_spend_one_budget_not_two(state_root: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(2, mp_context=spawn) as pool:
        start = manager.Barrier(2)
        spends = list(pool.map(spend_until_stopped, [state_root] * 2, [start] * 2))

    # Each holder passes its lease by at most its one call in flight.
    assert Decimal("1.0") - 2 * CALL_USD <= sum(spends) <= Decimal("1.0") + 2 * CALL_USD
    assert all(s > 0 for s in spends)  # both spent from it
    left = RunState(Storage(), state_root, "run-1").budget()
    assert left.settled == sum(spends) and not left.leases


def customer_notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"q{i:02d}", task=TaskKind.CLASSIFY, text=f"Customer note {i}: late "
                     "parcel.", model="gemini-3.8-flash") for i in range(n)]


def on_two_worker_processes(cluster: LocalCluster):  # noqa: ANN201 - a Prefect flow
    return with_configured_task_runner(analyze.with_options(retries=0),
                                       DaskSettings(address=cluster.scheduler_address))


def chunks_ran_in(cluster: LocalCluster) -> int:
    """How many worker processes ran an inference chunk (imported its module)."""
    with Client(cluster) as client:
        loaded = client.run(lambda: "flashfirst.tasks.inference" in sys.modules)
    return sum(loaded.values())


def test_a_budget_over_two_dask_worker_processes_stops_at_the_budget_not_twice_it(
        run_settings: Settings, emulator: EmbeddedEmulator, dask_prefect_api: PrefectServer,
        tmp_path: Path) -> None:
    # Answers ten times longer than the estimate assumes: the estimate passes the budget,
    # the spend reaches it after a few items.
    emulator.control.add_script(contains="Customer note", text="word " * 1600)
    settings = run_settings.model_copy(deep=True)
    settings.models.flash.concurrency = 1  # a call in flight per worker process
    settings.inference.failure_threshold = 1.0
    settings.inference.chunk_size = 4
    settings.inference.chunks_in_flight = 2
    items = customer_notes(40)
    with in_process_settings(settings):
        budget = analyze(AnalyzeParams(items=items, estimate_only=True)).usd * 1.5
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        with in_process_settings(settings):
            report: RunReport = on_two_worker_processes(cluster)(params=AnalyzeParams(
                items=items, budget_usd=budget, output=str(tmp_path / "out")))
        processes = chunks_ran_in(cluster)

    assert processes == 2
    one_call = max(line.cost_usd for line in report.items)
    billed = emulator.stats.calls_to("generateContent") * one_call
    assert report.items_ok == emulator.stats.calls_to("generateContent")
    assert report.costs.actual_usd <= billed
    assert budget <= report.costs.actual_usd <= budget + 2 * one_call  # 2 calls in flight
    assert report.budget_stopped == 40 - report.items_ok > 0
    assert all("not dispatched: budget" in cause for cause in report.failures.values())


def handbook(tmp_path: Path) -> str:
    """About 4,400 tokens: above 3.8 Flash's minimum for an explicit cache (4,096)."""
    path = tmp_path / "handbook.md"
    path.write_text("".join(f"Section {n}: refunds take {n % 9 + 1} days; escalate to team "
                            f"{n % 5}.\n" for n in range(330)))
    return str(path)


def test_a_run_longer_than_the_cache_ttl_extends_it_once_per_near_expiry_across_processes(
        run_settings: Settings, emulator: EmbeddedEmulator, dask_prefect_api: PrefectServer,
        tmp_path: Path) -> None:
    # Every answer moves the emulator's clock on 25 s: 24 calls are 600 s of Gemini's
    # time, well past the TTL the run gives its cache.
    emulator.control.configure(clock_step_per_call_s=25)
    settings = run_settings.model_copy(deep=True)
    settings.models.flash.concurrency = 1
    settings.inference.chunk_size = 3
    settings.inference.chunks_in_flight = 2
    params = AnalyzeParams(
        items=[WorkItem(id=f"q{i:02d}", text=f"Question {i} about refunds.")
               for i in range(24)],
        context=SharedContext(system_instruction="Answer from the handbook.",
                              documents=[handbook(tmp_path)]),
        keep_caches_s=0, output=str(tmp_path / "out"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        with in_process_settings(settings):
            report: RunReport = on_two_worker_processes(cluster)(params=params)
        processes = chunks_ran_in(cluster)

    assert processes == 2
    [decision] = report.cache.decisions
    span_s = 24 * 25
    assert decision.create and decision.ttl_s < span_s
    stats = emulator.stats
    # Never expired mid-run: one cache, read by every call.
    assert stats.cache_creations == 1
    assert report.cache.calls_with_cache_hits == report.generate_calls == 24
    # Extended when a third of its TTL was left (so every two thirds of a TTL), by one
    # chunk each time, not by each of the 8 chunks that saw it near.
    extensions = stats.calls_to("cachedContents.patch")
    assert 1 <= extensions <= span_s // (decision.ttl_s * 2 / 3) + 1 < 8


def test_shared_rate_limits_hold_rpm_in_every_window_over_two_dask_worker_processes(
        run_settings: Settings, emulator: EmbeddedEmulator, dask_prefect_api: PrefectServer,
        tmp_path: Path) -> None:
    # 12 requests per 4 s window for the whole run; each process alone would allow 12.
    window_s, rpm = 4.0, 12
    settings = run_settings.model_copy(deep=True)
    settings.inference.shared_rate_limits = True
    settings.inference.quota_window_s = window_s
    settings.models.flash.rpm = rpm
    settings.inference.chunk_size = 6
    settings.inference.chunks_in_flight = 2
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        with in_process_settings(settings):
            report: RunReport = on_two_worker_processes(cluster)(params=AnalyzeParams(
                items=customer_notes(30), output=str(tmp_path / "out")))
        processes = chunks_ran_in(cluster)

    assert processes == 2 and report.items_ok == 30
    sent = sorted(e.time for e in emulator.stats.request_log
                  if e.endpoint == "generateContent")
    busiest = max(sum(1 for t in sent if start <= t < start + window_s) for start in sent)
    assert len(sent) == 30 and busiest <= rpm
