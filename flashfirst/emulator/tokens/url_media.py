"""Media named by a public ``https://`` URL or a YouTube link, which Google fetches itself.

The emulator has no network, so it reads such a part one of two ways:
- **mapped**: ``EmulatorConfig.url_media`` maps the URL to a local file, which is then
  read exactly as an upload of that file would be (its real duration, size, pages);
- **unmapped**: a fixed stand-in, the emulator's own rule (Google publishes none, since it
  depends on what it fetched): a YouTube link or a ``video/*`` URL is a 60 s 1280x720 clip
  at 30 fps with stereo audio; an ``audio/*`` URL is 60 s of audio; an ``image/*`` URL is
  a 1024x1024 image; a PDF is one page. The type comes from the part's ``mimeType``, else
  from the URL's extension. Anything else is a 400 naming the URL and the config field.

Either way the URL itself is the media's identity for the answer (same URL, same answer)."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from flashfirst.emulator.tokens.media_probe import MediaInfo, MediaKind
from flashfirst.emulator.wire.errors import invalid_argument

_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be",
                  "www.youtu.be"}
STAND_IN_SECONDS = 60.0
_CLIP = MediaInfo(kind=MediaKind.VIDEO, size_bytes=0, duration_s=STAND_IN_SECONDS,
                  width=1280, height=720, audio_duration_s=STAND_IN_SECONDS)
_AUDIO = MediaInfo(kind=MediaKind.AUDIO, size_bytes=0, duration_s=STAND_IN_SECONDS,
                   audio_duration_s=STAND_IN_SECONDS)
_IMAGE = MediaInfo(kind=MediaKind.IMAGE, size_bytes=0, width=1024, height=1024)
_PDF = MediaInfo(kind=MediaKind.DOCUMENT, size_bytes=0, pages=1)


@dataclass(frozen=True)
class UrlMedia:
    """What a URL part reads as: the local file's bytes (mapped) or a stand-in's info."""

    digest: str
    mime: str
    data: bytes | None = None
    info: MediaInfo | None = None


def is_public_url(uri: str) -> bool:
    return uri.startswith(("https://", "http://")) and "/files/" not in urlparse(uri).path


def is_youtube(uri: str) -> bool:
    return (urlparse(uri).hostname or "").lower() in _YOUTUBE_HOSTS


def read_url_media(uri: str, mime: str, mapped: dict[str, str]) -> UrlMedia:
    digest = hashlib.sha256(uri.encode()).hexdigest()
    local = mapped.get(uri)
    if local is not None:
        path = Path(local)
        if not path.is_file():
            raise invalid_argument(f"Cannot fetch {uri}: EmulatorConfig.url_media maps it to "
                                   f"{local}, which is not a readable file.")
        guessed = mimetypes.guess_type(path.name)[0] or ""
        return UrlMedia(digest, mime or guessed, data=path.read_bytes())
    kind = "video/youtube" if is_youtube(uri) else \
        mime or mimetypes.guess_type(urlparse(uri).path)[0] or ""
    top = kind.split("/", 1)[0]
    info = (_CLIP if top == "video" else _AUDIO if top == "audio" else
            _IMAGE if top == "image" else _PDF if kind == "application/pdf" else None)
    if info is None:
        raise invalid_argument(f"Cannot read {uri} offline: its type ({kind or 'unknown'}) "
                               "has no stand-in; map the URL to a local file with "
                               "EmulatorConfig.url_media.")
    return UrlMedia(digest, kind, info=info)
