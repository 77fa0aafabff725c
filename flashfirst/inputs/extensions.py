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
# Office and OpenDocument files, as Gemini 4 takes them (Hydrogen and Carbon developer
# guides, docs.cloud.google.com/gemini-enterprise-agent-platform/models/guides/, read
# 2026-12-02), with their IANA media types.
OFFICE_MIME_TYPES: dict[str, str] = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
KIND_BY_EXTENSION.update(dict.fromkeys(OFFICE_MIME_TYPES, MediaKind.OFFICE))


def kind_of(uri: str) -> MediaKind | None:
    return KIND_BY_EXTENSION.get(PurePosixPath(uri).suffix.lower())
