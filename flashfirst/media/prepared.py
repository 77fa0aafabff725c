"""The prepared-media model and its store, keyed by content hash and media settings.

Layout under ``<storage_root>/media/``:
  ``<key><ext>``           the prepared file (``.mp4``, ``.flac``, ``.jpg``/``.png``, ...)
  ``<key>-kf<NNN>.jpg``    scene-change keyframes, when sent as images
  ``<key>.json``           the sidecar (a ``MediaRecord``), written last: its presence
                           means every output above is complete; it also remembers the
                           Files API upload so a second run can reuse it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flashfirst.errors import StorageError
from flashfirst.gemini.token_rules import MediaResolution, MediaRules
from flashfirst.media.accounting import MediaStats
from flashfirst.media.policies import AUDIO_EXT, PIPELINE_VERSION, ResolvedPolicy
from flashfirst.probe import MediaInfo, MediaKind
from flashfirst.settings import MediaSettings
from flashfirst.storage import Storage, join

_BYTES_AS_BASE64 = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")


class StoredFile(BaseModel):
    """One prepared file in storage, and where the model reads it once delivered."""

    model_config = _BYTES_AS_BASE64

    uri: str = Field(description="Where the prepared file lives in our storage.")
    mime_type: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    at_s: float | None = Field(None, description="A keyframe's time in the source (seconds).")
    file_name: str | None = Field(None, description="Files API resource name (files/...).")
    file_uri: str | None = Field(None, description="Files API URI or gs:// the model reads.")
    uploaded_to: str | None = Field(
        None, description="Backend (client.backend_id) holding the Files API upload; an "
        "upload is reused only on the same backend.")
    inline_data: bytes | None = Field(None, description="Bytes sent inline (never stored).")


class MediaRecord(BaseModel):
    """The JSON sidecar: all a later run needs to answer without ffmpeg or probing."""

    version: int = PIPELINE_VERSION
    key: str
    source_uri: str
    source_sha256: str
    source: MediaInfo = Field(description="The original, as probed.")
    kind: MediaKind = Field(description="What was prepared (audio for an audio-only item).")
    main: StoredFile | None = Field(None, description="None when only keyframes are sent.")
    keyframes: list[StoredFile] = Field(default_factory=list)
    duration_s: float = Field(0.0, description="Duration of what is sent (after trims).")
    has_audio: bool = False
    audio_duration_s: float | None = Field(
        None, description="Seconds of audio sent (a video can outlast its audio track); "
        "None: duration_s.")
    metadata_fps: float | None = None
    offsets: tuple[float, float | None] | None = None
    pages: int | None = None
    ffmpeg_seconds: float = 0.0

    @property
    def files(self) -> list[StoredFile]:
        return ([self.main] if self.main else []) + self.keyframes


class PreparedMedia(BaseModel):
    """One item's media, ready to put in a request (see ``to_parts``)."""

    model_config = _BYTES_AS_BASE64

    item_id: str
    key: str = Field(description="Store key: content hash + media settings + policy.")
    source_uri: str
    source_sha256: str
    kind: MediaKind
    mime_type: str | None = Field(None, description="Of the main file (None: keyframes only).")
    prepared_uri: str | None = Field(None, description="The main prepared file in storage.")
    file_uri: str | None = Field(None, description="Files API URI or gs:// when uploaded.")
    file_name: str | None = Field(None, description="Files API resource name.")
    inline_data: bytes | None = Field(None, description="Main file bytes when sent inline.")
    video_fps: float | None = Field(None, description="videoMetadata.fps (below 1 fps).")
    media_resolution: MediaResolution = MediaResolution.DEFAULT
    media_rules: MediaRules = Field(
        MediaRules.GEMINI_3, description="Token-rule family its stats were counted by.")
    start_offset_s: float | None = Field(None, description="videoMetadata.startOffset.")
    end_offset_s: float | None = Field(None, description="videoMetadata.endOffset.")
    keyframes: list[StoredFile] = Field(default_factory=list)
    stats: MediaStats
    segments: list[PreparedMedia] = Field(
        default_factory=list, description="fit 'split': the segments sent, one call each; "
        "this item then has no file of its own.")
    span: tuple[float, float, float] | None = Field(
        None, description="A segment's start and end in the source (overlap included) and "
        "where the part it owns begins (s).")

    @property
    def keyframe_uris(self) -> list[str]:
        return [k.uri for k in self.keyframes]

    @property
    def delivered(self) -> bool:
        """Every file is either uploaded or inline: ``to_parts`` can build the request."""
        main_ok = self.prepared_uri is None or bool(self.file_uri or self.inline_data)
        return main_ok and all(k.file_uri or k.inline_data for k in self.keyframes)


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class MediaStore:
    """Prepared outputs by key. A key names the content and every setting that changes
    the output bytes; media resolution and inline delivery do not, so they are left out."""

    _locks: dict[str, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, storage: Storage, storage_root: str) -> None:
        self.storage = storage
        self.base = join(storage_root, "media")

    @staticmethod
    def key_for(source_sha256: str, declared: MediaKind, media: MediaSettings,
                policy: ResolvedPolicy) -> str:
        material = {
            "pipeline": PIPELINE_VERSION, "sha256": source_sha256, "kind": declared.value,
            "fps": media.fps, "long_side": media.max_long_side,
            "audio_rate": media.audio_sample_rate, "audio_ext": AUDIO_EXT,
            "policy": policy.model_dump(include={
                "fps", "trim_start_s", "trim_end_s", "drop_audio", "remove_silence",
                "keyframes_as_images"}),
        }
        blob = json.dumps(material, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    def uri(self, key: str, suffix: str) -> str:
        return join(self.base, f"{key}{suffix}")

    def sidecar_uri(self, key: str) -> str:
        return self.uri(key, ".json")

    def lock(self, key: str) -> threading.Lock:
        """Two items with the same content in one run prepare (and upload) it once."""
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def load(self, key: str) -> MediaRecord | None:
        """The record if it and every file it names are present, else None (redo)."""
        sidecar = self.sidecar_uri(key)
        try:
            if not self.storage.exists(sidecar):
                return None
            record = MediaRecord.model_validate_json(self.storage.read_bytes(sidecar))
        except (StorageError, ValidationError):
            return None
        if record.version != PIPELINE_VERSION:
            return None
        if not all(self.storage.exists(f.uri) for f in record.files):
            return None
        return record

    def save(self, record: MediaRecord) -> None:
        stripped = record.model_copy(update={
            "main": record.main.model_copy(update={"inline_data": None}) if record.main else None,
            "keyframes": [k.model_copy(update={"inline_data": None}) for k in record.keyframes],
        })
        self.storage.write_text(self.sidecar_uri(record.key),
                                stripped.model_dump_json(indent=1), "application/json")
