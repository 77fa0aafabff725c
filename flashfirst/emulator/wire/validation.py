"""A generate request's required fields, checked as the API does, in Google's wording.

Google's messages, as users quote the API's 400 INVALID_ARGUMENT answers:
- "* GenerateContentRequest.contents: contents is not specified" (vercel/ai#3775,
  langchain-ai/langchain-google#1393);
- "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty."
  (egoist/chatwise-releases#250, langchain-ai/langchain-google#691);
- "* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must
  have one initialized field" for a part with no data (router-for-me/CLIProxyAPI#1292).
The API lists each violation on its own "* ..." line; so does the emulator."""

from __future__ import annotations

from typing import Any

from flashfirst.emulator.wire.codec import get
from flashfirst.emulator.wire.errors import ApiError, invalid_argument

_DATA_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse",
                "executableCode", "codeExecutionResult")


def validate_request(body: dict[str, Any], where: str = "GenerateContentRequest") -> None:
    """Raise the API's 400 for a missing or empty ``contents``, a content without parts,
    or a part without data; one line per violation."""
    contents = get(body, "contents")
    if contents in (None, []):
        raise _violations([f"{where}.contents: contents is not specified"])
    if not isinstance(contents, list):
        raise invalid_argument("Invalid value at 'contents': expected a list.")
    problems: list[str] = []
    for i, content in enumerate(contents):
        parts = get(content, "parts") if isinstance(content, dict) else None
        if not parts:
            problems.append(f"{where}.contents[{i}].parts: contents.parts must not be empty.")
            continue
        if not isinstance(parts, list):
            continue  # the counter answers the type error
        for j, part in enumerate(parts):
            if isinstance(part, dict) and not any(get(part, f) is not None
                                                  for f in _DATA_FIELDS):
                problems.append(f"{where}.contents[{i}].parts[{j}].data: required oneof "
                                "field 'data' must have one initialized field")
    if problems:
        raise _violations(problems)


def _violations(lines: list[str]) -> ApiError:
    return invalid_argument("".join(f"* {line}\n" for line in lines))
