"""Soak: 5,000 text items through the analyze flow against the emulator (its own process)
with 1% injected faults (0.5% 503s, 0.5% dropped connections) and a tight quota.

The quota bound: the emulator allows RPM calls per quota window, so n items need at least
(ceil(n / RPM) - 1) windows of waiting plus one call's latency. ``wall_vs_bound`` is the
flow's wall time over that bound (1.0 is perfect pacing); ``calls_per_item`` counts every
generate request the emulator saw (429s, 503s and drops included) per item; ``share_429``
is the share of those answered 429; ``peak_rss_mb`` is this process's peak (the flow runs
in it).

Run: python bench/soak.py [n_items]   (5,000 items: a few minutes on 2 cores)
"""

from __future__ import annotations

import json
import math
import resource
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fanout import start_emulator  # bench/ is the script's folder
from quiet_prefect import quiet_prefect

N_ITEMS, RPM, WINDOW_S, LATENCY_S = 5000, 1000, 10.0, 0.2
FAULTS = {"unavailable_share": 0.005, "drop_share": 0.005}


def emulator_stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=30) as answer:
        return json.loads(answer.read())


def configure(url: str, patch: dict) -> None:
    request = urllib.request.Request(f"{url}/_emulator/config", data=json.dumps(patch).encode(),
                                     method="POST", headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


def main(n: int) -> None:
    quiet_prefect()
    from flashfirst.flows.analyze import analyze_with

    from flashfirst.items import WorkItem
    from flashfirst.params import AnalyzeParams
    from flashfirst.settings import BackendSettings, Settings

    with tempfile.TemporaryDirectory(prefix="flashfirst-soak-") as tmp:
        work = Path(tmp)
        proc, url = start_emulator(RPM, LATENCY_S, work)
        try:
            # Every model gets the tight quota (routing may pick any of them).
            config = json.loads(urllib.request.urlopen(f"{url}/_emulator/config").read())
            models = [{**m, "rpm": RPM} for m in config["models"]]
            configure(url, {"faults": FAULTS, "quota_window_s": WINDOW_S, "models": models})
            settings = Settings(backend=BackendSettings(base_url=url, timeout_s=30),
                                storage_root=str(work / "store"))
            settings.inference.quota_window_s = WINDOW_S
            settings.inference.backoff_base_s, settings.inference.backoff_max_s = 0.2, 5.0
            for spec in settings.models.all:
                spec.rpm, spec.tpm, spec.concurrency = RPM, 10**9, 64
            manifest = work / "items.jsonl"
            manifest.write_text("".join(
                WorkItem(id=f"soak-{i}", text=f"Note {i}: the parcel arrived late and the "
                         "customer wants a refund.").model_dump_json(exclude_none=True) + "\n"
                for i in range(n)))
            started = time.perf_counter()
            report = analyze_with(AnalyzeParams(source=str(manifest),
                                                output=str(work / "out")), settings)
            wall = time.perf_counter() - started
            stats = emulator_stats(url)
        finally:
            proc.terminate()
            proc.wait()
    calls = sum(stats["calls"].get("generateContent", {}).values())
    bound = (math.ceil(n / RPM) - 1) * WINDOW_S + LATENCY_S
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{report.items_ok}/{n} items in {wall:.1f} s (quota bound {bound:.1f} s); "
          f"{calls} generate requests, {stats['rate_limited']} 429s, "
          f"{stats['unavailable']} 503s, {stats['dropped_connections']} dropped")
    print(f"completed={report.items_ok} failed={report.items_failed} "
          f"calls_per_item={calls / n:.3f} share_429={stats['rate_limited'] / max(calls, 1):.3f} "
          f"peak_rss_mb={rss_mb:.0f} wall_vs_bound={wall / bound:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else N_ITEMS)
