"""Quotas that end a model's day, the spend-based limit, and the answer log surviving a
killed worker: through the real SDK over HTTP to the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inputs.sources import text_or_document_parts
from flashfirst.items import ItemResult, TaskKind, WorkItem
from flashfirst.planning.jobs import plan_jobs
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage

PER_DAY = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path) -> Settings:
    return Settings(backend=BackendSettings(base_url=emulator.base_url),
                    storage_root=str(tmp_path / "store"),
                    # calibration_share=0: every billed call below is an item's own
                    inference=InferenceSettings(backoff_base_s=0.02, backoff_max_s=1.0,
                                                calibration_share=0))


def items(n: int, text: str = "Quarterly notes.", model: str | None = None) -> list[WorkItem]:
    return [WorkItem(id=f"note-{i}", text=f"{text} #{i}", model=model) for i in range(n)]


def run(settings: Settings, work: list[WorkItem], limiters: Limiters | None = None,
        calibrate: bool = False) -> list[ItemResult]:
    client, storage = make_client(settings), Storage()
    policy = load_routing_policy()
    sources = {i.id: text_or_document_parts(i, storage, client, settings) for i in work}
    jobs = plan_jobs(work, sources, {}, policy, settings, context_tokens=0, deadline_s=None,
                     batch=False)
    jobs = [j.model_copy(update={"calibrate": True}) for j in jobs] if calibrate else jobs
    engine = Engine(InferenceContext(
        client, settings, load_price_table(), policy,
        answers=AnswerStore(storage, settings.storage_root, backend_id(settings)),
        limiters=limiters or Limiters()))

    async def all_jobs() -> list[ItemResult]:
        return list(await asyncio.gather(*(engine.run(j) for j in jobs)))

    return asyncio.run(all_jobs())


def test_a_per_day_quota_429_stops_the_models_dispatch_with_a_clear_error(settings, emulator):
    # Google: a per-day quota resets at midnight Pacific; retrying before is pointless
    # (research file §1.10). One call at a time, so the first 429 is seen before the rest.
    emulator.control.add_script(status=429, quota_id=PER_DAY, retry_delay_s=30.0,
                                model="gemini-3.8-flash")
    settings.models.flash.concurrency = 1
    results = run(settings, items(8))
    assert emulator.stats.calls_to("generateContent") == 1  # no retry, no further sends
    first, *rest = results
    assert not first.ok and PER_DAY in first.error and "not retried" in first.error
    assert all(not r.ok and r.error.startswith("not dispatched: daily quota of "
                                                "gemini-3.8-flash used up") for r in rest)
    assert all(PER_DAY in r.error and "resets at" in r.error for r in rest)
    assert {r.failure.kind for r in results} == {"daily_quota"}  # not counted as budget stops


def test_a_day_ending_during_the_thinking_sample_keeps_the_answers_already_paid(
        settings, emulator):
    # Summaries are sent at low thinking on 3.8 Flash, the sample again at its default
    # (medium): the first sample call meets the per-day 429 and ends the model's day while
    # the second item's sample waits for its slot (one call at a time, in order).
    emulator.control.add_script(status=429, quota_id=PER_DAY, model="gemini-3.8-flash",
                                min_thinking="MEDIUM")
    settings.models.flash.concurrency = 1
    work = [WorkItem(id=f"note-{i}", task=TaskKind.SUMMARIZE, text=f"Quarterly notes. #{i}")
            for i in range(2)]
    results = run(settings, work, calibrate=True)
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    assert all(r.calibration is None for r in results)  # the sample is lost, not the answer
    assert emulator.stats.calls_to("generateContent") == 3
    assert len(run(settings, work)) == 2 and emulator.stats.calls_to("generateContent") == 3


def test_a_per_minute_429_is_still_retried(settings, emulator):
    emulator.control.add_script(status=429, retry_delay_s=0.05, times=2,
                                quota_id="GenerateRequestsPerMinutePerProjectPerModel")
    results = run(settings, items(1))
    assert results[0].ok and results[0].attempts[0].transient_retries == 2


def test_the_spend_limit_holds_calls_until_the_window_frees(settings, emulator):
    # The limit is set at 2.5 calls' worth of spend: after the first call's real price is
    # known, at most 2 calls fit in any window (3 x price > 2.5 x price), so 6 calls sent
    # one at a time need 3 windows. At "least" 2.5 Flash-Lite is sent a budget of 0 (no
    # thinking) and the answer is fixed, so every call costs the same.
    lite = "gemini-2.5-flash-lite"
    settings.models.flash_lite.concurrency = 1
    emulator.control.add_script(text="A fixed answer.")
    probe = run(settings, [i.model_copy(update={"thinking": "least"})
                           for i in items(1, model=lite)])
    price = probe[0].attempts[0].cost_usd
    assert price > 0
    window_s = 2.0
    settings.inference.spend_limit_usd_per_10min = 2.5 * price
    settings.inference.spend_window_s = window_s
    settings.storage_root += "-spend"
    results = run(settings, [i.model_copy(update={"thinking": "least"})
                             for i in items(6, model=lite)])
    assert all(r.ok for r in results)
    assert {r.attempts[0].cost_usd for r in results} == {price}  # same-size notes
    sent = sorted(e.time for e in emulator.stats.request_log
                  if e.endpoint == "generateContent" and e.status == 200)
    assert len(sent) == 7  # the probe's and the six
    sent = sent[1:]
    # no window of window_s holds a third call: call i+2 comes a full window after call i.
    # The limiter stamps a call when it grants it; the server logs it when it arrives, and on
    # a loaded machine that delay varies by more than 50 ms between calls (CI saw it), so
    # the check allows 250 ms. A limiter that let a third call in would send it about one
    # call's time (milliseconds) after the second, far inside that allowance.
    assert all(sent[i + 2] - sent[i] >= window_s - 0.25 for i in range(len(sent) - 2))


_CHILD = textwrap.dedent("""
    import asyncio, sys
    from flashfirst.client import backend_id, make_client
    from flashfirst.inference.answers import AnswerStore
    from flashfirst.inference.engine import Engine
    from flashfirst.inference.inference_context import InferenceContext
    from flashfirst.items import WorkItem
    from flashfirst.planning.jobs import plan_jobs
    from flashfirst.pricing.prices import load_price_table
    from flashfirst.planning.router import load_routing_policy
    from flashfirst.settings import BackendSettings, Settings
    from flashfirst.inputs.sources import text_or_document_parts
    from flashfirst.storage import Storage

    settings = Settings(backend=BackendSettings(base_url=sys.argv[1]), storage_root=sys.argv[2],
                        inference={"calibration_share": 0})
    settings.models.flash.concurrency = int(sys.argv[4])
    client, storage, policy = make_client(settings), Storage(), load_routing_policy()
    work = [WorkItem(id=f"note-{i}", text=f"Quarterly notes. #{i}")
            for i in range(int(sys.argv[3]))]
    sources = {i.id: text_or_document_parts(i, storage, client, settings) for i in work}
    jobs = plan_jobs(work, sources, {}, policy, settings, context_tokens=0, deadline_s=None,
                     batch=False)
    engine = Engine(InferenceContext(
        client, settings, load_price_table(), policy,
        answers=AnswerStore(storage, settings.storage_root, backend_id(settings))))

    async def main():
        await asyncio.gather(*(engine.run(j) for j in jobs))

    asyncio.run(main())
