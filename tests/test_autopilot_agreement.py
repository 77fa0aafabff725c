"""Agreement with a reference route (issue 23, item 1): a task whose items carry no check
opts in, and each item sent to measure a cheaper candidate is also sent to the task's
strongest candidate; the candidate passes when its answer agrees. Run through the
analyze flow against an emulator whose quality table is the known truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.autopilot.groups import why_held
from flashfirst.autopilot.policy import TaskAutopilot
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.engine import InferenceJob
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import load_routing_policy, route
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings

RIGHT, WRONG = '{"total": 120.5, "currency": "EUR"}', '{"total": 99, "currency": "EUR"}'
# Truth: 2.5 Flash-Lite agrees with the reference (3.8 Flash at default thinking, always
# right) on 40% of invoices, 3.5 Flash-Lite on all of them. The answers are JSON with the
# keys in another order than the reference's would not matter (normalized).
QUALITY = [{"match": r"^Extract invoice", "correct": RIGHT, "wrong": WRONG,
            "pass_rate": {"gemini-2.5-flash-lite": {"0": 0.4, "default": 0.4},
                          "gemini-3.5-flash-lite": {"minimal": 1.0, "default": 1.0},
                          "gemini-3.8-flash": {"default": 1.0}},
            "default": 0.0}]
SCHEMA = {"type": "object", "properties": {"total": {"type": "number"},
                                           "currency": {"type": "string"}},
          "required": ["total"]}
POLICY = """autopilot:
  max_exploration_share: 0.8
  tasks:
    extract:
      agreement: true
      candidates: [{model: gemini-2.5-flash-lite, thinking: least},
                   {model: gemini-3.5-flash-lite, thinking: least},
                   {model: gemini-3.8-flash}]
"""


def invoices(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"inv{i:03d}", task=TaskKind.EXTRACT, response_schema=SCHEMA,
                     text=f"Extract invoice {i}: the total and its currency.")
            for i in range(n)]


@pytest.mark.usefixtures("prefect_api")
def test_a_task_without_checks_is_judged_by_agreement_with_its_strongest_candidate(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    emulator.control.configure(quality=QUALITY)
    path = tmp_path / "routing.yaml"
    path.write_text(POLICY)
    settings = run_settings.model_copy(update={"routing_policy_path": path})
    report: RunReport = analyze_with(AnalyzeParams(items=invoices(48), autopilot=True,
                                                   quality_floor=0.9), settings)
    pilot = report.autopilot
    assert pilot is not None and not pilot.held
    (line,) = pilot.tasks
    cands = {c.candidate: c for c in line.candidates}
    # Every invoice answer validates against the schema; only agreement tells them apart.
    assert cands["gemini-2.5-flash-lite@least"].status == "below floor"
    assert cands["gemini-3.8-flash@default"].status == "reference"
    assert line.choice == "gemini-3.5-flash-lite@least" and line.floor_met, line.why
    results = [json.loads(x) for x in
               (Path(report.output_uri) / "results.jsonl").read_text().splitlines()]
    assert len(results) == 48  # the reference calls are no items of their own...
    references = [a for r in results for a in r["attempts"] if a["step"] == "reference"]
    assert references and all(a["model"] == "gemini-3.8-flash" and a["cost_usd"] > 0
                              for a in references)  # ...but paid, as exploration
    assert line.exploration_usd >= sum(a["cost_usd"] for a in references)
    assert pilot.exploration_share <= pilot.max_exploration_share
    # The floor holds on the answers returned: a disagreeing answer is replaced by the
    # reference's.
    right = sum(1 for r in results if r["output"] == json.loads(RIGHT))
    assert right / len(results) >= 0.9


def test_free_text_without_a_check_or_agreement_stays_on_the_policy_route() -> None:
    policy, settings = load_routing_policy(), Settings()
    item = WorkItem(id="memo", task=TaskKind.SUMMARIZE, text="Summarize: it arrived.")
    job = InferenceJob(item=item, route=route(item, policy, settings.models), identity="m")
    assert "autopilot.tasks.<task>.agreement" in (why_held(job, policy.autopilot) or "")
    opted = policy.autopilot.model_copy(update={
        "tasks": {TaskKind.SUMMARIZE: TaskAutopilot(agreement=True)}})
    assert why_held(job, opted) is None
