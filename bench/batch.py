"""Batch vs Flex vs Standard for 2,000 text items on 3.8 Flash (today's flash tier), against
the emulator.

Prints, per tier, the cost (priced from the usage the emulator reports, packaged price
table) and the wall time on the emulator's clock, and for Batch the worker time held:
- waiting in the run (``wait=True``): the worker is held for the whole job;
- ``collect_later``: the run submits and ends, then a collector looks every 10 min
  (emulator clock) and finishes the run once the job is done; only those looks hold a
  worker, and every look re-attaches to the one job.

The online tiers run with the emulator's latencies and Flash's 1,000 RPM quota window
both scaled by 0.1 (so a minute of quota is 6 s here) and their wall times are scaled
back; the batch job moves on the emulator clock (PENDING 5 min, RUNNING 10 min + 0.5 s a
request), which the bench advances instead of sleeping.

Online wall times include this process's own overhead, scaled back by 10 like the rest.

``collect_latency_s`` (job end → results written, on the emulator clock) for a parked run
of 50 items collected two ways: on the job's webhook delivery (the emulator delivers to a
receiver here, which starts the collect at once; the clock is stepped 1 s at a time near
the end, so up to ~1 s is the bench's own step) and by the poll every 10 min.

The same batch then runs on the Agent Platform backend (the emulator's platform surface,
requests and answers through a fake-gcs-server bucket): at a regional location
(us-central1, waiting in the run) and at ``global`` (collect_later), so the last line
carries ``platform_…`` figures beside the Developer API's.

Run: python bench/batch.py   (about 3-4 minutes on 2 cores)
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tempfile
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flashfirst.client import make_client  # noqa: E402
from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig  # noqa: E402
from flashfirst.inference.batch import BatchRunner, BatchWaiting  # noqa: E402
from flashfirst.inference.batch_ledger import BatchLedger  # noqa: E402
from flashfirst.inference.engine import Engine  # noqa: E402
from flashfirst.inference.inference_context import InferenceContext  # noqa: E402
from flashfirst.inference.job import InferenceJob  # noqa: E402
from flashfirst.inference.ratelimit import Limiters  # noqa: E402
from flashfirst.items import Route, ServiceTier, WorkItem  # noqa: E402
from flashfirst.planning.router import RoutingPolicy  # noqa: E402
from flashfirst.pricing.locations import for_location  # noqa: E402
from flashfirst.pricing.prices import load_price_table  # noqa: E402
from flashfirst.settings import (  # noqa: E402
    BackendSettings,
    InferenceSettings,
    ModelTier,
    Settings,
)
from flashfirst.storage import Storage  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures.gcs import running_fake_gcs  # noqa: E402

N_ITEMS, MODEL, SCALE = 2000, "gemini-3.8-flash", 0.1
COLLECT_EVERY_S = 600.0
BATCH_TIMING = {"pending_s": 300, "running_s": 600, "running_s_per_request": 0.5}


def jobs(tier: ServiceTier, n: int = N_ITEMS) -> list[InferenceJob]:
    route = Route(model=MODEL, tier=ModelTier.FLASH, service_tier=tier, reason="bench")
    out = []
    for i in range(n):
        text = f"Note {i}: the parcel was late and the box was damaged."
        out.append(InferenceJob(item=WorkItem(id=f"n{i}", text=text), route=route,
                                identity=hashlib.sha256(text.encode()).hexdigest(),
                                est_prompt_tokens=30))
    return out


def online(settings: Settings, tier: ServiceTier) -> tuple[Decimal, float]:
    engine = Engine(InferenceContext(make_client(settings), settings, load_price_table(),
                                     RoutingPolicy(), limiters=Limiters()))

    async def all_items() -> list:
        return await asyncio.gather(*(engine.run(j) for j in jobs(tier)))

    started = time.monotonic()
    results = asyncio.run(all_items())
    wall = (time.monotonic() - started) / SCALE
    failed = [r for r in results if not r.ok]
    assert not failed, failed[0].error
    return sum((Decimal(str(r.cost_usd)) for r in results), Decimal(0)), wall


def batch(settings: Settings, emulator: EmbeddedEmulator, state_root: str, *,
          wait: bool) -> tuple[Decimal, float, float]:
    """Cost, wall time on the emulator clock, worker seconds held."""
    control = emulator.control
    began = control.now()
    held = 0.0
    while True:
        runner = BatchRunner(  # the online side's policy: the same requests
            InferenceContext(make_client(settings), settings, load_price_table(),
                             RoutingPolicy()), BatchLedger(Storage(), state_root),
            waiting=BatchWaiting(poll_s=60, sleep=control.advance_clock, wait=wait))
        t0, c0 = time.monotonic(), control.now()
        outcome = runner.run(jobs(ServiceTier.BATCH))
        # Waiting in the run holds the worker for the emulator time it waited, too.
        held += time.monotonic() - t0 + (control.now() - c0 if wait else 0.0)
        if not outcome.parked:
            break
        control.advance_clock(COLLECT_EVERY_S)  # the collector's next scheduled look
    failed = [r for r in outcome.results if not r.ok]
    assert not failed and not outcome.failures, (failed[:1], outcome.failures)
    cost = sum((Decimal(str(r.cost_usd)) for r in outcome.results), Decimal(0))
    return cost, control.now() - began, held


LATENCY_ITEMS = 50


def collect_latency(settings: Settings, emulator: EmbeddedEmulator, state_root: str, *,
                    webhook: bool) -> float:
    """Seconds from the job's end to its results written, collected on the webhook
    delivery or by the poll every ``COLLECT_EVERY_S`` (both on the emulator clock)."""
    control, client = emulator.control, make_client(settings)
    delivered = threading.Event()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            delivered.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = client.webhooks.create(uri=f"http://127.0.0.1:{server.server_address[1]}/hook",
                                  subscribed_events=["batch.succeeded"]) if webhook else None

    def look() -> list[str]:
        runner = BatchRunner(
            InferenceContext(client, settings, load_price_table(), RoutingPolicy()),
            BatchLedger(Storage(), state_root), waiting=BatchWaiting(wait=False))
        outcome = runner.run(jobs(ServiceTier.BATCH, LATENCY_ITEMS))
        if not outcome.parked:
            assert all(r.ok for r in outcome.results)
            Path(state_root, "results.jsonl").write_text("".join(
                r.model_dump_json() + "\n" for r in outcome.results))
        return outcome.parked

    try:
        [name] = look()  # submits and parks
        job = client.batches.get(name=name)
        if webhook:
            expected = (BATCH_TIMING["pending_s"] + BATCH_TIMING["running_s"]
                        + BATCH_TIMING["running_s_per_request"] * LATENCY_ITEMS)
            control.advance_clock(job.create_time.timestamp() + expected - 5 - control.now())
            while not delivered.wait(0.2):
                control.advance_clock(1)
            look()  # the event's collect
        else:
            while look():
                control.advance_clock(COLLECT_EVERY_S)  # the poll's next scheduled look
        written = control.now()
        ended = client.batches.get(name=name).end_time
        return written - ended.timestamp()
    finally:
        if hook is not None:
            client.webhooks.delete(hook.id)
        server.shutdown()
        server.server_close()


def platform_batch(settings: Settings, emulator: EmbeddedEmulator, state_root: str, *,
                   wait: bool) -> tuple[Decimal, float, float]:
    """As ``batch``, on the Agent Platform backend, priced at its endpoint's location."""
    control = emulator.control
    began, held = control.now(), 0.0
    prices = for_location(load_price_table(), settings.backend.vertex_location)
    while True:
        runner = BatchRunner(
            InferenceContext(make_client(settings), settings, prices, RoutingPolicy()),
            BatchLedger(Storage(), state_root),
            waiting=BatchWaiting(poll_s=60, sleep=control.advance_clock, wait=wait))
        t0, c0 = time.monotonic(), control.now()
        outcome = runner.run(jobs(ServiceTier.BATCH))
        held += time.monotonic() - t0 + (control.now() - c0 if wait else 0.0)
        if not outcome.parked:
            break
        control.advance_clock(COLLECT_EVERY_S)
    failed = [r for r in outcome.results if not r.ok]
    assert not failed and not outcome.failures, (failed[:1], outcome.failures)
    cost = sum((Decimal(str(r.cost_usd)) for r in outcome.results), Decimal(0))
    return cost, control.now() - began, held


