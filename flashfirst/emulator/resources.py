"""The emulator's durable resources: uploaded (or generated) files, cached contents and
upload sessions. Plain data, so the state can keep them in memory or on disk alike."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flashfirst.emulator.tokens.media_probe import MediaInfo
from flashfirst.emulator.tokens.rules import TokenCount
from flashfirst.emulator.wire.codec import timestamp


@dataclass
class StoredFile:
    """An uploaded (or generated) file; its tokens come from probing these bytes.

    The bytes are in ``data`` (in-memory state) or in the ``blob`` file (durable state),
    read only when a request needs them."""

    id: str
    mime_type: str
    size_bytes: int
    sha256_hex: str
    create_time: float
    ready_time: float
    expire_time: float
    display_name: str | None = None
    source: str = "UPLOADED"
    media: MediaInfo | None = None
    error: str | None = None
    data: bytes | None = None
    blob: Path | None = None

    @property
    def name(self) -> str:
        return f"files/{self.id}"

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.blob is None:
            raise RuntimeError(f"{self.name} has neither bytes nor a blob")
        return self.blob.read_bytes()

    def state(self, now: float) -> str:
        if now < self.ready_time:
            return "PROCESSING"
        return "FAILED" if self.error else "ACTIVE"

    def resource(self, base_url: str, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(self.size_bytes),
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(max(self.create_time, min(now, self.ready_time))),
            "expirationTime": timestamp(self.expire_time),
            "sha256Hash": base64.b64encode(self.sha256_hex.encode()).decode(),
            "uri": f"{base_url}/v1beta/files/{self.id}",
            "state": self.state(now),
            "source": self.source,
        }
        if self.display_name:
            body["displayName"] = self.display_name
        if self.source == "GENERATED":
            body["downloadUri"] = f"{base_url}/v1beta/files/{self.id}:download?alt=media"
        if self.error and body["state"] == "FAILED":
            body["error"] = {"code": 400, "message": self.error, "status": "INVALID_ARGUMENT"}
        return body


@dataclass
class StoredCache:
    """A cached context; storage is billed from creation to deletion or expiry."""

    id: str
    model: str
    tokens: TokenCount
    text: str
    content_digest: str
    create_time: float
    update_time: float
    expire_time: float
    display_name: str | None = None
    deleted_time: float | None = None
    parent: str | None = None  # "projects/{p}/locations/{l}" on the Agent Platform surface

    @property
    def name(self) -> str:
        return f"cachedContents/{self.id}"

    def alive(self, now: float) -> bool:
        return self.deleted_time is None and now < self.expire_time

    def end_time(self, now: float) -> float:
        return min(self.expire_time, self.deleted_time or now, now)

    def resource(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "model": f"models/{self.model}",
            "createTime": timestamp(self.create_time),
            "updateTime": timestamp(self.update_time),
            "expireTime": timestamp(self.expire_time),
            "usageMetadata": {"totalTokenCount": self.tokens.total},
        }
        if self.display_name:
            body["displayName"] = self.display_name
        return body


@dataclass
class UploadSession:
    """A resumable upload between its 'start' and its 'upload, finalize'.

    Chunks go to ``part`` (a file) when the state is durable, else to ``buffer``; the hash
    is kept as they arrive so the bytes are never read twice."""

    id: str
    declared_size: int | None
    mime_type: str
    display_name: str | None
    file_id: str | None
    part: Path | None = None
    buffer: bytearray = field(default_factory=bytearray)
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)

    def append(self, chunk: bytes) -> None:
        if self.part is not None:
            with self.part.open("ab") as fh:
                fh.write(chunk)
        else:
            self.buffer.extend(chunk)
        self.hasher.update(chunk)
        self.received += len(chunk)

    def discard(self) -> None:
        if self.part is not None:
            self.part.unlink(missing_ok=True)
