"""Token-reduction policies and the per-item plan they produce.

What each choice does to the bill (``token_rules`` has the numbers). Downsampling to
1 fps and 16 kHz mono is not among them: Gemini samples video at 1 fps and reduces audio
to 16 kHz mono itself, so those steps cut bytes and upload time, never tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from flashfirst.gemini.token_rules import GEMINI_VIDEO_FPS, MediaResolution
from flashfirst.items import FitPolicy, MediaPolicy
from flashfirst.probe import MediaInfo, MediaKind
from flashfirst.settings import MediaSettings

POLICY_EFFECTS: dict[str, str] = {
    "fps": "below 1 fps, frames billed fall to duration x fps (sent as videoMetadata.fps; "
           "the file is re-encoded at that rate too, cutting bytes)",
    "media_resolution": "by model family: on Gemini 2.x 'low' bills 66 instead of 258 tokens "
                        "a video frame and 64 for an image; on Gemini 3/4 'low' saves nothing "
                        "on video (70 a frame at default, low and medium), 75% on images "
                        "(280 instead of 1,120) and 50% on PDF pages (280 instead of 560); "
                        "'high' costs more there. Sent per part on Gemini 3/4.",
    "trim": "only the kept range is billed (frames, and audio at 32 tokens a second on 2.x, "
            "25 on Gemini 3/4)",
    "drop_audio": "a video's audio track costs 32 tokens a second on 2.x, 25 on Gemini 3/4; "
                  "dropping it saves them",
    "remove_silence": "silences longer than 1 s are cut to 1 s: the audio rate (32 or 25 "
                      "tokens a second) saved for every second cut",
    "keyframes_as_images": "one image per scene change instead of one frame per second (on "
                           "Gemini 3/4 an image costs 1,120 tokens and a frame 70: it pays "
                           "only for long, still footage); the audio track is kept as audio",
    "inline": "no tokens: inline bytes skip the Files API upload (under the inline limit)",
    "fit": "only for media over the model's window: 'fps' bills duration x the highest rate "
           "that fits, 'resolution' the low rate where the family has one (2.x video)",
}

# Bumped when a conversion changes, so stored outputs of the old one are not reused.
PIPELINE_VERSION = 1
AUDIO_EXT = ".flac"

_PASSTHROUGH_AUDIO_MIME = {"flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mp3",
                           "wav": "audio/wav"}
# By codec: PyAV names the container of a .jpg "image2" but of the same bytes "jpeg_pipe".
_PASSTHROUGH_IMAGE_MIME = {"mjpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
MIME_BY_EXT = {".mp4": "video/mp4", ".flac": "audio/flac", ".ogg": "audio/ogg",
               ".jpg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}


class ResolvedPolicy(BaseModel):
    """A ``MediaPolicy`` with every field decided (item over run default over built-in)."""

    fps: float | None = None
    media_resolution: MediaResolution = MediaResolution.DEFAULT
    trim_start_s: float = 0.0
    trim_end_s: float | None = None
    drop_audio: bool = False
    remove_silence: bool = False
    keyframes_as_images: bool = False
    inline: bool = True
    fit: FitPolicy | None = None


def resolve_policy(run_default: MediaPolicy | None, item: MediaPolicy | None) -> ResolvedPolicy:
    """Item fields override the run's; unset fields fall back to the built-in defaults.

    Raises ValueError for a trim range that ends before it starts."""
    merged: dict[str, object] = {}
    for policy in (run_default, item):
        if policy is not None:
            merged.update(policy.model_dump(exclude_none=True))
    resolved = ResolvedPolicy(**merged)
    if resolved.trim_end_s is not None and resolved.trim_end_s <= resolved.trim_start_s:
        raise ValueError(f"trim range {resolved.trim_start_s}-{resolved.trim_end_s} s is empty")
    return resolved


def effective_kind(declared: MediaKind, info: MediaInfo) -> MediaKind:
    """The kind to prepare: an AUDIO item over a video file keeps only its sound (the
    user asked for audio); a VIDEO item whose file has no picture is prepared as audio.
    Any other disagreement is a mislabelled item."""
    found = info.kind
    if declared is MediaKind.AUDIO and found is MediaKind.VIDEO:
        if not info.has_audio:
            raise ValueError("declared audio, but the video file has no audio track")
        return MediaKind.AUDIO
    if declared is MediaKind.VIDEO and found is MediaKind.AUDIO:
        return MediaKind.AUDIO
    if declared is not found:
        raise ValueError(f"declared {declared.value}, but the file is {found.value} "
                         f"({info.container})")
    return found


@dataclass(frozen=True)
class Plan:
    """What ffmpeg does to one item and what the request will say about it."""

    kind: MediaKind
    passthrough: bool
    ext: str
    mime_type: str
    encode_fps: float | None = None
    # Sent as videoMetadata.fps: the only way to make Gemini sample below 1 fps.
    metadata_fps: float | None = None
    trim: tuple[float, float | None] | None = None
    # Passthrough videos are trimmed by videoMetadata offsets instead of by ffmpeg.
    offsets: tuple[float, float | None] | None = None
    keep_audio: bool = False
    remove_silence: bool = False
    keyframes: bool = False


def _trim(policy: ResolvedPolicy, duration_s: float) -> tuple[float, float | None] | None:
    start, end = policy.trim_start_s, policy.trim_end_s
    if start >= duration_s > 0:
        raise ValueError(f"trim starts at {start:g} s, past the end ({duration_s:g} s)")
    if end is not None and end >= duration_s:
        end = None
    return None if start == 0 and end is None else (start, end)


def plan_media(kind: MediaKind, info: MediaInfo, policy: ResolvedPolicy,
               media: MediaSettings) -> Plan:
    """Decide the conversion. Sources already as compact as the target pass through
    untouched: re-encoding them would cost time and quality and save nothing."""
    if kind is MediaKind.DOCUMENT:
        return Plan(kind=kind, passthrough=True, ext=".pdf", mime_type="application/pdf")
    if kind is MediaKind.IMAGE:
        long_side = max(info.width or 0, info.height or 0)
        mime = _PASSTHROUGH_IMAGE_MIME.get(info.video_codec or "")
        if mime and long_side <= media.max_long_side:
            ext = {"image/jpeg": ".jpg"}.get(mime, "." + mime.split("/")[1])
            return Plan(kind=kind, passthrough=True, ext=ext, mime_type=mime)
        ext = ".png" if info.video_codec == "png" else ".jpg"
        return Plan(kind=kind, passthrough=False, ext=ext, mime_type=MIME_BY_EXT[ext])
    trim = _trim(policy, info.duration_s)
    if kind is MediaKind.AUDIO:
        mime = _PASSTHROUGH_AUDIO_MIME.get(info.container or "")
        compact = (mime is not None and info.channels == 1
                   and (info.sample_rate or 0) <= media.audio_sample_rate)
        if compact and trim is None and not policy.remove_silence:
            return Plan(kind=kind, passthrough=True, ext="." + (info.container or ""),
                        mime_type=mime or "")
        return Plan(kind=kind, passthrough=False, ext=AUDIO_EXT, mime_type=MIME_BY_EXT[AUDIO_EXT],
                    trim=trim, keep_audio=True, remove_silence=policy.remove_silence)
    keep_audio = info.has_audio and not policy.drop_audio
    encode_fps = min(media.fps, policy.fps or media.fps)
    metadata_fps = encode_fps if encode_fps < GEMINI_VIDEO_FPS else None
    if policy.keyframes_as_images:
        return Plan(kind=kind, passthrough=False, ext=AUDIO_EXT, mime_type=MIME_BY_EXT[AUDIO_EXT],
                    encode_fps=encode_fps, trim=trim, keep_audio=keep_audio, keyframes=True)
    if _video_is_compact(info, media, encode_fps, keep_audio):
        return Plan(kind=kind, passthrough=True, ext=".mp4", mime_type="video/mp4",
                    metadata_fps=metadata_fps, offsets=trim, keep_audio=keep_audio)
    return Plan(kind=kind, passthrough=False, ext=".mp4", mime_type="video/mp4",
                encode_fps=encode_fps, metadata_fps=metadata_fps, trim=trim,
                keep_audio=keep_audio)


def _video_is_compact(info: MediaInfo, media: MediaSettings, fps: float,
                      keep_audio: bool) -> bool:
    if not (info.container or "").startswith("mov,mp4") or info.video_codec != "h264":
        return False
    if info.fps is None or info.fps > fps * 1.01:
        return False
    if max(info.width or 0, info.height or 0) > media.max_long_side:
        return False
    if info.has_audio != keep_audio:
        return False
    return not info.has_audio or (info.channels == 1 and info.audio_codec == "aac"
                                  and (info.sample_rate or 0) <= media.audio_sample_rate)
