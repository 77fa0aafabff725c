"""Batch with an explicit cache: every request names the cache at request level (where
the API takes it, python-genai #1313), hits it, and the cache read is priced as the Batch
guide says: at the standard cached rate, while the rest of the call is halved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from test_caching import handbook, params

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.params import RunMode
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

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
        # 3.8 Flash, the Flash tier's default (packaged table from
        # https://ai.google.dev/gemini-api/docs/pricing, copies of 2026-09/10): input $0.75,
        # cached $0.075, output and thinking $3.75 per 1M through 2026-12-31, twice that
        # from 2027-01-01. Batch halves input and output (docs/optimization) but a cache hit
        # pays "the standard context caching rates" (docs/batch-api, read 2026-12-01):
        assert attempt["served_model"] == "gemini-3.8-flash"
        step = 2 if attempt["called_at"][:10] >= "2027-01-01" else 1
        uncached = usage["prompt_tokens"] - usage["cached_tokens"]
        out = usage["candidates_tokens"] + usage["thoughts_tokens"]
        expected = step * (uncached * 0.75 * 0.5 + usage["cached_tokens"] * 0.075
                           + out * 3.75 * 0.5) / 1e6
        assert attempt["cost_usd"] == pytest.approx(expected, rel=1e-9)
