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
import heapq
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
    """Set ``calibrate`` on the sample (see :class:`CalibrationSample`)."""
    sample = CalibrationSample(policy, models, settings)
    for n, job in enumerate(jobs):
        sample.consider(job, n)
    for n in sample.chosen():
        jobs[n].calibrate = True


class CalibrationSample:
    """The sample chosen as jobs go by, without holding them: per group its size and the
    positions of the jobs whose id hashes lowest (the sample is at most that many). Jobs
    whose thinking is their model's default, or what it does by default anyway, or that
    it would refuse, are never in it: nothing to measure."""

    def __init__(self, policy: RoutingPolicy, models: Catalogue,
                 settings: InferenceSettings) -> None:
        self.policy, self.models, self.settings = policy, models, settings
        self._keep = max(settings.calibration_min, settings.calibration_max)
        self._sizes: dict[tuple[str, str], int] = defaultdict(int)
        self._lowest: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)

    def consider(self, job: InferenceJob, position: int) -> None:
        serving = self.models.find(self.models.served_id(job.route.model))
        if serving is None:
            return
        asked = self.policy.thinking_for(job.item)
        try:
            below = not sent(asked, thinking_config(asked, serving), serving).at_default
        except ThinkingNotSupported:
            return
        if not below:
            return
        group = (job.item.task.value, job.route.model)
        self._sizes[group] += 1
        # Kept negated: the heap's top is the highest of the lowest hashes kept.
        entry = (-int(hashlib.sha256(job.item.id.encode()).hexdigest(), 16), position)
        lowest = self._lowest[group]
        if len(lowest) < self._keep:
            heapq.heappush(lowest, entry)
        elif entry > lowest[0]:
            heapq.heapreplace(lowest, entry)

    def chosen(self) -> list[int]:
        """The positions of the jobs to calibrate."""
        out = []
        for group, size in self._sizes.items():
            n = sample_size(size, self.settings)
            if n > size // 2:
                continue
            out += [position for _, position in sorted(self._lowest[group], reverse=True)[:n]]
        return sorted(out)


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
