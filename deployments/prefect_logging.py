"""How Prefect logs under the ``flashfirst`` command and the benches: settings applied to
the environment before Prefect is imported (it reads them once), plus the two console
filters ``prefect_logging.yml`` names.

Prefect's API gets every log line of a run at INFO, as for deployed runs, so the UI shows
them. The console shows warnings and errors, without:

- the events and log workers' "Still processing items: N remaining" progress while they
  drain (their real warnings, such as a full queue dropping items, still show);
- the traceback Prefect logs when a run or task fails with one of our own errors: the
  command prints that error's one-line cause itself, and the report names every failed
  item. Any other exception keeps its traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flashfirst.errors import FlashfirstError

LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")


def quiet_prefect_env(verbose: bool = False) -> dict[str, str]:
    """The Prefect settings the command runs with (each only where the user set none)."""
    env = {
        # The ephemeral server's telemetry writes race the run's own on SQLite
        # ("database is locked" tracebacks); no telemetry leaves this machine either way.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Without PREFECT_API_URL the first command starts Prefect's ephemeral server; its
        # 20 s default timed out on a busy 2-core machine (it needed ~16 s idle, §7).
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    if not verbose:
        env["PREFECT_LOGGING_SETTINGS_PATH"] = str(LOGGING_CONFIG)
    return env


def apply_quiet_prefect_env(verbose: bool = False) -> None:
    for name, value in quiet_prefect_env(verbose).items():
        os.environ.setdefault(name, value)


class DropDrainProgress(logging.Filter):
    """Drops the services' drain progress lines ("Still processing items: ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Still processing items")


class DropReportedTracebacks(logging.Filter):
    """Drops records that carry one of our own errors: the command reports it in a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, FlashfirstError)