""")


def _log_lines(root: Path) -> int:
    logs = list(root.glob("answers/*/log/*.jsonl"))
    return sum(p.read_bytes().count(b"\n") for p in logs)


def test_a_worker_killed_mid_run_then_rerun_pays_for_nothing_twice(settings, emulator,
                                                                  tmp_path):
    # 120 ms an answer, 3 in flight: the kill lands mid-run with calls in the air.
    emulator.control.configure(latency_scale=1.0, models={"gemini-3.8-flash": {
        "time_to_first_token_s": 0.12, "seconds_per_output_token": 0.0}})
    n, in_flight, root = 40, 3, Path(settings.storage_root)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, emulator.base_url, str(root),
                              str(n), str(in_flight)], env={**os.environ})
    deadline = time.monotonic() + 60
    while _log_lines(root) < 10 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    stored = _log_lines(root)
    assert 10 <= stored < n, "the kill should land mid-run"
    paid_before = emulator.stats.calls_to("generateContent")

    emulator.control.configure(latency_scale=0.0)
    results = run(settings, items(n))
    assert all(r.ok for r in results)
    assert sum(r.reused for r in results) >= stored  # every stored answer is found
    # billed calls exceed the items by at most the calls in flight at the kill
    assert emulator.stats.calls_to("generateContent") <= n + in_flight
    assert emulator.stats.calls_to("generateContent") - paid_before == n - sum(
        r.reused for r in results)


def test_a_torn_last_line_is_skipped_and_the_rest_of_the_log_is_read(settings, emulator):
    first = run(settings, items(5))
    log = next(Path(settings.storage_root).glob("answers/*/log/*.jsonl"))
    with log.open("ab") as f:
        f.write(b'{"k":"' + b"ab" * 32 + b'","r":{"id":"note-9","ta')  # killed mid-write
    again = run(settings, items(5))
    assert [r.output for r in again] == [r.output for r in first]
    assert all(r.reused for r in again)
    assert emulator.stats.calls_to("generateContent") == 5


def test_answers_in_the_one_file_format_are_still_found(settings, emulator):
    first = run(settings, items(3))
    root = Path(settings.storage_root) / "answers" / backend_id(settings)
    store = AnswerStore(Storage(), settings.storage_root, backend_id(settings))
    for line in next((root / "log").glob("*.jsonl")).read_bytes().splitlines():
        key = line[6:70].decode()
        result = store.get(key)
        (root / key[:2]).mkdir(exist_ok=True)
        (root / key[:2] / f"{key}.json").write_text(result.model_dump_json())
    for log in (root / "log").glob("*.jsonl"):
        log.unlink()
    again = run(settings, items(3))
    assert all(r.reused for r in again) and [r.output for r in again] == [
        r.output for r in first]
    assert emulator.stats.calls_to("generateContent") == 3
