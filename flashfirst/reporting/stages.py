"""The stages of a run, by the names the report, the README and the progress bar show."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    PREPARE_MEDIA = "prepare media"
    PLAN_ROUTES = "plan routes"
    ENSURE_CACHES = "ensure caches"
    INFER = "infer"
