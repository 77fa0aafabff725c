"""Is an answer good enough to keep, or should the next model up try?"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from google.genai import types

from flashfirst.failures import Failure, FailureKind
from flashfirst.inputs.checks import run_check

_BLOCKED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
            "IMAGE_SAFETY", "LANGUAGE", "OTHER", "MALFORMED_FUNCTION_CALL"}


class Verdict:
    """The parsed output and, when it failed, why; ``starved``: no answer because thinking
    used the whole output cap (the thoughts are billed all the same)."""

    def __init__(self, output: Any = None, error: str | None = None,
                 finish_reason: str | None = None, starved: bool = False) -> None:
        self.output, self.error, self.finish_reason = output, error, finish_reason
        self.starved = starved

    @property
    def ok(self) -> bool:
        return self.error is None

    def failure(self, model: str) -> Failure:
        """The item's failure when this is the last answer it got (not ok)."""
        if self.starved:
            return Failure(kind=FailureKind.THINKING_STARVED, message=(
                f"answer starved by thinking on {model}: {self.error}; raise the task's "
                "max_output_tokens or ask for less thinking"))
        return Failure(kind=FailureKind.VALIDATION,
                       message=f"answer failed validation on {model}: {self.error}")


def judge(response: types.GenerateContentResponse, schema: dict | None,
          check: str | None) -> Verdict:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return Verdict(error=f"prompt blocked: {_name(feedback.block_reason)}")
    candidate = (response.candidates or [None])[0]
    finish = _name(candidate.finish_reason) if candidate and candidate.finish_reason else None
    if finish in _BLOCKED:
        return Verdict(error=f"answer blocked (finish reason {finish})", finish_reason=finish)
    text = _text(candidate)
    thoughts = (response.usage_metadata.thoughts_token_count or 0
                if response.usage_metadata else 0)
    if finish == "MAX_TOKENS" and not text.strip() and thoughts:
        return Verdict(error=f"no answer text, finish reason MAX_TOKENS, {thoughts:,} thought "
                       "tokens billed", finish_reason=finish, starved=True)
    if finish == "MAX_TOKENS":
        return Verdict(error="answer truncated (finish reason MAX_TOKENS)", finish_reason=finish)
    if not text.strip():
        return Verdict(error="empty answer", finish_reason=finish)
    output: Any = text
    if schema is not None:
        try:
            output = json.loads(text)
        except json.JSONDecodeError as exc:
            return Verdict(error=f"answer is not valid JSON ({exc.msg} at {exc.pos})",
                           finish_reason=finish)
        try:
            jsonschema.validate(output, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            return Verdict(error=f"answer does not match the schema at {where}: {exc.message}",
                           finish_reason=finish)
    if check:
        problem = run_check(check, output)
        if problem:
            return Verdict(error=f"check {check!r} failed: {problem}", finish_reason=finish)
    return Verdict(output=output, finish_reason=finish)


def _text(candidate: types.Candidate | None) -> str:
    if candidate is None or candidate.content is None:
        return ""
    return "".join(p.text or "" for p in candidate.content.parts or [] if not p.thought)


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))
