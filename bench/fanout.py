"""Fan-out inference against the emulator (its own process, so it does not share our GIL).

Prints, for 1,000 text items on a model with a 600 RPM quota and 300 ms latency:
- the achieved throughput as a share of what the quota allows (the quota bound: the
  first 600 requests at once, the rest when the 60 s window frees, plus one latency);
- the analyze flow's wall time vs. a plain asyncio script using the SDK with the same
  concurrency and the minimum a working script needs (retry honouring RetryInfo);
- orchestration overhead per item with zero latency and no quota (flow vs. script), in
  wall time and in CPU time of this process (the emulator's CPU is not counted);
- a high-rate model (Flash-Lite's 4,000 RPM, 300 ms): can one worker process send a
  minute's quota within the minute? 4,000 items, one window; the share is the rate
  achieved over 4,000/min (capped at 1), wall time from the flow's start;
- peak RSS of a flow run over 10,000 items (in a fresh process), and how it grows with
  the item count: the slope between 10,000 and 30,000 items, per 10,000 items.

Run: python bench/fanout.py   (about 10 minutes on 2 cores)
     python bench/fanout.py --only quota,high   (parts: overhead, quota, high, rss, transport)
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quiet_prefect import quiet_prefect  # bench/ is the script's folder

# 200 in flight: enough for the first window's burst to go out as fast as this process
# can send (at 64, 600 calls of 300 ms need 2.8 s however fast we are).
N_ITEMS, RPM, LATENCY_S, CONCURRENCY = 1000, 600, 0.3, 200
MODEL = "gemini-3.8-flash"  # the Flash tier's default model
HIGH_MODEL, HIGH_RPM, HIGH_ITEMS, HIGH_CONCURRENCY = "gemini-2.5-flash-lite", 4000, 4000, 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(rpm: int, latency_s: float, workdir: Path, model: str = MODEL
                   ) -> tuple[subprocess.Popen, str]:
    from flashfirst.emulator import EmulatorConfig

    config = EmulatorConfig(latency_scale=1.0 if latency_s else 0.0)
    models = []
    for m in config.models:
        models.append(m.model_copy(update={
            "rpm": rpm if m.id == model else m.rpm, "tpm": 10**9,
            "time_to_first_token_s": latency_s, "seconds_per_output_token": 0.0}))
    path = workdir / f"emulator-{rpm}-{latency_s}.json"
    path.write_text(config.model_copy(update={"models": models}).model_dump_json())
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flashfirst.emulator", "--port", str(port),
                             "--config", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # importing the emulator takes long on a busy machine
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the emulator did not start (exit {proc.poll()})")


def texts(n: int, tag: str) -> list[str]:
    return [f"Note {tag}-{i}: the parcel arrived late and the customer wants a refund."
            for i in range(n)]


def flow_wall(url: str, n: int, rpm: int, tag: str, workdir: Path, *, high: bool = False
              ) -> float:
    from flashfirst.flows.analyze import analyze_with

    from flashfirst.items import WorkItem
    from flashfirst.params import AnalyzeParams
    from flashfirst.settings import BackendSettings, Settings

    settings = Settings(backend=BackendSettings(base_url=url),
                        storage_root=str(workdir / f"store-{tag}"))
    # Emulated spend: 10,000 Flash items cost ~$10, Tier 1's spend limit per 10 minutes.
    settings.inference.quota_tier = "tier3"
    spec = settings.models.flash_lite if high else settings.models.flash
    spec.rpm, spec.tpm = rpm, 10**9
    spec.concurrency = HIGH_CONCURRENCY if high else CONCURRENCY
    # Big runs come as a manifest: flow-run parameters are capped at 512 KB by Prefect.
    manifest = workdir / f"items-{tag}.jsonl"
    model = HIGH_MODEL if high else None
    manifest.write_text("".join(WorkItem(id=f"{tag}-{i}", text=t, model=model)
                                .model_dump_json() + "\n" for i, t in enumerate(texts(n, tag))))
    params = AnalyzeParams(source=str(manifest), output=str(workdir / f"out-{tag}"))
    start = time.perf_counter()
    report = analyze_with(params, settings)
    wall = time.perf_counter() - start
    assert report.items_ok == n, report.failures
    return wall


async def _asyncio_script(url: str, n: int, tag: str, model: str = MODEL,
                          httpx: bool = False) -> int:
    """The plain way: the SDK, a semaphore, and a retry that honours RetryInfo. With
    ``httpx``, the SDK's httpx transport even where aiohttp is installed."""
    from google import genai
    from google.genai import errors, types

    client_args = {}
    if httpx:
        import httpx2  # the SDK's own httpx; a transport of ours makes it skip aiohttp

        client_args = {"transport": httpx2.AsyncHTTPTransport()}
    client = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=url, api_version="v1beta", async_client_args=client_args))
    gate = asyncio.Semaphore(CONCURRENCY)
    retries = 0

    async def one(text: str) -> None:
        nonlocal retries
        while True:
            async with gate:
                try:
                    await client.aio.models.generate_content(
                        model=model, contents=text + "\nSummarize the content above.")
                    return
                except errors.APIError as exc:
                    if exc.code not in (429, 503):
                        raise
                    delay = 1.0
                    for d in (exc.details or {}).get("error", {}).get("details", []):
                        m = re.match(r"([0-9.]+)s", str(d.get("retryDelay", "")))
                        if m:
                            delay = float(m.group(1))
                    retries += 1
            await asyncio.sleep(delay)

    await asyncio.gather(*(one(t) for t in texts(n, tag)))
    return retries


