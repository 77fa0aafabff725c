"""Stopping a run: `flashfirst run` on 300 classify items against the emulator (its own
process, realistic latency, its bill kept in its state directory), Flash-Lite limited to
200 RPM, no Prefect server configured (the command's temporary one); the signal is sent
once 100 calls are billed, as Ctrl-C does (to the whole process group) or as a supervisor
does (SIGTERM to the process).

Prints the exit status, the seconds from the signal to the exit, the calls billed after
the signal (the calls in flight), the items kept and not sent, and then re-runs the same
command and prints the calls that re-run paid for.

Run: python bench/stop.py [int|term]   (about 3-5 minutes on 2 busy cores)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

N, RPM, SIGNAL_AT = 300, 200, 100


def main(which: str) -> None:
    sig = signal.SIGTERM if which == "term" else signal.SIGINT
    root = Path(tempfile.mkdtemp(prefix="flashfirst-stop-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state, base = root / "emulator", f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "flashfirst.emulator", "--port", str(port), "--state-dir",
         str(state), "--latency-scale", "1.0"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/_emulator/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        manifest = root / "items.jsonl"
        manifest.write_text("".join(json.dumps({"id": f"n{i:03d}", "task": "classify",
                                                "text": f"Note {i}: parcel late."}) + "\n"
                                    for i in range(N)))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_"))}
        env |= {"FLASHFIRST_STORAGE_ROOT": str(root / "store"),
                "FLASHFIRST_BACKEND__BASE_URL": base,
                "FLASHFIRST_INFERENCE__CALIBRATION_SHARE": "0",
                "FLASHFIRST_MODELS__FLASH_LITE__RPM": str(RPM),
                "PREFECT_HOME": str(root / "prefect-home")}

        def billed() -> int:
            path = state / "billed.jsonl"
            return path.read_bytes().count(b"\n") if path.exists() else 0

        command = [str(Path(sys.executable).with_name("flashfirst")), "run", str(manifest),
                   "--output", str(root / "out")]
        run = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
        while billed() < SIGNAL_AT and run.poll() is None:
            time.sleep(0.05)
        at_signal, signalled = billed(), time.monotonic()
        os.killpg(run.pid, sig) if sig == signal.SIGINT else run.send_signal(sig)
        try:
            _, err = run.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            _, err = run.communicate()
        took = time.monotonic() - signalled
        results = [json.loads(line) for line in
                   (root / "out" / "results.jsonl").read_text().splitlines()]
        kept = sum(1 for r in results if r["failure"] is None)
        print(f"{signal.Signals(sig).name} after {at_signal} calls billed: exit "
              f"{run.returncode} {took:.1f} s later; {billed() - at_signal} calls billed "
              f"after the signal (in flight); {kept} items kept, {len(results) - kept} not "
              "sent")
        print(next((line for line in err.splitlines() if line.startswith("Stopped:")), ""))
        paid = billed()
        again = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True,
                               timeout=600)
        print(f"re-run: exit {again.returncode}, {billed() - paid} calls paid for")
    finally:
        os.killpg(emulator.pid, signal.SIGTERM)
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "int")
