"""Agreement with a reference route: the quality signal of a task whose items carry no
check (issue 23, item 1), when the policy opts it in (``autopilot.tasks.<task>.agreement``).

An item sent to measure a cheaper candidate is also sent, once, to the task's strongest
candidate (the reference); the candidate passes when its first answer validates and
agrees with the reference's: structured answers (a response schema) as normalized JSON
(key order and spacing aside), labels and other text exactly, surrounding whitespace
aside. The reference call is paid and counts as exploration: it is merged into the
item's result as one more attempt, and when the two disagree the item returns the
reference's answer (the stronger route's)."""

from __future__ import annotations

import json
from typing import Any

from flashfirst.items import ItemResult

REFERENCE_SUFFIX = "#autopilot-reference"


def reference_id(item_id: str) -> str:
    return item_id + REFERENCE_SUFFIX


def normalized(output: Any, structured: bool) -> str:
    """The form two answers are compared in."""
    if structured:
        value = output
        if isinstance(output, str):
            try:
                value = json.loads(output)
            except ValueError:
                return output.strip()
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return output.strip() if isinstance(output, str) else json.dumps(output, sort_keys=True)


def agrees(result: ItemResult, reference: ItemResult, structured: bool) -> bool | None:
    """Whether the candidate's first answer agrees with the reference's; None when the
    reference gave no answer to judge by (nothing is measured then)."""
    if not reference.attempts or reference.failure is not None:
        return None
    first = result.attempts[0] if result.attempts else None
    if first is None or not first.ok or len(result.attempts) > 1:
        return False  # failed validation (the ladder answered, not the candidate)
    return normalized(result.output, structured) == normalized(reference.output, structured)


def merged(result: ItemResult, reference: ItemResult, agreed: bool | None) -> ItemResult:
    """The item's result with the reference call in its attempts (it is paid); the
    reference's answer when the candidate's disagreed."""
    extra = [a.model_copy(update={"step": "reference"}) for a in reference.attempts]
    update: dict[str, Any] = {"attempts": [*result.attempts, *extra]}
    if agreed is False and reference.failure is None and reference.attempts:
        update |= {"output": reference.output, "failure": None, "error": None}
        if result.route is not None:
            update["route"] = result.route.model_copy(update={
                "reason": f"{result.route.reason}; answered by the reference route "
                f"{reference.attempts[-1].model} (the candidate's answer disagreed)"})
    return result.model_copy(update=update)
