"""The embedded emulator answers a request on a kept-alive connection at once: with Nagle
on, each response's body waited for the client's delayed ACK (40 ms on Linux), which made
hundreds of sequential SDK calls take 45 ms each instead of 2."""

from __future__ import annotations

import socket

from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig

REQUEST = b"GET /_emulator/health HTTP/1.1\r\nHost: emulator\r\n\r\n"


def _response(conn: socket.socket) -> bytes:
    """One whole response: headers, then as many body bytes as Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)
    return body


def test_the_emulator_answers_without_waiting_for_the_clients_delayed_ack() -> None:
    """Nagle off on the connections it accepts: not a timing (timings belong in bench/),
    the socket option the 40 ms came from."""
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0)) as emu, \
            socket.create_connection(("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1]))) as conn:
        for _ in range(2):  # kept alive: the second answer is the one Nagle held back
            conn.sendall(REQUEST)
            assert _response(conn)
        served = [c.transport.get_extra_info("socket")
                  for c in emu._server.server_state.connections]  # noqa: SLF001
        assert served, "the emulator holds no connection of ours"
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in served)
