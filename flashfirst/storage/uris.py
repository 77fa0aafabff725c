"""What a storage URI says: local path or ``gs://bucket/name``, how to join and show one, and
the one spelling of a place however a user typed it."""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flashfirst.errors import ConfigError, StorageError


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


# -- the one spelling of a place a user names ----------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def canonical_uri(uri: str) -> str:
    """The one spelling of a folder, prefix or file however it was typed: ``gs://bucket``
    or ``gs://bucket/name`` without a trailing slash; a local path (plain, relative,
    ``~``, ``file://``, through symlinks) as its absolute real path. Two spellings of the
    same place give the same string, so what is found there gets the same ids and URIs."""
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        name = name.rstrip("/")
        return f"gs://{bucket}/{name}" if name else f"gs://{bucket}"
    return os.path.realpath(os.path.expanduser(_local_path(uri)))


def resolve_against(base: str, uri: str) -> str:
    """``uri`` as written in a manifest whose folder is ``base`` (canonical): relative paths
    are relative to that folder, ``.`` and ``..`` are resolved by their spelling (the file's
    own name, hence its kind, is kept even when it is a symlink)."""
    if is_gcs(uri):
        return uri
    if _SCHEME.match(uri) and not uri.startswith("file://"):
        raise ConfigError(f"{uri!r}: only local paths, file:// and gs:// URIs are read")
    path = _local_path(uri)
    if os.path.isabs(path):
        return os.path.normpath(path)
    if not is_gcs(base):
        return os.path.normpath(os.path.join(base, path))
    bucket, folder = split_gcs(base)
    name = posixpath.normpath(posixpath.join(folder, path))
    if name == ".." or name.startswith("../"):
        raise ConfigError(f"{uri!r} leads above the bucket {base}")
    return f"gs://{bucket}/{name}"


def parent_uri(uri: str) -> str:
    """The folder a canonical URI is in (``gs://bucket`` for an object at the root)."""
    return uri.rsplit("/", 1)[0] if is_gcs(uri) else os.path.dirname(uri)


def relative_name(root: str, uri: str) -> str:
    """``uri``'s name below the canonical folder or prefix ``root`` (``/``-separated)."""
    prefix = root.rstrip("/") + "/"
    if not uri.startswith(prefix):
        raise StorageError(f"{uri}: listed under {root} but not inside it")
    return uri[len(prefix):]


def _local_path(uri: str) -> str:
    """A local path from a plain path or a ``file://`` URL (percent-escapes decoded)."""
    if not uri.startswith("file:/"):
        return uri
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"{uri}: a file:// URL on another host ({parts.netloc}) cannot be "
                          "read; copy the files here or to gs://")
    return unquote(parts.path)
