"""The confidence bound every autopilot decision rests on: the Wilson score interval,
one-sided at the policy's confidence. Chosen over Hoeffding because it stays inside
[0, 1] and is tight at pass rates near 1, where quality floors sit (with every answer
passing, n calls bound the rate from below at n / (n + z²))."""

from __future__ import annotations

import math
from statistics import NormalDist


def z_of(confidence: float) -> float:
    return NormalDist().inv_cdf(confidence)


def wilson(passes: int, n: int, confidence: float) -> tuple[float, float]:
    """(lower, upper) bounds of the pass rate; (0, 1) with no evidence."""
    if n <= 0:
        return 0.0, 1.0
    z = z_of(confidence)
    p = passes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def samples_to_show(floor: float, confidence: float, max_samples: int) -> int:
    """The fewest calls, all passing, whose lower bound reaches ``floor``: n / (n + z²) >=
    floor (``max_samples`` when no count can, as with a floor of 1)."""
    if floor >= 1:
        return max_samples
    z2 = z_of(confidence) ** 2
    return min(max_samples, max(1, math.ceil(floor * z2 / (1 - floor) - 1e-9)))
