"""Running the emulator: in a background thread of the current process (fixtures, the
demo, the no-credentials default) or as its own server (``flashfirst emulator``)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from flashfirst.emulator.config import EmulatorConfig
from flashfirst.emulator.control import EmulatorControl
from flashfirst.emulator.server import EmulatorApp, create_app
from flashfirst.emulator.stats import EmulatorStats

# Long keep-alive, like Google's front ends: a server closing an idle pooled connection
# just as the client reuses it shows up as a spurious "Server disconnected" error.
KEEP_ALIVE_S = 120


class EmbeddedEmulator:
    """The emulator on 127.0.0.1 in a daemon thread, on a free port unless one is given.

    ``with EmbeddedEmulator(config) as emu:`` starts it and stops it cleanly."""

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.app: EmulatorApp = create_app(config)
        self.control: EmulatorControl = self.app.control
        self._host, self._port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._base_url

    @property
    def stats(self) -> EmulatorStats:
        return self.control.stats()

    @property
    def idle(self) -> bool:
        """Serving, with no request being answered (a reset now loses nobody's answer)."""
        return self._server is not None and not self._server.server_state.tasks

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT``)."""
        if self._server is not None:
            return self.base_url
        # IPPROTO_TCP named, not left 0: asyncio turns Nagle off only on sockets whose
        # proto says TCP, and accepted ones inherit it. With Nagle on, a response's body
        # (its second write) waited for the client's delayed ACK: 40 ms a request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=2,
                                date_header=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"gemini-emulator-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"the Gemini emulator did not start on port {port}")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        self._base_url = f"http://{self._host}:{port}"
        return self._base_url

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._server, self._thread, self._base_url = None, None, None

    def __enter__(self) -> EmbeddedEmulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 8799,
          config: EmulatorConfig | None = None) -> None:
    """Serve in the foreground until interrupted (the ``flashfirst emulator`` command)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", lifespan="off",
                timeout_keep_alive=KEEP_ALIVE_S, date_header=False)
