"""Quotas, service tiers, latency and injected faults, the control API, and running the
emulator as its own process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import httpx
import httpx2
import pytest
from fixtures.emulator import client_for
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
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"
    assert violation["quotaValue"] == "2"
    genai_client.models.generate_content(model="gemini-2.5-pro", contents="other model")
    emulator.control.advance_clock(60)
    assert genai_client.models.generate_content(model=FLASH, contents="q3").text
    assert emulator.stats.rate_limited == 1


def test_short_quota_window_frees_quickly_and_unknown_settings_are_refused(
        emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(quota_window_s=0.3, models={FLASH: {"rpm": 1}})
    genai_client.models.generate_content(model=FLASH, contents="w1")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=FLASH, contents="w2")
    assert float(_detail(info.value, "RetryInfo")["retryDelay"][:-1]) <= 0.3
    time.sleep(0.35)
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
    assert violation["quotaId"] == "GenerateContentPaidTierInputTokensPerModelPerMinute"
    assert genai_client.models.generate_content(model=FLASH, contents="v" * 80).text  # 20 fit


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
    started = time.monotonic()
    standard = genai_client.models.generate_content(model=FLASH, contents="a")
    standard_s = time.monotonic() - started
    started = time.monotonic()
    flex = genai_client.models.generate_content(model=FLASH, contents="a",
                                                config={"service_tier": "flex"})
    flex_s = time.monotonic() - started
    assert (_tier(standard), _tier(flex)) == ("standard", "flex")
    assert flex_s - standard_s > 0.25  # 30 s of queueing × 0.01
    emulator.control.configure(tiers={"flex_shed_share": 1.0})
    with pytest.raises(errors.ServerError) as info:
        genai_client.models.generate_content(model=FLASH, contents="b",
                                             config={"service_tier": "flex"})
    assert info.value.code == 503
    assert emulator.stats.generate_calls[FLASH] == {"standard": 1, "flex": 1}


async def test_flex_is_shed_while_the_model_is_busy(emulator: EmbeddedEmulator,
                                                     async_genai_client: AsyncClient):
    emulator.control.configure(latency_scale=0.01, tiers={  # each Flex call waits 1 s
        "flex_queue_delay_s": 100, "flex_shed_above_in_flight": 3})
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
    started = time.monotonic()
    genai_client.models.generate_content(model=FLASH, contents="timed")
    assert 0.3 <= time.monotonic() - started < 2
    emulator.control.configure(latency_scale=0.0,
                               faults={"slow_share": 1.0, "slow_delay_s": 0.3})
    started = time.monotonic()
    genai_client.models.generate_content(model=FLASH, contents="slow")
    assert time.monotonic() - started >= 0.3


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
