"""The media lever and fitted media: fewer tokens count as a saving only where the
original would have fitted the window at the default rate (else fitting was needed, and
the original could not have been sent)."""

from __future__ import annotations

from datetime import UTC, datetime

from flashfirst.gemini.token_rules import Modality, TokenCount
from flashfirst.items import Attempt, FitPolicy, FitRecord, ItemResult, ServiceTier, TaskKind, Usage
from flashfirst.media.accounting import MediaStats
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.fit import media_delta
from flashfirst.reporting.ledger import LeverName, summarize_costs
from flashfirst.settings import ModelCatalogue

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
CATALOGUE_2_5 = ModelCatalogue(flash={"id": FLASH}, pro={"id": PRO})


def stats(before: int, after: int, fit: FitRecord | None) -> MediaStats:
    return MediaStats(bytes_before=1, bytes_after=1, fit=fit,
                      tokens_before=TokenCount.of(Modality.VIDEO, before),
                      tokens_after=TokenCount.of(Modality.VIDEO, after))


def fitted(whole_fits: bool, policy: FitPolicy = FitPolicy.FPS) -> FitRecord:
    return FitRecord(policy=policy, model=FLASH, window_tokens=1_048_576,
                     tokens_unfitted=1_200_000, tokens_fitted=900_000,
                     whole_fits_as_is=whole_fits)


def media_saving(s: MediaStats) -> float:
    result = ItemResult(id="clip", task=TaskKind.SUMMARIZE, attempts=[Attempt(
        model=FLASH, service_tier_requested=ServiceTier.STANDARD,
        service_tier_served=ServiceTier.STANDARD, ok=True,
        called_at=datetime(2026, 11, 28, 12, tzinfo=UTC),
        usage=Usage(prompt_tokens=900_000, candidates_tokens=100,
                    prompt_by_modality={Modality.VIDEO: 900_000}))])
    costs = summarize_costs([result], [], {"clip": media_delta(s)}, load_price_table(),
                            CATALOGUE_2_5)
    return next(lv.saving_usd for lv in costs.levers if lv.name is LeverName.MEDIA)


def test_fitting_an_original_that_could_not_have_been_sent_saves_nothing() -> None:
    assert media_saving(stats(1_200_000, 900_000, fitted(whole_fits=False))) == 0
    assert media_saving(stats(1_200_000, 900_000, fitted(False, FitPolicy.SPLIT))) == 0


def test_fitting_where_the_original_would_have_fitted_counts_as_a_saving() -> None:
    # 100,000 fewer tokens at Flash's $0.30 per 1M input tokens (2.5 rows, 2026-10-07 copy)
    saving = media_saving(stats(1_000_000, 900_000, fitted(whole_fits=True)))
    assert saving == media_saving(stats(1_000_000, 900_000, None)) > 0.029