def platform_figures(emulator: EmbeddedEmulator, tmp: str) -> dict[str, float]:
    """The batch on the Agent Platform backend through a Cloud Storage bucket (a
    fake-gcs-server): regional and waiting, then global and collected later."""
    import os
    import uuid

    from google.cloud import storage

    with running_fake_gcs(Path(tmp) / "fake-gcs.log") as gcs:
        os.environ["STORAGE_EMULATOR_HOST"] = gcs.url
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        storage.Client(project="bench").create_bucket(bucket)
        figures: dict[str, float] = {}
        for location, wait in (("us-central1", True), ("global", False)):
            settings = Settings(
                backend=BackendSettings(kind="vertex", vertex_project="bench",
                                        vertex_location=location, base_url=emulator.base_url),
                storage_root=f"gs://{bucket}/{location}",
                inference=InferenceSettings(backoff_base_s=0.05))
            before = emulator.stats.batches_created
            usd, clock_s, held = platform_batch(settings, emulator,
                                                f"{tmp}/platform-{location}", wait=wait)
            figures[location] = float(usd)
            figures[f"{location}_s"], figures[f"{location}_held_s"] = clock_s, held
            figures[f"{location}_jobs"] = emulator.stats.batches_created - before
        figures["bucket_bytes"] = sum(b.size or 0 for b in storage.Client(
            project="bench").list_blobs(bucket, prefix="us-central1/batch-io/"))
        del os.environ["STORAGE_EMULATOR_HOST"]
    return figures


