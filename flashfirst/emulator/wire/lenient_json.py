"""Request JSON read as Google's front end reads it, which is a little looser than RFC 8259.

What is known to be accepted (and nothing more is): a trailing comma before a closing
``}`` or ``]``, and a raw control character (a newline, a tab) inside a string. The
evidence: Google's cookbook notebooks send such bodies by hand with curl and record 200
answers (issue 22, their recorded outputs), and a Firestore emulator that replays what
googleapis.com's REST front end does asserts the trailing comma is read there
(``{"structuredQuery": {"limit": 1,},}``, read 2026-12-02). Everything else that is not
JSON keeps Google's refusal (``Invalid JSON payload received. ...``): a doubled or leading
comma, comments, a truncated body, bare words."""

from __future__ import annotations

import json
from typing import Any

_CLOSERS = "}]"
_OPENERS = "{[,"


def loads(text: str) -> Any:
    """``json.loads`` that also takes the front end's two allowances; raises
    ``json.JSONDecodeError`` for anything else."""
    return json.loads(_without_trailing_commas(text), strict=False)


def _without_trailing_commas(text: str) -> str:
    """Drops a comma whose next non-space character closes an object or array, when a
    value precedes it (``[1,]`` reads as ``[1]``; ``[,]`` and ``[1,,]`` stay invalid).
    Strings are skipped whole, escapes included."""
    out: list[str] = []
    last = ""  # the last character copied that is not white space
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            last, i = '"', end
            continue
        if ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in _CLOSERS and last and last not in _OPENERS:
                i += 1  # the trailing comma: not copied
                continue
        out.append(ch)
        if ch not in " \t\r\n":
            last = ch
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index just past the string opening at ``start`` (or the end, if unterminated)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return len(text)
