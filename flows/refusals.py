"""A run refused for its settings or input is not retried. Prefect retries a deployed flow
on any failure and has no retry condition for flows, so a refusal (no backend allowed, a
bad manifest, an estimate over the budget) would wait out the retry delay and be refused
again. Before the refusal is raised, the run's own retries are turned off on the server,
whose retry rule reads them there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from flashfirst.errors import BudgetExceeded, ConfigError


@contextlib.contextmanager
def refusals_not_retried() -> Iterator[None]:
    try:
        yield
    except (ConfigError, BudgetExceeded):
        _no_more_retries()
        raise


def _no_more_retries() -> None:
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None or not run.empirical_policy.retries:
        return  # nothing would retry it (the command line, tests)
    policy = run.empirical_policy.model_copy(update={"retries": 0})
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, empirical_policy=policy)