def asyncio_wall(url: str, n: int, tag: str, model: str = MODEL, httpx: bool = False
                 ) -> tuple[float, int]:
    start = time.perf_counter()
    retries = asyncio.run(_asyncio_script(url, n, tag, model, httpx))
    return time.perf_counter() - start, retries


def cpu_s() -> float:
    """CPU time of this process, every thread (the emulator runs in its own process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, *args, **kwargs) -> tuple[float, float]:  # noqa: ANN001
    """(wall, CPU) seconds of one call."""
    cpu0 = cpu_s()
    out = fn(*args, **kwargs)
    wall = out[0] if isinstance(out, tuple) else out
    return wall, cpu_s() - cpu0


def quota_bound_s(n: int, rpm: int, latency_s: float) -> float:
    return ((n - 1) // rpm) * 60.0 + latency_s


def peak_rss(n: int) -> float:
    """A fresh process: its own peak RSS in MB, flow and all, for ``n`` items."""
    out = subprocess.run([sys.executable, __file__, "--rss", str(n)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _rss_child(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, url = start_emulator(10**6, 0.0, workdir)
        try:
            flow_wall(url, n, 10**6, "rss", workdir)
        finally:
            proc.terminate()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


PARTS = ("overhead", "quota", "high", "rss", "transport")


def emulator_stats(url: str) -> dict:
    return json.loads(subprocess.run(["curl", "-s", f"{url}/_emulator/stats"],
                                     capture_output=True, text=True).stdout or "{}")


def emulator_429s(url: str) -> int:
    """The calls the emulator refused with 429 so far (its own count, not ours)."""
    return int(emulator_stats(url).get("rate_limited", 0))


def answered_span(url: str) -> tuple[float, float]:
    """The first and last answered generate call, on the emulator's clock (epoch s)."""
    times = [e["time"] for e in emulator_stats(url).get("request_log", [])
             if e["endpoint"] == "generateContent" and e["status"] == 200]
    return min(times), max(times)


def overhead_part(url: str, workdir: Path) -> dict[str, str]:
    """Per-item overhead is the slope between 1,000 and 2,000 items (the flow's fixed
    start-up cost is reported apart), flow minus plain script."""
    t_flow1, c_flow1 = timed(flow_wall, url, N_ITEMS, 10**6, "zero1", workdir)
    t_flow2, c_flow2 = timed(flow_wall, url, 2 * N_ITEMS, 10**6, "zero2", workdir)
    t_script1, c_script1 = timed(asyncio_wall, url, N_ITEMS, "zero1-script")
    t_script2, c_script2 = timed(asyncio_wall, url, 2 * N_ITEMS, "zero2-script")
    overhead_ms = ((t_flow2 - t_flow1) - (t_script2 - t_script1)) / N_ITEMS * 1000
    cpu_ms = ((c_flow2 - c_flow1) - (c_script2 - c_script1)) / N_ITEMS * 1000
    fixed_s = t_flow1 - N_ITEMS * (t_flow2 - t_flow1) / N_ITEMS
    print(f"zero latency: flow {t_flow1:.2f}s / {t_flow2:.2f}s for {N_ITEMS} / "
          f"{2 * N_ITEMS} items, asyncio {t_script1:.2f}s / {t_script2:.2f}s; "
          f"overhead {overhead_ms:.2f} ms/item beyond the script, fixed {fixed_s:.1f}s; "
          f"CPU flow {c_flow1:.2f}s / {c_flow2:.2f}s, asyncio {c_script1:.2f}s / "
          f"{c_script2:.2f}s: {cpu_ms:.2f} ms/item beyond the script")
    return {"overhead_ms_per_item": f"{overhead_ms:.2f}", "cpu_ms_per_item": f"{cpu_ms:.2f}"}


def quota_part(url: str, workdir: Path) -> dict[str, str]:
    started = time.time()
    t_flow = flow_wall(url, N_ITEMS, RPM, "quota", workdir)
    flow_429 = emulator_429s(url)
    # The limiter's share apart from the flow's fixed work before the first call and
    # after the last: the quota's windows over the span the calls were answered in.
    first, last = answered_span(url)
    windows_s = (N_ITEMS - 1) // RPM * 60.0
    t_script, script_retries = asyncio_wall(url, N_ITEMS, "quota-script")
    bound = quota_bound_s(N_ITEMS, RPM, LATENCY_S)
    print(f"{RPM} RPM, {LATENCY_S * 1000:.0f} ms, {N_ITEMS} items: quota bound "
          f"{bound:.1f}s, flow {t_flow:.1f}s ({flow_429} 429s; calls answered over "
          f"{last - first:.1f}s, the first {first - started:.1f}s after the flow's start, "
          f"the last {started + t_flow - last:.1f}s before its end), asyncio script "
          f"{t_script:.1f}s ({script_retries} retried 429s)")
    return {"quota_share": f"{bound / t_flow:.3f}", "vs_asyncio": f"{t_flow / t_script:.3f}",
            "quota_429s": str(flow_429),
            "calls_quota_share": f"{windows_s / (last - first):.3f}"}


