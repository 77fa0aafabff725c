"""Polling sensor: on a schedule, list a ``gs://bucket/prefix`` (or a local folder) and
announce each object version not seen before — the same ``gcs.object.finalized`` event the
bridge emits, or a run of a deployment. For buckets where nothing can push notifications.

What was seen lives in one marker object (by default ``gs://<bucket>/.flashfirst/poll-seen/
<prefix>.json``), claimed by compare-and-swap, so overlapping polls never announce an object
twice, and an object version whose announcement failed is released for the next poll.
"""

from __future__ import annotations

from pathlib import Path

from flashfirst.tasks.object_events import StoredObject, emit_object_finalized, event_id
from flashfirst.tasks.seen_objects import STATE_DIR, SeenManifest, is_own_state
from prefect import flow, task, unmapped
from prefect.deployments import run_deployment
from pydantic import BaseModel, Field, field_validator

from flashfirst.errors import AnnounceFailed
from flashfirst.run_context import environment_storage
from flashfirst.storage import is_gcs, join, split_gcs
from flashfirst.storage.uris import canonical_uri


class PollRequest(BaseModel):
    source: str = Field(description="gs://bucket/prefix or a local folder to watch.")
    deployment: str | None = Field(
        None, description="'flow-name/deployment-name' to run once per new object, instead "
        "of emitting gcs.object.finalized for a trigger to pick up.")
    uri_parameter: str = Field("uri", description="The deployment's parameter for the URI.")
    skip_existing: bool = Field(
        False, description="On the first poll, take what is already there as seen.")
    marker_uri: str | None = Field(
        None, description="Where the record of seen objects lives (default: a .flashfirst "
        "folder at the bucket's or folder's root).")

    @field_validator("source")
    @classmethod
    def _one_spelling(cls, source: str) -> str:
        """``./in``, ``in/`` and the absolute path are one folder: its objects are announced
        under one URI each, and remembered as seen whichever spelling polls next."""
        return canonical_uri(source)

    def marker(self) -> str:
        if self.marker_uri:
            return self.marker_uri
        if is_gcs(self.source):
            bucket, prefix = split_gcs(self.source)
            slug = prefix.strip("/").replace("/", "__") or "_root"
            return f"gs://{bucket}/{STATE_DIR}/poll-seen/{slug}.json"
        return join(self.source, STATE_DIR, "poll-seen.json")


class PollReport(BaseModel):
    source: str
    listed: int = Field(description="Object versions under the source now.")
    announced: list[str] = Field(description="URIs announced by this poll (new versions).")


@task
def list_stored_objects(source: str) -> list[StoredObject]:
    """Every object version under ``source``, without our own state objects."""
    root = "" if is_gcs(source) else str(Path(source))
    infos = environment_storage().list_objects(source)
    objects = [StoredObject.from_info(i) for i in infos]
    return [o for o in objects if not is_own_state(o.name.removeprefix(root))]


@task
def claim_new_objects(objects: list[StoredObject], marker_uri: str,
                      skip_existing: bool) -> list[StoredObject]:
    """Record ``objects`` as seen; return those no earlier poll had claimed."""
    return SeenManifest(marker_uri).claim_new(objects, skip_existing=skip_existing)


@task(retries=2, retry_delay_seconds=5)
def announce_object(obj: StoredObject, deployment: str | None, uri_parameter: str) -> str:
    """Emit the object's event, or start one run of ``deployment`` (idempotent per version:
    a retried or repeated announcement finds the run it already started)."""
    if deployment is None:
        if emit_object_finalized(obj) is None:
            raise AnnounceFailed(f"{obj.uri}: Prefect did not take the event")
    else:
        run_deployment(deployment, parameters={uri_parameter: obj.uri}, timeout=0,
                       idempotency_key=str(event_id(obj)))
    return obj.uri


@task
def release_unannounced(marker_uri: str, failed: list[StoredObject]) -> None:
    """Give failed objects back to the next poll, and fail this run so it shows."""
    if failed:
        SeenManifest(marker_uri).release(failed)
        raise AnnounceFailed(f"{len(failed)} object(s) not announced, first "
                                  f"{failed[0].uri}; the next poll tries them again")


@flow(name="poll-bucket")
def poll_bucket(request: PollRequest) -> PollReport:
    """Announce each object under a prefix once per version, for sites without
    notifications.

    Args:
        request: The prefix to watch, the deployment to start (or none: emit events),
            and where to remember what was seen.
    """
    objects = list_stored_objects(request.source)
    new = claim_new_objects(objects, request.marker(), request.skip_existing)
    announcements = announce_object.map(new, unmapped(request.deployment),
                                        unmapped(request.uri_parameter))
    announcements.wait()
    release_unannounced(request.marker(),
                        [o for o, a in zip(new, announcements, strict=True)
                         if not a.state.is_completed()])
    return PollReport(source=request.source, listed=len(objects),
                      announced=[a.result() for a in announcements])
