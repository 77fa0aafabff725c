"""The thinking lever end to end, through the real SDK and the emulator: what each task
sends, the escalation ladder (more thinking on the same model before a tier up), the
calibration sample and the lever it measures, and the estimate's thinking figures.

Thinking controls: https://ai.google.dev/gemini-api/docs/thinking (copies dated
2026-09-25, research file §1.8): 2.5 models take ``thinkingBudget`` (2.5 Flash-Lite 0 =
off, or 512..24576), Gemini 3 ``thinkingLevel`` (3.8 Flash: low, medium, high;
3.5 Flash-Lite: minimal, low, medium, high); both at once is a 400; thoughts bill as
output. Prices per 1M tokens: https://ai.google.dev/gemini-api/docs/pricing (copy
'last updated 2026-10-01', read 2026-10-07): gemini-3.8-flash $0.75 in / $3.75 out
through 2026-12-31; gemini-3.1-pro-preview $2 / $12 up to 200k prompt tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fixtures.emulator import client_for, set_clock
from flashfirst.flows.analyze import analyze_with
from google.genai import types

from flashfirst.client import make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.items import ItemResult, Route, TaskKind, ThinkingSent, Usage, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.estimate import RunEstimate
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.render import to_markdown
from flashfirst.reporting.report import RunReport
from flashfirst.reporting.tally import first_pass_by_setting
from flashfirst.settings import ModelTier, Settings

M = Decimal(1_000_000)
SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}},
          "required": ["total"]}


def cost_at(usage: Usage, input_rate: str, output_rate: str) -> Decimal:
    """A call's dollars by hand (no cache): prompt at the input rate, answer and
    thoughts at the output rate."""
    return (usage.prompt_tokens * Decimal(input_rate)
            + (usage.candidates_tokens + usage.thoughts_tokens) * Decimal(output_rate)) / M


@pytest.fixture(autouse=True)
def _price_day(emulator: EmbeddedEmulator) -> None:
    set_clock(emulator, datetime(2026, 12, 1, 9, tzinfo=UTC))  # 3.8 Flash at $0.75/$3.75


def engine_for(settings: Settings) -> Engine:
    return Engine(InferenceContext(make_client(settings), settings, load_price_table(),
                                   load_routing_policy(), limiters=Limiters()))


def job_on(item: WorkItem, model: str, tier: ModelTier) -> InferenceJob:
    return InferenceJob(item=item, route=Route(model=model, tier=tier, reason="test"),
                        identity=item.id)


def sent_thinking(emulator: EmbeddedEmulator) -> list[dict | None]:
    """thinkingConfig as each request carried it (keys in camelCase, however the SDK
    spelled them on the wire)."""
    def camel(key: str) -> str:
        head, *rest = key.split("_")
        return head + "".join(w.title() for w in rest)

    return [{camel(k): v for k, v in e.thinking_config.items()} if e.thinking_config else None
            for e in emulator.stats.request_log if e.endpoint == "generateContent"]


@pytest.mark.parametrize(("model", "tier", "wire", "recorded"), [
    # 2.5 Flash-Lite: least is budget 0 (thinking off), its lowest accepted value.
    ("gemini-2.5-flash-lite", ModelTier.FLASH_LITE, {"thinkingBudget": 0},
     ThinkingSent(asked="least", budget=0, same_as_default=True)),  # its default is off
    # 3.8 Flash has no minimal: its lowest level is low.
    ("gemini-3.8-flash", ModelTier.FLASH, {"thinkingLevel": "LOW"},
     ThinkingSent(asked="least", level="low")),
    # 3.5 Flash-Lite takes minimal.
    ("gemini-3.5-flash-lite", ModelTier.FLASH_LITE, {"thinkingLevel": "MINIMAL"},
     ThinkingSent(asked="least", level="minimal", same_as_default=True)),  # its default
])
def test_a_classify_item_is_sent_with_the_least_thinking_its_model_accepts(
        run_settings: Settings, emulator: EmbeddedEmulator, model: str, tier: ModelTier,
        wire: dict, recorded: ThinkingSent):
    spec = run_settings.models.by_tier(tier).model_copy(update={"id": model})
    settings = run_settings.model_copy(update={"models": run_settings.models.model_copy(
        update={tier.value: spec})})  # the tier filled by the model under test
    item = WorkItem(id="c", task=TaskKind.CLASSIFY, text="Ticket: 'charged twice'.")
    result = asyncio.run(engine_for(settings).run(job_on(item, model, tier)))
    assert result.ok
    assert sent_thinking(emulator) == [wire]  # one field, never both
    assert result.attempts[0].thinking == recorded


def test_an_item_failing_at_least_passes_after_the_same_model_step_both_billed(
        run_settings: Settings, emulator: EmbeddedEmulator):
    # Hard at low thinking only: the scripted bad answer fires up to LOW, not at MEDIUM.
    emulator.control.add_script(contains="HARD_TOTAL", model="gemini-3.8-flash",
                                text="no idea", max_thinking="LOW")
    item = WorkItem(id="inv", task=TaskKind.EXTRACT, text="Invoice HARD_TOTAL: 3 x 4.",
                    response_schema=SCHEMA)
    result = asyncio.run(engine_for(run_settings).run(
        job_on(item, "gemini-3.8-flash", ModelTier.FLASH)))
    assert result.ok and result.escalated
    assert [(a.model, a.step, a.ok) for a in result.attempts] == [
        ("gemini-3.8-flash", "route", False), ("gemini-3.8-flash", "think", True)]
    # least (level low) first, then the model's default: no thinking field at all.
    assert sent_thinking(emulator) == [{"thinkingLevel": "LOW"}, None]
    for a in result.attempts:  # each call paid at 3.8 Flash's rates
        assert Decimal(str(a.cost_usd)) == cost_at(a.usage, "0.75", "3.75") > 0
    assert result.cost_usd == pytest.approx(sum(a.cost_usd for a in result.attempts))
    [line] = first_pass_by_setting([result])
    assert (line.task, line.setting, line.items, line.passed_first) == (
        "extract", "least (level low)", 1, 0)


def test_another_item_passes_only_after_the_model_step_all_attempts_billed(
        run_settings: Settings, emulator: EmbeddedEmulator):
    emulator.control.add_script(contains="HARD_PROOF", model="gemini-3.8-flash",
                                text="no idea")  # at any thinking
    item = WorkItem(id="p", task=TaskKind.EXTRACT, text="HARD_PROOF: the total of 2 and 2.",
                    response_schema=SCHEMA)
    result = asyncio.run(engine_for(run_settings).run(
        job_on(item, "gemini-3.8-flash", ModelTier.FLASH)))
    assert result.ok
    assert [(a.model, a.step) for a in result.attempts] == [
        ("gemini-3.8-flash", "route"), ("gemini-3.8-flash", "think"),
        ("gemini-3.1-pro-preview", "model")]
    flash_route, flash_think, pro = result.attempts
    assert Decimal(str(flash_route.cost_usd)) == cost_at(flash_route.usage, "0.75", "3.75")
    assert Decimal(str(flash_think.cost_usd)) == cost_at(flash_think.usage, "0.75", "3.75")
    assert Decimal(str(pro.cost_usd)) == cost_at(pro.usage, "2", "12") > 0
    # The model step keeps the task's effort: least on 3.1 Pro is its lowest level, low.
    assert sent_thinking(emulator) == [{"thinkingLevel": "LOW"}, None, {"thinkingLevel": "LOW"}]


def summaries(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"s{i}", task=TaskKind.SUMMARIZE,
                     text=f"Quarterly note {i}: revenue rose {i + 3}% on shipping fees.")
            for i in range(n)]


def thinking_row(report: RunReport) -> str:
    return next(line for line in to_markdown(report).splitlines()
                if line.startswith("| thinking |"))


@pytest.mark.usefixtures("prefect_api")
def test_without_calibration_the_thinking_lever_reads_not_measured(run_settings: Settings):
    report: RunReport = analyze_with(AnalyzeParams(items=summaries(3)), run_settings)
    lever = next(lv for lv in report.costs.levers if lv.name == "thinking")
    assert not lever.measured and lever.saving_usd == 0
    row = thinking_row(report)
    assert row.endswith("| | not measured |") and "$" not in row
    assert all(r.calibration is None for r in _results(report, run_settings))


@pytest.mark.usefixtures("prefect_api")
def test_with_calibration_the_lever_is_the_samples_extrapolation(run_settings: Settings):
    settings = run_settings.model_copy(update={"inference": run_settings.inference.model_copy(
        update={"calibration_share": 0.02})})
    report: RunReport = analyze_with(AnalyzeParams(items=summaries(12)), settings)
    results = _results(report, settings)
    # 2% of 12 rounds up to 1, raised to the minimum of 5 (not over half the group): five
    # items also sent at default.
    sample = [r.calibration for r in results if r.calibration is not None]
    assert len(sample) == 5 and all(c.thinking.at_default for c in sample)
    assert all(r.attempts[0].thinking == ThinkingSent(asked="low", level="low")
               for r in results)
    # By hand: default thoughts per item = the sample's mean (rounded to a token); each
    # of the 12 calls sent at low would have spent that many, billed as output at $3.75/1M;
    # the sample's own calls are paid and come off the saving.
    mean = round(sum(c.usage.thoughts_tokens for c in sample) / 5)
    gross = sum((mean - r.attempts[0].usage.thoughts_tokens) * Decimal("3.75")
                for r in results) / M
    calibration = sum(cost_at(c.usage, "0.75", "3.75") for c in sample)
    lever = next(lv for lv in report.costs.levers if lv.name == "thinking")
    assert lever.measured
    assert Decimal(str(lever.saving_usd)) == pytest.approx(gross - calibration,
                                                           abs=Decimal("1e-9"))
    assert report.costs.thinking.sample_calls == 5
    assert "n=5" in lever.explanation and "±" in lever.explanation
    # The sample is part of the actual cost.
    paid = sum(Decimal(str(a.cost_usd)) for r in results for a in r.attempts) + calibration
    assert Decimal(str(report.costs.actual_usd)) == pytest.approx(paid, abs=Decimal("1e-9"))
    # The next run's estimate uses what this one measured, and says so.
    estimate: RunEstimate = analyze_with(AnalyzeParams(items=summaries(15), estimate_only=True),
                                    settings)
    assert estimate.thinking_source == "measured in earlier runs"


@pytest.mark.usefixtures("prefect_api")
def test_a_group_too_small_for_its_sample_is_not_calibrated_and_says_so(
        run_settings: Settings):
    settings = run_settings.model_copy(update={"inference": run_settings.inference.model_copy(
        update={"calibration_share": 0.02})})
    # 7 summaries: the minimum sample of 5 would be more than half of them, so sending them
    # twice would cost more than the lever can show; none is, and the lever says so.
    report: RunReport = analyze_with(AnalyzeParams(items=summaries(7)), settings)
    assert all(r.calibration is None for r in _results(report, settings))
    lever = next(lv for lv in report.costs.levers if lv.name == "thinking")
    assert not lever.measured and lever.saving_usd == 0


@pytest.mark.usefixtures("prefect_api")
def test_the_estimate_without_earlier_runs_uses_the_documented_assumption(
        run_settings: Settings):
    estimate: RunEstimate = analyze_with(AnalyzeParams(items=summaries(4), estimate_only=True),
                                    run_settings)
    # summarize -> low on 3.8 Flash -> level low: ASSUMED_THOUGHTS["low"] = 400 per call.
    assert estimate.thinking_source == "assumed"
    assert estimate.assumed_thinking_tokens == 4 * 400


def test_the_emulator_thinks_more_at_a_higher_level_and_on_a_harder_prompt(
        emulator: EmbeddedEmulator):
    client = client_for(emulator.base_url)

    def thoughts(text: str, level: types.ThinkingLevel) -> int:
        response = client.models.generate_content(
            model="gemini-3.8-flash", contents=text, config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_level=level)))
        return response.usage_metadata.thoughts_token_count or 0

    plain = "Tell me the colour of the sky today, in a word."
    hard = "Work through the problem step by step: 17 x 23."
    low, high = types.ThinkingLevel.LOW, types.ThinkingLevel.HIGH
    assert 0 < thoughts(plain, low) < thoughts(plain, high)
    assert thoughts(plain, low) < thoughts(hard, low)


def _results(report: RunReport, settings: Settings) -> list[ItemResult]:
    from pathlib import Path

    lines = Path(report.output_uri, "results.jsonl").read_text().splitlines()
    return [ItemResult.model_validate_json(line) for line in lines]


def test_the_policys_max_output_tokens_reaches_the_model(run_settings: Settings,
                                                         emulator: EmbeddedEmulator):
    # Answer and thoughts share maxOutputTokens (thinking page): 5 tokens cut the answer.
    capped = load_routing_policy().model_copy(update={
        "max_output_tokens": {TaskKind.SUMMARIZE: 5}})
    emulator.control.add_script(contains="LONG_NOTE", text="word " * 200)
    engine = Engine(InferenceContext(make_client(run_settings), run_settings, load_price_table(),
                                     capped, limiters=Limiters()))
    result = asyncio.run(engine.run(job_on(
        WorkItem(id="n", task=TaskKind.SUMMARIZE, text="LONG_NOTE"), "gemini-3.8-flash",
        ModelTier.FLASH)))
    first = result.attempts[0]
    # 5 tokens are all thoughts at level low: no answer text, the thoughts still billed.
    assert first.finish_reason == "MAX_TOKENS" and first.max_output_tokens == 5
    assert "no answer text" in first.validation_error and first.usage.thoughts_tokens > 0
    assert first.usage.candidates_tokens + first.usage.thoughts_tokens <= 5


def test_an_escalation_ladder_longer_than_two_steps_is_refused(tmp_path):
    from flashfirst.errors import ConfigError

    path = tmp_path / "routing.yaml"
    path.write_text("escalation:\n  tasks:\n    code: [{step: think}, {step: think}, "
                    "{step: model}]\n")
    with pytest.raises(ConfigError, match="escalation ladder of code has 3 steps"):
        load_routing_policy(path)