def high_part(url: str, workdir: Path) -> dict[str, str]:
    t_high, c_high = timed(flow_wall, url, HIGH_ITEMS, HIGH_RPM, "high", workdir, high=True)
    high_share = min(1.0, HIGH_ITEMS / t_high * 60 / HIGH_RPM)
    high_429 = emulator_429s(url)
    # The same items from a plain script, against the same emulator: what the machine
    # allows right now (the emulator shares its cores).
    t_script, c_script = timed(asyncio_wall, url, HIGH_ITEMS, "high-script", HIGH_MODEL)
    print(f"{HIGH_RPM} RPM ({HIGH_MODEL}), {LATENCY_S * 1000:.0f} ms, {HIGH_ITEMS} "
          f"items, one process: flow {t_high:.1f}s = {HIGH_ITEMS / t_high * 60:.0f}/min, "
          f"{c_high:.1f}s CPU ({c_high / t_high:.2f} cores), {high_429} 429s; asyncio "
          f"script {t_script:.1f}s, {c_script:.1f}s CPU")
    return {"high_rpm_share": f"{high_share:.3f}", "high_vs_asyncio": f"{t_high / t_script:.3f}",
            "high_429s": str(high_429)}


def transport_part(url: str) -> dict[str, str]:
    """The SDK's transports on their own: CPU per call of the plain script, httpx vs
    aiohttp (what ``flashfirst[aiohttp]`` installs), zero latency, alternating twice."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("transport: aiohttp is not installed (pip install 'flashfirst[aiohttp]')")
        return {}
    cpu = {"httpx": 0.0, "aiohttp": 0.0}
    for round_ in range(2):
        for name in cpu:
            cpu[name] += timed(asyncio_wall, url, N_ITEMS, f"t{round_}{name}",
                               httpx=name == "httpx")[1]
    per_call = {k: v / (2 * N_ITEMS) * 1000 for k, v in cpu.items()}
    print(f"SDK transport, plain script, {N_ITEMS} calls twice: httpx "
          f"{per_call['httpx']:.2f} ms CPU/call, aiohttp {per_call['aiohttp']:.2f} ms CPU/call")
    return {"aiohttp_vs_httpx_cpu": f"{per_call['aiohttp'] / per_call['httpx']:.3f}"}


def rss_part() -> dict[str, str]:
    rss, rss_30k = peak_rss(10_000), peak_rss(30_000)
    rss_slope = (rss_30k - rss) / 2
    print(f"peak RSS in one flow run: {rss:.0f} MB for 10,000 items, {rss_30k:.0f} MB for "
          f"30,000 ({rss_slope:.1f} MB per 10,000 more)")
    return {"peak_rss_mb_10k": f"{rss:.0f}", "rss_mb_per_10k_items": f"{rss_slope:.1f}"}


def main(parts: tuple[str, ...] = PARTS) -> None:
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        servers: list[subprocess.Popen] = []
        try:
            fast, fast_url = start_emulator(10**6, 0.0, workdir)
            servers.append(fast)
            flow_wall(fast_url, 20, 10**6, "warmup", workdir)  # Prefect's server starts here
            if "overhead" in parts:
                figures |= overhead_part(fast_url, workdir)
            if "transport" in parts:
                figures |= transport_part(fast_url)
            if "quota" in parts:
                quota, quota_url = start_emulator(RPM, LATENCY_S, workdir)
                servers.append(quota)
                figures |= quota_part(quota_url, workdir)
            if "high" in parts:
                high, high_url = start_emulator(HIGH_RPM, LATENCY_S, workdir, HIGH_MODEL)
                servers.append(high)
                figures |= high_part(high_url, workdir)
        finally:
            for server in servers:
                server.terminate()
    if "rss" in parts:
        figures |= rss_part()
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


def chosen_parts(argv: list[str]) -> tuple[str, ...]:
    """``--only quota,high`` runs those parts; the default is every part."""
    if "--only" not in argv:
        return PARTS
    parts = tuple(argv[argv.index("--only") + 1].split(","))
    if unknown := set(parts) - set(PARTS):
        raise SystemExit(f"--only: unknown part(s) {', '.join(sorted(unknown))}; "
                         f"the parts are {', '.join(PARTS)}")
    return parts


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    quiet_prefect()  # the --rss children inherit the server's URL
    if "--rss" in sys.argv:
        _rss_child(int(sys.argv[sys.argv.index("--rss") + 1]))
    else:
        main(chosen_parts(sys.argv))
