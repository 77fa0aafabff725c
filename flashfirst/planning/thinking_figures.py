"""Thought tokens per call measured in earlier runs, kept in storage for the estimate.

Keyed by task, the model that served and the setting sent (``ThinkingSent.label``): the
calibration sample supplies the "default" rows, the ordinary calls the rest. When no run
has measured a key yet, the estimate falls back to ``ASSUMED_THOUGHTS`` and says so."""

from __future__ import annotations

from pydantic import BaseModel, Field

from flashfirst.errors import StorageError
from flashfirst.gemini.catalogue import ModelInfo
from flashfirst.items import ItemResult, ThinkingSent
from flashfirst.storage import Storage, join

# Our assumption per call (Google documents no size), by what reaches the model: a
# level, a budget (capped by it), or the model's own default (its catalogue ``default``).
ASSUMED_THOUGHTS: dict[str, int] = {"off": 0, "minimal": 100, "low": 400, "medium": 800,
                                    "dynamic": 800, "high": 2000, "xhigh": 4000}


class Figure(BaseModel):
    calls: int = 0
    thoughts: int = 0

    @property
    def mean(self) -> float:
        return self.thoughts / self.calls if self.calls else 0.0


class ThinkingFigures(BaseModel):
    figures: dict[str, Figure] = Field(default_factory=dict)

    @staticmethod
    def key(task: str, model: str, sent: ThinkingSent) -> str:
        return f"{task}|{model}|{sent.label()}"

    def add_run(self, results: list[ItemResult]) -> None:
        for r in results:
            if r.reused:
                continue
            for a in [*r.attempts, *([r.calibration] if r.calibration else [])]:
                f = self.figures.setdefault(self.key(r.task.value, a.billed_model, a.thinking),
                                            Figure())
                f.calls += 1
                f.thoughts += a.usage.thoughts_tokens

    def measured(self, task: str, model: str, sent: ThinkingSent) -> Figure | None:
        f = self.figures.get(self.key(task, model, sent))
        return f if f is not None and f.calls else None


def assumed_thoughts(sent: ThinkingSent, model: ModelInfo) -> int:
    """The documented fallback: by level, by budget (at most the medium figure), or by the
    model's default when nothing is sent."""
    if sent.level is not None:
        return ASSUMED_THOUGHTS.get(sent.level, ASSUMED_THOUGHTS["medium"])
    if sent.budget is not None:
        return 800 if sent.budget == -1 else min(sent.budget, ASSUMED_THOUGHTS["medium"])
    return ASSUMED_THOUGHTS.get(model.thinking.default, ASSUMED_THOUGHTS["medium"])


def figures_uri(root: str) -> str:
    return join(root, "thinking", "figures.json")


def load_figures(storage: Storage, root: str) -> ThinkingFigures:
    uri = figures_uri(root)
    try:
        if not storage.exists(uri):
            return ThinkingFigures()
        return ThinkingFigures.model_validate_json(storage.read_bytes(uri))
    except (StorageError, ValueError):
        return ThinkingFigures()  # a damaged file costs the estimate its figures, no more


def record_run(storage: Storage, root: str, run: ThinkingFigures) -> ThinkingFigures:
    """A run's thoughts per call (folded as its results came) added to earlier runs'."""
    figures = load_figures(storage, root)
    for key, f in run.figures.items():
        kept = figures.figures.setdefault(key, Figure())
        kept.calls += f.calls
        kept.thoughts += f.thoughts
    storage.write_bytes(figures_uri(root), figures.model_dump_json().encode(),
                        content_type="application/json")
    return figures
