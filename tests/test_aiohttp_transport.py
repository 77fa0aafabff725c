"""With ``flashfirst[aiohttp]`` installed the SDK sends async calls through aiohttp, whose
connection errors are not httpx's: a connection dropped on the way must still be retried
as transient, not fail the item as a bug. Runs where the extra is installed (the bench's
venv: ``pip install -e ".[test,aiohttp]"``)."""

from __future__ import annotations

import pytest
from fixtures.emulator import client_for

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.failures import FailureKind
from flashfirst.inference.retry import classify

aiohttp = pytest.importorskip("aiohttp")


async def test_a_connection_dropped_through_aiohttp_is_retried_as_transient(
        emulator: EmbeddedEmulator):
    emulator.control.configure(faults={"drop_share": 1.0})
    async with client_for(emulator.base_url).aio as client:
        with pytest.raises(aiohttp.ClientError) as raised:
            await client.models.generate_content(model="gemini-3.8-flash", contents="hi")
    failure = classify(raised.value)
    assert failure.transient and failure.kind is FailureKind.TRANSIENT
    assert emulator.stats.dropped_connections >= 1
