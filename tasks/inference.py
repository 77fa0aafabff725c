"""Fan-out inference: items in chunks, one Prefect task per chunk, async calls inside.

One Prefect task per HTTP call costs ~5-7 ms of orchestration each (measured on Prefect
3.8, 2 cores, ephemeral server) and thousands of task runs in the UI; a chunk of async
calls keeps the quota full with a handful of task runs. Rate limits are per process
(``ModelLimiter``) and, when ``FLASHFIRST_INFERENCE__SHARED_RATE_LIMITS`` is on, also
shared across runs and workers through Prefect global concurrency limits on the Prefect
server. The budget and the cache records are the run's, whichever process a chunk runs
in: they live in the run state (``flashfirst.run.state``), not in a process's memory.
Every chunk's calls go out on the process's one call loop (``inference/call_loop.py``):
the chunks in flight are one window of calls over one connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from flashfirst.tasks.plain_data import plain
from flashfirst.tasks.retry_conditions import unless_config_error
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from pydantic import BaseModel, ConfigDict, Field

from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.caching.provider import CachedContexts
from flashfirst.failures import FailureKind
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.batch import BatchRunner, BatchWaiting
from flashfirst.inference.batch_jobs import BatchFailure
from flashfirst.inference.batch_ledger import BatchLedger
from flashfirst.inference.budget import Budget
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.request import billing_labels
from flashfirst.inference.segments import run_split, split_jobs_online
from flashfirst.inference.shared_budget import BudgetLease
from flashfirst.inputs.context import ContextUse
from flashfirst.items import ItemResult, ServiceTier
from flashfirst.packed import Packed
from flashfirst.planning.router import RoutingPolicy
from flashfirst.reporting.results_stream import ResultStream
from flashfirst.reporting.stages import Stage
from flashfirst.run import progress
from flashfirst.run.context import run_context
from flashfirst.run.state import RunState
from flashfirst.run.stopping import STOP
from flashfirst.settings import Settings
from flashfirst.storage import Storage

T = TypeVar("T")


class InferenceRun(BaseModel):
    """What every chunk of one run shares (serializable, so chunks can run anywhere)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str = Field(description="Unique per flow run; also the key of the run's shared "
                        "state (budget, cache records) under state_root.")
    settings: Settings
    policy: RoutingPolicy
    context: PreparedContext | None = None
    plan: dict[str, ContextUse] = Field(default_factory=dict)
    cache_ttl_s: float = 3600
    state_root: str
    deadline_at: float | None = None
    budget_usd: float | None = None
    collect_later: bool = Field(False, description="Batch: submit, don't wait.")


class ChunkResult(BaseModel):
    """What a chunk hands back; the cache records it made or extended are in the run
    state (``flashfirst.run.state``), not here."""

    results: list[ItemResult]
    cache_api_calls: int = 0
    batch_failures: list[BatchFailure] = Field(default_factory=list)
    parked_jobs: list[str] = Field(default_factory=list)


def chunk_budget(run: InferenceRun, storage: Storage) -> Budget:
    """The chunk's lease of the run's budget, kept in the run state so that every chunk,
    in any process, spends from the one budget. The chunk settles it when it ends (also
    when it fails: a retry takes a fresh lease)."""
    if run.budget_usd is None:
        return Budget(None)
    return BudgetLease(RunState(storage, run.state_root, run.run_id), run.budget_usd)


def inference_context(run: InferenceRun, budget: Budget,
                      answers: AnswerStore) -> InferenceContext:
    """What the run's calls share in this process: the answer store, the budget lease,
    the shared rate limits."""
    shared = run_context(run.settings)
    return InferenceContext(
        client=shared.client, settings=run.settings, prices=shared.prices, policy=run.policy,
        catalogue=shared.catalogue, answers=answers, budget=budget,
        deadline_at=run.deadline_at, gate=_shared_gate(run.settings), run_id=run.run_id,
        labels=billing_labels(run.run_id) if shared.client.vertexai else None)


