"""What a request says about thinking, per model: a budget on 2.5, a level on 3.x/4,
never both (sending both is a 400), and nothing the model would refuse.

An item asks in one of three ways (``WorkItem.thinking``):
- an effort, ``least``/``low``/``default``/``high``/``max``, mapped through the catalogue
  to what each model takes (the lever of issue 12 sits on these): ``least`` is the lowest
  the model takes (``low`` on Gemini 4, which refuses ``minimal``), ``high`` the level
  ``high`` (or the largest budget), ``max`` the model's top (``xhigh`` on Hydrogen and
  Neon, ``high`` where there is none above it);
- a level the model takes (``minimal``/``low``/``medium``/``high``/``xhigh``);
- a budget in tokens (``0`` off, ``-1`` dynamic) for a budget model.
``default`` (or nothing) sends no thinking config: the model's own default applies.
Sources: https://ai.google.dev/gemini-api/docs/thinking (copies dated 2026-09-25), the
catalogue's ``thinking`` rows.
"""

from __future__ import annotations

from enum import StrEnum

from google.genai import types

from flashfirst.errors import ThinkingNotSupported
from flashfirst.gemini.catalogue import ModelInfo, ThinkingLevel
from flashfirst.items import ThinkingSent

_LOW_BUDGET = 1024  # "low" on a budget model: a small, fixed allowance


class Effort(StrEnum):
    LEAST = "least"
    LOW = "low"
    DEFAULT = "default"
    HIGH = "high"
    MAX = "max"


_SDK_LEVEL = {
    ThinkingLevel.MINIMAL: types.ThinkingLevel.MINIMAL,
    ThinkingLevel.LOW: types.ThinkingLevel.LOW,
    ThinkingLevel.MEDIUM: types.ThinkingLevel.MEDIUM,
    ThinkingLevel.HIGH: types.ThinkingLevel.HIGH,
    ThinkingLevel.XHIGH: types.ThinkingLevel.XHIGH,
}


def thinking_config(asked: str | None, model: ModelInfo) -> types.ThinkingConfig | None:
    """The config for ``model`` (the one that serves), or None for its default.

    Raises ``ThinkingNotSupported`` naming the model's allowed values."""
    value = (asked or "").strip().lower()
    if not value or value == Effort.DEFAULT:
        return None
    control = model.thinking
    if value in (Effort.LEAST, Effort.HIGH, Effort.MAX) or (value == Effort.LOW
                                                            and control.control == "budget"):
        return _effort(Effort(value), model)
    if value in {lv.value for lv in ThinkingLevel}:
        level = ThinkingLevel(value)
        if control.control != "level" or level not in control.levels:
            raise ThinkingNotSupported(model.id, value, control.allowed())
        return types.ThinkingConfig(thinking_level=_SDK_LEVEL[level])
    try:
        budget = int(value)
    except ValueError:
        raise ThinkingNotSupported(model.id, value, control.allowed() + " (or an effort: "
                                   "least, low, default, high, max)") from None
    if control.control != "budget" or not control.accepts_budget(budget):
        raise ThinkingNotSupported(model.id, value, control.allowed())
    return types.ThinkingConfig(thinking_budget=budget)


def _effort(effort: Effort, model: ModelInfo) -> types.ThinkingConfig:
    control = model.thinking
    if control.control == "level":
        order = [lv for lv in ThinkingLevel if lv in control.levels]
        if effort is Effort.LEAST:
            level = order[0]
        elif effort is Effort.HIGH and ThinkingLevel.HIGH in order:
            level = ThinkingLevel.HIGH  # xhigh only when asked for by name or as max
        else:
            level = order[-1]
        return types.ThinkingConfig(thinking_level=_SDK_LEVEL[level])
    ranges = sorted(control.budget_ranges)
    if effort is Effort.LEAST:
        budget = ranges[0][0]
    elif effort in (Effort.HIGH, Effort.MAX):
        budget = ranges[-1][1]
    else:
        budget = min((max(lo, min(hi, _LOW_BUDGET)) for lo, hi in ranges),
                     key=lambda b: abs(b - _LOW_BUDGET))
    return types.ThinkingConfig(thinking_budget=budget)


_EFFORT_ORDER = [Effort.LEAST, Effort.LOW, Effort.DEFAULT, Effort.HIGH, Effort.MAX]


def effort_rank(asked: str | None) -> int | None:
    """Position of an effort on least < low < default < high < max; None for a raw level
    or budget (it has no place on that scale)."""
    value = (asked or Effort.DEFAULT).strip().lower()
    return next((i for i, e in enumerate(_EFFORT_ORDER) if e == value), None)


def sent(asked: str | None, config: types.ThinkingConfig | None,
         model: ModelInfo | None = None) -> ThinkingSent:
    """What a call records about its thinking: the ask and the concrete field sent, and
    whether that is what ``model`` (the one serving) does by default anyway."""
    level = config.thinking_level if config is not None else None
    record = ThinkingSent(
        asked=(asked or Effort.DEFAULT).strip().lower(),
        budget=config.thinking_budget if config is not None else None,
        level=str(getattr(level, "value", level)).lower() if level is not None else None)
    if model is not None:
        record.same_as_default = is_model_default(record, model)
    return record


def is_model_default(record: ThinkingSent, model: ModelInfo) -> bool:
    """Sending this changes nothing: the model's default level, budget 0 where the default
    is off, -1 where it is dynamic. Such calls need no calibration."""
    default = model.thinking.default
    if record.level is not None:
        return record.level == default
    if record.budget is not None:
        return (record.budget, default) in ((0, "off"), (-1, "dynamic"))
    return True
