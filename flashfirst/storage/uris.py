"""What a storage URI says: local path or ``gs://bucket/name``, and how to join and show one."""

from __future__ import annotations

from pathlib import Path

from flashfirst.errors import StorageError


def is_gcs(uri: str) -> bool:
    return uri.startswith("gs://")


def join(base: str, *parts: str) -> str:
    """Join URI segments with ``/`` (never the OS separator: the result may be gs://)."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def browser_url(uri: str) -> str:
    """Where a person opens the object: the Cloud Console's authenticated URL for gs://,
    a file:// URL for local paths."""
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        return f"https://storage.cloud.google.com/{bucket}/{name}"
    return Path(uri).resolve().as_uri()


def split_gcs(uri: str) -> tuple[str, str]:
    if not is_gcs(uri):
        raise StorageError(f"{uri}: not a gs:// URI")
    bucket, _, name = uri[len("gs://"):].partition("/")
    if not bucket:
        raise StorageError(f"{uri}: no bucket in URI")
    return bucket, name
