"""Media longer than the model's window, known before anything is uploaded or sent.

The media stage already counts an item's tokens by the serving model's rules, so an item
that cannot fit is refused there, with its count, the window and the policies that would
make it fit; an item that asks to be fitted (``media_policy.fit``) is sampled at the
highest rate that fits, or at low media resolution where the rules make that cheaper.
The shared context is not known yet at this stage; the planning stage adds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flashfirst.errors import MediaError
from flashfirst.failures import FailureKind
from flashfirst.gemini.token_rules import (
    GEMINI_VIDEO_FPS,
    MediaResolution,
    MediaRules,
    tokens_per_frame,
)
from flashfirst.items import FitPolicy, FitRecord
from flashfirst.media.accounting import SentMedia, tokens_sent
from flashfirst.media.policies import ResolvedPolicy
from flashfirst.probe import MediaInfo, MediaKind
from flashfirst.settings import MediaSettings

# Fit a little under the window: the prepared file's duration can differ from the
# source's by a frame, and a fitted item must not be refused after its conversion.
_FIT_MARGIN = 0.995


@dataclass(frozen=True)
class Window:
    """What the media may take: the serving model's window less the item's prompt and
    the run's shared context."""

    model: str
    tokens: int
    prompt_tokens: int
    rules: MediaRules
    context_tokens: int = 0

    @property
    def for_media(self) -> int:
        return self.tokens - self.prompt_tokens - self.context_tokens


@dataclass(frozen=True)
class Fitted:
    policy: ResolvedPolicy
    note: str | None = None
    record: FitRecord | None = None


def fit_budget(window: Window) -> int:
    """The media tokens a fitted item (or segment) may take."""
    return int(window.for_media * _FIT_MARGIN)


def whole_fits_as_is(info: MediaInfo, kind: MediaKind, media: MediaSettings,
                     window: Window) -> bool:
    """Would the original, at the default rate and resolution, have fitted? Only then
    does the media lever count fitting's tokens as a saving."""
    as_is = planned_sent(info, kind, ResolvedPolicy(), media, window.rules)
    return tokens_sent(as_is).total <= window.for_media


def planned_sent(info: MediaInfo, kind: MediaKind, policy: ResolvedPolicy,
                 media: MediaSettings, rules: MediaRules) -> SentMedia:
    """What a policy will send, from the probe alone (before any conversion)."""
    end = min(policy.trim_end_s or info.duration_s, info.duration_s)
    fps = min(media.fps, policy.fps or media.fps, GEMINI_VIDEO_FPS)
    return SentMedia(kind=kind, duration_s=max(0.0, end - policy.trim_start_s),
                     has_audio=info.has_audio and not (kind is MediaKind.VIDEO
                                                       and policy.drop_audio),
                     sample_fps=fps, resolution=policy.media_resolution,
                     image_sizes=[(info.width or 0, info.height or 0)], pages=info.pages or 0,
                     rules=rules)


