"""The emulator's quality model (issue 23, item 7), through the SDK: a matching request
gets the rule's correct answer with the probability listed for (model, thinking sent),
deterministically per request and seed; the first matching rule applies; no rule, no
change."""

from __future__ import annotations

from fixtures.emulator import client_for
from google.genai import types

from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig
from flashfirst.emulator.generate.quality import QualityRule

RULE = QualityRule(match=r"^Label review \d+", correct="POSITIVE", wrong="NEGATIVE",
                   pass_rate={"gemini-3.8-flash": {"low": 0.3, "high": 0.9},
                              "gemini-2.5-flash-lite": {"0": 0.0, "default": 0.5}},
                   default=1.0)


def _answers(emu: EmbeddedEmulator, model: str, n: int,
             thinking: types.ThinkingConfig | None = None, prefix: str = "Label review"
             ) -> list[str]:
    with client_for(emu.base_url) as client:
        return [client.models.generate_content(
            model=model, contents=f"{prefix} {i}: the food was fine.",
            config=types.GenerateContentConfig(thinking_config=thinking)).text
            for i in range(n)]


def test_pass_rate_per_model_and_thinking_level_budget_and_default() -> None:
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0, quality=[RULE])) as emu:
        low = _answers(emu, "gemini-3.8-flash", 200, types.ThinkingConfig(thinking_level="LOW"))
        high = _answers(emu, "gemini-3.8-flash", 200,
                        types.ThinkingConfig(thinking_level="HIGH"))
        off = _answers(emu, "gemini-2.5-flash-lite", 50, types.ThinkingConfig(thinking_budget=0))
        unset = _answers(emu, "gemini-2.5-flash-lite", 200)
        unlisted = _answers(emu, "gemini-3.1-pro-preview", 30)  # the rule's default: 1.0
    assert set(low) | set(high) <= {"POSITIVE", "NEGATIVE"}
    assert 0.2 <= low.count("POSITIVE") / 200 <= 0.4
    assert 0.84 <= high.count("POSITIVE") / 200 <= 0.96
    assert off == ["NEGATIVE"] * 50
    assert 0.4 <= unset.count("POSITIVE") / 200 <= 0.6
    assert unlisted == ["POSITIVE"] * 30
    # One draw per request: whatever passes at low thinking also passes at high.
    assert all(h == "POSITIVE" for lo, h in zip(low, high, strict=True) if lo == "POSITIVE")


def test_deterministic_per_request_and_seed() -> None:
    thinking = types.ThinkingConfig(thinking_level="LOW")
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0, quality=[RULE])) as emu:
        first = _answers(emu, "gemini-3.8-flash", 40, thinking)
        again = _answers(emu, "gemini-3.8-flash", 40, thinking)
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0, seed=7, quality=[RULE])) as emu:
        other_seed = _answers(emu, "gemini-3.8-flash", 40, thinking)
    assert first == again
    assert other_seed != first


def test_first_matching_rule_applies_and_no_rule_keeps_todays_answers() -> None:
    always = QualityRule(match="review", correct="FIRST", wrong="FIRST-WRONG", default=1.0)
    later = QualityRule(match="Label", correct="SECOND", wrong="SECOND-WRONG", default=1.0)
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0, quality=[always, later])) as emu:
        assert set(_answers(emu, "gemini-3.8-flash", 5)) == {"FIRST"}
        unmatched = _answers(emu, "gemini-3.8-flash", 3, prefix="Summarize memo")
    with EmbeddedEmulator(EmulatorConfig(latency_scale=0)) as plain:
        assert _answers(plain, "gemini-3.8-flash", 3, prefix="Summarize memo") == unmatched
    assert not {"FIRST", "SECOND"} & set(unmatched)


def test_a_rule_set_at_run_time_through_the_control_applies(emulator: EmbeddedEmulator) -> None:
    emulator.control.configure(quality=[RULE.model_dump()])
    assert _answers(emulator, "gemini-3.1-pro-preview", 3) == ["POSITIVE"] * 3
