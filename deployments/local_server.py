"""The temporary Prefect server a command starts when no PREFECT_API_URL is set, owned by
the command: started in a session of its own, so the terminal's Ctrl-C reaches only the
run (which stops well and still needs the server to record it), and stopped by the
command once the run's logs and events are sent (not first, which left the run retrying
a dead server with a traceback every few seconds)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

from flashfirst.run.stopping import STOP, RunStopped, at_hard_exit

_DRAIN_S = 5.0


@contextlib.contextmanager
def own_prefect_server() -> Iterator[None]:
    """Inside, Prefect talks to a temporary server of ours (or the configured one)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    # Only here: importing Prefect's server (its ORM, routes, migrations) costs a command
    # seconds of CPU, which a configured server does not need.
    from prefect.server.api.server import SubprocessASGIServer

    class _OwnSession(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            popen = subprocess.Popen
            subprocess.Popen = partial(popen, start_new_session=True)  # type: ignore[misc]
            try:
                return super()._run_uvicorn_command()
            finally:
                subprocess.Popen = popen  # type: ignore[misc]

    server = _OwnSession(port=_free_port())
    remove_hook = at_hard_exit(lambda: server.server_process and server.server_process.kill())
    try:
        _start(server)
        # Also in the environment: threads that do not copy Prefect's settings context
        # and child processes find this server, not a temporary one of their own.
        with temporary_settings({PREFECT_API_URL: server.api_url}), \
                _environ("PREFECT_API_URL", server.api_url):
            yield
            _drain()
    finally:
        server.stop()
        remove_hook()


def _start(server: Any) -> None:
    """Start it, unless the run is stopped first (it may take a while on a busy machine):
    then :class:`RunStopped`, nothing having been sent."""
    failed: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failed.append(exc)

    starter = threading.Thread(target=start, daemon=True, name="prefect-server-start")
    starter.start()
    while starter.is_alive():
        if STOP.sleep(0.1):
            raise RunStopped(STOP.reason)
    if failed:
        raise failed[0]


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _drain() -> None:
    """Send the queued logs and events while the server is still up."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=_DRAIN_S)
    EventsWorker.drain_all(timeout=_DRAIN_S)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
