"""An offline Gemini for your own tests: pytest fixtures that start flashfirst's Gemini API
emulator and hand you a ``google-genai`` client pointed at it.

Registered as a ``pytest11`` entry point, so installing flashfirst makes the fixtures
available to any pytest run (nothing starts until a test asks for one):

- ``gemini_emulator_config``: the :class:`EmulatorConfig` used; override it in your
  ``conftest.py`` for scripted answers, faults, latency or quotas.
- ``gemini_emulator``: a fresh emulator on a free 127.0.0.1 port (``.base_url``, ``.stats``,
  ``.control``).
- ``gemini_client``: a sync ``genai.Client`` on it.
- ``gemini_async_client``: ``client.aio`` on it, closed on the test's loop (needs
  pytest-asyncio).

This module is imported by pytest only; the package itself never imports pytest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from google import genai
    from google.genai.client import AsyncClient

    from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig

#: Any non-empty key: the emulator checks keys only when its config names one.
EMULATOR_API_KEY = "emulator-key"


@pytest.fixture
def gemini_emulator_config() -> EmulatorConfig:
    """Answers at once (no simulated latency), seed 0: deterministic for a given request."""
    from flashfirst.emulator import EmulatorConfig

    return EmulatorConfig(latency_scale=0)


@pytest.fixture
def gemini_emulator(gemini_emulator_config: EmulatorConfig) -> Iterator[EmbeddedEmulator]:
    """A fresh emulator per test, stopped after it."""
    from flashfirst.emulator import EmbeddedEmulator

    with EmbeddedEmulator(gemini_emulator_config) as emu:
        yield emu


def _client(emulator: EmbeddedEmulator, config: EmulatorConfig) -> genai.Client:
    from google import genai
    from google.genai import types

    # v1beta: caches, files and batches live there on the real Developer API too.
    return genai.Client(api_key=config.api_key or EMULATOR_API_KEY,
                        http_options=types.HttpOptions(base_url=emulator.base_url,
                                                       api_version="v1beta"))


@pytest.fixture
def gemini_client(gemini_emulator: EmbeddedEmulator,
                  gemini_emulator_config: EmulatorConfig) -> Iterator[genai.Client]:
    """A sync ``genai.Client`` talking HTTP to ``gemini_emulator``."""
    with _client(gemini_emulator, gemini_emulator_config) as client:
        yield client


try:
    import pytest_asyncio
except ImportError:  # the sync fixtures still work; the async one says what is missing
    @pytest.fixture
    def gemini_async_client() -> None:
        pytest.fail("gemini_async_client needs pytest-asyncio: pip install pytest-asyncio")
else:
    @pytest_asyncio.fixture
    async def gemini_async_client(gemini_emulator: EmbeddedEmulator,
                                  gemini_emulator_config: EmulatorConfig
                                  ) -> AsyncIterator[AsyncClient]:
        """``genai.Client(...).aio`` on ``gemini_emulator``, closed on the test's loop."""
        async with _client(gemini_emulator, gemini_emulator_config).aio as client:
            yield client
