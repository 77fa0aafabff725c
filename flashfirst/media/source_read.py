"""The one read of a source before its store key is known: the content hash, and for a
video the packet index its decode plan needs, taken at once.

The key needs the hash before anything can be reused, so hashing cannot wait for the
decode; but the index reads the same bytes, so the two run side by side (the hash in a
thread: ``hashlib`` releases the GIL) and the hash adds no wall time to a fresh video.
A reused video pays the index's CPU (tens of ms a minute of 720p) in the hash's shadow.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from flashfirst.media.prepared import sha256_file
from flashfirst.media.sampling import VideoIndex, index_video


@dataclass(frozen=True)
class SourceRead:
    """What the first read of a source found: its hash and, when asked, its index."""

    sha256: str
    index: VideoIndex | None = None
    indexed: bool = False  # False: not asked for (``index`` None then means unread)


def video_index(src: Path) -> VideoIndex | None:
    """The index, or None when ffmpeg must find its way alone (decode it all)."""
    try:
        return index_video(src)
    except (av.error.FFmpegError, ValueError, IndexError):
        return None  # the probe read it, so ffmpeg may too


def read_source(src: Path, *, index: bool) -> SourceRead:
    """Hash ``src``, indexing its video at the same time when ``index``."""
    if not index:
        return SourceRead(sha256_file(src))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="source-hash") as pool:
        digest = pool.submit(sha256_file, src)
        found = video_index(src)
        return SourceRead(digest.result(), found, indexed=True)
