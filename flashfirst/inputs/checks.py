"""Answer checks a manifest may name: the built-in ``regex:<pattern>`` (run with a time
limit) and the checks the installation registered under the ``flashfirst.inputs.checks``
entry-point group. A manifest or an event never names code to import: a string that is
neither is refused when the item is read, naming the item.

Registering a check (in the installing package's ``pyproject.toml``)::

    [project.entry-points."flashfirst.inputs.checks"]
    no_pii = "mypackage.checks:no_pii"   # fn(output) -> True/None when fine, else False/str
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import regex

from flashfirst.errors import ConfigError

ENTRY_POINT_GROUP = "flashfirst.inputs.checks"
# A pattern that backtracks catastrophically on an answer must not hang the run.
REGEX_TIMEOUT_S = 1.0
_NAMES_HELP = "'regex:<pattern>' or the name of a check registered by the installation"


@functools.cache
def registered_checks() -> dict[str, Any]:
    """Name → entry point; loading one imports code the installation chose, not data."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_problem(spec: str) -> str | None:
    """Why ``spec`` is not a check we may run, or None when it is."""
    kind, sep, pattern = spec.partition(":")
    if sep and kind == "regex":
        try:
            regex.compile(pattern)
        except regex.error as exc:
            return f"check {spec!r}: invalid regular expression ({exc})"
        return None
    if spec in registered_checks():
        return None
    known = ", ".join(sorted(registered_checks())) or "none registered"
    return (f"check {spec!r} is not allowed: use {_NAMES_HELP} (registered: {known}); "
            "a manifest cannot name Python code to run")


def run_check(spec: str, output: Any) -> str | None:
    """None when the answer passes, else what is wrong with it."""
    problem = check_problem(spec)
    if problem:
        raise ConfigError(problem)
    if spec.startswith("regex:"):
        text = output if isinstance(output, str) else json.dumps(output)
        try:
            found = regex.search(spec.removeprefix("regex:"), text, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            return f"pattern took over {REGEX_TIMEOUT_S:.0f} s on the answer (too complex)"
        return None if found else "pattern not found"
    fn: Callable[[Any], Any] = registered_checks()[spec].load()
    result = fn(output)
    if result is True or result is None:
        return None
    return "returned False" if result is False else str(result)
