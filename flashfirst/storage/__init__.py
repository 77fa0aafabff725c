"""Storage by URI: local paths and ``gs://bucket/prefix`` behind one small interface.

``Storage`` (``facade``) picks a store by the URI's scheme: ``LocalStore`` (``local``) or
``GcsStore`` (``gcs``), both doing what ``ObjectStore`` (``protocol``) promises. Writes are
atomic (a local temp file renamed into place; a GCS object only becomes visible when its
upload finishes), large objects are streamed through files rather than held in memory, and
reading "generation N" never returns a later overwrite in its place: GCS serves the old
bytes (while that generation exists), a local file that changed since raises
:class:`StorageError`.
"""

from flashfirst.errors import StorageError
from flashfirst.storage.facade import Storage
from flashfirst.storage.gcs import GcsStore
from flashfirst.storage.local import LocalStore
from flashfirst.storage.protocol import ObjectInfo, ObjectStore, PreconditionFailed
from flashfirst.storage.uris import browser_url, is_gcs, join, split_gcs

__all__ = ["GcsStore", "LocalStore", "ObjectInfo", "ObjectStore", "PreconditionFailed",
           "Storage", "StorageError", "browser_url", "is_gcs", "join", "split_gcs"]
