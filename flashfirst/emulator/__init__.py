"""An emulator of the Gemini Developer API for tests, the demo and benchmarks: real HTTP
that the unmodified ``google-genai`` SDK talks to (docs/architecture.md)."""

from flashfirst.emulator.config import (
    BatchTiming,
    EmulatedModel,
    EmulatorConfig,
    Faults,
    Script,
    TierConfig,
    default_models,
)
from flashfirst.emulator.control import EmulatorControl
from flashfirst.emulator.embedded import EmbeddedEmulator, serve
from flashfirst.emulator.generate.endpoints import TIER_HEADER
from flashfirst.emulator.server import EmulatorApp, create_app
from flashfirst.emulator.stats import EmulatorStats, LogEntry, UsageTotals

__all__ = [
    "TIER_HEADER",
    "BatchTiming",
    "EmbeddedEmulator",
    "EmulatedModel",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorStats",
    "Faults",
    "LogEntry",
    "Script",
    "TierConfig",
    "UsageTotals",
    "create_app",
    "default_models",
    "serve",
]
