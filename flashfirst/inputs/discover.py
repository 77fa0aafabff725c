"""Turn a run's input into work items: the items given, and a source — a manifest
(JSONL/CSV), a folder or a ``gs://bucket/prefix`` whose files get per-extension defaults.

However a source is spelt (``inbox``, ``./inbox/``, ``file://…``, absolute, through a
symlink, ``gs://b/p`` or ``gs://b/p/``) it is first brought to its one canonical URI, so the
same files give the same items: a file's id is its name below the folder or prefix, its URI
the canonical folder's joined with that name. Ids are unique or the run does not start."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import PurePosixPath

from pydantic import BaseModel, Field

from flashfirst.errors import ConfigError, DuplicateIds, ManifestError
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.inputs.context import CONTEXT_PREFIX
from flashfirst.inputs.extensions import KIND_BY_EXTENSION, kind_of
from flashfirst.inputs.manifest import MANIFEST_SUFFIXES, read_manifest, read_manifest_lines
from flashfirst.inputs.skipped import (
    OfficeReader,
    SkippedInput,
    SkipReason,
    hidden_root,
    unfollowed_links,
    why_skipped,
)
from flashfirst.items import TaskKind, WorkItem
from flashfirst.packed import Packed
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import RoutingPolicy, route
from flashfirst.probe import MediaKind
from flashfirst.settings import ModelCatalogue
from flashfirst.storage import Storage, is_gcs, join
from flashfirst.storage.uris import canonical_uri, relative_name

__all__ = ["Discovery", "ManifestError", "discover", "item_for_uri", "read_manifest",
           "run_inputs"]

# The task a file found in a folder or prefix gets, by its kind.
TASK_BY_KIND: dict[MediaKind, TaskKind] = {
    MediaKind.VIDEO: TaskKind.SUMMARIZE, MediaKind.AUDIO: TaskKind.TRANSCRIBE,
    MediaKind.IMAGE: TaskKind.CLASSIFY, MediaKind.DOCUMENT: TaskKind.SUMMARIZE,
    MediaKind.TEXT: TaskKind.SUMMARIZE, MediaKind.OFFICE: TaskKind.SUMMARIZE,
}


class Discovery(BaseModel):
    """What a run will work on, where each item came from, and what it will not touch."""

    items: Packed[WorkItem] = Field(default_factory=lambda: Packed(WorkItem), description=(
        "Packed (``flashfirst/packed.py``): a few dozen bytes an item, not an object."))
    origins: list[str] = Field(
        default_factory=list, description="Per item, where it came from (a file's URI, a "
        "manifest line, the run's parameters): what a clash of ids names; empty once "
        "the run's ids are checked (``run_inputs``).")
    skipped: list[SkippedInput] = Field(default_factory=list)


def item_for_uri(uri: str, *, task: TaskKind | None = None, prompt: str | None = None,
                 item_id: str | None = None) -> WorkItem | None:
    """An item for one file by its extension, or None when the extension is unknown."""
    kind = kind_of(uri)
    if kind is None:
        return None
    return WorkItem(id=item_id or PurePosixPath(uri).name, uri=uri, kind=kind,
                    task=task or TASK_BY_KIND[kind], prompt=prompt)


def run_inputs(params: AnalyzeParams, storage: Storage, *, storage_root: str | None = None,
               office: OfficeReader | None = None) -> Discovery:
    """The run's items (those given, then its source's), refused before anything starts if
    two share an id or one takes the shared context's reserved prefix. Files under
    ``storage_root`` (earlier runs' results, answers, media) are never inputs."""
    found = (discover(params.source, storage, task=params.task, prompt=params.prompt,
                      storage_root=storage_root, office=office)
             if params.source else Discovery())
    if not params.items:
        both = found
    else:
        items = Packed(WorkItem, params.items)
        items.extend(found.items)
        both = Discovery(items=items, skipped=found.skipped,
                         origins=[f"items[{n}] of the run's parameters"
                                  for n in range(len(params.items))] + found.origins)
        refuse_clashing_ids(both)
    both.origins = []  # only a clash names them: a run need not carry a string per item
    return both


def discover(source: str, storage: Storage, *, task: TaskKind | None = None,
             prompt: str | None = None, storage_root: str | None = None,
             office: OfficeReader | None = None) -> Discovery:
    """The items of one source, named by whatever spelling of it (see the module doc)."""
    uri = canonical_uri(source)
    if not is_gcs(uri) and not os.path.exists(uri):
        raise ConfigError(f"{source}: no such file or folder ({uri})")
    if uri.lower().endswith(MANIFEST_SUFFIXES) and not os.path.isdir(uri):
        items, numbers = read_manifest_lines(uri, storage)
        found = Discovery(items=items, origins=[f"{uri} line {n}" for n in numbers])
    elif is_gcs(uri) or os.path.isdir(uri):
        found = _folder(uri, storage, task, prompt, storage_root, office)
        if not found.items:
            skipped = sum(s.files for s in found.skipped)
            raise ConfigError(f"{source}: no files with a known extension "
                              f"({', '.join(sorted(KIND_BY_EXTENSION))})"
                              + (f"; skipped {skipped} file(s)" if skipped else ""))
    else:
        raise ConfigError(f"{source}: a file, not a folder, gs:// prefix or manifest "
                          f"({', '.join(MANIFEST_SUFFIXES)})")
    refuse_clashing_ids(found)
    return found


def _folder(root: str, storage: Storage, task: TaskKind | None,
            prompt: str | None, storage_root: str | None = None,
            office: OfficeReader | None = None) -> Discovery:
    """Every file below ``root`` (canonical) by its name below it; the rest skipped, a
    hidden folder once with its file count, flashfirst's own storage root once too."""
    found = Discovery()
    hidden: Counter[str] = Counter()
    ours = _inside(root, storage_root)
    in_ours = 0
    for uri in storage.list(root):
        name = relative_name(root, uri)
        if ours is not None and name.startswith(ours + "/"):
            in_ours += 1
            continue
        if (folder := hidden_root(name)) is not None:
            hidden[folder] += 1
            continue
        if (why := why_skipped(name, office)) is not None:
            found.skipped.append(SkippedInput(uri=uri, name=name, reason=why[0], detail=why[1]))
            continue
        item = item_for_uri(uri, task=task, prompt=prompt, item_id=name)
        if item is not None:  # why_skipped said a task takes it
            found.items.append(item)
            found.origins.append(uri)
    found.skipped += [SkippedInput(uri=join(root, folder), name=folder, files=n,
                                   reason=SkipReason.HIDDEN,
                                   detail=f"a hidden folder ({n} file(s)); rename it to run "
                                          "what it holds")
                      for folder, n in sorted(hidden.items())]
    if in_ours:
        found.skipped.append(SkippedInput(
            uri=join(root, ours or ""), name=ours or "", files=in_ours,
            reason=SkipReason.OUR_STORAGE, detail=f"flashfirst's own storage root ({in_ours} "
            "file(s): earlier runs' results, answers, media), never an input"))
    if not is_gcs(root):
        found.skipped += unfollowed_links(root)
    found.skipped.sort(key=lambda s: s.name)
    return found


def office_reader(task: TaskKind | None, policy: RoutingPolicy, models: ModelCatalogue,
                  catalogue: Catalogue) -> OfficeReader:
    """Which model a folder's Office file would be routed to, and the types it reads."""
    probe = WorkItem(id="office", uri="office.docx", task=task or TASK_BY_KIND[MediaKind.OFFICE])
    model = route(probe, policy, models).model
    serving = catalogue.find(catalogue.served_id(model))
    return OfficeReader(model=model, reads=frozenset(serving.document_inputs if serving else ()))


def _inside(root: str, storage_root: str | None) -> str | None:
    """The storage root's name below ``root`` when it lies inside it, else None."""
    if storage_root is None:
        return None
    ours = canonical_uri(storage_root)
    return ours[len(root.rstrip("/")) + 1:] if ours.startswith(root.rstrip("/") + "/") \
        else None


def refuse_clashing_ids(found: Discovery) -> None:
    """Ids are what results, answers and failures are keyed by: two inputs with one id
    would merge silently, so the run does not start; every clash names both inputs."""
    first: dict[str, str] = {}
    clashes = []
    for item, origin in zip(found.items, found.origins, strict=True):
        if item.id.startswith(CONTEXT_PREFIX):
            clashes.append(f"{item.id!r} from {origin}: ids starting with "
                           f"{CONTEXT_PREFIX!r} name the shared context's documents")
        elif item.id in first:
            clashes.append(f"{item.id!r}: {first[item.id]} and {origin}")
        else:
            first[item.id] = origin
    if clashes:
        raise DuplicateIds(clashes)
