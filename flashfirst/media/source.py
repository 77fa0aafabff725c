"""Probe a source and say clearly what is wrong with it when it cannot be prepared."""

from __future__ import annotations

from pathlib import Path

from flashfirst.errors import ProbeError
from flashfirst.probe import MediaInfo, probe_file

_SNIFF_BYTES = 512


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniff boundary is still text.
        if exc.start < len(head) - 3:
            return False
    return True


def probe_source(path: Path, uri: str) -> MediaInfo:
    """``probe_file`` with causes a user can act on: a text file named ``.mp4`` is called
    text, not "invalid data". Raises ``ProbeError`` naming ``uri``."""
    try:
        return probe_file(path)
    except ProbeError as exc:
        cause = exc.cause
        try:
            with path.open("rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        except OSError:
            head = b""
        if _looks_like_text(head):
            cause = (f"the file holds text, not media (its name says {path.suffix or 'nothing'}"
                     f"; it starts {head[:40].decode('utf-8', 'replace')!r})")
        raise ProbeError(uri, cause) from exc
