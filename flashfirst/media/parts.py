"""Request parts for prepared media, in the SDK's own types."""

from __future__ import annotations

from collections.abc import Iterable

from google.genai import types

from flashfirst.media.prepared import PreparedMedia, StoredFile
from flashfirst.token_rules import MediaResolution


class NotDelivered(ValueError):
    """The media was prepared without a client and is too large (or not allowed) inline."""


def _offset(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:g}s"


def _file_part(f: StoredFile, *, item_id: str,
               video_metadata: types.VideoMetadata | None = None,
               resolution: types.PartMediaResolution | None = None) -> types.Part:
    if f.inline_data is not None:
        return types.Part(inline_data=types.Blob(data=f.inline_data, mime_type=f.mime_type),
                          video_metadata=video_metadata, media_resolution=resolution)
    if f.file_uri:
        return types.Part(file_data=types.FileData(file_uri=f.file_uri, mime_type=f.mime_type),
                          video_metadata=video_metadata, media_resolution=resolution)
    raise NotDelivered(f"item {item_id!r}: {f.uri} was neither uploaded nor inlined "
                       "(prepare it with a client, or allow inline delivery)")


def to_parts(prepared: PreparedMedia, *, per_part_resolution: bool = False) -> list[types.Part]:
    """The parts for one item: keyframe images first (in time order), then the main file.

    Low media resolution is a request-level setting on Gemini 2.5
    (``GenerateContentConfig.media_resolution``, see ``request_media_resolution``); Gemini 3
    also takes it per part, which ``per_part_resolution=True`` adds."""
    resolution = None
    if per_part_resolution and prepared.media_resolution is MediaResolution.LOW:
        resolution = types.PartMediaResolution(
            level=types.PartMediaResolutionLevel.MEDIA_RESOLUTION_LOW)
    parts = [_file_part(k, item_id=prepared.item_id, resolution=resolution)
             for k in prepared.keyframes]
    if prepared.prepared_uri is None or prepared.mime_type is None:
        return parts
    metadata = None
    if prepared.video_fps is not None or prepared.start_offset_s or prepared.end_offset_s:
        metadata = types.VideoMetadata(fps=prepared.video_fps,
                                       start_offset=_offset(prepared.start_offset_s),
                                       end_offset=_offset(prepared.end_offset_s))
    main = StoredFile(uri=prepared.prepared_uri, mime_type=prepared.mime_type,
                      size_bytes=prepared.stats.bytes_after, file_uri=prepared.file_uri,
                      inline_data=prepared.inline_data)
    parts.append(_file_part(main, item_id=prepared.item_id, video_metadata=metadata,
                            resolution=resolution))
    return parts


def request_media_resolution(prepared: Iterable[PreparedMedia]) -> types.MediaResolution | None:
    """``GenerateContentConfig.media_resolution`` for a request carrying these items:
    LOW only when every item asked for it (it applies to the whole request)."""
    items = list(prepared)
    if items and all(p.media_resolution is MediaResolution.LOW for p in items):
        return types.MediaResolution.MEDIA_RESOLUTION_LOW
    return None