def fit_to_window(info: MediaInfo, kind: MediaKind, policy: ResolvedPolicy,
                  media: MediaSettings, window: Window) -> Fitted:
    """The policy that makes the item fit, as the item asked; unchanged when it fits
    already, asks for no fitting, or cannot be fitted (the window check then refuses)."""
    if policy.fit in (None, FitPolicy.SPLIT) or policy.keyframes_as_images:
        return Fitted(policy)  # a split is planned by split_media, segment by segment
    budget = fit_budget(window)

    def tokens(p: ResolvedPolicy) -> int:
        return tokens_sent(planned_sent(info, kind, p, media, window.rules)).total

    before = tokens(policy)
    if before <= budget:
        return Fitted(policy)
    if policy.fit is FitPolicy.RESOLUTION:
        low = policy.model_copy(update={"media_resolution": MediaResolution.LOW})
        after = tokens(low)
        if after >= before:
            return Fitted(policy)
        return Fitted(low, f"fitted to the window of {window.model}: media resolution low, "
                      f"tokens {before:,} -> {after:,}",
                      _record(policy.fit, window, before, after, None,
                              whole_fits_as_is(info, kind, media, window)))
    if kind is not MediaKind.VIDEO:
        return Fitted(policy)
    floor = media.fit_min_fps
    if tokens(policy.model_copy(update={"fps": floor})) > budget:
        return Fitted(policy)
    lo, hi = floor, min(media.fps, policy.fps or media.fps, GEMINI_VIDEO_FPS)
    for _ in range(40):  # the highest rate that fits; tokens grow with the rate
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tokens(policy.model_copy(update={"fps": mid})) <= budget \
            else (lo, mid)
    fps = max(floor, math.floor(lo * 10_000) / 10_000)
    fitted = policy.model_copy(update={"fps": fps})
    after = tokens(fitted)
    return Fitted(fitted, f"fitted to the window of {window.model}: sampled at {fps:g} fps "
                  f"(floor {floor:g}), tokens {before:,} -> {after:,}",
                  _record(policy.fit, window, before, after, fps,
                          whole_fits_as_is(info, kind, media, window)))


def _record(policy: FitPolicy, window: Window, before: int, after: int, fps: float | None,
            whole_fits: bool) -> FitRecord:
    return FitRecord(policy=policy, model=window.model, window_tokens=window.tokens,
                     tokens_unfitted=before, tokens_fitted=after, fps=fps,
                     whole_fits_as_is=whole_fits)


def check_window(item_id: str, uri: str, sent: SentMedia, policy: ResolvedPolicy,
                 media: MediaSettings, window: Window) -> None:
    """Refuse, before any upload, media whose tokens and prompt exceed the window."""
    media_tokens = tokens_sent(sent).total
    total = media_tokens + window.prompt_tokens + window.context_tokens
    if total <= window.tokens:
        return
    context = f", shared context {window.context_tokens:,}" if window.context_tokens else ""
    raise MediaError(item_id, (
        f"{uri}: {total:,} tokens by {window.model}'s rules (media {media_tokens:,}, prompt "
        f"{window.prompt_tokens:,}{context}) exceed its {window.tokens:,}-token window; "
        f"nothing was uploaded or sent. {_what_would_fit(sent, policy, media, window)}"),
        FailureKind.TOO_LONG)


def _what_would_fit(sent: SentMedia, policy: ResolvedPolicy, media: MediaSettings,
                    window: Window) -> str:
    """The media_policy settings that would make it fit, with their numbers."""
    per_s = tokens_sent(sent).total / sent.duration_s if sent.duration_s else 0.0
    hints = []
    if sent.kind is MediaKind.VIDEO and not sent.as_keyframes:
        frame = tokens_per_frame(sent.resolution, sent.rules)
        audio_per_s = per_s - frame * sent.sample_fps
        fps = (window.for_media / sent.duration_s - audio_per_s) / frame
        if fps >= media.fit_min_fps:
            hints.append(f'{{"fit": "fps"}} (about {math.floor(fps * 1000) / 1000:g} fps)')
        elif policy.fit is FitPolicy.FPS:
            hints.append(f'no "fit": "fps": even at its floor of {media.fit_min_fps:g} fps '
                         "it would not fit")
        low = tokens_per_frame(MediaResolution.LOW, sent.rules)
        if low < frame and policy.media_resolution is not MediaResolution.LOW:
            hints.append('{"fit": "resolution"} (low media resolution)')
    if per_s:
        keep = math.floor(window.for_media / per_s)
        hints.append(f'{{"trim_end_s": {policy.trim_start_s + keep:g}}}')
        if sent.kind in (MediaKind.VIDEO, MediaKind.AUDIO) and not sent.as_keyframes \
                and window.for_media > 0:
            hints.append('{"fit": "split"} (segments that each fit, their answers joined)')
    text = ("To fit it, set media_policy " + " or ".join(hints) + ".") if hints else ""
    if window.context_tokens:
        text += " Or make the shared context smaller."
    return text.strip()
