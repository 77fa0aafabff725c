"""Files a folder or prefix holds that no task takes: named with the reason, never dropped
without a word (the report and the terminal list them)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, Field

from flashfirst.inputs.extensions import kind_of
from flashfirst.probe import MediaKind

_ARCHIVES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar"}
_SPREADSHEETS = {".xlsx", ".xlsm", ".xls", ".ods", ".numbers", ".csv", ".tsv"}
_SHOWN = 5  # skipped files named in a one-line summary; the report lists them all


class SkipReason(StrEnum):
    HIDDEN = "hidden"
    ARCHIVE = "archive"
    SPREADSHEET = "spreadsheet"
    UNKNOWN_EXTENSION = "unknown_extension"
    LINK = "link"
    OUR_STORAGE = "our_storage"
    NOT_READ_BY_MODEL = "not_read_by_model"


class OfficeReader(BaseModel, frozen=True):
    """The model a folder's Office and OpenDocument files would go to, and what it reads."""

    model: str
    reads: frozenset[str] = frozenset()


class SkippedInput(BaseModel, frozen=True):
    """A file (or a hidden folder, counted once) found in a source and not run."""

    uri: str
    name: str = Field(description="Its name below the source folder or prefix.")
    reason: SkipReason
    detail: str = Field(description="Why, and what to do to have it run.")
    files: int = Field(1, description="Files it stands for (a hidden folder's count).")


_HIDDEN = (SkipReason.HIDDEN, "hidden (a name starting with '.'); rename it to run it")


def why_skipped(name: str, office: OfficeReader | None = None
                ) -> tuple[SkipReason, str] | None:
    """Why a file at ``name`` (below its source) is not run, or None when a task takes it.
    An Office or OpenDocument file runs only when ``office``'s model reads its type: a
    folder's file the run's model cannot read is skipped, not failed."""
    if any(part.startswith(".") for part in name.split("/")):
        return _HIDDEN
    suffix = PurePosixPath(name).suffix.lower()
    if kind_of(name) is MediaKind.OFFICE:
        if office is not None and suffix in office.reads:
            return None
        model = office.model if office is not None else "the run's model"
        reason = SkipReason.SPREADSHEET if suffix in _SPREADSHEETS \
            else SkipReason.NOT_READ_BY_MODEL
        return reason, (f"{model} does not read {suffix} files: name it in a manifest with "
                        "a model that does (Gemini 4 Hydrogen, Carbon), or export it as PDF")
    hint = " (a manifest is run by naming it as the source)" if suffix in (
        ".csv", ".jsonl") else ""
    if suffix in _ARCHIVES:
        return SkipReason.ARCHIVE, (f"an archive ({suffix}): unpack it into the folder to run "
                                    "what it holds")
    if suffix in _SPREADSHEETS:
        return SkipReason.SPREADSHEET, (f"a spreadsheet ({suffix}): no model reads it here; "
                                        f"export it as text or PDF{hint}")
    if kind_of(name) is None:
        what = f"'{suffix}' files" if suffix else "files without an extension"
        return SkipReason.UNKNOWN_EXTENSION, f"no task takes {what}{hint}"
    return None


def hidden_root(name: str) -> str | None:
    """The hidden folder ``name`` lies in (``.git`` for ``.git/objects/ab``), or None."""
    parts = name.split("/")
    for n, part in enumerate(parts[:-1]):
        if part.startswith("."):
            return "/".join(parts[:n + 1])
    return None


def skipped_line(skipped: list[SkippedInput]) -> str | None:
    """One line for the terminal: how many files were skipped, the first few and why."""
    if not skipped:
        return None
    files = sum(s.files for s in skipped)
    shown = ", ".join(f"{s.name} ({s.reason.value}{_count(s)})" for s in skipped[:_SHOWN])
    more = f" and {len(skipped) - _SHOWN} more" if len(skipped) > _SHOWN else ""
    return (f"skipped {files} file{'s' if files != 1 else ''} no task takes: {shown}{more} "
            "(report.md says why)")


def _count(s: SkippedInput) -> str:
    return f", {s.files} files" if s.files > 1 else ""


def unfollowed_links(root: str) -> list[SkippedInput]:
    """Symbolic links below a local folder that a listing passes over without a word: links
    to folders (not followed: a loop or a second path to the same files) and broken ones.
    Hidden ones are left to the hidden rule."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")
                   or os.path.islink(os.path.join(folder, d))]
        for entry in dirs + files:
            path = os.path.join(folder, entry)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            if not os.path.islink(path) or why_skipped(name) == _HIDDEN:
                continue
            if os.path.isdir(path):
                detail = "a link to a folder, not followed; name that folder as a source"
            elif not os.path.exists(path):
                detail = "a broken link (its target is gone)"
            else:
                continue  # a link to a file is read like the file
            found.append(SkippedInput(uri=path, name=name, reason=SkipReason.LINK,
                                      detail=detail))
    return found
