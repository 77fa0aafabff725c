"""What a file's extension says about its kind (shared by items and discovery)."""

from __future__ import annotations

from pathlib import PurePosixPath

from flashfirst.probe import MediaKind

KIND_BY_EXTENSION: dict[str, MediaKind] = {
    **dict.fromkeys((".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpeg", ".mpg", ".m4v", ".3gp"),
                    MediaKind.VIDEO),
    **dict.fromkeys((".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".aiff"),
                    MediaKind.AUDIO),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif"), MediaKind.IMAGE),
    ".pdf": MediaKind.DOCUMENT,
    **dict.fromkeys((".txt", ".md", ".html", ".json"), MediaKind.TEXT),
}


def kind_of(uri: str) -> MediaKind | None:
    return KIND_BY_EXTENSION.get(PurePosixPath(uri).suffix.lower())
