"""Faults where a whole server goes away mid-run and comes back, with real processes: the
GCS emulator holding the run's state stopped for a few seconds, and the Gemini emulator
killed with SIGKILL and started again on its port and state directory. Every item
completes or fails naming its cause, no answer received is lost, and the calls billed
exceed the items by at most the calls in flight when the server went away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fixtures.gcs import free_port, start_fake_gcs, stop, wait_until_up
from fixtures.prefect import PrefectServer
from google.cloud import storage as gcs

from flashfirst.emulator import EmbeddedEmulator

CONCURRENCY = 4
IN_FLIGHT = 3 * CONCURRENCY  # at most `concurrency` calls per model, three models


def write_manifest(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"n{i}", "text": f"Note {i}: parcel late."})
                            + "\n" for i in range(n)))
    return path


def run_env(prefect_server: PrefectServer, storage_root: str, base_url: str) -> dict[str, str]:
    """A `flashfirst run` on this test's servers only, every billed call an item's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    return env | {"PREFECT_API_URL": prefect_server.api_url,
                  "FLASHFIRST_STORAGE_ROOT": storage_root,
                  "FLASHFIRST_BACKEND__BASE_URL": base_url,
                  "FLASHFIRST_INFERENCE__CALIBRATION_SHARE": "0",
                  "FLASHFIRST_MODELS__FLASH_LITE__CONCURRENCY": str(CONCURRENCY),
                  "FLASHFIRST_MODELS__FLASH__CONCURRENCY": str(CONCURRENCY),
                  "FLASHFIRST_MODELS__PRO__CONCURRENCY": str(CONCURRENCY)}


def flashfirst_run(manifest: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    exe = str(Path(sys.executable).with_name("flashfirst"))
    return subprocess.Popen([exe, "run", str(manifest), "--json"], env=env,
                            cwd=manifest.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished_report(run: subprocess.Popen[str]) -> dict:
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    return json.loads(out)


def wait_for(condition, what: str, proc: subprocess.Popen[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def billed(emulator: EmbeddedEmulator) -> int:
    return sum(sum(tiers.values()) for tiers in emulator.stats.generate_calls.values())


def test_gcs_unavailable_for_seconds_mid_run_loses_no_answer(
        prefect_server: PrefectServer, emulator: EmbeddedEmulator, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    n = 40
    port, data = free_port(), tmp_path / "gcs-data"
    flags = ("-filesystem-root", str(data))
    log = tmp_path / "fake-gcs.log"
    server = start_fake_gcs(log, port, *flags, backend="filesystem")
    try:
        host = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        bucket = f"outage-{uuid.uuid4().hex[:8]}"
        client = gcs.Client(project="test")
        client.create_bucket(bucket)
        emulator.control.configure(latency_scale=1.0)  # ~0.3-1 s a call: an outage mid-run
        env = run_env(prefect_server, f"gs://{bucket}/state", emulator.base_url)
        env["STORAGE_EMULATOR_HOST"] = host
        manifest = write_manifest(tmp_path / "items.jsonl", n)

        def answers_stored() -> int:
            return sum(1 for _ in client.list_blobs(bucket, prefix="state/answers/"))

        first = flashfirst_run(manifest, env)
        wait_for(lambda: answers_stored() >= 5, "answers reached the bucket", first)
        before = answers_stored()
        stop(server)  # GCS is gone: writes of answers, results and records are refused
        time.sleep(4)
        server = start_fake_gcs(log, port, *flags, backend="filesystem")
        assert before < n and first.poll() is None  # the outage was mid-run
        report = finished_report(first)

        assert report["items_ok"] + report["items_failed"] == n
        for item_id, cause in report["failures"].items():
            assert f"gs://{bucket}/" in cause, (item_id, cause)
        assert report["items_ok"] == n  # a few seconds of outage are waited out
        assert n <= billed(emulator) <= n + IN_FLIGHT
        results = client.bucket(bucket).blob(
            report["output_uri"].removeprefix(f"gs://{bucket}/") + "/results.jsonl")
        lines = [json.loads(line) for line in results.download_as_text().splitlines()]
        assert sorted(r["id"] for r in lines) == sorted(f"n{i}" for i in range(n))
        assert all(r["output"] for r in lines)

        paid = billed(emulator)
        again = finished_report(flashfirst_run(manifest, env))
        assert again["items_ok"] == n and again["items_reused"] == n
        assert billed(emulator) == paid  # every answer received was kept
    finally:
        stop(server)


def test_the_gemini_emulator_killed_and_restarted_mid_run_costs_at_most_the_calls_in_flight(
        prefect_server: PrefectServer, tmp_path: Path) -> None:
    n, port, state = 60, free_port(), tmp_path / "emulator-state"
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "flashfirst.emulator", "--port", str(port),
               "--state-dir", str(state), "--latency-scale", "1.0"]
    log = tmp_path / "emulator.log"

    def start_emulator() -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        wait_until_up(f"{base_url}/_emulator/health", proc, log, "the emulator")
        return proc

    def billed_calls() -> int:  # the emulator's own bill, kept in its state directory
        path = state / "billed.jsonl"
        return path.read_bytes().count(b"\n") if path.exists() else 0

    store = tmp_path / "store"
    def answers_stored() -> int:
        return sum(p.read_bytes().count(b"\n") for p in (store / "answers").rglob("*.jsonl"))

    server = start_emulator()
    try:
        manifest = write_manifest(tmp_path / "items.jsonl", n)
        env = run_env(prefect_server, str(store), base_url)
        first = flashfirst_run(manifest, env)
        wait_for(lambda: answers_stored() >= 10, "answers were stored", first)
        server.kill()  # SIGKILL: calls in flight are cut off, their answers billed
        server.wait()
        kept, billed_at_kill = answers_stored(), billed_calls()
        server = start_emulator()
        report = finished_report(first)

        assert report["items_ok"] == n, report["failures"]
        assert kept < n  # the kill happened mid-run
        assert billed_at_kill - kept <= IN_FLIGHT
        assert n <= billed_calls() <= n + IN_FLIGHT
    finally:
        stop(server)
