"""A known truth about answer quality, so routing by measured pass rate can be tested.

Real models answer a hard request right with some probability that depends on the model
and how much it thinks; the emulator's invented answers carry no such signal. A quality
rule gives it one: a request whose text matches gets the rule's ``correct`` answer with
the probability listed for (serving model, thinking sent), else its ``wrong`` answer.

The draw is one number per (seed, rule, request text), the same for every model and
thinking: an item is "hard" or "easy" once, so a model with a higher pass rate passes
every item a weaker one passes (escalating helps, as it does on real models), and the
share of items passing on a model is its pass rate."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flashfirst.emulator.wire.codec import Json, get, unit_interval


class QualityRule(BaseModel):
    """``{match, correct, wrong, pass_rate: {model: {thinking: p}}, default}``."""

    model_config = ConfigDict(extra="forbid")

    match: str = Field(description="Regular expression searched in the request's text.")
    correct: str = Field(description="The answer text of a pass.")
    wrong: str = Field(description="The answer text of a failure.")
    pass_rate: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Model id → thinking sent (a level such as "
        "'low', a budget such as '0', or 'default' when the request sets none) → "
        "probability of the correct answer.")
    default: float = Field(0.0, ge=0, le=1, description="For any model and thinking not "
                           "listed.")

    @field_validator("match")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"match {v!r} is not a regular expression: {exc}") from None
        return v

    @field_validator("pass_rate")
    @classmethod
    def _probabilities(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for model, rates in v.items():
            for thinking, p in rates.items():
                if not 0 <= p <= 1:
                    raise ValueError(f"pass_rate[{model}][{thinking}] = {p} is not a "
                                     "probability (0..1)")
        return {m.removeprefix("models/"): {str(t).lower(): p for t, p in r.items()}
                for m, r in v.items()}

    def probability(self, model: str, thinking: str) -> float:
        return self.pass_rate.get(model, {}).get(thinking, self.default)


def thinking_key(generation_config: Json) -> str:
    """The thinking a request sent, as the rules name it: the level in lower case, the
    budget as a string, or 'default' when it sets neither."""
    config = get(generation_config, "thinkingConfig") or {}
    level, budget = get(config, "thinkingLevel"), get(config, "thinkingBudget")
    if level is not None:
        value = str(level).lower().removeprefix("thinking_level_")
        return "default" if value == "unspecified" else value
    if budget is not None:
        return str(int(budget))
    return "default"


def quality_answer(rules: list[QualityRule], seed: int, model: str, text: str,
                   generation_config: Json) -> str | None:
    """The first matching rule's answer for this request, or None when no rule matches
    (the emulator then invents its answer as it always did)."""
    for index, rule in enumerate(rules):
        if re.search(rule.match, text):
            p = rule.probability(model, thinking_key(generation_config))
            draw = unit_interval(seed, "quality", index, rule.match, text)
            return rule.correct if draw < p else rule.wrong
    return None