def main() -> None:
    config = EmulatorConfig(latency_scale=SCALE, quota_window_s=60 * SCALE)
    with EmbeddedEmulator(config) as emulator, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            backend=BackendSettings(base_url=emulator.base_url), storage_root=tmp,
            inference=InferenceSettings(quota_window_s=60 * SCALE, backoff_base_s=0.05))
        settings.models.flash.concurrency = 256
        standard_usd, standard_s = online(settings, ServiceTier.STANDARD)
        flex_usd, flex_s = online(settings, ServiceTier.FLEX)
        emulator.control.configure(batch=BATCH_TIMING)
        batch_usd, batch_s, held_waiting = batch(settings, emulator, tmp + "/a", wait=True)
        before = emulator.stats.batches_created
        _, _, held_collect = batch(settings, emulator, tmp + "/b", wait=False)
        jobs_created = emulator.stats.batches_created - before  # the collect_later run's
        latency_webhook = collect_latency(settings, emulator, tmp + "/w", webhook=True)
        latency_poll = collect_latency(settings, emulator, tmp + "/p", webhook=False)
        platform = platform_figures(emulator, tmp)
    print(f"{N_ITEMS} items on {MODEL} (machine shared with other work; times on the "
          "emulator clock)")
    print(f"standard: ${standard_usd:.4f}, {standard_s:,.0f} s (1,000 RPM bound)")
    print(f"flex:     ${flex_usd:.4f}, {flex_s:,.0f} s ({flex_usd / standard_usd:.2f}× "
          "Standard's cost)")
    print(f"batch:    ${batch_usd:.4f}, {batch_s:,.0f} s ({batch_usd / standard_usd:.2f}× "
          "Standard's cost)")
    print(f"worker held: {held_waiting:,.0f} s waiting in the run vs {held_collect:.1f} s with "
          f"collect_later ({held_collect / held_waiting:.4f}×); the collect_later run created "
          f"{jobs_created} job(s) over all its collector looks")
    print(f"job end → results written ({LATENCY_ITEMS} items): {latency_webhook:.1f} s on the "
          f"webhook vs {latency_poll:,.1f} s by the poll every {COLLECT_EVERY_S:.0f} s "
          f"({latency_webhook / latency_poll:.4f}×)")
    print(f"platform batch (Cloud Storage): us-central1 ${platform['us-central1']:.4f} "
          f"({platform['us-central1'] / float(batch_usd):.2f}× the Developer API's batch), "
          f"{platform['us-central1_s']:,.0f} s, {platform['us-central1_jobs']:.0f} job(s), "
          f"{platform['bucket_bytes'] / 1e6:.2f} MB of requests and answers in the bucket; "
          f"global ${platform['global']:.4f} ({platform['global'] / float(batch_usd):.2f}×), "
          f"collect_later held {platform['global_held_s']:.1f} s, "
          f"{platform['global_jobs']:.0f} job(s)")
    print(f"batch_usd={batch_usd:.4f} flex_usd={flex_usd:.4f} standard_usd={standard_usd:.4f} "
          f"worker_s_held={held_collect:.1f} jobs_created={jobs_created} "
          f"collect_latency_s_webhook={latency_webhook:.1f} "
          f"collect_latency_s_poll={latency_poll:.1f} "
          f"platform_batch_usd={platform['us-central1']:.4f} "
          f"platform_global_batch_usd={platform['global']:.4f} "
          f"platform_batch_s={platform['us-central1_s']:.0f} "
          f"platform_worker_s_held={platform['global_held_s']:.1f} "
          f"platform_jobs_created={platform['global_jobs']:.0f}")


if __name__ == "__main__":
    main()
