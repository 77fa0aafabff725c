"""The thinking lever's sample: which items are also sent at the default thinking, and
what the sample says the rest would have thought.

What "default" would have spent is not observed when a lower setting was sent, so a
sample is: per task and model, ``share`` of the items below default (at least ``min``, at
most ``max``, never more than the group) chosen by a hash of their id (the same items on
every run). Its thought tokens per item are extrapolated to the group's other items.
A group whose sample would be more than half of it is not sampled: paying twice for most
of a small group costs more than the lever can show, so its lever reads "not measured"
(earlier runs' figures still feed the estimate)."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping

from pydantic import BaseModel

from flashfirst.errors import ThinkingNotSupported
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.gemini.thinking import sent, thinking_config
from flashfirst.inference.job import InferenceJob
from flashfirst.planning.router import RoutingPolicy
from flashfirst.settings import InferenceSettings


def sample_size(group: int, settings: InferenceSettings) -> int:
    if settings.calibration_share <= 0 or group == 0:
        return 0
    wanted = math.ceil(settings.calibration_share * group)
    return min(group, max(settings.calibration_min, min(settings.calibration_max, wanted)))


def mark_calibration(jobs: list[InferenceJob], policy: RoutingPolicy, models: Catalogue,
                     settings: InferenceSettings) -> None:
    """Set ``calibrate`` on the sample (jobs whose thinking is their model's default, or
    what it does by default anyway, or that it would refuse, are never in it: nothing to
    measure)."""
    groups: dict[tuple[str, str], list[InferenceJob]] = defaultdict(list)
    for job in jobs:
        serving = models.find(models.served_id(job.route.model))
        if serving is None:
            continue
        asked = policy.thinking_for(job.item)
        try:
            below = not sent(asked, thinking_config(asked, serving), serving).at_default
        except ThinkingNotSupported:
            continue
        if below:
            groups[(job.item.task.value, job.route.model)].append(job)
    for group in groups.values():
        ranked = sorted(group, key=lambda j: hashlib.sha256(j.item.id.encode()).hexdigest())
        n = sample_size(len(group), settings)
        if n > len(group) // 2:
            continue
        for job in ranked[:n]:
            job.calibrate = True


class CalibrationGroup(BaseModel):
    """Thought tokens per item at the default thinking, measured on the sample."""

    task: str
    model: str
    n: int
    mean: float
    sd: float
    low: int
    high: int


def calibration_groups(thoughts: Mapping[tuple[str, str], list[int]]
                       ) -> dict[tuple[str, str], CalibrationGroup]:
    """By (task, model that served the calibration call), from each calibration call's
    thoughts (gathered as results come: ``flashfirst.reporting.ledger.CostTally``)."""
    return {key: CalibrationGroup(task=key[0], model=key[1], n=len(v), mean=statistics.fmean(v),
                                  sd=statistics.stdev(v) if len(v) > 1 else 0.0,
                                  low=min(v), high=max(v))
            for key, v in thoughts.items()}
