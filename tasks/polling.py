"""Prefect tasks of the polling sensor: list, claim, announce, release — each over the
core's storage and seen-objects record (``flashfirst/inputs/polling.py``,
``flashfirst/inputs/seen_objects.py``)."""

from __future__ import annotations

from flashfirst.tasks.object_events import emit_object_finalized, event_id
from prefect import task
from prefect.deployments import run_deployment

from flashfirst.errors import AnnounceFailed
from flashfirst.inputs.polling import stored_objects
from flashfirst.inputs.seen_objects import SeenManifest, StoredObject
from flashfirst.run.context import environment_storage


@task
def list_stored_objects(source: str) -> list[StoredObject]:
    """Every object version under ``source``, without our own state objects."""
    return stored_objects(environment_storage(), source)


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
