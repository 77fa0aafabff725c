"""What a run says about its tiers' models whose successor Google has named: once per model,
a warning when the successor costs no more per token on the run's day (time to switch), a
note otherwise (the old id is still served and cheaper: nothing to do yet)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from flashfirst.errors import ConfigError, UnknownModelError
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.pricing.prices import PriceTable


class SuccessorNotice(BaseModel):
    model: str
    successor: str
    switch_now: bool
    message: str


def successor_notices(catalogue: Catalogue, prices: PriceTable, tiers: dict[str, str],
                      day: date) -> list[SuccessorNotice]:
    """``tiers``: tier name → model id (the run's FLASHFIRST_MODELS__<TIER>__ID)."""
    notices: list[SuccessorNotice] = []
    seen: set[str] = set()
    for tier, model_id in tiers.items():
        info = catalogue.find(model_id)
        if info is None or not info.successor or model_id in seen:
            continue
        seen.add(model_id)
        named = f" on {info.successor_named_on}" if info.successor_named_on else ""
        head = f"{model_id}: Google named {info.successor} its successor{named}"
        try:
            old, new = prices.for_model(model_id, day), prices.for_model(info.successor, day)
        except (ConfigError, UnknownModelError):
            notices.append(SuccessorNotice(
                model=model_id, successor=info.successor, switch_now=False,
                message=f"{head}; the price table cannot compare them on {day}"))
            continue
        rates = (f"${new.input:g} / ${new.output:g} per 1M against ${old.input:g} / "
                 f"${old.output:g}")
        switch = new.input <= old.input and new.output <= old.output
        tail = (f"; from {day} it costs no more per token ({rates}): consider "
                f"FLASHFIRST_MODELS__{tier.upper()}__ID={info.successor} (README, Models)"
                if switch else f"; it costs more per token on {day} ({rates}): staying on "
                f"{model_id} (README, Models, says when to switch)")
        notices.append(SuccessorNotice(model=model_id, successor=info.successor,
                                       switch_now=switch, message=head + tail))
    return notices
