"""Thinking controls by family, as the thinking page describes them (copy of 2026-09-25,
research file 1.8): 2.5 models take ``thinkingBudget``, Gemini 3 and 4 take
``thinkingLevel`` (which levels exist differs per model: XHIGH on Gemini 4 Hydrogen and
Neon, no MINIMAL on Gemini 4, per its guides read 2026-12-02); both at once is a 400. Gemini 3
also takes a budget, for backwards compatibility (``_budget_on_levels``).

Thought tokens are deterministic: they grow with the level, with the prompt's length and
with a difficulty marker read from the prompt (a task that asks for steps, proof or code
thinks twice as much), a budget caps them, and "off" gives none. ``thinking_rank`` orders budgets
and levels on one scale so a test script can fire only below or above some thinking."""

from __future__ import annotations

import random
from dataclasses import dataclass

from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.wire.codec import Json, get
from flashfirst.emulator.wire.errors import invalid_argument

_WEIGHT = {"MINIMAL": 1, "LOW": 2, "MEDIUM": 4, "HIGH": 8, "XHIGH": 16}
_JITTER = 32  # below the smallest gap between two levels' tokens, so the order holds
# What makes a request "hard" for the emulator: words of the tasks that need reasoning
# (the product's default prompts for reason/code say such things). The prompt's length
# already counts in the base (prompt/16).
HARD_CUES = ("step by step", "reason it out", "prove", "write the code", "python function",
             "write a function")
# One scale for budgets and levels: OFF < MINIMAL < LOW < MEDIUM < HIGH < XHIGH.
RANKS = ("OFF", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH")
_BUDGET_RANK = ((512, "MINIMAL"), (2048, "LOW"), (8192, "MEDIUM"))


@dataclass(frozen=True)
class Thinking:
    """What a request asks of the model: a level, or a budget cap (None: dynamic)."""

    level: str | None = None
    cap: int | None = None
    off: bool = False


def _allowed_budgets(model: EmulatedModel) -> str:
    span = f"{model.budget_min or 1}..{model.budget_max}"
    return f"0 (off), {span} or -1 (dynamic)" if model.budget_off else \
        f"{span} or -1 (dynamic)"


def thinking_of(model: EmulatedModel, generation_config: Json) -> Thinking:
    """The thinking a request asks for, checked against the SERVING model; raises 400."""
    config = get(generation_config, "thinkingConfig") or {}
    level, budget = get(config, "thinkingLevel"), get(config, "thinkingBudget")
    name = f"models/{model.id}"
    if level is not None and budget is not None:
        raise invalid_argument("You can only set one of thinking_level and thinking_budget, "
                               "not both.")
    if model.thinking_levels:
        allowed = ", ".join(model.thinking_levels)
        if budget is not None and model.family == "3":
            return _budget_on_levels(model, budget)
        if budget is not None:
            raise invalid_argument(f"thinking_budget is not supported by {name}; set "
                                   f"thinking_level to one of {allowed}.")
        if level is None:
            return Thinking(level=model.thinking_default)
        value = str(level).upper().removeprefix("THINKING_LEVEL_")
        if value == "UNSPECIFIED":
            return Thinking(level=model.thinking_default)
        if value not in model.thinking_levels:
            raise invalid_argument(f"thinking_level {value} is not supported by {name}; "
                                   f"allowed values: {allowed}.")
        return Thinking(level=value)
    if level is not None:
        raise invalid_argument(f"thinking_level is not supported by {name}; set "
                               f"thinking_budget to {_allowed_budgets(model)}.")
    if budget is None:
        return Thinking(off=model.thinking_default == "off")
    try:
        value = int(budget)
    except (TypeError, ValueError) as exc:
        raise invalid_argument(f"Invalid value at 'thinking_budget': {budget!r}") from exc
    if value == -1:
        return Thinking()
    if value == 0:
        if not model.budget_off:  # Google's wording for 2.5 Pro
            raise invalid_argument("Budget 0 is invalid. This model only works in thinking "
                                   "mode.")
        return Thinking(off=True)
    if not max(1, model.budget_min) <= value <= model.budget_max:
        raise invalid_argument(f"thinking_budget {value} is out of range for {name}; "
                               f"allowed values: {_allowed_budgets(model)}.")
    return Thinking(cap=value)


def _budget_on_levels(model: EmulatedModel, budget: object) -> Thinking:
    """A ``thinkingBudget`` on Gemini 3: Google's thinking page
    (https://ai.google.dev/gemini-api/docs/thinking) says "While thinkingBudget is accepted
    for backwards compatibility, using it with Gemini 3 Pro may result in suboptimal
    performance" (the sentence as quoted by two independent codebases, read 2026-12-02;
    the stored copies of the page itself cut before it). The page gives no mapping; the
    emulator's own: -1 (dynamic)
    thinks at the default level; a positive budget thinks at the level of its size on
    ``RANKS`` (up to 512 minimal, 2,048 low, 8,192 medium, more high), moved into the
    levels the model has, and the budget caps the thoughts; 0 is refused as on 2.5 Pro (the
    page: thinking cannot be turned off on Gemini 3 Pro). Gemini 4 takes no budget."""
    try:
        value = int(budget)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise invalid_argument(f"Invalid value at 'thinking_budget': {budget!r}") from exc
    if value == -1:
        return Thinking(level=model.thinking_default)
    if value == 0:
        raise invalid_argument("Budget 0 is invalid. This model only works in thinking mode; "
                               "set thinking_level to one of "
                               f"{', '.join(model.thinking_levels)}.")
    if not 1 <= value <= model.budget_max:
        raise invalid_argument(f"thinking_budget {value} is out of range for "
                               f"models/{model.id}; allowed values: 1..{model.budget_max} "
                               "or -1 (dynamic); prefer thinking_level.")
    wanted = RANKS.index(thinking_rank(Thinking(cap=value)))
    ranked = sorted(model.thinking_levels, key=RANKS.index)
    level = next((lv for lv in ranked if RANKS.index(lv) >= wanted), ranked[-1])
    return Thinking(level=level, cap=value)


def thinking_rank(thinking: Thinking) -> str:
    """Where a request's thinking sits on ``RANKS``: a level as it is, a budget by size
    (up to 512 minimal, 2,048 low, 8,192 medium, more high), dynamic as medium."""
    if thinking.off:
        return "OFF"
    if thinking.level is not None:
        return thinking.level
    if thinking.cap is None:
        return "MEDIUM"
    return next((rank for top, rank in _BUDGET_RANK if thinking.cap <= top), "HIGH")


def difficulty(text: str) -> int:
    """1 for a plain request, 2 when the prompt asks for steps, a proof or code."""
    lowered = text.lower()
    return 1 + int(any(cue in lowered for cue in HARD_CUES))


def thought_tokens(thinking: Thinking, prompt_tokens: int, rng: random.Random,
                   text: str = "") -> int:
    """Level weight × difficulty × (64 + prompt/16, capped), plus a small seeded jitter;
    a dynamic budget thinks like MEDIUM."""
    if thinking.off:
        return 0
    weight = _WEIGHT.get(thinking.level or "MEDIUM", _WEIGHT["MEDIUM"])
    tokens = (weight * difficulty(text) * (64 + min(prompt_tokens // 16, 4096))
              + rng.randrange(_JITTER))
    return tokens if thinking.cap is None else min(tokens, thinking.cap)
