"""What the polling sensor watches and remembers: the request a poll runs with, its
report, and the listing it compares with what earlier polls claimed.

What was seen lives in one marker object (by default ``gs://<bucket>/.flashfirst/poll-seen/
<prefix>.json``), claimed by compare-and-swap (``flashfirst/inputs/seen_objects.py``), so
overlapping polls never announce an object twice.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from flashfirst.inputs.seen_objects import STATE_DIR, StoredObject, is_own_state
from flashfirst.storage import Storage, is_gcs, join, split_gcs
from flashfirst.storage.uris import canonical_uri
from flashfirst.user_input import UserInput


class PollRequest(UserInput):
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


def stored_objects(storage: Storage, source: str) -> list[StoredObject]:
    """Every object version under ``source``, without our own state objects."""
    root = "" if is_gcs(source) else str(Path(source))
    objects = [StoredObject.from_info(i) for i in storage.list_objects(source)]
    return [o for o in objects if not is_own_state(o.name.removeprefix(root))]
