"""An uploaded object as one work item: exactly the version its event names.

The on-upload flows take an object version from an event (or pin the current one), skip
a version analyzed already or overwritten since, and analyze the rest; the decisions are
here, so the flows only order them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from flashfirst.errors import ConfigError, StorageError
from flashfirst.inputs.discover import item_for_uri
from flashfirst.inputs.seen_objects import STATE_DIR
from flashfirst.inputs.skipped import why_skipped
from flashfirst.items import TaskKind, WorkItem
from flashfirst.reporting.report import RunReport
from flashfirst.storage import Storage, is_gcs, join, split_gcs


def object_name(uri: str) -> str:
    """The object's name in its bucket (a local file: its path)."""
    return split_gcs(uri)[1] if is_gcs(uri) else uri


class ObjectVersion(BaseModel, frozen=True):
    uri: str
    generation: int

    @property
    def name(self) -> str:
        return object_name(self.uri)

    def results_folder(self) -> str:
        """Where this version's results go unless the run names another place."""
        if is_gcs(self.uri):
            bucket, name = split_gcs(self.uri)
            return f"gs://{bucket}/{STATE_DIR}/results/{name}/{self.generation}"
        path = Path(self.uri)
        return join(str(path.parent), STATE_DIR, "results", path.name, str(self.generation))


def pinned_version(storage: Storage, uri: str, generation: int | None) -> ObjectVersion:
    """The version named, or the object's current one when none is."""
    if generation is None:
        generation = storage.stat(uri).generation
    return ObjectVersion(uri=uri, generation=generation)


def finished_report(storage: Storage, output: str) -> RunReport | None:
    """A report from an earlier successful run of this version: a repeated event for it
    (two announcers, a redelivery after Prefect's de-duplication window) does no work."""
    uri = join(output, "report.json")
    if not storage.exists(uri):
        return None
    report = RunReport.model_validate_json(storage.read_text(uri))
    return report if report.items_total and not report.items_failed else None


def version_readable(storage: Storage, version: ObjectVersion) -> bool:
    """False when the version is gone and a newer one exists (a bucket without object
    versioning keeps only the newest): that one's own event analyzes it."""
    if storage.exists(version.uri, version.generation):
        return True
    if _current_generation(storage, version.uri) > version.generation:
        return False
    raise StorageError(f"{version.uri}: no generation {version.generation}")


def _current_generation(storage: Storage, uri: str) -> int:
    try:
        return storage.stat(uri).generation
    except StorageError:
        return 0  # deleted since: nothing newer to defer to


def upload_item(version: ObjectVersion, task: TaskKind | None, prompt: str | None
                ) -> WorkItem:
    """The one work item, named after the object; fails at once for a file a folder run
    would skip (the same rules: hidden, archive, spreadsheet, unknown extension), before
    anything is copied."""
    why = why_skipped(PurePosixPath(version.name).name)
    item = item_for_uri(version.uri, task=task, prompt=prompt, item_id=version.name)
    if why is not None or item is None:
        detail = why[1] if why else "no task takes it"
        raise ConfigError(f"{version.uri}: not analyzed: {detail}; video, audio, image, PDF "
                          "and text files are")
    return item.model_copy(update={"metadata": {
        "source_uri": version.uri, "source_generation": str(version.generation)}})


def newest_versions(resources: Iterable[Mapping[str, str]], bucket: str,
                    names: str) -> list[ObjectVersion]:
    """The newest version of each object among upload events' resources whose bucket and
    name match the globs, sorted by URI."""
    newest: dict[str, ObjectVersion] = {}
    for resource in resources:
        if not (fnmatchcase(resource.get("gcs.bucket", ""), bucket)
                and fnmatchcase(resource.get("gcs.name", ""), names)):
            continue
        version = ObjectVersion(uri=resource["gcs.uri"],
                                generation=int(resource["gcs.generation"]))
        kept = newest.get(version.uri)
        if kept is None or kept.generation < version.generation:
            newest[version.uri] = version
    return sorted(newest.values(), key=lambda v: v.uri)
