"""The batch transport of an item's life (``life``): each round, one batch per model of
the asks the items' lives need (split into several jobs when its JSONL would pass the
file limit); an answer that fails goes back into the next round with the ladder's next
step (a larger output cap, more thinking, a tier up), as online. The thinking lever's
calibration requests ride in the first round. Answers already in the store are not
submitted again, and a job already submitted for the same requests on the same backend
is re-attached to, never created twice (``batch_ledger``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.client import backend_id
from flashfirst.errors import RefusedBeforeCall
from flashfirst.failures import Failure, FailureKind, api_failure_kind, budget_reached
from flashfirst.inference.answered import priced_attempt
from flashfirst.inference.batch_input import KeyedRequest
from flashfirst.inference.batch_jobs import (
    Answers,
    BatchFailure,
    BatchJobs,
    Progress,
    ended,
    state_name,
)
from flashfirst.inference.batch_ledger import BatchLedger, BatchRecord, SubmittedJob, run_key
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.life import Ask, ItemLife
from flashfirst.inference.request import ModelRequest, ask_key, build_request, request_key
from flashfirst.inference.validation import Verdict
from flashfirst.inputs.context import ContextUse
from flashfirst.items import Attempt, ItemResult, ServiceTier

log = logging.getLogger(__name__)


class BatchOutcome(BaseModel):
    results: list[ItemResult]
    failures: list[BatchFailure] = Field(default_factory=list)
    job_names: list[str] = Field(default_factory=list)
    parked: list[str] = Field(
        default_factory=list, description="Jobs still running when the runner was told not "
        "to wait: the results are incomplete, a later run (the collector) finishes them.")


@dataclass
class BatchWaiting:
    """How the runner waits for its jobs."""

    poll_s: float = 2.0
    sleep: Callable[[float], object] | None = None  # None: the stop's (a stop wakes it)
    on_progress: Progress | None = None
    wait: bool = True  # False: submit, look once, and leave the rest to a collector


Member = tuple[ItemLife, Ask]
Outcome = Failure | tuple[Attempt, Verdict]


@dataclass
class _Group:
    """One model's asks of one round, the record of their jobs, and what came back."""

    model: str
    ctx: ContextUse | None
    by_key: dict[str, list[Member]]
    requests: dict[str, KeyedRequest] = field(default_factory=dict)
    sent: dict[str, ModelRequest] = field(default_factory=dict)
    refused: dict[str, list[Member]] = field(default_factory=dict)  # thinking the model refuses
    why_refused: dict[str, Failure] = field(default_factory=dict)
    record: BatchRecord | None = None
    not_sent: Failure | None = None  # why nothing was submitted (budget)
    latest: dict[str, types.BatchJob] = field(default_factory=dict)


