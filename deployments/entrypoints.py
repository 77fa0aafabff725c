"""The analyze flow as deployed: with the task runner the environment asks for.

``FLASHFIRST_DASK_ADDRESS=tcp://scheduler:8786`` sends the flow's tasks (media preparation,
inference chunks) to that existing Dask cluster through prefect-dask; unset, the flow keeps
its own thread-pool runner. The choice is read when this module is imported, i.e. in the
process that runs the flow (a served runner, or a worker's flow-run process), so one
deployment runs either way depending on where it lands.
"""

from __future__ import annotations

from prefect import Flow
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flashfirst.errors import ConfigError
from flows.analyze import analyze as _analyze


class DaskSettings(BaseSettings):
    """``FLASHFIRST_DASK_*``: where an existing Dask cluster's scheduler answers."""

    model_config = SettingsConfigDict(env_prefix="FLASHFIRST_DASK_", env_file=".env",
                                      extra="ignore")

    address: str | None = Field(
        None, description="Scheduler address, e.g. tcp://10.0.0.5:8786; unset: no Dask.")


def with_configured_task_runner(flow: Flow, settings: DaskSettings | None = None) -> Flow:
    """``flow`` on the Dask cluster at ``settings.address``, or unchanged without one."""
    address = (settings or DaskSettings()).address
    if not address:
        return flow
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ConfigError("FLASHFIRST_DASK_ADDRESS is set but prefect-dask is not "
                          "installed: pip install 'flashfirst[dask]'") from exc
    return flow.with_options(task_runner=DaskTaskRunner(address=address))


# Deployed runs retry once: a crashed worker or a lost connection resumes where it stopped
# (prepared media, caches and answers are all found again). In-process calls (the CLI,
# tests) don't, so a budget refusal or a bad setting is reported at once.
analyze = with_configured_task_runner(_analyze).with_options(retries=1, retry_delay_seconds=30)
"""The deployments' analyze entrypoint (``deployments/entrypoints.py:analyze``)."""
