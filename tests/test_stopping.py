"""Stopping a run: Ctrl-C and SIGTERM to a `flashfirst run` in its own process, and a
deployed run on a process worker cancelled through the Prefect API. The spending stops
at once (no call after the stop beyond those already in flight), what was paid for is
kept and written, and a re-run pays only for the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fixtures.prefect import PrefectServer
from fixtures.prefect_home import migrated_home
from flashfirst.flows.analyze import analyze_with
from prefect.settings import PREFECT_API_URL, temporary_settings

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import BackendSettings, InferenceSettings, Settings

CONCURRENCY = 4  # calls in flight at once: all a stop may still see answered
N = 60


def write_manifest(path: Path, n: int = N) -> Path:
    path.write_text("".join(json.dumps({"id": f"n{i:03d}", "task": "classify",
                                        "text": f"Note {i}: parcel late, refund asked."})
                            + "\n" for i in range(n)))
    return path


def run_env(storage_root: Path, base_url: str, api_url: str | None) -> dict[str, str]:
    """This test's emulator and store only; no PREFECT_API_URL: Prefect's temporary
    server, as a user runs it (on a home whose database the caller may have migrated)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    env |= {"FLASHFIRST_STORAGE_ROOT": str(storage_root),
            "FLASHFIRST_BACKEND__BASE_URL": base_url,
            "FLASHFIRST_INFERENCE__CALIBRATION_SHARE": "0",
            "FLASHFIRST_MODELS__FLASH_LITE__CONCURRENCY": str(CONCURRENCY),
            "PREFECT_HOME": str(storage_root.parent / "prefect-home")}
    return env | ({"PREFECT_API_URL": api_url} if api_url else {})


def billed(emulator: EmbeddedEmulator) -> int:
    return sum(sum(tiers.values()) for tiers in emulator.stats.generate_calls.values())


def answers_stored(store: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (store / "answers").rglob("*.jsonl"))


def wait_for(condition, what: str, proc: subprocess.Popen | None = None,
             timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc is None or proc.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def read_results(output: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (output / "results.jsonl").read_text()
                                    .splitlines())}


