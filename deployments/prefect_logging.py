"""How Prefect logs under the ``flashfirst`` command: settings applied to the environment
before Prefect is imported (it reads them once).

Prefect's API gets every log line of a run at INFO, as for deployed runs, so the UI shows
them; the console shows warnings and errors only.
"""

from __future__ import annotations

import os
from pathlib import Path

LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")


def quiet_prefect_env(verbose: bool = False) -> dict[str, str]:
    """The Prefect settings the command runs with (each only where the user set none)."""
    env = {
        # The ephemeral server's telemetry writes race the run's own on SQLite
        # ("database is locked" tracebacks); no telemetry leaves this machine either way.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    if not verbose:
        env["PREFECT_LOGGING_SETTINGS_PATH"] = str(LOGGING_CONFIG)
    return env


def apply_quiet_prefect_env(verbose: bool = False) -> None:
    for name, value in quiet_prefect_env(verbose).items():
        os.environ.setdefault(name, value)
