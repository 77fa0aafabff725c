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
from flashfirst.reporting.render import to_markdown
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

# Truth: 2.5 Flash-Lite mostly wrong, 3.8 Flash right at its least thinking (level low)
# 97% of the time, Pro always, every other model of the catalogue 30%. The cheapest
# candidate meeting 0.9 is 3.8 Flash at least.
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
    # The first run measured the cheapest candidates of the catalogue first, at most
    # autopilot.max_explored (4) of them, and ruled each out (the Flash-Lites).
    cands = {c.candidate: c for c in a1.tasks[0].candidates}
    for cheap in ("gemini-2.5-flash-lite@least", "gemini-2.5-flash-lite@high",
                  "gemini-3.1-flash-lite@least", "gemini-3.5-flash-lite@least"):
        assert cands[cheap].status == "below floor", cands[cheap]
    assert cands["gemini-3.8-flash@least"].n == 0  # left for the next run
    # The second run starts from that evidence: less exploring, settled on 3.8 Flash at
    # its least thinking, the cheapest candidate whose true pass rate meets 0.9.
    line = a2.tasks[0]
    assert line.choice == "gemini-3.8-flash@least" and line.floor_met
    again = {c.candidate: c for c in line.candidates}
    for ruled_out in ("gemini-2.5-flash-lite@least", "gemini-3.1-flash-lite@least"):
        assert again[ruled_out].n == cands[ruled_out].n  # not measured again
    routed = [r["route"]["model"] for r in _results(second)]
    assert routed.count("gemini-3.8-flash") >= 50
    for report, a in ((first, a1), (second, a2)):
        assert a.exploration_share <= a.max_exploration_share
        assert report.items_ok / report.items_total >= 0.9  # the floor, on what it returns
        assert a.lever_line() in to_markdown(report)


@pytest.mark.usefixtures("prefect_api")
def test_no_candidate_meets_the_floor_free_text_stays_and_the_ladder_still_catches(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    # Every candidate answers right about half the time: the floor 0.95 is not met.
    emulator.control.configure(quality=[{**QUALITY[0], "pass_rate": {}, "default": 0.5}])
    path = tmp_path / "routing.yaml"
    path.write_text("autopilot: {max_exploration_share: 0.5}\n")
    settings = run_settings.model_copy(update={
        "routing_policy_path": path, "inference": run_settings.inference.model_copy(
            update={"failure_threshold": 1.0})})  # half the answers fail: that is the point
    items = [*tickets(0, 32), WorkItem(id="memo", task=TaskKind.SUMMARIZE,
                                       text="Summarize: the parcel arrived on time.")]
    report: RunReport = analyze_with(AnalyzeParams(items=items, quality_floor=0.95), settings)
    pilot = report.autopilot
    assert pilot is not None
    (line,) = pilot.tasks
    assert not line.floor_met and line.choice == "gemini-3.1-pro-preview@default"
    assert "not met" in line.why and "upper" in line.why  # the evidence is named
    assert pilot.exploration_share <= pilot.max_exploration_share
    assert "free text without a check" in pilot.held["memo"]
    results = {r["id"]: r for r in _results(report)}
    memo = results["memo"]["route"]
    assert memo["model"] == "gemini-3.8-flash" and "autopilot" not in memo["reason"], memo
    # Each first answer that failed below the top tier climbed the policy's ladder.
    failed_first = [r for r in results.values() if r["attempts"] and not r["attempts"][0]["ok"]
                    and r["attempts"][0]["model"] != "gemini-3.1-pro-preview"]
    assert failed_first and all(len(r["attempts"]) > 1 for r in failed_first)
    markdown = to_markdown(report)
    assert "## Autopilot" in markdown and "NOT met" in markdown
    assert pilot.lever_line() in markdown


@pytest.mark.usefixtures("prefect_api")
def test_a_candidate_the_catalogue_lacks_is_refused_before_any_call(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("autopilot: {tasks: {classify: {candidates: [{model: gemini-9-x}]}}}\n")
    settings = run_settings.model_copy(update={"routing_policy_path": path})
    with pytest.raises(Exception, match=r"autopilot\.tasks\.classify\.candidates\[0\]"):
        analyze_with(AnalyzeParams(items=tickets(0, 3), autopilot=True), settings)
    assert not emulator.stats.generate_calls
