"""Task arguments Prefect passes as they are, not walked element by element.

Prefect visits every argument of a task run, recursively, looking for futures and states
to resolve and to record as the run's inputs: over a job or result list that is a few ms
per item, more than the item's own work (a cProfile of a 2,000-item run spent a quarter
of its CPU in ``visit_collection``). Lists of items, jobs and results are plain data, so
they go in ``plain(...)``: Prefect's ``quote``, which also survives pickling (Dask sends
arguments to its workers; ``quote`` itself comes back from pickle wrapped in a tuple).
"""

from __future__ import annotations

from typing import TypeVar

from prefect.utilities.annotations import quote

T = TypeVar("T")


class plain(quote[T]):  # noqa: N801 - reads as Prefect's own annotations do
    """An argument Prefect neither resolves nor walks; the task receives the value."""

    def __reduce__(self) -> tuple:
        return (type(self), (self.unwrap(),))
