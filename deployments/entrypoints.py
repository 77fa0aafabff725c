"""The analyze flow as deployed: with the task runner the environment asks for
(``flows/task_runners.py``). The choice is read when this module is imported, i.e. in the
process that runs the flow (a served runner, or a worker's flow-run process), so one
deployment runs either way depending on where it lands.
"""

from __future__ import annotations

from flashfirst.flows.analyze import analyze as _analyze
from flashfirst.flows.task_runners import with_configured_task_runner

# Deployed runs retry once: a crashed worker or a lost connection resumes where it stopped
# (prepared media, caches and answers are all found again). A run refused for a setting,
# its input or its budget is not retried (flows/refusals.py). In-process calls (the CLI,
# tests) don't retry.
analyze = with_configured_task_runner(_analyze).with_options(retries=1, retry_delay_seconds=30)
"""The deployments' analyze entrypoint (``deployments/entrypoints.py:analyze``)."""
