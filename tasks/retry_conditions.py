"""When a Prefect task's retry may help: a wrong setting or input (``ConfigError``) fails
the same way every time, so retrying it only delays the failure (by 30 s for a batch run
with a local storage root)."""

from __future__ import annotations

from typing import Any

from flashfirst.errors import ConfigError


def unless_config_error(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry any failure but a configuration error."""
    try:
        state.result()
    except ConfigError:
        return False
    except Exception:
        return True
    return False