@task(name="infer-chunk", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5,
      retry_condition_fn=unless_config_error, task_run_name="infer {first_id}…")
def infer_chunk(jobs: list[InferenceJob], run: InferenceRun, first_id: str = "") -> ChunkResult:
    return on_call_loop(send_chunk(jobs, run, get_run_logger()))


async def send_chunk(jobs: list[InferenceJob], run: InferenceRun,
                     logger: logging.Logger | logging.LoggerAdapter) -> ChunkResult:
    """A chunk's calls, on the process's one call loop beside the other chunks' (the
    logger is the chunk task's: its lines stay in the task run)."""
    settings = run.settings
    shared = run_context(settings)
    manager = CacheManager(shared.client, shared.storage, run.state_root, shared.backend,
                           RunState(shared.storage, run.state_root, run.run_id),
                           catalogue=shared.catalogue)
    contexts = (CachedContexts(manager, run.context, run.plan, run.cache_ttl_s)
                if run.context is not None else None)
    answers = shared.answers(run.state_root)  # a retried chunk finds what was paid for
    budget = chunk_budget(run, shared.storage)
    engine = Engine(inference_context(run, budget, answers), contexts)

    async def one(job: InferenceJob) -> ItemResult:
        try:
            result = await (run_split(engine, job) if job.segments else engine.run(job))
        except Exception as exc:  # noqa: BLE001 - one item's bug must not sink its chunk
            logger.exception("item %s failed unexpectedly", job.item.id)
            result = ItemResult(id=job.item.id, task=job.item.task, route=job.route).fail(
                FailureKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        if result.error and not stopped(result):  # those are counted once, below
            logger.warning("item %s: %s", job.item.id, result.error)
        progress.advance(Stage.INFER)
        return result

    try:
        results = await asyncio.gather(*(one(j) for j in jobs))
    finally:
        budget.settle()
    answers.sync()  # on the thread that wrote them: the call loop's
    if not_run := sum(1 for r in results if stopped(r)):
        logger.info("%d items not sent: %s", not_run, stop_reason())
    return ChunkResult(results=list(results), cache_api_calls=manager.api_calls)


def on_call_loop(coro: Coroutine[Any, Any, T]) -> T:
    from flashfirst.inference.call_loop import CALLS  # named here, not pickled with a task

    return CALLS.call(coro)


# Task bodies ask through these functions, never name STOP: a task a Dask worker runs is
# pickled by value with the globals it names, and the stop request holds a lock.
def stop_requested() -> bool:
    return STOP.requested


def stop_reason() -> str:
    return STOP.reason


def stopped(result: ItemResult) -> bool:
    return result.failure is not None and result.failure.kind in (
        FailureKind.INTERRUPTED, FailureKind.CANCELLED)


def shares_limits(settings: Settings) -> bool:
    """Shared limits need a Prefect server; on ephemeral Prefect each process keeps its
    own in-process limiter (the fallback), which is all a single process needs."""
    from prefect.settings import PREFECT_API_URL

    return settings.inference.shared_rate_limits and bool(PREFECT_API_URL.value())


async def ensure_shared_limits(settings: Settings) -> list[str]:
    """One global concurrency limit per model: a slot per request, freed at (RPM - 1) per
    window, one slot at a time. Any window then holds at most RPM requests (the one slot
    plus what decays in it); a burst of RPM slots would let through up to twice RPM in
    the first window (the burst, then the decay). The server's decay is coarse (whole
    slots, counted from the limit's last update), so the rate reached is below RPM."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    names = []
    async with get_client() as client:
        for spec in settings.models.all:
            name = f"gemini-rpm-{spec.id}"
            names.append(name)
            decay = max(spec.rpm - 1, 1) / settings.inference.quota_window_s
            try:
                await client.read_global_concurrency_limit_by_name(name)
                await client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                    limit=1, slot_decay_per_second=decay))
            except ObjectNotFound:
                await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=name, limit=1, slot_decay_per_second=decay))
    return names


def _shared_gate(settings: Settings):  # noqa: ANN202
    if not shares_limits(settings):
        return None
    from prefect.concurrency.asyncio import rate_limit

    async def gate(model: str, tokens: int) -> None:
        await rate_limit(f"gemini-rpm-{model}", occupy=1)

    return gate


class InferenceOutcome(BaseModel):
    results: list[ItemResult] = Field(default_factory=list)
    cache_api_calls: int = 0
    batch_failures: list[BatchFailure] = Field(default_factory=list)
    parked_jobs: list[str] = Field(default_factory=list)


# Retrying is safe: the job names are in the ledger, so a retry waits for the same jobs.
@task(name="infer-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=30,
      retry_condition_fn=unless_config_error)
def infer_batch(jobs: list[InferenceJob], run: InferenceRun) -> ChunkResult:
    shared = run_context(run.settings)
    budget = chunk_budget(run, shared.storage)
    runner = BatchRunner(
        inference_context(run, budget, shared.answers(run.state_root)),
        BatchLedger(shared.storage, run.state_root),
        run.plan, run.context.inline("") if run.context else None,
        BatchWaiting(poll_s=run.settings.inference.batch_poll_s,
                     on_progress=_batch_progress(), wait=not run.collect_later))
    try:
        outcome = runner.run(jobs)
    finally:
        budget.settle()
    logger = get_run_logger()
    if outcome.parked and stop_requested():
        logger.warning("stopped while batch jobs %s run: they are not cancelled (already "
                       "paid for); a later run collects them", ", ".join(outcome.parked))
        return ChunkResult(results=left_in_batch(outcome.results, outcome.parked),
                           parked_jobs=outcome.parked)
    if outcome.parked:
        logger.info("batch jobs %s still running: collect-batches finishes this run",
                    ", ".join(outcome.parked))
        return ChunkResult(results=[], parked_jobs=outcome.parked)
    logger.info("batch jobs: %s", ", ".join(outcome.job_names) or "none needed")
    for failure in outcome.failures:
        logger.error("batch job %s ended %s: %s (%d items)", failure.job_name, failure.state,
                     failure.reason, len(failure.item_ids))
    progress.advance(Stage.INFER, len(jobs))
    return ChunkResult(results=outcome.results, batch_failures=outcome.failures)


def _batch_progress():  # noqa: ANN202 - a Progress callback
    """A progress artifact per batch job: its state and requests done, in the Prefect UI
    while the run waits."""
    artifacts: dict[str, object] = {}

    def report(name: str, state: str, done: int, total: int) -> None:
        share = 100.0 * done / total if total else 0.0
        text = f"{name}: {state.removeprefix('JOB_STATE_')}, {done} of {total} requests done"
        if name not in artifacts:
            artifacts[name] = create_progress_artifact(progress=share, description=text)
        else:
            update_progress_artifact(artifacts[name], progress=share, description=text)

    return report


_PROGRESS_EVERY_S = 1.0


def _submit_chunk(jobs: list[InferenceJob], run: InferenceRun):  # noqa: ANN202 - a future
    # The run name from a plain parameter: Prefect formats it for every chunk. plain():
    # not walked element by element (tasks/plain_data.py).
    return infer_chunk.submit(plain(jobs), plain(run), first_id=jobs[0].item.id)


def not_sent(jobs: list[InferenceJob]) -> list[ItemResult]:
    """Items of a stopped run that were never sent, marked so a re-run knows what is left."""
    failure = STOP.failure()
    return [ItemResult(id=j.item.id, task=j.item.task, route=j.route).fail(
        failure.kind, failure.message) for j in jobs]


def left_in_batch(results: list[ItemResult], jobs: list[str]) -> list[ItemResult]:
    """A stopped run's items still in batch jobs that were left running: marked so the
    report says where they are and a re-run (or collect-batches) collects them."""
    stopped = STOP.failure()
    message = (f"not collected: {STOP.reason}; it is in batch job {', '.join(jobs)}, left "
               "running (not cancelled): run again, or let collect-batches finish the run")
    return [r if r.failure or r.reused or r.output is not None
            else r.fail(stopped.kind, message) for r in results]


def run_inference(jobs: Sequence[InferenceJob], run: InferenceRun, *, batch: bool,
                  sink: ResultStream | None = None, any_batch_tier: bool = True
                  ) -> InferenceOutcome:
    """Dispatch the jobs (chunks online, or one batch task) and follow their progress.
    ``jobs`` may be packed (``flashfirst/packed.py``): each chunk's jobs become objects
    when the chunk is submitted and go once its task ends, so a run holds the jobs of the
    chunks in flight, not all of them. ``any_batch_tier``: whether a job may be routed
    to Batch (mode=auto chose it for a model); when not, and not ``batch``, the jobs are
    not read twice. ``sink``: where each finished chunk's results go (then not kept in
    the outcome)."""
    total = len(jobs)
    progress.start(Stage.INFER, total)
    outcome = InferenceOutcome()
    answered = 0

    def keep(results: list[ItemResult]) -> None:
        nonlocal answered
        answered += len(results)
        (sink.add if sink is not None else outcome.results.extend)(results)

    if not jobs:
        return outcome
    if STOP.requested:  # stopped before inference began
        for block in _blocks(jobs):
            keep(not_sent(block))
        return outcome
    if shares_limits(run.settings):
        names = asyncio.run(ensure_shared_limits(run.settings))
        get_run_logger().info("rate limits shared across runs: %s", ", ".join(names))
    artifact = create_progress_artifact(progress=0.0, key="flashfirst-progress",
                                        description="Items answered")
    # mode=batch sends everything to Batch; mode=auto only the models it chose it for.
    to_batch = []
    if batch or any_batch_tier:
        for block in _blocks(jobs):
            kept, refused = split_jobs_online(block, batch=batch)
            keep(refused)
            to_batch += [j for j in kept if batch or j.route.service_tier is ServiceTier.BATCH]
    pending = [infer_batch.submit(plain(to_batch), plain(run))] if to_batch else []
    del to_batch
    # A sliding window of chunk tasks, not all at once: each submitted task run
    # holds Prefect state and memory, and the rate limiter is the real bound anyway.
    waiting = iter(()) if batch else _online_chunks(jobs, run.settings.inference.chunk_size)
    window = run.settings.inference.chunks_in_flight
    pending += [_submit_chunk(chunk, run) for chunk in islice(waiting, window)]
    last_update = float("-inf")
    while pending:
        done = next(as_completed(pending))
        pending.remove(done)
        if STOP.requested:  # stopped: the chunks not started are not sent
            for chunk in waiting:
                keep(not_sent(chunk))
        if (chunk := next(waiting, None)) is not None:
            pending.append(_submit_chunk(chunk, run))
        del chunk
        result: ChunkResult = done.result()
        keep(result.results)
        outcome.cache_api_calls += result.cache_api_calls
        outcome.batch_failures.extend(result.batch_failures)
        outcome.parked_jobs.extend(result.parked_jobs)
        now = time.monotonic()
        if now - last_update >= _PROGRESS_EVERY_S or not pending:  # one API write a second
            update_progress_artifact(artifact, progress=100.0 * answered / total)
            last_update = now
    return outcome


def _blocks(jobs: Sequence[InferenceJob]) -> Iterator[list[InferenceJob]]:
    """A packed sequence's blocks as they are read; a list is one block."""
    if isinstance(jobs, Packed):
        yield from jobs.blocks()
    else:
        yield list(jobs)


def _online_chunks(jobs: Sequence[InferenceJob], size: int) -> Iterator[list[InferenceJob]]:
    """The online jobs' chunks, made as they are asked for (a split item meant for Batch
    goes at the standard tier: ``split_jobs_online``)."""
    chunk: list[InferenceJob] = []
    for block in _blocks(jobs):
        for job in split_jobs_online(block, batch=False)[0]:
            if job.route.service_tier is ServiceTier.BATCH:
                continue  # in the batch task
            chunk.append(job)
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk
