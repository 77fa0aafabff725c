"""Manifests: JSONL (one ``WorkItem`` a line) or CSV (a header of ``WorkItem`` field names),
read all or nothing."""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Iterator
from typing import IO

from pydantic import ValidationError

from flashfirst.errors import ConfigError, ManifestError
from flashfirst.items import MediaPolicy, WorkItem
from flashfirst.packed import Packed
from flashfirst.storage import Storage
from flashfirst.storage.uris import canonical_uri, parent_uri, resolve_against

MANIFEST_SUFFIXES = (".jsonl", ".csv")


def read_manifest(uri: str, storage: Storage) -> list[WorkItem]:
    """The manifest's items, in line order (see :func:`read_manifest_lines`)."""
    return list(read_manifest_lines(uri, storage)[0])


def read_manifest_lines(uri: str, storage: Storage) -> tuple[Packed[WorkItem], list[int]]:
    """The items, packed as they are read (a million-line manifest is never a million
    objects), and each one's line number. JSONL: one WorkItem object a line. CSV: a
    header with WorkItem field names. Relative URIs are relative to the folder the
    manifest is in (however it was named).

    All or nothing: every bad line is named (line, field, cause) and the run does not
    start, so a typo never silently drops or changes an item."""
    uri = canonical_uri(uri)
    base = parent_uri(uri)
    problems: list[str] = []
    items = Packed(WorkItem)
    numbers: list[int] = []
    first_line: dict[str, int] = {}
    with storage.open_read(uri) as reader:
        lines = _lines(reader)
        rows = (_jsonl_rows if uri.lower().endswith(".jsonl") else _csv_rows)(lines, problems)
        for n, row in rows:
            if (item := _item(n, row, base, first_line, problems)) is not None:
                items.append(item)
                numbers.append(n)
    if problems:
        raise ManifestError(uri, problems, list(first_line))
    return items, numbers


def _item(n: int, row: dict, base: str, first_line: dict[str, int], problems: list[str]
          ) -> WorkItem | None:
    """Line ``n``'s item, or None with its problems named."""
    uri_value = row.get("uri")
    if isinstance(uri_value, str) and uri_value:
        try:
            row["uri"] = resolve_against(base, uri_value)
        except ConfigError as exc:
            problems.append(f"line {n}, field 'uri': {exc}")
            return None
    try:
        item = WorkItem.model_validate(row)
    except ValidationError as exc:
        problems += [_problem(n, err) for err in exc.errors()]
        return None
    if item.id in first_line:
        problems.append(f"line {n}, field 'id': {item.id!r} is already the id on line "
                        f"{first_line[item.id]} (ids must be unique)")
        return None
    first_line[item.id] = n
    return item


def _lines(reader: IO[bytes], size: int = 1 << 20) -> Iterator[str]:
    """The manifest's lines (ends kept) read a chunk at a time: a manifest of a million
    items is never one string in memory."""
    rest = b""
    while chunk := reader.read(size):
        *whole, rest = (rest + chunk).split(b"\n")
        for line in whole:
            yield line.decode("utf-8") + "\n"
    if rest:
        yield rest.decode("utf-8")


_FIELDS = set(WorkItem.model_fields)
# Columns whose CSV cell holds JSON (an object), as in a JSONL line.
_JSON_COLUMNS = {"response_schema", "media_policy", "metadata"}


def _jsonl_rows(lines: Iterable[str], problems: list[str]) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            problems.append(f"line {n}: not JSON ({getattr(exc, 'msg', 'nested too deeply')})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {n}: not a JSON object (got {type(row).__name__})")
            continue
        yield n, row


def _csv_rows(lines: Iterable[str], problems: list[str]) -> Iterator[tuple[int, dict]]:
    try:
        reader = csv.DictReader(lines)
        header = reader.fieldnames or []
        for column in header:
            if column not in _FIELDS:
                problems.append(f"line 1, field {column!r}: unknown column{_close(column)}")
        if len(set(header)) != len(header):
            problems.append("line 1: a column appears twice")
        for n, raw in enumerate(reader, 2):
            if None in raw:
                problems.append(f"line {n}: more cells than the header has columns")
                continue
            row: dict = {}
            for k, v in raw.items():
                if not k or v in (None, "") or k not in _FIELDS:
                    continue
                if k in _JSON_COLUMNS:
                    try:
                        v = json.loads(v)
                    except (ValueError, RecursionError):
                        problems.append(f"line {n}, field {k!r}: not a JSON object")
                        continue
                row[k] = v
            yield n, row
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not CSV ({exc})")


def _problem(n: int, err: dict) -> str:
    field = ".".join(str(p) for p in err["loc"])
    where = f"line {n}, field {field!r}" if field else f"line {n}"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field{_close(str(err['loc'][-1]))}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def _close(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(_FIELDS | set(MediaPolicy.model_fields)),
                                      n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

