"""An item ready to send. Its own module so that the request builder and the answer store
can name it without importing the engine that drives them."""

from __future__ import annotations

from google.genai import types
from pydantic import BaseModel, Field, PrivateAttr

from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.items import Route, WorkItem
from flashfirst.media.split import SegmentParts


class InferenceJob(BaseModel):
    """An item ready to send: its route, its own parts, and its content identity."""

    item: WorkItem
    route: Route
    parts: list[types.Part] = Field(default_factory=list)
    identity: str = Field(description="Hash of the item's content (source bytes or text).")
    est_prompt_tokens: int = 0
    media_resolution: MediaResolution | None = None
    calibrate: bool = Field(False, description="Also send at the model's default thinking "
                            "when a lower setting is sent (the thinking lever's sample).")
    segments: list[SegmentParts] = Field(default_factory=list, description="Media split to "
                                         "fit its window: one call each (inference.segments).")
    # request_key's last answer, with what it was computed from; never pickled.
    _key_memo: tuple | None = PrivateAttr(None)

    @property
    def key_memo(self) -> tuple | None:
        return self._key_memo

    @key_memo.setter
    def key_memo(self, memo: tuple | None) -> None:
        self._key_memo = memo

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "__pydantic_private__": {"_key_memo": None}}
