"""The autopilot end to end (issue 23): the analyze flow with --autopilot against an
emulator whose quality table is known, through the real SDK and a Prefect server. It
explores cheap candidates first within the exploration share, settles each task on the
cheapest (model, thinking) whose true pass rate meets the floor, keeps the evidence so
the next run exploits it, and the report says what it chose and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.report import RunReport
from flashfirst.settings import Settings

# Truth: 2.5 Flash-Lite mostly wrong, 3.8 Flash right at its least thinking (level low)
# 97% of the time, Pro always. The cheapest candidate meeting 0.9 is 3.8 Flash at least.
QUALITY = [{"match": r"^Label ticket", "correct": "POSITIVE", "wrong": "NEGATIVE",
            "pass_rate": {"gemini-2.5-flash-lite": {"0": 0.4, "default": 0.4},
                          "gemini-3.8-flash": {"low": 0.97, "default": 0.99, "high": 1.0},
                          "gemini-3.1-pro-preview": {"low": 1.0, "default": 1.0}},
            "default": 0.3}]


def tickets(start: int, n: int) -> list[WorkItem]:
    return [WorkItem(id=f"t{i:03d}", task=TaskKind.CLASSIFY, check="regex:^POSITIVE$",
                     text=f"Label ticket {i}: the parcel arrived on time.",
                     prompt="Answer POSITIVE or NEGATIVE.") for i in range(start, start + n)]


def _results(report: RunReport) -> list[dict]:
    path = Path(report.output_uri) / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.usefixtures("prefect_api")
def test_two_runs_settle_on_the_cheapest_candidate_meeting_the_floor(
        run_settings: Settings, emulator: EmbeddedEmulator) -> None:
    emulator.control.configure(quality=QUALITY)
    first: RunReport = analyze_with(AnalyzeParams(items=tickets(0, 60), autopilot=True,
                                                  quality_floor=0.9), run_settings)
    second: RunReport = analyze_with(AnalyzeParams(items=tickets(100, 60), autopilot=True,
                                                   quality_floor=0.9), run_settings)
    a1, a2 = first.autopilot, second.autopilot
    assert a1 is not None and a2 is not None
    assert a2.tasks[0].choice == "gemini-3.8-flash@least"
    assert a2.exploration_usd <= a1.exploration_usd
    for a in (a1, a2):
        assert a.exploration_share <= a.max_exploration_share
    from collections import Counter
    for r in (first, second):
        print(Counter(x["route"]["reason"].split(";")[0] for x in _results(r)))
