"""The command's Prefect logging keeps real errors loud: only the tracebacks of our own
errors (whose one-line cause the command prints) leave the console. A flow run in a fresh
process, configured as ``flashfirst`` configures it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fixtures.prefect import PrefectServer

FAILING_FLOW = """
import sys
from flashfirst.deployments.prefect_logging import apply_quiet_prefect_env
apply_quiet_prefect_env()
from prefect import flow
from flashfirst.errors import ConfigError

@flow(name="fails-" + sys.argv[1])
def fails() -> None:
    raise (ConfigError if sys.argv[1] == "ours" else ZeroDivisionError)("the cause")

try:
    fails()
except Exception:
    pass
"""


def run_failing_flow(kind: str, api_url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    out = subprocess.run([sys.executable, "-c", FAILING_FLOW, kind], capture_output=True,
                         text=True, env=env | {"PREFECT_API_URL": api_url}, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stderr


@pytest.mark.parametrize("kind, traceback_shown", [("ours", False), ("bug", True)])
def test_only_our_own_errors_lose_their_traceback_on_the_console(
        kind: str, traceback_shown: bool, prefect_server: PrefectServer):
    stderr = run_failing_flow(kind, prefect_server.api_url)
    assert ("Traceback" in stderr) is traceback_shown, stderr
    if traceback_shown:
        assert "ZeroDivisionError: the cause" in stderr
