"""Quotas, service tiers, latency and injected faults, the control API, and running the
emulator as its own process.

No assertion here reads a wall clock: quotas are driven by ``advance_clock`` and
latencies are read from the request log's ``delay_s`` (what the emulator chose to wait,
on its own terms), so a busy machine cannot flip a result. 429 bodies follow users'
captures of real ones (QuotaFailure ids with the paid-tier suffix, a RetryInfo delay to
the nanosecond: inspect_ai#5526, python-genai#2044, research file 1.10)."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import httpx2
import pytest
from fixtures.emulator import client_for, set_clock
from google import genai
from google.genai import errors
from google.genai.client import AsyncClient

from flashfirst.emulator import TIER_HEADER, EmbeddedEmulator, EmulatorConfig

FLASH = "gemini-2.5-flash-lite"  # stays served as itself (2.5 Flash retired 2026-12-01)


def _detail(error: errors.APIError, type_suffix: str) -> dict[str, object]:
    return next(d for d in error.details["error"]["details"] if d["@type"].endswith(type_suffix))


def _tier(response: object) -> str:
    return response.sdk_http_response.headers[TIER_HEADER]  # type: ignore[attr-defined]


def test_rpm_quota_answers_429_with_retry_delay_until_the_window_frees(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(models={FLASH: {"rpm": 2}})
    for i in range(2):
        genai_client.models.generate_content(model=FLASH, contents=f"q{i}")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="q2")
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")
    delay = _detail(info.value, "RetryInfo")["retryDelay"]
    assert isinstance(delay, str) and delay.endswith("s") and 55 < float(delay[:-1]) <= 60
    violation = _detail(info.value, "QuotaFailure")["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-PaidTier"
    assert violation["quotaValue"] == "2"
    assert f"Please retry in {delay}." in info.value.message
    genai_client.models.generate_content(model="gemini-2.5-pro", contents="other model")
    emulator.control.advance_clock(60)
    assert genai_client.models.generate_content(model=FLASH, contents="q3").text
    assert emulator.stats.rate_limited == 1


def test_quota_window_is_configurable_and_unknown_settings_are_refused(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(quota_window_s=30, models={FLASH: {"rpm": 1}})
    genai_client.models.generate_content(model=FLASH, contents="w1")
    emulator.control.advance_clock(0.25)
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="w2")
    delay = _detail(info.value, "RetryInfo")["retryDelay"]
    assert re.fullmatch(r"\d+\.\d{1,9}s", delay)  # fractional, as Google's: "45.837906927s"
    assert 25 < float(delay[:-1]) <= 29.75  # 30 s window, 0.25 s of it already gone
    emulator.control.advance_clock(29.75)
    assert genai_client.models.generate_content(model=FLASH, contents="w3").text
    with pytest.raises(ValueError):
        emulator.control.configure(quota_window=1.0)  # a typo must not pass silently


def test_input_token_quota_counts_prompt_tokens(emulator: EmbeddedEmulator,
                                                genai_client: genai.Client):
    emulator.control.configure(models={FLASH: {"tpm": 100}})
    genai_client.models.generate_content(model=FLASH, contents="t" * 320)  # 80 tokens
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="u" * 320)
    violation = _detail(info.value, "QuotaFailure")["violations"][0]
    # A live paid-tier capture names it so (id 27199504148); CONTRACT-11's
    # "GenerateContentInputTokensPerModelPerMinute-..." is the free tier's spelling.
    assert violation["quotaId"] == "GenerateContentPaidTierInputTokensPerModelPerMinute"
    assert violation["quotaValue"] == "100"
    assert genai_client.models.generate_content(model=FLASH, contents="v" * 80).text  # 20 fit


def test_requests_per_day_end_at_midnight_pacific(emulator: EmbeddedEmulator,
                                                  genai_client: genai.Client):
    # 20:00 UTC on 2026-12-01 is 12:00 PST (UTC-8): the quota day has 12 h = 43,200 s left.
    set_clock(emulator, datetime(2026, 12, 1, 20, tzinfo=UTC))
    emulator.control.configure(models={FLASH: {"rpd": 2}})
    for i in range(2):
        genai_client.models.generate_content(model=FLASH, contents=f"d{i}")
    emulator.control.advance_clock(11 * 3600)  # the minute window is long gone, the day not
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="d2")
    assert info.value.code == 429
    violation = _detail(info.value, "QuotaFailure")["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-PaidTier"
    assert violation["quotaValue"] == "2"
    delay = float(_detail(info.value, "RetryInfo")["retryDelay"][:-1])
    assert 3590 < delay <= 3600  # 43,200 - 39,600 s, less the moments the calls took
    emulator.control.advance_clock(3600)
    assert genai_client.models.generate_content(model=FLASH, contents="d3").text


def test_default_requests_per_day_never_fire(emulator: EmbeddedEmulator):
    assert min(m.rpd for m in emulator.control.config.models) >= 1_000_000


def test_injected_503s_follow_the_seed(genai_client: genai.Client, emulator: EmbeddedEmulator):
    emulator.control.configure(faults={"unavailable_share": 1.0})
    with pytest.raises(errors.ServerError) as info:
        genai_client.models.generate_content(model=FLASH, contents="hi")
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")

    def failures(config: EmulatorConfig) -> list[int]:
        with EmbeddedEmulator(config) as emu:
            client = client_for(emu.base_url)
            failed = []
            for i in range(20):
                try:
                    client.models.generate_content(model=FLASH, contents=f"prompt {i}")
                except errors.ServerError:
                    failed.append(i)
            return failed

    half = EmulatorConfig(faults={"unavailable_share": 0.5})
    first, second = failures(half), failures(half)
    assert first == second and 3 < len(first) < 17


def test_dropped_connection_gets_no_answer(emulator: EmbeddedEmulator,
                                           genai_client: genai.Client):
    emulator.control.configure(faults={"drop_share": 1.0})
    with pytest.raises(httpx2.TransportError):
        genai_client.models.generate_content(model=FLASH, contents="hi")
    emulator.control.configure(faults={"drop_share": 0.0})
    assert genai_client.models.generate_content(model=FLASH, contents="hi again").text
    assert emulator.stats.dropped_connections == 1


def test_flex_is_served_slower_and_can_be_shed(emulator: EmbeddedEmulator,
                                               genai_client: genai.Client):
    emulator.control.configure(latency_scale=0.01, tiers={"flex_queue_delay_s": 30})
    standard = genai_client.models.generate_content(model=FLASH, contents="a")
    flex = genai_client.models.generate_content(model=FLASH, contents="a",
                                                config={"service_tier": "flex"})
    assert (_tier(standard), _tier(flex)) == ("standard", "flex")
    standard_log, flex_log = emulator.stats.request_log
    assert flex_log.delay_s - standard_log.delay_s == pytest.approx(0.3)  # 30 s × 0.01
    assert flex_log.time >= standard_log.time
    emulator.control.configure(tiers={"flex_shed_share": 1.0})
    with pytest.raises(errors.ServerError) as info:
        genai_client.models.generate_content(model=FLASH, contents="b",
                                             config={"service_tier": "flex"})
    assert info.value.code == 503
    assert emulator.stats.generate_calls[FLASH] == {"standard": 1, "flex": 1}


async def test_flex_is_shed_while_the_model_is_busy(emulator: EmbeddedEmulator,
                                                     async_genai_client: AsyncClient):
    emulator.control.configure(latency_scale=0.01, tiers={  # each Flex call waits 3 s, so
        "flex_queue_delay_s": 300, "flex_shed_above_in_flight": 3})  # all 8 overlap
    results = await asyncio.gather(*(async_genai_client.models.generate_content(
        model=FLASH, contents=f"f{i}", config={"service_tier": "flex"}) for i in range(8)),
        return_exceptions=True)
    shed = [r for r in results if isinstance(r, errors.ServerError)]
    assert len(shed) == 4 and all(e.code == 503 for e in shed)
    assert all(_tier(r) == "flex" for r in results if not isinstance(r, Exception))


def test_priority_above_its_limit_is_served_standard_never_refused(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(tiers={"priority_rpm_limit": 2})
    served = [_tier(genai_client.models.generate_content(
        model=FLASH, contents=f"p{i}", config={"service_tier": "priority"})) for i in range(3)]
    assert served == ["priority", "priority", "standard"]
    stats = emulator.stats
    assert stats.priority_downgrades == 1
    assert [(e.tier_requested, e.tier_served) for e in stats.request_log] == [
        ("priority", "priority"), ("priority", "priority"), ("priority", "standard")]


def test_latency_scale_and_slow_faults_delay_answers(emulator: EmbeddedEmulator,
                                                     genai_client: genai.Client):
    emulator.control.configure(latency_scale=1.0, models={FLASH: {
        "time_to_first_token_s": 0.3, "seconds_per_output_token": 0.0}})
    genai_client.models.generate_content(model=FLASH, contents="timed")
    emulator.control.configure(latency_scale=0.0,
                               faults={"slow_share": 1.0, "slow_delay_s": 0.3})
    genai_client.models.generate_content(model=FLASH, contents="slow")
    emulator.control.configure(faults={"slow_share": 0.0})
    genai_client.models.generate_content(model=FLASH, contents="at once")
    assert [e.delay_s for e in emulator.stats.request_log] == pytest.approx([0.3, 0.3, 0.0])


async def test_many_concurrent_async_calls_are_all_answered_and_counted(
        emulator: EmbeddedEmulator, async_genai_client: AsyncClient):
    emulator.control.configure(latency_scale=0.01)
    answers = await asyncio.gather(*(async_genai_client.models.generate_content(
        model=FLASH, contents=f"item {i}") for i in range(40)))
    assert len({a.text for a in answers}) > 1
    stats = emulator.stats
    assert stats.generate_calls[FLASH]["standard"] == 40
    assert stats.usage[FLASH].calls == 40
    assert stats.usage[FLASH].prompt_tokens == sum(a.usage_metadata.prompt_token_count
                                                   for a in answers)


def test_http_control_endpoints_drive_the_emulator(emulator: EmbeddedEmulator,
                                                   genai_client: genai.Client):
    base = emulator.base_url
    assert httpx.post(f"{base}/_emulator/config",
                      json={"models": {FLASH: {"rpm": 1}}}).status_code == 200
    assert httpx.post(f"{base}/_emulator/scripts",
                      json={"contains": "SCRIPTED", "text": "fixed"}).status_code == 200
    assert genai_client.models.generate_content(model=FLASH, contents="SCRIPTED").text == "fixed"
    with pytest.raises(errors.ClientError):
        genai_client.models.generate_content(model=FLASH, contents="again")
    stats = httpx.get(f"{base}/_emulator/stats").json()
    assert stats["rate_limited"] == 1 and stats["calls"]["generateContent"][FLASH] == 2
    assert httpx.post(f"{base}/_emulator/clock", json={"advance_s": 61}).status_code == 200
    assert genai_client.models.generate_content(model=FLASH, contents="later").text
    assert httpx.post(f"{base}/_emulator/reset").status_code == 200
    assert httpx.get(f"{base}/_emulator/stats").json()["calls"] == {}
    assert httpx.get(f"{base}/_emulator/config").json()["scripts"] == []


def test_standalone_process_serves_the_sdk():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flashfirst.emulator", "--port", str(port), "--seed", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client = client_for(base)
        assert client.models.generate_content(model=FLASH, contents="from afar").text
        assert httpx.get(f"{base}/_emulator/config").json()["seed"] == 3
    finally:
        process.terminate()
        process.wait(timeout=10)
