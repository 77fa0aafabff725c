"""A bench's own Prefect server, so that a bench's last line is its figures.

Without one, a flow run starts Prefect's temporary server on the shared ~/.prefect SQLite
database: its services print pages of "database is locked" tracebacks into the bench's
output (other processes use that database too) and its "Stopping temporary server" line
comes after the figures. Here the server runs on a database of its own, writes to a log
file, and stops silently at exit after this process has sent its queued logs and events.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

START_DEADLINE_S = 180  # a loaded 2-core machine takes a while to migrate a new database


def quiet_prefect() -> None:
    """Point this process (and its children) at a quiet Prefect server of its own, unless
    ``PREFECT_API_URL`` names one already. Call before anything imports Prefect: its
    settings are read at import."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Block-buffered stdout (a pipe, a file) would come out after whatever is written to
    # stderr at exit; line by line, the figures stay last.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if os.environ.get("PREFECT_API_URL"):
        return
    if "prefect" in sys.modules:
        raise RuntimeError("quiet_prefect() must run before Prefect is imported: Prefect "
                           "reads PREFECT_API_URL once, at import")
    home = Path(tempfile.mkdtemp(prefix="flashfirst-bench-prefect-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false"}
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)  # Ctrl-C reaches the bench, not the server's output
    atexit.register(_stop, proc, home)
    api_url = f"http://127.0.0.1:{port}/api"
    _wait_until_up(f"{api_url}/health", proc, log)
    os.environ["PREFECT_API_URL"] = api_url


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + START_DEADLINE_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the bench's Prefect server exited {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > end:
                raise RuntimeError(f"the bench's Prefect server was not up after "
                                   f"{START_DEADLINE_S} s:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes], home: Path) -> None:
    if "prefect" in sys.modules:  # queued logs and events go while the server is up
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=30)
        EventsWorker.drain_all(timeout=30)
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(home, ignore_errors=True)
