"""The task runner the environment asks for, for any flow run in this process.

``FLASHFIRST_DASK_ADDRESS=tcp://scheduler:8786`` sends a flow's tasks (media preparation,
inference chunks) to that existing Dask cluster through prefect-dask; unset, the flow keeps
its own thread-pool runner. Here (not in ``deployments/``) because flows that start other
flows as subflows (``on_upload`` → ``analyze``) need the same choice.
"""

from __future__ import annotations

from prefect import Flow
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flashfirst.errors import ConfigError


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
