"""Polling sensor: on a schedule, list a ``gs://bucket/prefix`` (or a local folder) and
announce each object version not seen before — the same ``gcs.object.finalized`` event the
bridge emits, or a run of a deployment. For buckets where nothing can push notifications.

What was seen lives in one marker object (by default ``gs://<bucket>/.flashfirst/poll-seen/
<prefix>.json``), claimed by compare-and-swap, so overlapping polls never announce an object
twice, and an object version whose announcement failed is released for the next poll.
"""

from __future__ import annotations

from flashfirst.tasks.polling import (
    announce_object,
    claim_new_objects,
    list_stored_objects,
    release_unannounced,
)
from prefect import flow, unmapped

from flashfirst.inputs.polling import PollReport, PollRequest


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
