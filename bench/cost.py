"""The demo workload's cost: naive baseline, actual, and the lower bound.

Runs the analyze flow on the demo workload (`flashfirst demo`'s items: video, audio, an
image and questions sharing one large document) against the embedded emulator, in a
fresh storage root so nothing is reused, and prints the waterfall; the pre-run estimate
of the same workload (made first, no paid calls) is compared with what the run cost.

Run: python bench/cost.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # telemetry locks SQLite
    from flashfirst.demo import demo_params
    from flashfirst.settings import Settings
    from flows.analyze import analyze_with

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(storage_root=tmp, backend={"kind": "emulator"})  # as the demo
        params = demo_params(tmp)
        estimate = analyze_with(params.model_copy(update={"estimate_only": True}), settings)
        report = analyze_with(params, settings)
    c = report.costs
    print(f"{report.items_ok}/{report.items_total} items, {report.generate_calls} calls")
    print(f"naive (all Pro, uncached, original media, standard): ${c.naive_usd:.6f}")
    for lever in c.levers:
        print(f"  - {lever.name:<13} ${lever.saving_usd:>10.6f}  {lever.explanation}")
    print(f"actual:                                              ${c.actual_usd:.6f}")
    print(f"lower bound (cheapest model, batch, no thinking):    ${c.lower_bound_usd:.6f}")
    print(f"actual_usd={c.actual_usd:.6f} naive_usd={c.naive_usd:.6f} "
          f"lower_bound_usd={c.lower_bound_usd:.6f} "
          f"vs_lower_bound={c.actual_usd / c.lower_bound_usd:.2f} "
          f"estimate_vs_actual={estimate.usd / c.actual_usd:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