@pytest.mark.parametrize(("signum", "exit_code", "session_server"), [
    (signal.SIGINT, 130, False),   # Ctrl-C: the terminal signals the whole process group
    (signal.SIGTERM, 143, True),   # a pod eviction or a supervisor: the process alone
], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_spending_keeps_what_was_paid_and_a_rerun_pays_the_rest(
        signum: int, exit_code: int, session_server: bool, emulator: EmbeddedEmulator,
        prefect_server: PrefectServer, prefect_home_template: Path | None,
        tmp_path: Path) -> None:
    emulator.control.configure(latency_scale=1.0)  # ~0.5-1 s a call: N calls take ~10 s
    store, output = tmp_path / "store", tmp_path / "out"
    # The temporary server's database migrated already (half its start): its signal is
    # what this test is about, and tests/test_cli.py's fresh clone starts one from nothing.
    migrated_home(tmp_path / "prefect-home", prefect_home_template)
    manifest = write_manifest(tmp_path / "items.jsonl")
    env = run_env(store, emulator.base_url, prefect_server.api_url if session_server else None)
    command = [str(Path(sys.executable).with_name("flashfirst")), "run", str(manifest),
               "--output", str(output)]
    run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: answers_stored(store) >= 10, "answers were stored", run)
        paid_at_signal, signalled = billed(emulator), time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(run.pid, signum)  # as Ctrl-C does: Prefect's server gets it too
        else:
            run.send_signal(signum)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    took = time.monotonic() - signalled

    assert run.returncode == exit_code, err[-3000:]
    assert took < 10, f"exited {took:.1f} s after the signal"
    assert billed(emulator) - paid_at_signal <= CONCURRENCY  # only the calls in flight
    assert "Traceback" not in err, err[-3000:]
    [said] = [line for line in err.splitlines() if line.startswith("Stopped:")]
    assert str(output) in err and "again" in said
    results = read_results(output)
    assert sorted(results) == [f"n{i:03d}" for i in range(N)]
    kept = [i for i, r in results.items() if r["failure"] is None]
    not_sent = [i for i, r in results.items() if r["failure"]]
    assert {results[i]["failure"]["kind"] for i in not_sent} == {"interrupted"}
    assert len(kept) == billed(emulator) and N - len(kept) >= N // 3  # stopped mid-run
    report = json.loads((output / "report.json").read_text())
    assert report["stopped"] and report["failure_kinds"] == {"interrupted": len(not_sent)}

    paid = billed(emulator)
    emulator.control.configure(latency_scale=0)  # the re-run is about what it pays, not when
    again = subprocess.run(command, env=run_env(store, emulator.base_url,
                                                prefect_server.api_url),
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert billed(emulator) - paid == len(not_sent)  # only what the first run left
    rerun = read_results(output)
    assert all(r["failure"] is None for r in rerun.values())
    assert sorted(i for i, r in rerun.items() if r["reused"]) == sorted(kept)


def test_a_command_line_run_cancelled_in_the_prefect_ui_stops_and_marks_items_cancelled(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer, tmp_path: Path) -> None:
    # About 1 s a call, which the bound below counts on (at latency_scale 1 alone a call
    # takes 0.35-0.65 s since the emulator's answers no longer wait 40 ms on Nagle).
    emulator.control.configure(latency_scale=1.0, models={"gemini-2.5-flash-lite": {
        "time_to_first_token_s": 1.0}})
    store, output = tmp_path / "store", tmp_path / "out"
    command = [str(Path(sys.executable).with_name("flashfirst")), "run",
               str(write_manifest(tmp_path / "items.jsonl")), "--output", str(output)]
    started = time.time()
    run = subprocess.Popen(command, env=run_env(store, emulator.base_url,
                                                prefect_server.api_url),
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    try:
        wait_for(lambda: answers_stored(store) >= 10, "answers were stored", run)
        [flow_run] = [r for r in httpx.post(
            f"{prefect_server.api_url}/flow_runs/filter", json={"flow_runs": {
                "start_time": {"after_": datetime.fromtimestamp(started, UTC).isoformat()}}},
            timeout=30).json() if r["parameters"].get("params", {}).get("output") == str(output)]
        paid_at_cancel = billed(emulator)
        server_post(f"{prefect_server.api_url}/flow_runs/{flow_run['id']}/set_state",
                    {"state": {"type": "CANCELLING"}}).raise_for_status()
        _, err = run.communicate(timeout=60)  # nobody signals it: the run sees the cancel
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)

    assert run.returncode == 130, err[-3000:]
    # No signal arrives: the run sees the cancel on its watcher's next look (every 2 s), so
    # besides the calls in flight it may still send those of that interval (about 1 s a
    # call here, CONCURRENCY at a time); the rest (at least a third) is never sent.
    assert billed(emulator) - paid_at_cancel <= 3 * CONCURRENCY
    results = read_results(output)
    not_sent = [r for r in results.values() if r["failure"]]
    assert len(not_sent) >= N // 3
    assert {r["failure"]["kind"] for r in not_sent} == {"cancelled"}
    state = httpx.get(f"{prefect_server.api_url}/flow_runs/{flow_run['id']}",
                      timeout=30).json()["state"]
    assert state["type"] == "CANCELLED"


def test_a_second_ctrl_c_quits_at_once(emulator: EmbeddedEmulator,
                                       prefect_server: PrefectServer, tmp_path: Path) -> None:
    emulator.control.configure(latency_scale=1.0)
    store, output = tmp_path / "store", tmp_path / "out"
    env = run_env(store, emulator.base_url, prefect_server.api_url)
    env["FLASHFIRST_INFERENCE__STOP_GRACE_S"] = "60"  # the first stop would wait long
    emulator.control.configure(models={"gemini-2.5-flash-lite": {
        "time_to_first_token_s": 30}})  # every call in flight for 30 s
    command = [str(Path(sys.executable).with_name("flashfirst")), "run",
               str(write_manifest(tmp_path / "items.jsonl")), "--output", str(output)]
    run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: emulator.stats.calls_to("generateContent") >= CONCURRENCY,
                 "calls were in flight", run)
        os.killpg(run.pid, signal.SIGINT)
        time.sleep(1)
        assert run.poll() is None  # the first waits for the calls in flight
        os.killpg(run.pid, signal.SIGINT)
        quit_at = time.monotonic()
        run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)

    assert run.returncode == 130
    assert time.monotonic() - quit_at < 2


