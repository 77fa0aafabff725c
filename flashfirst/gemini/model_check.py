"""Before a run's first call: which of its models are retiring, retired or re-routed, and
which tier's model has a named successor; a retired one is refused unless insisted."""

from __future__ import annotations

from pydantic import BaseModel

from flashfirst.gemini.catalogue import check_run_models, today
from flashfirst.gemini.successors import successor_notices
from flashfirst.items import WorkItem
from flashfirst.run.context import RunContext
from flashfirst.settings import ModelTier


class ModelNotice(BaseModel):
    message: str
    warn: bool = True


def run_model_notices(items: list[WorkItem], shared: RunContext) -> list[ModelNotice]:
    """Raises for a retired model unless the settings allow it; a successor warns only
    when it is time to switch."""
    settings = shared.settings
    tiers = {t.value: settings.models.by_tier(t).id for t in ModelTier}
    notices = [ModelNotice(message=n) for n in check_run_models(
        shared.catalogue, [*tiers.values()] + [i.model for i in items if i.model],
        allow_retired=settings.allow_retired)]
    return notices + [ModelNotice(message=s.message, warn=s.switch_now) for s in
                      successor_notices(shared.catalogue, shared.prices, tiers, today())]
