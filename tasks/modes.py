"""``mode=auto``: Batch, Flex or Standard per model, decided before inference starts."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flashfirst.inference.job import InferenceJob
from flashfirst.inference.mode import ModeChoice, apply_modes, choose_modes
from flashfirst.packed import Packed
from flashfirst.planning.router import RoutingPolicy
from flashfirst.run.context import run_context
from flashfirst.settings import Settings


@task(name="choose-modes", cache_policy=NO_CACHE)
def choose_run_modes(jobs: Packed[InferenceJob], pending: Packed[InferenceJob],
                     settings: Settings, policy: RoutingPolicy, deadline_s: float | None,
                     context_tokens: int) -> tuple[Packed[InferenceJob], list[ModeChoice]]:
    """Counted on the jobs that will really call a model (``pending``), applied to all,
    a block of jobs at a time."""
    choices = choose_modes(pending, run_context(settings).prices, settings,
                           policy.service_tier, deadline_s, context_tokens)
    logger = get_run_logger()
    for choice in choices.values():
        logger.info("mode %s", choice.summary())
    applied = Packed(InferenceJob)
    for block in jobs.blocks():
        applied.extend(apply_modes(block, choices))
    return applied, list(choices.values())