class BatchRunner:
    def __init__(self, run: InferenceContext, ledger: BatchLedger,
                 contexts: dict[str, ContextUse] | None = None,
                 fallback: ContextUse | None = None,
                 waiting: BatchWaiting | None = None) -> None:
        self.run_ctx, self.ledger = run, ledger
        self.contexts, self.fallback = contexts or {}, fallback
        self.waiting = waiting or BatchWaiting()
        self._sleep = self.waiting.sleep or run.stop.sleep  # a stop wakes the wait at once
        self.jobs = BatchJobs(run.client, run.settings, run.run_id)
        self.backend = backend_id(run.settings)
        self.batch_names: list[str] = []
        self.failures: list[BatchFailure] = []

    def run(self, jobs: list[InferenceJob]) -> BatchOutcome:
        run = self.run_ctx
        reused: dict[str, ItemResult] = {}
        lives: dict[str, ItemLife] = {}
        keys: dict[str, str] = {}
        pending: list[Member] = []
        for job in jobs:
            ctx = self._ctx(job.route.model)
            key = keys[job.item.id] = request_key(job, job.route.model, run.policy,
                                                  run.catalogue, ctx.content_hash if ctx else None)
            done = run.answers.get(key) if run.answers else None
            if done is not None:
                reused[job.item.id] = done.model_copy(update={"reused": True})
                continue
            life = lives[job.item.id] = ItemLife(job, run.policy, run.catalogue,
                                                 run.settings.models)
            pending.append((life, life.ask))

        def outcome(**more: object) -> BatchOutcome:
            results = [reused.get(j.item.id) or lives[j.item.id].result for j in jobs]
            return BatchOutcome(results=results, job_names=self.batch_names, **more)

        records: list[BatchRecord] = []
        while pending:  # a round per step of the ladder: each life ends within three
            if run.stop.requested:  # nothing new is submitted after a stop
                stopped = run.stop.failure()
                for life, ask in pending:
                    if ask.step != "calibration":
                        life.failed(stopped.kind, stopped.message)
                break
            groups = [self._submit(model, members)
                      for model, members in _by_model(pending).items()]
            records.extend(g.record for g in groups if g.record is not None)
            if not self.waiting.wait and (still_open := self._poll(groups)):
                return outcome(parked=still_open)
            if still_open := self._wait(groups):  # stopped: the jobs run on, in the ledger
                return outcome(parked=still_open)
            pending = [nxt for g in groups for member, answer in self._collect(g)
                       if (nxt := _settle(member, answer)) is not None]
        if run.answers is not None:
            for item_id, life in lives.items():
                if life.result.ok:
                    run.answers.put(keys[item_id], life.result)
        for record in records:  # only now: every answer they paid for is stored
            if not record.settled:
                record.settled = True
                self.ledger.put(record)
        return outcome(failures=self.failures)

    # -- submit ---------------------------------------------------------------------------

    def _submit(self, model: str, members: list[Member]) -> _Group:
        ctx = self._ctx(model)
        by_key: dict[str, list[Member]] = defaultdict(list)
        for member in members:
            by_key[self._key(member, ctx)].append(member)
        group = self._built(_Group(model=model, ctx=ctx, by_key=dict(by_key)))
        if not group.by_key:
            return group  # every request refused before any call
        key = run_key(self.backend, model, list(group.by_key))
        record = self.ledger.get(key)
        if record is not None and record.settled:  # answered before; these requests failed
            record = BatchRecord(run_key=key, backend=self.backend, model=model,
                                 request_keys=sorted(group.by_key),
                                 earlier_jobs=[*record.earlier_jobs,
                                               *(j.name for j in record.jobs)])
        if record is not None and len(record.jobs) == record.parts:
            log.info("re-attaching to batch job(s) %s", ", ".join(j.name for j in record.jobs))
            group.record = record
            self.batch_names.extend(j.name for j in record.jobs)
            return group
        budget = self.run_ctx.budget
        if budget.reached:
            group.not_sent = budget_reached(budget.limit, budget.spent)
            return group
        inputs = self.jobs.split(list(group.requests.values()))
        record = record or BatchRecord(run_key=key, backend=self.backend, model=model,
                                       request_keys=sorted(group.by_key), parts=len(inputs))
        group.record = record
        for part in inputs:
            submitted = record.job_for(part.part)
            if submitted is None:
                submitted = self.jobs.create(model, key, part)
                record.jobs.append(submitted)
                self.ledger.put(record)  # before any wait: a kill from here on re-attaches
            self.batch_names.append(submitted.name)
        return group

    def _key(self, member: Member, ctx: ContextUse | None) -> str:
        """The answer key of the request the ask sends (the route's: ``request_key``)."""
        (life, ask), run = member, self.run_ctx
        context_hash = ctx.content_hash if ctx else None
        if ask.step == "route":
            return request_key(life.job, ask.route.model, run.policy, run.catalogue,
                               context_hash)
        return ask_key(life.job, ask.route.model, ask.thinking, ask.cap, run.catalogue,
                       context_hash)

    def _built(self, group: _Group) -> _Group:
        """Each key's request, built as the engine builds it online (no service tier: the
        batch is the tier); a request the model would refuse (its thinking, its input's
        type) is set apart and never sent. A route's request sent below the model's
        default thinking brings its calibration request along, when its life asks one."""
        for key, members in list(group.by_key.items()):
            request = self._request(group, key, members)
            if request is None or members[0][1].step != "route":
                continue
            for life, _ in members:
                calibration = life.calibration(request.thinking)
                if calibration is None:
                    continue
                member = (life, calibration)
                extra = self._key(member, group.ctx)
                if extra in group.refused:
                    group.refused[extra].append(member)
                    continue
                group.by_key.setdefault(extra, []).append(member)
                if extra not in group.sent:
                    self._request(group, extra, group.by_key[extra])
        return group

    def _request(self, group: _Group, key: str, members: list[Member]) -> ModelRequest | None:
        life, ask = members[0]
        try:
            request = build_request(life.job, ask.route.model, group.ctx, ask.thinking,
                                    catalogue=self.run_ctx.catalogue, max_output_tokens=ask.cap,
                                    tier=None)
        except RefusedBeforeCall as refused:
            group.refused[key] = group.by_key.pop(key)
            group.why_refused[key] = Failure(kind=refused.kind,
                                             message=f"refused before any call: {refused}")
            return None
        group.sent[key] = request
        group.requests[key] = KeyedRequest(key=key, request=types.InlinedRequest(
            model=request.model, contents=request.contents, config=request.config,
            metadata={"key": key}))
        return request

    # -- wait -----------------------------------------------------------------------------

    def _wait(self, groups: list[_Group]) -> list[str]:
        """Poll every job of the round until each has ended; on a stop, the names of the
        jobs still open (not cancelled: they are paid for and a later run collects them)."""
        while still_open := self._poll(groups):
            if self.run_ctx.stop.requested:
                return still_open
            self._sleep(self.waiting.poll_s)
        return []

    def _poll(self, groups: list[_Group]) -> list[str]:
        """Look at every job not known to have ended; the names of those still open."""
        still_open = []
        for group in groups:
            for submitted in group.record.jobs if group.record else []:
                latest = group.latest.get(submitted.name)
                if latest is not None and ended(latest):
                    continue
                latest = group.latest[submitted.name] = self.jobs.get(submitted.name)
                if self.waiting.on_progress is not None:
                    self.waiting.on_progress(latest.name or "", state_name(latest),
                                             *self.jobs.progress(latest))
                if not ended(latest):
                    still_open.append(submitted.name)
        return still_open

    # -- collect --------------------------------------------------------------------------

    def _collect(self, group: _Group) -> Iterator[tuple[Member, Outcome]]:
        for key, members in group.refused.items():
            for member in members:
                yield member, group.why_refused[key]
        if group.record is None:
            for members in group.by_key.values():
                for member in members:
                    yield member, group.not_sent or Failure(
                        kind=FailureKind.BATCH_JOB, message="not submitted to the Batch API")
            return
        for submitted in group.record.jobs:
            batch = group.latest[submitted.name]
            part_keys = self._part_keys(group, submitted)
            answers, failure = self.jobs.answers(batch, group.model, part_keys)
            if failure is not None:
                failure.item_ids = [life.job.item.id for k in part_keys
                                    for life, _ in group.by_key[k]]
                self.failures.append(failure)
                group.record.settled = True  # nothing to collect from it, ever
                self.ledger.put(group.record)
            for key in part_keys:
                members = group.by_key[key]
                outcome = self._outcome(key, members[0], answers, batch.name or "", group,
                                        failure)
                for n, member in enumerate(members):
                    yield member, _shared(outcome) if n else outcome

    def _part_keys(self, group: _Group, submitted: SubmittedJob) -> list[str]:
        if group.record is None or group.record.parts == 1:
            return sorted(group.by_key)
        # Split again as when submitted: the same requests split the same way.
        return self.jobs.split(list(group.requests.values()))[submitted.part].keys

    def _outcome(self, key: str, member: Member, answers: Answers, job_name: str,
                 group: _Group, failure: BatchFailure | None) -> Outcome:
        if failure is not None:
            return Failure(kind=FailureKind.BATCH_JOB, message=(
                f"batch job {job_name} ended {failure.state}: {failure.reason}"))
        answer = answers.get(key)
        if answer is None:
            return Failure(kind=FailureKind.BATCH_JOB,
                           message=f"no answer for this request in batch job {job_name}")
        if isinstance(answer, types.InlinedResponse):
            error = answer.error.model_dump(exclude_none=True) if answer.error else None
            response = answer.response
        else:
            error = answer.get("error")
            response = (types.GenerateContentResponse.model_validate(answer["response"])
                        if answer.get("response") else None)
        if error is not None or response is None:
            return _request_failure(error or {}, job_name)
        life, ask = member
        # Priced when collected: the day it is priced.
        return priced_attempt(self.run_ctx, life.job.item, ask.route, group.sent[key], response,
                              requested=ServiceTier.BATCH, served=ServiceTier.BATCH,
                              called_at=datetime.now(UTC),
                              cached_content=group.ctx.cache_name if group.ctx else None)

    def _ctx(self, model: str) -> ContextUse | None:
        use = self.contexts.get(model)
        if use is not None and use.cached and self.jobs.platform is not None:
            use = None  # platform batch reads no explicit cache: the context goes inline
        if use is None and self.fallback is not None:
            return self.fallback.model_copy(update={"model": model})
        return use


