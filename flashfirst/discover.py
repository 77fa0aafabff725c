"""Turn a run's input into work items: a list, a manifest (JSONL/CSV), or a folder or
``gs://bucket/prefix`` whose files get per-extension defaults."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePosixPath

from pydantic import ValidationError

from flashfirst.errors import ConfigError
from flashfirst.extensions import KIND_BY_EXTENSION, kind_of
from flashfirst.items import TaskKind, WorkItem
from flashfirst.probe import MediaKind
from flashfirst.storage import Storage

# The task a file found in a folder or prefix gets, by its kind.
TASK_BY_KIND: dict[MediaKind, TaskKind] = {
    MediaKind.VIDEO: TaskKind.SUMMARIZE, MediaKind.AUDIO: TaskKind.TRANSCRIBE,
    MediaKind.IMAGE: TaskKind.CLASSIFY, MediaKind.DOCUMENT: TaskKind.SUMMARIZE,
    MediaKind.TEXT: TaskKind.SUMMARIZE,
}
_MANIFEST_SUFFIXES = (".jsonl", ".csv")


def item_for_uri(uri: str, *, task: TaskKind | None = None, prompt: str | None = None,
                 item_id: str | None = None) -> WorkItem | None:
    """An item for one file by its extension, or None when the extension is unknown."""
    kind = kind_of(uri)
    if kind is None:
        return None
    return WorkItem(id=item_id or PurePosixPath(uri).name, uri=uri, kind=kind,
                    task=task or TASK_BY_KIND[kind], prompt=prompt)


def discover(source: str, storage: Storage, *, task: TaskKind | None = None,
             prompt: str | None = None) -> list[WorkItem]:
    if source.lower().endswith(_MANIFEST_SUFFIXES):
        return read_manifest(source, storage)
    items: list[WorkItem] = []
    seen: set[str] = set()
    for uri in storage.list(source):
        rel = uri[len(source.rstrip("/")) + 1:]
        item = item_for_uri(uri, task=task, prompt=prompt, item_id=rel)
        if item is not None and item.id not in seen:
            seen.add(item.id)
            items.append(item)
    if not items:
        raise ConfigError(f"{source}: no files with a known extension "
                          f"({', '.join(sorted(KIND_BY_EXTENSION))})")
    return items


def read_manifest(uri: str, storage: Storage) -> list[WorkItem]:
    """JSONL: one WorkItem object a line. CSV: a header with WorkItem field names."""
    text = storage.read_text(uri)
    base = uri.rsplit("/", 1)[0]
    rows: list[tuple[int, dict]] = []
    if uri.lower().endswith(".jsonl"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{uri} line {n}: not JSON ({exc.msg})") from exc
    else:
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
            rows.append((n, {k: v for k, v in row.items() if k and v not in (None, "")}))
    items = []
    for n, row in rows:
        if row.get("uri") and not _absolute(row["uri"]):
            row["uri"] = f"{base}/{row['uri']}"  # relative to the manifest
        try:
            items.append(WorkItem.model_validate(row))
        except ValidationError as exc:
            raise ConfigError(f"{uri} line {n}: {exc.errors()[0]['loc']}: "
                              f"{exc.errors()[0]['msg']}") from exc
    _check_unique(items, uri)
    return items


def _check_unique(items: list[WorkItem], where: str) -> None:
    ids = [i.id for i in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{where}: item ids must be unique; repeated: {', '.join(dupes)}")


def _absolute(uri: str) -> bool:
    return uri.startswith(("gs://", "/"))
