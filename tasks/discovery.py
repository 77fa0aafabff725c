"""Discovering items and reading the shared context."""

from __future__ import annotations

from flashfirst.tasks.retry_conditions import unless_config_error
from google.genai import types
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.caching.manager import PreparedContext
from flashfirst.inputs.discover import Discovery, office_reader, run_inputs
from flashfirst.inputs.skipped import skipped_line
from flashfirst.inputs.sources import prepare_context
from flashfirst.params import AnalyzeParams
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="discover-items", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=unless_config_error)  # a storage hiccup may pass, bad input not
def discover_items(params: AnalyzeParams, settings: Settings) -> Discovery:
    """The run's items, ids unique; files no task takes are named as skipped."""
    shared = run_context(settings)
    found = run_inputs(params, shared.storage, storage_root=settings.storage_root,
                       office=office_reader(params.task, shared.policy, settings.models,
                                            shared.catalogue))
    if line := skipped_line(found.skipped):
        get_run_logger().warning("%s: %s", params.source, line)
    return found


@task(name="prepare-shared-context", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def prepare_shared_context(params: AnalyzeParams, settings: Settings,
                           media_parts: dict[str, list[types.Part]] | None = None,
                           ) -> PreparedContext | None:
    """The context's documents read, hashed and counted once (None: the run has none)."""
    shared = run_context(settings)
    return prepare_context(params.context, shared.storage, shared.client, settings,
                           media_parts)
