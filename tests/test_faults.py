"""Faults survived with real parts: the emulator's injected 503s, answers slower than the
client's timeout and dropped connections, and a `flashfirst run` killed with SIGKILL and
run again. Every item completes, and the calls billed (the emulator's count of answers it
produced) exceed the items by at most the calls that were in flight when things broke."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.engine import answer
from fixtures.prefect import PrefectServer

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.settings import BackendSettings, InferenceSettings, Settings

N = 40


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path: Path) -> Settings:
    return Settings(backend=BackendSettings(base_url=emulator.base_url, timeout_s=5),
                    storage_root=str(tmp_path / "store"),
                    # calibration_share=0: every billed call below is an item's own
                    inference=InferenceSettings(backoff_base_s=0.02, backoff_max_s=0.2,
                                                max_attempts=8, calibration_share=0))


def notes(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"note-{i}", text=f"Customer note {i}: parcel late.") for i in range(n)]


def billed(emulator: EmbeddedEmulator) -> int:
    return sum(sum(tiers.values()) for tiers in emulator.stats.generate_calls.values())


def test_503_bursts_complete_every_item_and_bill_each_once(settings, emulator):
    emulator.control.configure(faults={"unavailable_share": 0.4})
    results = answer(settings, notes(N))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert emulator.stats.unavailable > 0  # the burst happened
    assert billed(emulator) == N  # a 503 produced no answer: nothing billed twice
    assert sum(r.attempts[0].transient_retries for r in results) >= emulator.stats.unavailable


def stored_answers(root: Path) -> int:
    """Answers durable in the store: one line each in its append-only logs."""
    return sum(p.read_bytes().count(b"\n") for p in root.rglob("*.jsonl"))


def test_answers_slower_than_the_client_timeout_are_retried_and_bounded(settings, emulator):
    emulator.control.configure(faults={"slow_share": 0.3, "slow_delay_s": 3.0})
    impatient = settings.model_copy(deep=True)
    impatient.backend.timeout_s = 1.0
    results = answer(impatient, notes(N))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    timed_out = sum(r.attempts[0].transient_retries for r in results)
    assert timed_out > 0
    # An answer the client gave up on was still produced (billed) by the server: at most
    # one extra per timeout, never more.
    assert N <= billed(emulator) <= N + timed_out


def test_connections_dropped_mid_response_lose_nothing(settings, emulator):
    emulator.control.configure(faults={"drop_share": 0.3})
    results = answer(settings, notes(N))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert emulator.stats.dropped_connections > 0
    assert billed(emulator) == N  # a dropped call produced no answer here


def test_a_run_killed_with_sigkill_resumes_and_pays_at_most_the_calls_in_flight(
        prefect_server: PrefectServer, emulator: EmbeddedEmulator, tmp_path: Path):
    n, concurrency = 120, 4
    emulator.control.configure(latency_scale=1.0)  # ~0.3-1 s a call: time to kill mid-run
    manifest = tmp_path / "items.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"n{i}", "text": f"Note {i}: parcel late."})
                                + "\n" for i in range(n)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": prefect_server.api_url,
            "FLASHFIRST_STORAGE_ROOT": str(tmp_path / "store"),
            "FLASHFIRST_BACKEND__BASE_URL": emulator.base_url,
            "FLASHFIRST_MODELS__FLASH_LITE__CONCURRENCY": str(concurrency),
            "FLASHFIRST_MODELS__FLASH__CONCURRENCY": str(concurrency),
            "FLASHFIRST_MODELS__PRO__CONCURRENCY": str(concurrency)}
    exe = str(Path(sys.executable).with_name("flashfirst"))
    answers = tmp_path / "store" / "answers"

    first = subprocess.Popen([exe, "run", str(manifest), "--json"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while stored_answers(answers) < 10:
        assert first.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no answers stored in time"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = stored_answers(answers)
    billed_before = billed(emulator)
    assert kept < n
    emulator.control.configure(latency_scale=0)  # the resumed run need not be slow

    second = subprocess.run([exe, "run", str(manifest), "--json"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout)
    assert report["items_ok"] == n and report["items_reused"] >= kept
    # Answers stored before the kill are not paid again; those in flight at the kill (at
    # most `concurrency` per model, three models) are the only calls paid twice.
    assert billed_before - kept <= 3 * concurrency
    assert billed(emulator) <= n + 3 * concurrency
