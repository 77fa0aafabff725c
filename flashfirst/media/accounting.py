"""Bytes, durations, frames and tokens before and after preparation.

Tokens come from ``flashfirst.gemini.token_rules`` only (the rules the estimate and the cost
stage use), for the family of the model the item is routed to, applied to what was
probed, never to what a setting claims. "Before" is what
Gemini would bill for the original file sent as is; "after" is what it bills for what we
send, so a saving that comes from bytes alone shows as equal token counts.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from flashfirst.gemini.token_rules import (
    GEMINI_VIDEO_FPS,
    MediaResolution,
    MediaRules,
    Modality,
    TokenCount,
    audio_rate,
    audio_tokens,
    frames_sampled,
    image_tokens,
    pdf_tokens,
    resolution_saves,
    tokens_per_frame,
    video_tokens,
)
from flashfirst.items import FitRecord
from flashfirst.probe import MediaInfo, MediaKind


class MediaStats(BaseModel):
    """What preparing one item saved, in the units a user pays for."""

    bytes_before: int
    bytes_after: int
    duration_before_s: float = 0.0
    duration_after_s: float = 0.0
    frames_before: int = Field(0, description="Frames Gemini would sample from the original.")
    frames_sent: int = Field(0, description="Frames (or keyframe images) billed after.")
    tokens_before: TokenCount
    tokens_after: TokenCount
    reused: bool = Field(False, description="Prepared earlier: no ffmpeg work this time.")
    uploaded: bool = Field(False, description="An upload happened this time.")
    ffmpeg_seconds: float = Field(0.0, description="ffmpeg wall time this time (0 if reused).")
    notes: list[str] = Field(default_factory=list, description="Where the savings come from.")
    fit: FitRecord | None = Field(None, description="Fitted to the window (fit policy): how.")

    @property
    def bytes_ratio(self) -> float:
        return self.bytes_after / self.bytes_before if self.bytes_before else 1.0

    @property
    def tokens_ratio(self) -> float:
        before = self.tokens_before.total
        return self.tokens_after.total / before if before else 1.0


def tokens_as_is(info: MediaInfo, rules: MediaRules = MediaRules.GEMINI_2) -> TokenCount:
    """What Gemini bills for the original file sent unchanged (1 fps, default resolution)."""
    if info.kind is MediaKind.VIDEO:
        return video_tokens(info.duration_s, has_audio=info.has_audio,
                            audio_duration_s=info.audio_duration_s, rules=rules)
    if info.kind is MediaKind.AUDIO:
        return TokenCount.of(Modality.AUDIO, audio_tokens(info.duration_s, rules))
    if info.kind is MediaKind.IMAGE:
        return TokenCount.of(Modality.IMAGE, image_tokens(info.width or 0, info.height or 0,
                                                          rules=rules))
    if info.kind is MediaKind.DOCUMENT:
        return TokenCount.of(Modality.DOCUMENT, pdf_tokens(info.pages or 1, rules=rules))
    return TokenCount()


def frames_as_is(info: MediaInfo) -> int:
    if info.kind is MediaKind.VIDEO:
        return frames_sampled(info.duration_s)
    return 1 if info.kind is MediaKind.IMAGE else 0


class SentMedia(BaseModel):
    """What the request carries for one item, as far as billing is concerned."""

    kind: MediaKind
    duration_s: float = 0.0
    has_audio: bool = False
    audio_duration_s: float | None = Field(
        None, description="Seconds of the audio track sent, which a downsampled video's "
        "last frame can outlast; None: duration_s.")
    sample_fps: float = GEMINI_VIDEO_FPS
    resolution: MediaResolution = MediaResolution.DEFAULT
    image_sizes: list[tuple[int, int]] = Field(
        default_factory=list, description="Width and height of each image (keyframes).")
    pages: int = 0
    as_keyframes: bool = False
    rules: MediaRules = Field(MediaRules.GEMINI_2, description="The serving model's family.")


def tokens_sent(sent: SentMedia) -> TokenCount:
    res, rules = sent.resolution, sent.rules
    if sent.kind is MediaKind.DOCUMENT:
        return TokenCount.of(Modality.DOCUMENT, pdf_tokens(sent.pages or 1, res, rules))
    if sent.kind is MediaKind.IMAGE or sent.as_keyframes:
        images = sum(image_tokens(w, h, res, rules) for w, h in sent.image_sizes)
        count = TokenCount.of(Modality.IMAGE, images)
        if sent.as_keyframes and sent.has_audio:
            count = count + TokenCount.of(Modality.AUDIO, audio_tokens(_audio_s(sent), rules))
        return count
    if sent.kind is MediaKind.AUDIO:
        return TokenCount.of(Modality.AUDIO, audio_tokens(sent.duration_s, rules))
    return video_tokens(sent.duration_s, fps=sent.sample_fps, has_audio=sent.has_audio,
                        resolution=res, audio_duration_s=_audio_s(sent), rules=rules)


def _audio_s(sent: SentMedia) -> float:
    """Audio is billed per second of audio, which can be shorter than the video."""
    return sent.duration_s if sent.audio_duration_s is None else sent.audio_duration_s


def frames_in(sent: SentMedia) -> int:
    if sent.as_keyframes or sent.kind is MediaKind.IMAGE:
        return len(sent.image_sizes)
    if sent.kind is MediaKind.VIDEO:
        return frames_sampled(sent.duration_s, sent.sample_fps)
    return 0


def explain(source: MediaInfo, sent: SentMedia, bytes_after: int,
            tokens_before: TokenCount, tokens_after: TokenCount) -> list[str]:
    """One line per effect, with numbers; nothing claimed that the counts do not show."""
    rules = sent.rules
    notes = [f"bytes {source.size_bytes:,} -> {bytes_after:,}", f"token rules: {rules.value}"]
    if source.kind is MediaKind.VIDEO:
        notes.append("1 fps, the size cap and 16 kHz mono audio cut bytes only: Gemini "
                     "samples video at 1 fps and audio at 16 kHz mono itself")
    elif source.kind is MediaKind.AUDIO:
        notes.append("16 kHz mono cuts bytes only: Gemini reduces audio to 16 kHz mono itself")
    if sent.kind is MediaKind.VIDEO and not sent.as_keyframes:
        after = frames_in(sent)
        if sent.sample_fps < GEMINI_VIDEO_FPS:
            notes.append(f"sampling at {sent.sample_fps:g} fps: {after} frames billed, not "
                         f"{frames_sampled(sent.duration_s)}")
        if sent.resolution is not MediaResolution.DEFAULT:
            notes.append(_resolution_note("video", sent.resolution, rules, "a frame"))
        if source.has_audio and not sent.has_audio:
            dropped = min(sent.duration_s, source.audio_duration_s or sent.duration_s)
            notes.append(f"audio track dropped: {audio_tokens(dropped, rules)} audio tokens "
                         f"saved ({audio_rate(rules)} a second)")
    if sent.kind in (MediaKind.IMAGE, MediaKind.DOCUMENT) and \
            sent.resolution is not MediaResolution.DEFAULT:
        kind = "image" if sent.kind is MediaKind.IMAGE else "document"
        notes.append(_resolution_note(kind, sent.resolution, rules,
                                      "an image" if kind == "image" else "a page"))
    if source.kind is MediaKind.VIDEO and sent.kind is MediaKind.AUDIO:
        notes.append(f"only the audio track is sent: {frames_as_is(source)} frames not billed")
    if sent.as_keyframes:
        notes.append(f"scene-change keyframes sent as images: {len(sent.image_sizes)} instead "
                     f"of {frames_as_is(source)} frames")
    if source.kind in (MediaKind.VIDEO, MediaKind.AUDIO) and \
            sent.duration_s < source.duration_s - 0.5:
        notes.append(f"{source.duration_s:.1f} s -> {sent.duration_s:.1f} s billed "
                     "(trim or silence removal)")
    if source.kind is MediaKind.IMAGE and sent.image_sizes:
        w, h = sent.image_sizes[0]
        notes.append(f"image {source.width}x{source.height} -> {w}x{h}")
    notes.append(f"tokens {tokens_before.total:,} -> {tokens_after.total:,}")
    if tokens_after.total > tokens_before.total:
        notes.append(f"this costs more tokens than the media sent as is on this model "
                     f"({rules.value} rules): no saving claimed")
    return notes


def _resolution_note(kind: str, resolution: MediaResolution, rules: MediaRules,
                     unit: str) -> str:
    """Say what a resolution does on this family, including when it does nothing."""
    if kind == "video":
        new, old = tokens_per_frame(resolution, rules), tokens_per_frame(rules=rules)
    elif kind == "image":
        new = image_tokens(1, 1, resolution, rules)
        old = image_tokens(1, 1, rules=rules)
    else:
        new, old = pdf_tokens(1, resolution, rules), pdf_tokens(1, rules=rules)
    if not resolution_saves(kind, resolution, rules):
        more = " (more detail, more tokens)" if new > old else ""
        return (f"{resolution.value} media resolution saves nothing on this model's {kind} "
                f"({rules.value}: {new} tokens {unit}, {old} at default){more}")
    return f"{resolution.value} media resolution: {new} tokens {unit} instead of {old}"
