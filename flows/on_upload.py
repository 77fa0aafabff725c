"""Analyze one uploaded object: exactly the version its event names.

Started by a ``gcs.object.finalized`` event (bridge, Pub/Sub puller, polling sensor, or a
Prefect Cloud webhook) with the object's URI and generation, or by hand with a URI only
(then the current version is pinned first). The work item names that generation, so an
overwrite that lands meanwhile is never analyzed in its place; results and report go to ``gs://<bucket>/.flashfirst/results/<name>/<generation>/``
(a folder the announcers never announce, so results cannot start runs of their own).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from flashfirst.flows.analyze import analyze
from flashfirst.flows.task_runners import with_configured_task_runner
from flashfirst.tasks.seen_objects import STATE_DIR, is_own_state
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flashfirst.discover import item_for_uri
from flashfirst.errors import ConfigError, StorageError
from flashfirst.items import TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.report import RunReport
from flashfirst.run_context import environment_storage
from flashfirst.skipped import why_skipped
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


@task(name="pin-version", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def pin_version(uri: str, generation: int | None) -> ObjectVersion:
    """The version named, or the object's current one when none is."""
    if generation is None:
        generation = environment_storage().stat(uri).generation
    return ObjectVersion(uri=uri, generation=generation)


@task(name="find-finished-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def find_finished_report(output: str) -> RunReport | None:
    """A report from an earlier successful run of this version: a repeated event for it
    (two announcers, a redelivery after Prefect's de-duplication window) does no work."""
    storage, uri = environment_storage(), join(output, "report.json")
    if not storage.exists(uri):
        return None
    report = RunReport.model_validate_json(storage.read_text(uri))
    return report if report.items_total and not report.items_failed else None


@task(name="check-version", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def version_readable(version: ObjectVersion) -> bool:
    """False when the version is gone and a newer one exists (a bucket without object
    versioning keeps only the newest): that one's own event analyzes it."""
    storage = environment_storage()
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


# On the environment's task runner, as deployed analyze runs are; this flow's own retry
# repeats every step, so its analyze subflow does not retry as well.
_analyze_once = with_configured_task_runner(analyze).with_options(retries=0)


@flow(name="on-upload", retries=1, retry_delay_seconds=60, log_prints=True,
      flow_run_name="on-upload {uri}")
def on_upload(uri: str, generation: int | None = None, task: TaskKind | None = None,
              prompt: str | None = None, output: str | None = None,
              deadline_s: float | None = None, budget_usd: float | None = None,
              ) -> RunReport | None:
    """Analyze the object version an upload event names.

    Args:
        uri: gs://bucket/name (or a local path) of the uploaded object.
        generation: The object version to analyze; unset, the current one.
        task: What to do with it; unset, by extension (video: summarize, audio:
            transcribe, image: classify, text and documents: summarize).
        prompt: The instruction; unset, the task's default.
        output: Where results.jsonl and report.json go; unset,
            gs://<bucket>/.flashfirst/results/<name>/<generation>.
        deadline_s: Seconds the run may take; 900 or more uses the Flex tier (half price).
        budget_usd: Refuse to start above this estimate, stop when spent.
    """
    logger = get_run_logger()
    if is_own_state(object_name(uri)):
        logger.info("%s is flashfirst's own state or results: not analyzed", uri)
        return None
    version = pin_version(uri, generation)
    item = upload_item(version, task, prompt)
    output = output or version.results_folder()
    if (finished := find_finished_report(output)) is not None:
        logger.info("%s#%s was analyzed already: %s", uri, version.generation, output)
        return finished
    if not version_readable(version):
        logger.info("%s#%s was overwritten before it could be read; the newer version's "
                    "own run analyzes it", uri, version.generation)
        return None
    # The item names the generation: every read of it (hashing, ffmpeg, text) gets those
    # bytes, whatever has been written to the name since.
    return _analyze_once(params=AnalyzeParams(
        items=[item.model_copy(update={"generation": version.generation})], output=output,
        deadline_s=deadline_s, budget_usd=budget_usd))
