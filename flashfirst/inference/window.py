"""The last pre-flight before a request is sent: the item with its shared context must fit
the serving model's window.

The media stage already refuses media that alone cannot fit, before any upload; only here
are the item's tokens (media or text, and the prompt) added to the shared context's,
which is known once the context is prepared. A request over the window would be refused
by the API (400) after waiting for a rate-limit slot; refusing it here costs nothing.
"""

from __future__ import annotations

from flashfirst.errors import OverWindow
from flashfirst.gemini.catalogue import ModelInfo
from flashfirst.inference.job import InferenceJob
from flashfirst.inputs.context import ContextUse
from flashfirst.probe import MediaKind


def check_window(job: InferenceJob, ctx: ContextUse | None, serving: ModelInfo) -> None:
    """Raise ``OverWindow`` naming the counts, the window and what would make it fit."""
    context = ctx.tokens if ctx is not None else 0
    total = job.est_prompt_tokens + context
    if not serving.context_window or total <= serving.context_window:
        return
    ways = ["a smaller shared context"] if context else []
    if job.item.kind in (MediaKind.VIDEO, MediaKind.AUDIO):
        ways.append('media_policy {"fit": "fps"} or {"fit": "split"}')
    elif job.item.uri or job.item.text:
        ways.append("splitting its text into several items")
    raise OverWindow(
        f"{job.item.id}: {total:,} tokens (the item {job.est_prompt_tokens:,}, shared context "
        f"{context:,}) exceed {serving.id}'s {serving.context_window:,}-token window"
        + (f"; to fit: {' or '.join(ways)}" if ways else ""))