def _settle(member: Member, outcome: Outcome) -> Member | None:
    """What came of one ask, told to its item's life; the life's next ask, if any."""
    life, ask = member
    if ask.step == "calibration":  # spent, its answer unused; a failure fails nothing
        if not isinstance(outcome, Failure):
            life.calibrated(outcome[0])
        return None
    if isinstance(outcome, Failure):
        life.failed(outcome.kind, outcome.message)
        return None
    nxt = life.answered(*outcome)
    return (life, nxt) if nxt is not None else None


def _by_model(members: list[Member]) -> dict[str, list[Member]]:
    out: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        out[member[1].route.model].append(member)
    return out


def _request_failure(error: dict, job_name: str) -> Failure:
    """One request's error inside a job, classified by its ``google.rpc`` code and status
    like an online call's; without an error, the job simply gave no answer."""
    code, status = error.get("code"), error.get("status")
    kind = (api_failure_kind(int(code) if str(code).isdigit() else None, status)
            if code or status else FailureKind.BATCH_JOB)
    return Failure(kind=kind, message=(
        f"batch request failed in {job_name}: {code or ''} {status or ''} "
        f"{error.get('message', 'no response')}").replace("  ", " "))


def _shared(outcome: Outcome) -> Outcome:
    """A second item with the same request shares the one paid answer: no second charge."""
    if isinstance(outcome, Failure):
        return outcome
    attempt, verdict = outcome
    return attempt.model_copy(update={"cost_usd": 0.0}), verdict