def server_post(url: str, body: dict) -> httpx.Response:
    """A setup call to the test's Prefect server; its SQLite answers 5xx now and then when
    the machine is busy, which is the server's, not what the test is about."""
    for _ in range(5):
        answer = httpx.post(url, json=body, timeout=30)
        if answer.status_code < 500:
            return answer
        time.sleep(1)
    answer.raise_for_status()
    return answer


def test_a_deployed_run_cancelled_in_prefect_ends_cancelled_with_its_partial_results(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer, tmp_path: Path) -> None:
    emulator.control.configure(latency_scale=1.0)
    api = prefect_server.api_url
    pool = f"stop-{uuid.uuid4().hex[:8]}"
    assert server_post(f"{api}/work_pools/", {"name": pool, "type": "process"}).status_code == 201
    flow_id = server_post(f"{api}/flows/", {"name": "analyze"}).json()["id"]
    deployment = server_post(f"{api}/deployments/", {
        "name": pool, "flow_id": flow_id, "work_pool_name": pool, "pull_steps": [],
        "entrypoint": "flashfirst.deployments.entrypoints.analyze"}).json()
    store, output = tmp_path / "store", tmp_path / "out"
    manifest = write_manifest(tmp_path / "items.jsonl")
    created = server_post(f"{api}/deployments/{deployment['id']}/create_flow_run", {
        "parameters": {"params": {"source": str(manifest), "output": str(output)}}})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]

    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--run-once"],
        env=run_env(store, emulator.base_url, api), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        wait_for(lambda: answers_stored(store) >= 10, "answers were stored", worker)
        paid_at_cancel = billed(emulator)
        cancel = server_post(f"{api}/flow_runs/{run_id}/set_state", {
            "state": {"type": "CANCELLING", "message": "cancelled by the test"}})
        assert cancel.status_code in (200, 201), cancel.text
        log, _ = worker.communicate(timeout=90)  # the worker is free: --run-once ends
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30).json()["state"]

    assert worker.returncode == 0, log[-3000:]
    assert state["type"] == "CANCELLED", (state, log[-3000:])
    assert billed(emulator) - paid_at_cancel <= CONCURRENCY
    results = read_results(output)
    assert sorted(results) == [f"n{i:03d}" for i in range(N)]
    not_sent = [r for r in results.values() if r["failure"]]
    assert N - len(not_sent) == billed(emulator) and len(not_sent) >= N // 3
    assert {r["failure"]["kind"] for r in not_sent} == {"cancelled"}
    assert "stopped" in state["message"] or "cancel" in state["message"].lower()


# A batch run as a user's process runs it: the analyze flow in its own process's main
# thread, polling its job every 30 s (a stop must not wait for the next poll).
BATCH_SUBMITTER = """
import sys
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.flows.analyze import analyze_with

settings = Settings(backend=BackendSettings(base_url=sys.argv[1]), storage_root=sys.argv[2],
                    inference=InferenceSettings(batch_poll_s=30))
items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH, output=sys.argv[3]), settings)
"""


def test_a_batch_run_stopped_while_its_job_runs_leaves_the_job_running_and_says_so(
        emulator: EmbeddedEmulator, prefect_server: PrefectServer, tmp_path: Path) -> None:
    emulator.control.configure(batch={"pending_s": 3600, "running_s": 60})  # a slow batch
    store, output = tmp_path / "store", tmp_path / "out"
    env = run_env(store, emulator.base_url, prefect_server.api_url)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", BATCH_SUBMITTER, emulator.base_url,
                             str(store), str(output)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: emulator.stats.calls_to("batches.get") > 0, "the job was polled",
                 proc)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        log, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - signalled

    assert took < 10, f"ended {took:.1f} s after the signal"
    report = json.loads((output / "report.json").read_text())
    assert len(report["batch_jobs_left"]) == 1 and report["stopped"], log[-3000:]
    assert report["batch_jobs_left"][0] in (output / "report.md").read_text()
    assert emulator.stats.calls_to("batches.cancel") == 0  # paid for: left running
    assert report["failure_kinds"] == {"interrupted": 3}

    emulator.control.advance_clock(3600 + 60)  # the job finishes while no one waits
    settings = Settings(backend=BackendSettings(base_url=emulator.base_url),
                        storage_root=str(store), inference=InferenceSettings(batch_poll_s=0.1))
    items = [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        again = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), settings)

    assert again.items_ok == 3
    assert emulator.stats.batches_created == 1  # the re-run collected the job left running
