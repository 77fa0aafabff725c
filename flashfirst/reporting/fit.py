"""What fitting media to its model's window did, for the report and the ledger.

Fitting is needed, not saved, when the original would not have fitted: only where it
would have (at the default rate) does the media lever count fitting's fewer tokens as a
saving; otherwise the lever's baseline is what was sent.
"""

from __future__ import annotations

from flashfirst.items import FitPolicy, FitRecord, ItemResult
from flashfirst.media.accounting import MediaStats
from flashfirst.reporting.ledger import MediaDelta


def media_delta(stats: MediaStats) -> MediaDelta:
    """The media lever's before/after for one item."""
    fit = stats.fit
    if fit is not None and (fit.policy is FitPolicy.SPLIT or not fit.whole_fits_as_is):
        # A split's calls are not one call of the whole; an original over the window
        # could not have been sent: no saving claimed either way.
        return MediaDelta(before=stats.tokens_after, after=stats.tokens_after)
    return MediaDelta(before=stats.tokens_before, after=stats.tokens_after)


def fit_line(r: ItemResult) -> str | None:
    """A fitted item's line: what was done, the tokens, the calls and their cost."""
    fit = r.media.fit if r.media is not None else None
    if fit is None:
        return None
    combine = sum(a.cost_usd for a in r.attempts if a.part == "combine")
    calls = f"; {len(r.attempts)} calls, ${r.cost_usd:.6f}" if r.attempts else ""
    if combine:
        calls += f" (the combining call ${combine:.6f})"
    return fit_summary(r.id, fit) + calls


def fit_summary(item_id: str, fit: FitRecord) -> str:
    head = (f"{item_id}: fitted to {fit.model}'s {fit.window_tokens:,}-token window by "
            f"{fit.policy.value}")
    if fit.policy is FitPolicy.FPS and fit.fps is not None:
        head += f" (sampled at {fit.fps:g} fps)"
    if fit.segments:
        spans = ", ".join(f"{a:g}-{b:g} s" for a, b in fit.segments)
        head += f" into {len(fit.segments)} segments ({spans})"
    return head + f"; media tokens {fit.tokens_unfitted:,} -> {fit.tokens_fitted:,}"
