"""How a parked batch run's jobs were collected: which path finished each job (Gemini's
webhook or the scheduled poll), when the job ended, and when Google deletes its output.

Google keeps a batch job's output 48 hours (``data/batch_output.json``, with its source):
a run collected after that has paid for answers it can no longer read. The collector puts
these facts in the finished run's report (``batch_collection``) and in its own result, so
a user sees which path worked and how close the output came to being lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

from flashfirst.inference.job_states import ENDED, HAS_OUTPUT, from_short

CollectPath = Literal["webhook", "poll"]


@cache
def output_retention() -> timedelta:
    """How long Google keeps a batch job's output after the job ends."""
    data = json.loads(resources.files("flashfirst.data").joinpath("batch_output.json")
                      .read_text())
    return timedelta(hours=float(data["output_retention_hours"]))


def output_expires_at(state: str, ended_at: datetime | None) -> datetime | None:
    """When the output of a job that ended ``state`` at ``ended_at`` is deleted; None
    when it has none (it did not succeed) or has not ended."""
    if ended_at is None or from_short(state) not in HAS_OUTPUT:
        return None
    return ended_at + output_retention()


def at_risk(expiries: list[datetime | None], margin_s: float) -> datetime | None:
    """The earliest output deletion among ``expiries`` if it falls within ``margin_s``.

    Such a run is not left to the next look: the collector finishes it now, waiting for
    its other jobs. Those were created with it and end within Gemini's 48 h job limit, so
    the wait is bounded and ends before the output is gone; the default margin (6 h) is far
    more than a poll interval (10 min) plus a collect."""
    soonest = min((e for e in expiries if e is not None), default=None)
    if soonest is not None and soonest <= datetime.now(UTC) + timedelta(seconds=margin_s):
        return soonest
    return None


class JobStatus(BaseModel):
    """A parked run's batch job as the poll found it."""

    run_id: str
    job: str
    state: str = Field(description="The job's state without its JOB_STATE_ prefix.")
    done: int
    total: int
    ended_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return from_short(self.state) in ENDED


class JobCollection(BaseModel):
    """One batch job of a finished run, as the collector found and finished it."""

    job: str
    state: str
    path: CollectPath = Field(description="What finished the run: Gemini's webhook event "
                              "or the scheduled poll (the fallback for lost deliveries).")
    ended_at: datetime | None = Field(None, description="When the job ended (the API's).")
    output_expires_at: datetime | None = Field(
        None, description="When Google deletes the job's output (48 h after its end).")
    collected_at: datetime | None = Field(None, description="When the results were written.")

    @property
    def collect_latency_s(self) -> float | None:
        """Job end → results written."""
        if self.ended_at is None or self.collected_at is None:
            return None
        return (self.collected_at - self.ended_at).total_seconds()

    def line(self) -> str:
        expires = (f"; Google deletes its output at {self.output_expires_at:%Y-%m-%d %H:%M} "
                   "UTC" if self.output_expires_at else "")
        return f"{self.job} ({self.state}) collected by {self.path}{expires}"


class Finishing(BaseModel):
    """A parked run the collector finishes now, and how."""

    jobs: list[JobCollection]
    output_deleted_at: datetime | None = Field(
        None, description="Set when some jobs still run but an ended one's output is deleted "
        "soon: the run is finished now, waiting in it for the others.")


def to_finish(own: list[JobStatus], path: CollectPath, margin_s: float) -> Finishing | None:
    """Whether a parked run with these jobs is finished now (all ended, or an ended one's
    output is at risk), or None: it keeps waiting for the next look."""
    jobs = [JobCollection(job=s.job, state=s.state, path=path, ended_at=s.ended_at,
                          output_expires_at=output_expires_at(s.state, s.ended_at))
            for s in own]
    if all(s.ended for s in own):
        return Finishing(jobs=jobs)
    deleted_at = at_risk([j.output_expires_at for j in jobs], margin_s)
    return None if deleted_at is None else Finishing(jobs=jobs, output_deleted_at=deleted_at)


_collecting: ContextVar[tuple[JobCollection, ...]] = ContextVar("flashfirst_collecting",
                                                               default=())


@contextmanager
def collecting(jobs: list[JobCollection]) -> Iterator[None]:
    """A run finished inside this block records ``jobs`` in its report."""
    token = _collecting.set(tuple(jobs))
    try:
        yield
    finally:
        _collecting.reset(token)


def collected_now() -> list[JobCollection]:
    """The jobs the run being finished here was waiting for, stamped as written now."""
    now = datetime.now(UTC)
    return [job.model_copy(update={"collected_at": now}) for job in _collecting.get()]
