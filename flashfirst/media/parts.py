"""Request parts for prepared media, in the SDK's own types."""

from __future__ import annotations

from collections.abc import Iterable

from google.genai import types

from flashfirst.errors import NotDelivered
from flashfirst.gemini.token_rules import MediaResolution, MediaRules
from flashfirst.media.prepared import PreparedMedia, StoredFile

_PART_LEVEL = {
    MediaResolution.LOW: types.PartMediaResolutionLevel.MEDIA_RESOLUTION_LOW,
    MediaResolution.MEDIUM: types.PartMediaResolutionLevel.MEDIA_RESOLUTION_MEDIUM,
    MediaResolution.HIGH: types.PartMediaResolutionLevel.MEDIA_RESOLUTION_HIGH,
    MediaResolution.ULTRA_HIGH: types.PartMediaResolutionLevel.MEDIA_RESOLUTION_ULTRA_HIGH,
}
# The request-wide setting has no ultra_high (per part only): high is the closest.
_GLOBAL_LEVEL = {
    MediaResolution.LOW: types.MediaResolution.MEDIA_RESOLUTION_LOW,
    MediaResolution.MEDIUM: types.MediaResolution.MEDIA_RESOLUTION_MEDIUM,
    MediaResolution.HIGH: types.MediaResolution.MEDIA_RESOLUTION_HIGH,
    MediaResolution.ULTRA_HIGH: types.MediaResolution.MEDIA_RESOLUTION_HIGH,
}


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


def to_parts(prepared: PreparedMedia, *, per_part_resolution: bool | None = None
             ) -> list[types.Part]:
    """The parts for one item: keyframe images first (in time order), then the main file.

    Media resolution is a request-level setting on Gemini 2.x
    (``GenerateContentConfig.media_resolution``, see ``request_media_resolution``); Gemini
    3/4 take it per part (https://ai.google.dev/gemini-api/docs/media-resolution), which
    is what they get by default (``per_part_resolution=None``: by ``media_rules``)."""
    if per_part_resolution is None:
        per_part_resolution = prepared.media_rules is MediaRules.GEMINI_3
    resolution = None
    level = _PART_LEVEL.get(prepared.media_resolution)
    if per_part_resolution and level is not None:
        resolution = types.PartMediaResolution(level=level)
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
    a level only when every item asked for the same (it applies to the whole request)."""
    wanted = {p.media_resolution for p in prepared}
    return global_resolution(wanted.pop()) if len(wanted) == 1 else None


def global_resolution(resolution: MediaResolution | None) -> types.MediaResolution | None:
    return _GLOBAL_LEVEL.get(resolution) if resolution is not None else None


def parts_for_rules(parts: list[types.Part], rules: MediaRules) -> list[types.Part]:
    """Gemini 2.x refuses a per-part resolution: drop it there (the request-wide setting
    carries the level instead), e.g. when an item escalates to a 2.x model."""
    if rules is MediaRules.GEMINI_3 or not any(p.media_resolution for p in parts):
        return parts
    return [p.model_copy(update={"media_resolution": None}) if p.media_resolution else p
            for p in parts]
