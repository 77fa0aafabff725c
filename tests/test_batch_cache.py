"""Batch with an explicit cache: every request names the cache at request level (where
the API takes it, python-genai #1313), hits it, and the cache read is priced as the Batch
guide says: at the standard cached rate, while the rest of the call is halved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_caching import handbook, params

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.params import RunMode
from flashfirst.report import RunReport
from flashfirst.settings import Settings
from flows.analyze import analyze_with

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_batch_reads_the_runs_cache_and_pays_the_standard_cache_rate(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    output = tmp_path / "out"
    report: RunReport = analyze_with(params(handbook(tmp_path), mode=RunMode.BATCH,
                                       output=str(output)), run_settings)
    assert report.items_ok == 20 and emulator.stats.cache_creations == 1
    assert emulator.stats.batches_created == 1
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    for line in lines:
        [attempt] = line["attempts"]
        usage = attempt["usage"]
        assert attempt["cached_content"] and usage["cached_tokens"] > 0  # the cache was hit
        # 2.5 Flash (packaged table, https://ai.google.dev/gemini-api/docs/pricing, 2026-03
        # copy): input $0.30, cached $0.03, output and thinking $2.50 per 1M. Batch halves
        # input and output (docs/optimization) but a cache hit pays "the standard context
        # caching rates" (docs/batch-api, read 2026-12-01):
        uncached = usage["prompt_tokens"] - usage["cached_tokens"]
        out = usage["candidates_tokens"] + usage["thoughts_tokens"]
        expected = (uncached * 0.30 * 0.5 + usage["cached_tokens"] * 0.03
                    + out * 2.50 * 0.5) / 1e6
        assert attempt["cost_usd"] == pytest.approx(expected, rel=1e-9)
