"""The autopilot's policy and decisions without a model call: bad policy refused naming
the field, the Wilson bound, the choice (cheapest shown to meet the floor, else the
strongest), and why an earlier choice is re-opened (price row, new model, drift)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from flashfirst.autopilot.candidates import AutopilotPolicyError, task_candidates
from flashfirst.autopilot.decision import Status
from flashfirst.autopilot.evidence import EvidenceBook, Measured, price_signature
from flashfirst.autopilot.pilot import Autopilot
from flashfirst.autopilot.stats import wilson
from flashfirst.autopilot.summary import AutopilotReport
from flashfirst.errors import ConfigError
from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.inference.job import InferenceJob
from flashfirst.items import TaskKind, Usage, WorkItem
from flashfirst.planning.router import load_routing_policy, route
from flashfirst.planning.thinking_figures import ThinkingFigures
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import Settings

DAY = date(2026, 12, 2)


def policy_with(tmp_path: Path, text: str):  # noqa: ANN201 - a RoutingPolicy
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return load_routing_policy(path)


@pytest.mark.parametrize(("text", "field"), [
    ("autopilot: {floor: 0}", "autopilot.floor"),
    ("autopilot: {floor: 1.2}", "autopilot.floor"),
    ("autopilot: {max_exploration_share: 1}", "autopilot.max_exploration_share"),
    ("autopilot: {max_exploration_share: -0.1}", "autopilot.max_exploration_share"),
    ("autopilot: {tasks: {classify: {floor: 0}}}", "autopilot.tasks.classify.floor"),
    ("autopilot: {tasks: {classify: {check: 'regex:(['}}}", "autopilot.tasks.classify.check"),
    ("autopilot: {tasks: {extract: {agreement: maybe}}}", "autopilot.tasks.extract.agreement"),
    ("autopilot: {max_explored: 0}", "autopilot.max_explored"),
])
def test_a_bad_autopilot_policy_is_refused_naming_the_field(tmp_path: Path, text: str,
                                                             field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        policy_with(tmp_path, text)
    assert field in str(refused.value)


@pytest.mark.parametrize(("model", "cause"), [
    ("gemini-9-imaginary", "not in the model catalogue"),
    ("gemini-2.5-pro", "shut down"),
    ("gemini-3.7-flash", "served by gemini-3.8-flash"),
])
def test_a_candidate_the_run_cannot_use_is_refused_naming_it(tmp_path: Path, model: str,
                                                            cause: str) -> None:
    policy = policy_with(tmp_path, "autopilot: {tasks: {classify: {candidates: ["
                         f"{{model: gemini-3.8-flash}}, {{model: {model}}}]}}}}}}")
    with pytest.raises(AutopilotPolicyError) as refused:
        task_candidates(TaskKind.CLASSIFY, policy.autopilot, Settings().models,
                        load_catalogue(), load_price_table(), DAY)
    assert "autopilot.tasks.classify.candidates[1]" in str(refused.value)
    assert cause in str(refused.value)


def test_default_candidates_are_the_models_served_and_priced_today_at_each_thinking(
        ) -> None:
    candidates = task_candidates(TaskKind.CLASSIFY, load_routing_policy().autopilot,
                                 Settings().models, load_catalogue(), load_price_table(), DAY)
    models = {c.model for c in candidates}
    assert {"gemini-4-hydrogen", "gemini-4-argon", "gemini-4-neon", "gemini-3.5-flash-lite",
            "gemini-2.5-flash-lite", "gemini-3.8-flash"} <= models
    # Shut down (2.5 Pro) or silently served by another model (3.7 Flash): not candidates.
    assert not models & {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-3.7-flash"}
    keys = [c.key for c in candidates]
    assert {"gemini-4-hydrogen@least", "gemini-3.8-flash@high"} <= set(keys)
    # The same thing sent twice is one candidate: Hydrogen's default is level high.
    assert "gemini-4-hydrogen@high" not in keys
    assert keys[0] == "gemini-2.5-flash-lite@least"  # weakest first
    assert keys[-1] == "gemini-3.1-pro-preview@default"  # the run's Pro closes the list
    free = task_candidates(TaskKind.CLASSIFY, load_routing_policy().autopilot,
                           Settings().models, load_catalogue(), load_price_table(), DAY,
                           paid_tier=False)
    assert "gemini-4-neon" not in {c.model for c in free}  # paid tier only


def test_a_candidate_outside_the_run_tiers_is_routed_on_its_catalogue_tier(
        tmp_path: Path) -> None:
    policy = policy_with(tmp_path, "autopilot: {tasks: {classify: {candidates: ["
                         "{model: gemini-3.5-flash-lite}, {model: gemini-4-argon}]}}}")
    pilot = Autopilot(_jobs(10), policy, Settings().models, load_catalogue(),
                      load_price_table(), ThinkingFigures(), EvidenceBook(), DAY, 0.9)
    pilot.spent = Decimal(1)
    wave = pilot.next_wave()
    assert {(j.route.model, j.route.tier) for j in wave} == {("gemini-3.5-flash-lite",
                                                              "flash_lite")}
    # The engine gives such a model the tier's limits under its own id.
    spec = Settings().models.spec("gemini-3.5-flash-lite", wave[0].route.tier)
    assert spec.id == "gemini-3.5-flash-lite"


def test_thinking_a_candidate_model_does_not_take_is_refused(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, "autopilot: {tasks: {code: {candidates: ["
                         "{model: gemini-3.8-flash, thinking: minimal}]}}}")
    with pytest.raises(AutopilotPolicyError, match=r"candidates\[0\]: thinking 'minimal'"):
        task_candidates(TaskKind.CODE, policy.autopilot, Settings().models,
                        load_catalogue(), load_price_table(), DAY)


def test_wilson_bounds() -> None:
    assert wilson(0, 0, 0.9) == (0.0, 1.0)
    lower, upper = wilson(20, 20, 0.9)  # all passed: lower = n / (n + z²)
    assert lower == pytest.approx(20 / (20 + 1.2815515655**2), rel=1e-6) and upper == 1.0
    lower, upper = wilson(5, 10, 0.95)
    assert lower == pytest.approx(0.2693, abs=1e-3) and upper == pytest.approx(0.7307, abs=1e-3)


def _jobs(n: int, task: TaskKind = TaskKind.CLASSIFY) -> list[InferenceJob]:
    policy, settings = load_routing_policy(), Settings()
    items = [WorkItem(id=f"i{i}", task=task, text=f"ticket {i}", check="regex:OK")
             for i in range(n)]
    return [InferenceJob(item=i, route=route(i, policy, settings.models), identity=i.id,
                         est_prompt_tokens=200) for i in items]


def _pilot(book: EvidenceBook, prices=None, floor: float = 0.9) -> Autopilot:  # noqa: ANN001
    return Autopilot(_jobs(40), load_routing_policy(), Settings().models, load_catalogue(),
                     prices or load_price_table(), ThinkingFigures(), book, DAY, floor)


def _measured(passes: int, n: int, row: str | None = None) -> Measured:
    m = Measured()
    for i in range(n):
        m.add(i < passes, Usage(prompt_tokens=200, candidates_tokens=2, thoughts_tokens=300),
              window=200)
    m.price_row = row
    return m


def test_the_choice_is_the_cheapest_candidate_shown_to_meet_the_floor() -> None:
    book = EvidenceBook(groups={"classify:text": {
        "gemini-2.5-flash-lite@least": _measured(3, 10),
        "gemini-2.5-flash-lite@high": _measured(2, 10),
        "gemini-3.1-flash-lite@least": _measured(1, 10),
        "gemini-3.5-flash-lite@least": _measured(4, 10),
        "gemini-3.6-flash@least": _measured(5, 10),
        "gemini-3.8-flash@least": _measured(30, 30),
        "gemini-3.1-pro-preview@default": _measured(30, 30)}})
    pilot = _pilot(book)
    decision = pilot.decision(pilot.groups["classify:text"])
    status = {a.candidate.key: a.status for a in decision.assessed}
    assert status["gemini-2.5-flash-lite@least"] is Status.BELOW
    assert status["gemini-3.8-flash@least"] is Status.MEETS
    assert decision.choice.key == "gemini-3.8-flash@least" and decision.floor_met
    assert decision.to_explore == []
    wave = pilot.next_wave()  # exploitation: every item on the choice, in steps
    assert {(j.route.model, j.item.thinking) for j in wave} == {("gemini-3.8-flash", "least")}
    assert all("(chosen)" in j.route.reason for j in wave)


def test_with_no_candidate_meeting_the_floor_the_strongest_is_used_and_said() -> None:
    book = EvidenceBook(groups={"classify:text": {
        c: _measured(5, 20) for c in ("gemini-2.5-flash-lite@least",
                                      "gemini-2.5-flash-lite@high", "gemini-3.8-flash@least",
                                      "gemini-3.8-flash@default", "gemini-3.8-flash@high",
                                      "gemini-3.1-pro-preview@least",
                                      "gemini-3.1-pro-preview@default")}})
    pilot = _pilot(book)
    decision = pilot.decision(pilot.groups["classify:text"])
    assert not decision.floor_met
    assert decision.choice.key == "gemini-3.1-pro-preview@default"  # the strongest
    assert "not met" in decision.why and "5/20" in decision.why


def test_cheap_candidates_are_explored_first_within_the_share() -> None:
    pilot = _pilot(EvidenceBook())
    pilot.spent = Decimal(1)  # the run has spent: exploration is affordable
    wave = pilot.next_wave()
    assert {j.route.model for j in wave} == {"gemini-2.5-flash-lite"}
    assert len(wave) == 8 and all("(exploring)" in j.route.reason for j in wave)
    none = _pilot(EvidenceBook())
    none.ap = none.ap.model_copy(update={"max_exploration_share": 0.0})
    wave = none.next_wave()  # no exploration allowed, nothing known: the policy's route
    assert {(j.route.model, j.item.thinking) for j in wave} == {("gemini-2.5-flash-lite",
                                                                  "least")}
    assert all("held back by autopilot.max_exploration_share" in j.route.reason for j in wave)


def test_too_little_evidence_keeps_the_policy_route_and_says_how_much_is_needed() -> None:
    book = EvidenceBook(groups={"classify:text": {  # the demo's case: a few answers each
        "gemini-2.5-flash-lite@least": _measured(2, 2),
        "gemini-3.1-pro-preview@default": _measured(1, 2)}})
    decision = _pilot(book).decision(_pilot(book).groups["classify:text"])
    assert not decision.floor_met and not decision.enough_evidence
    assert decision.choice.key == "gemini-2.5-flash-lite@least"  # the policy's route
    # 15 passes in 15 calls are the fewest whose 90% lower bound reaches 0.9.
    assert "not enough evidence yet: 2 measured, need 15" in decision.why


def test_the_policy_route_shown_below_the_floor_sends_the_task_to_the_strongest() -> None:
    book = EvidenceBook(groups={"classify:text": {
        "gemini-2.5-flash-lite@least": _measured(3, 10)}})  # the policy's route: below
    pilot = _pilot(book)
    decision = pilot.decision(pilot.groups["classify:text"])
    assert not decision.floor_met and decision.enough_evidence
    assert decision.choice.key == "gemini-3.1-pro-preview@default"
    assert "below the floor" in decision.why and "3/10" in decision.why


def test_a_changed_price_row_a_new_model_and_drift_reopen_the_choice() -> None:
    prices = load_price_table()
    old_row = prices.for_model("gemini-3.8-flash", DAY).model_copy(
        update={"input": Decimal("0.30")})
    book = EvidenceBook(
        groups={"classify:text": {
            "gemini-3.8-flash@least": _measured(40, 60, price_signature(old_row)),
            "gemini-3.1-pro-preview@default": _measured(30, 30)}},
        models_seen={"classify:text": ["gemini-3.1-pro-preview", "gemini-3.8-flash"]},
        chosen={"classify:text": "gemini-3.8-flash@least"})
    pilot = _pilot(book, prices)
    pilot.next_wave()
    reopened = " | ".join(pilot.groups["classify:text"].reopened)
    assert "new candidate model gemini-2.5-flash-lite" in reopened
    assert "price row of gemini-3.8-flash changed" in reopened
    assert "drift: gemini-3.8-flash@least" in reopened


def test_a_run_measures_at_most_max_explored_new_candidates_per_task() -> None:
    pilot = _pilot(EvidenceBook())
    pilot.ap = pilot.ap.model_copy(update={"max_explored": 2})
    pilot.spent = Decimal(100)  # exploration is affordable: only the cap holds it
    explored = []
    for _ in range(3):
        wave = pilot.next_wave()
        sent_to = {f"{j.route.model}@{j.item.thinking}" for j in wave
                   if "(exploring)" in j.route.reason}
        explored += sorted(sent_to)
        for key in sent_to:  # each measured clearly below the floor
            pilot.book.groups.setdefault("classify:text", {})[key] = _measured(0, 8)
    assert explored == ["gemini-2.5-flash-lite@least", "gemini-3.1-flash-lite@least"]
    # The third wave explores nothing new: the policy's route is below the floor on
    # the evidence, so the strongest candidate answers.
    assert {j.route.model for j in wave} == {"gemini-3.1-pro-preview"}


def test_a_lever_line_never_prints_a_negative_saving() -> None:
    report = AutopilotReport(confidence=0.9, max_exploration_share=0.2, tasks=[],
                             run_spend_usd=1.0, exploration_usd=0.0, exploration_share=0.0,
                             saving_vs_policy_usd=-0.056)
    assert "cost $0.056000 more vs the policy's static route" in report.lever_line()
    assert "$-" not in report.lever_line()
