"""What a run leaves for a person: media accounting per item in results.jsonl and as a
table artifact, and the cost chart shown in Prefect itself (not a file:// link)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def latest_artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> Any:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return max(found, key=lambda a: a.created)

    return asyncio.run(read())


@pytest.fixture
def finished_run(run_settings: Settings, emulator, clip_720p60: Path,
                 tmp_path: Path) -> Path:
    """A 4 s 720p60 clip with its audio, sampled at 0.5 fps at low resolution, and a note."""
    out = tmp_path / "out"
    items = [WorkItem(id="clip", uri=str(clip_720p60), media_policy=MediaPolicy(
                 fps=0.5, media_resolution=MediaResolution.LOW)),
             WorkItem(id="note", text="The parcel arrived two days late.")]
    analyze_with(AnalyzeParams(items=items, output=str(out)), run_settings)
    return out


def test_results_carry_each_media_items_bytes_tokens_and_policy(finished_run: Path,
                                                               clip_720p60: Path):
    lines = {r["id"]: r for r in map(json.loads,
                                     (finished_run / "results.jsonl").read_text().splitlines())}
    media = lines["clip"]["media"]
    # The clip is routed to the Flash tier's default, 3.8 Flash, a Gemini 3 model: video
    # sampled at 1 fps, 70 tokens a frame at default and at low resolution alike, audio 25
    # tokens a second (ai.google.dev/gemini-api/docs/media-resolution, Gemini 3 table):
    #   before: 4 s x 1 fps x 70 + 4 s x 25 = 280 + 100 = 380
    #   after:  4 s x 0.5 fps = 2 frames x 70 + 4 s x 25 = 140 + 100 = 240
    assert (media["tokens_before"], media["tokens_after"]) == (380, 240)
    assert media["bytes_before"] == clip_720p60.stat().st_size > media["bytes_after"] > 0
    assert media["policy"]["fps"] == 0.5 and media["policy"]["media_resolution"] == "low"
    assert media["policy"]["drop_audio"] is False  # every field decided, not only the set ones
    assert lines["note"]["media"] is None


def test_the_media_table_artifact_shows_the_same_per_item(finished_run: Path):
    rows = latest_artifact("flashfirst-media").data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert rows == [{"item": "clip", "bytes before": rows[0]["bytes before"],
                     "bytes after": rows[0]["bytes after"], "tokens before": 380,
                     "tokens after": 240, "policy": "0.5 fps, low resolution"}]


def test_the_cost_chart_is_inline_in_prefect_and_kept_beside_the_results(finished_run: Path):
    chart = latest_artifact("flashfirst-cost-chart")
    assert chart.type == "markdown" and "file://" not in chart.data
    encoded = re.search(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)",
                        chart.data).group(1)
    assert base64.b64decode(encoded).decode() == (finished_run / "report.svg").read_text()
