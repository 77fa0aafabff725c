"""A flow run's side of stopping (``flashfirst.run.stopping``): signals and Prefect's
cancellation feed the one stop request, and a stopped run ends in Prefect's ``Cancelled``
state carrying its partial report.

Prefect cancels a deployed run by setting it ``CANCELLING``; its worker then sends the
flow's process SIGTERM and kills it 30 s later. The run here takes the SIGTERM as a stop
(Prefect's own handler would end it at once, losing what it has), and a watcher reads the
run's state so that a cancel nobody delivers as a signal (a run started from the command
line against a server, cancelled in the UI) stops it too."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator

from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from flashfirst.failures import FailureKind
from flashfirst.items import ItemResult
from flashfirst.reporting.report import RunReport
from flashfirst.run.stopping import STOP, stop_on_signals

_WATCH_EVERY_S = 2.0
_CANCEL_REASON = "the run was cancelled in Prefect"


@contextlib.contextmanager
def stop_on_signals_and_cancel() -> Iterator[None]:
    """While the flow body runs: SIGINT/SIGTERM and a Prefect cancel stop the run."""
    done = threading.Event()
    run_id = flow_run.get_id()
    # In this context: Prefect's settings (the API it talks to) live in context variables.
    watcher = threading.Thread(target=contextvars.copy_context().run,
                               args=(_watch, run_id, done), daemon=True,
                               name="flashfirst-cancel-watch") if run_id else None
    with stop_on_signals():
        if watcher is not None:
            watcher.start()
        try:
            yield
        finally:
            done.set()


def _watch(run_id: str, done: threading.Event) -> None:
    while not done.wait(_WATCH_EVERY_S) and not STOP.requested:
        if cancelled_in_prefect(run_id):
            STOP.request(FailureKind.CANCELLED, _CANCEL_REASON)
            return


def cancelled_in_prefect(run_id: str | None = None) -> bool:
    """Whether this flow run is being (or was) cancelled; False when it cannot be read."""
    from prefect.client.orchestration import get_client

    run_id = run_id or flow_run.get_id()
    if not run_id:
        return False
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except Exception:  # noqa: BLE001 - no server to ask: a signal, not a cancel
        return False
    return state is not None and state.type.value in ("CANCELLING", "CANCELLED")


def as_cancelled(results: list[ItemResult]) -> list[ItemResult]:
    """A run cancelled in Prefect (seen as the worker's SIGTERM): its items not sent are
    ``cancelled`` rather than ``interrupted``."""
    for result in results:
        if result.failure is not None and result.failure.kind is FailureKind.INTERRUPTED:
            result.failure = result.failure.model_copy(update={"kind": FailureKind.CANCELLED})
    return results


def stopped_state(report: RunReport) -> State:
    """The final state of a stopped run: Cancelled, with the partial report as its data."""
    return Cancelled(message=f"stopped: {report.stopped}; {report.items_ok} of "
                     f"{report.items_total} items answered, results and report in "
                     f"{report.output_uri}", data=report)
