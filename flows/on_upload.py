"""Analyze one uploaded object: exactly the version its event names.

Started by a ``gcs.object.finalized`` event (bridge, Pub/Sub puller, polling sensor, or a
Prefect Cloud webhook) with the object's URI and generation, or by hand with a URI only
(then the current version is pinned first). The work item names that generation, so an
overwrite that lands meanwhile is never analyzed in its place; results and report go to ``gs://<bucket>/.flashfirst/results/<name>/<generation>/``
(a folder the announcers never announce, so results cannot start runs of their own).
"""

from __future__ import annotations

from flashfirst.flows.analyze import analyze
from flashfirst.flows.task_runners import with_configured_task_runner
from flashfirst.tasks.uploads import check_version, find_finished_report, pin_version
from prefect import flow, get_run_logger

from flashfirst.inputs.seen_objects import is_own_state
from flashfirst.inputs.uploads import object_name, upload_item
from flashfirst.items import TaskKind
from flashfirst.params import AnalyzeParams
from flashfirst.reporting.report import RunReport

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
    if not check_version(version):
        logger.info("%s#%s was overwritten before it could be read; the newer version's "
                    "own run analyzes it", uri, version.generation)
        return None
    # The item names the generation: every read of it (hashing, ffmpeg, text) gets those
    # bytes, whatever has been written to the name since.
    return _analyze_once(params=AnalyzeParams(
        items=[item.model_copy(update={"generation": version.generation})], output=output,
        deadline_s=deadline_s, budget_usd=budget_usd))
