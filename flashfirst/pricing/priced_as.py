"""Which price row prices a call, and when that row is only a stand-in.

Google may serve a requested id by another model (the response's ``modelVersion``); the
call is billed at the served model's rates. When the price table has no row for that
model the call cannot be priced exactly, but a paid run must still report: it is priced
by a stand-in row — what the catalogue says serves the requested id that day, else the
requested id's own — and marked provisional, never priced silently.
"""

from __future__ import annotations

from datetime import date

from flashfirst.gemini.catalogue import Catalogue
from flashfirst.pricing.prices import PriceTable


def price_row_model(requested: str, served: str | None, day: date | None,
                    prices: PriceTable, catalogue: Catalogue) -> str:
    """The model whose row prices the call: the one that served when the table knows it,
    else what the catalogue says serves ``requested`` on ``day``, else ``requested``."""
    for candidate in (served, catalogue.served_id(requested, day), requested):
        if candidate and prices.knows(candidate):
            return candidate
    return requested  # unknown everywhere: pricing names it in its error


def stand_in(requested: str, served: str | None, day: date | None,
             prices: PriceTable, catalogue: Catalogue) -> str | None:
    """The row a call is priced by provisionally, when the table lacks the model that
    served it; None when the served model's own row (or no report of one) prices it."""
    if served is None or prices.knows(served):
        return None
    return price_row_model(requested, served, day, prices, catalogue)
