"""Preparing media that no sampling rate fits into its model's window, as segments.

Each segment is the item's own policy trimmed to its span, so it goes through the same
conversion, store, window check and delivery as any item (and a re-run reuses it); the
item itself keeps no file, only its segments and the accounting of the whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from flashfirst.errors import MediaError
from flashfirst.failures import FailureKind
from flashfirst.gemini.token_rules import TokenCount
from flashfirst.items import FitPolicy, FitRecord, WorkItem
from flashfirst.media.accounting import MediaStats, tokens_as_is, tokens_sent
from flashfirst.media.fit import Window, fit_budget, planned_sent, whole_fits_as_is
from flashfirst.media.policies import ResolvedPolicy, effective_kind
from flashfirst.media.prepared import PreparedMedia
from flashfirst.media.split import find_boundaries, longest_fitting, plan_spans
from flashfirst.probe import MediaInfo, MediaKind
from flashfirst.settings import MediaSettings

PrepareOne = Callable[[WorkItem, ResolvedPolicy], PreparedMedia]


def segment_id(item_id: str, index: int) -> str:
    return f"{item_id}#segment-{index:02d}"


def prepare_split(item: WorkItem, info: MediaInfo, src: Path, policy: ResolvedPolicy,
                  media: MediaSettings, window: Window, prepare: PrepareOne) -> PreparedMedia:
    """The item as it is when it fits; else its segments, each prepared by ``prepare``."""
    kind = effective_kind(item.kind, info)
    start = policy.trim_start_s
    end = min(policy.trim_end_s or info.duration_s, info.duration_s)

    def tokens(span_s: float, at: float = start) -> int:
        trimmed = policy.model_copy(update={"trim_start_s": at, "trim_end_s": at + span_s})
        return tokens_sent(planned_sent(info, kind, trimmed, media, window.rules)).total

    budget = fit_budget(window)
    whole = tokens(end - start)
    if whole <= budget or kind not in (MediaKind.VIDEO, MediaKind.AUDIO) \
            or policy.keyframes_as_images:
        return prepare(item, policy)  # fits, or not cut in time: the window check decides
    longest = longest_fitting(tokens, budget, end - start)
    try:
        spans = plan_spans(end - start, longest, media.fit_split_overlap_s,
                           _shifted(find_boundaries(src, info.has_audio and not (
                               kind is MediaKind.VIDEO and policy.drop_audio),
                               kind is MediaKind.VIDEO), start))
    except ValueError as exc:
        raise MediaError(item.id, f"{item.uri}: cannot split to fit {window.model}'s window: "
                         f"{exc}", FailureKind.TOO_LONG) from exc
    segments = []
    for i, span in enumerate(spans, start=1):
        part = item.model_copy(update={"id": segment_id(item.id, i), "media_policy": None})
        last = i == len(spans)
        trimmed = policy.model_copy(update={
            "fit": None, "trim_start_s": start + span.start_s,
            "trim_end_s": None if last and policy.trim_end_s is None else start + span.end_s})
        prepared = prepare(part, trimmed)
        prepared.span = (start + span.start_s, start + span.end_s, start + span.owns_from_s)
        segments.append(prepared)
    return _whole(item, info, kind, policy, media, window, whole, segments, spans)


def _shifted(find: Callable[[float, float], list[tuple[float, str]]], by: float
             ) -> Callable[[float, float], list[tuple[float, str]]]:
    """Boundaries in the trimmed media's time from a finder in the source's time."""
    return lambda a, b: [(t - by, k) for t, k in find(a + by, b + by)]


def _whole(item: WorkItem, info: MediaInfo, kind: MediaKind, policy: ResolvedPolicy,
           media: MediaSettings, window: Window, unfitted: int,
           segments: list[PreparedMedia], spans: list) -> PreparedMedia:
    """The item as the run accounts for it: its source before, its segments after."""
    after = sum((s.stats.tokens_after for s in segments), TokenCount())
    record = FitRecord(
        policy=FitPolicy.SPLIT, model=window.model, window_tokens=window.tokens,
        tokens_unfitted=unfitted, tokens_fitted=after.total,
        whole_fits_as_is=whole_fits_as_is(info, kind, media, window),
        segments=[(s.span[0], s.span[1]) for s in segments if s.span])
    cuts = ", ".join(f"{s.owns_from_s:g} s ({s.boundary})" for s in spans[1:])
    stats = MediaStats(
        bytes_before=info.size_bytes, bytes_after=sum(s.stats.bytes_after for s in segments),
        duration_before_s=info.duration_s,
        duration_after_s=sum(s.stats.duration_after_s for s in segments),
        frames_before=segments[0].stats.frames_before,
        frames_sent=sum(s.stats.frames_sent for s in segments),
        tokens_before=tokens_as_is(info, window.rules), tokens_after=after,
        reused=all(s.stats.reused for s in segments),
        uploaded=any(s.stats.uploaded for s in segments),
        ffmpeg_seconds=sum(s.stats.ffmpeg_seconds for s in segments),
        notes=[f"split to fit the window of {window.model}: {len(segments)} segments of at "
               f"most {max(s.stats.tokens_after.total for s in segments):,} tokens "
               f"(cut at {cuts}; {media.fit_split_overlap_s:g} s overlap), tokens "
               f"{unfitted:,} -> {after.total:,} over {len(segments)} calls"], fit=record)
    first = segments[0]
    key = hashlib.sha256("\n".join(s.key for s in segments).encode()).hexdigest()
    return PreparedMedia(
        item_id=item.id, key=f"split-{key[:32]}", source_uri=item.uri or first.source_uri,
        source_sha256=first.source_sha256, kind=kind, media_resolution=policy.media_resolution,
        media_rules=window.rules, video_fps=first.video_fps, stats=stats, segments=segments)
