"""Batch mode: the same jobs through the Gemini Batch API at half price.

One batch per model (split into several jobs when its JSONL would pass the file limit);
answers are judged exactly as online ones are, and those that fail go up one tier in a
second round of batches (escalation stays bounded to one hop). Answers already in the
store are not submitted again, and a job already submitted for the same requests on the
same backend is re-attached to, never created twice (``batch_ledger``)."""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field

from flashfirst.catalogue import Catalogue, load_catalogue
from flashfirst.client import backend_id
from flashfirst.context import ContextUse
from flashfirst.errors import RefusedBeforeCall
from flashfirst.failures import Failure, FailureKind, api_failure_kind, budget_reached
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.batch_input import BatchInput, KeyedRequest, split_input
from flashfirst.inference.batch_ledger import (
    BatchLedger,
    BatchRecord,
    SubmittedJob,
    run_key,
)
from flashfirst.inference.engine import Budget, InferenceJob, served_model_of
from flashfirst.inference.platform_batch import PlatformBatches, progress
from flashfirst.inference.request import build_request, request_key
from flashfirst.inference.validation import Verdict, judge
from flashfirst.items import Attempt, ItemResult, Route, ServiceTier, ThinkingSent, Usage
from flashfirst.priced_as import price_row_model, stand_in
from flashfirst.prices import PriceTable
from flashfirst.router import RoutingPolicy, escalate, load_routing_policy
from flashfirst.settings import Settings
from flashfirst.stopping import STOP, StopRequest

log = logging.getLogger(__name__)

SUCCEEDED = "JOB_STATE_SUCCEEDED"
_DONE = {SUCCEEDED, "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
         "JOB_STATE_PARTIALLY_SUCCEEDED"}
# Called while waiting with (job name, state, requests done, requests in the job).
Progress = Callable[[str, str, int, int], None]


class BatchFailure(BaseModel):
    """A job that ended without answers (or with fewer than its stats claim)."""

    job_name: str
    model: str
    state: str
    reason: str
    item_ids: list[str] = Field(default_factory=list)


class BatchOutcome(BaseModel):
    results: list[ItemResult]
    failures: list[BatchFailure] = Field(default_factory=list)
    job_names: list[str] = Field(default_factory=list)
    parked: list[str] = Field(
        default_factory=list, description="Jobs still running when the runner was told not "
        "to wait: the results are incomplete, a later run (the collector) finishes them.")


Member = tuple[InferenceJob, Route]
Outcome = Failure | tuple[Attempt, Verdict]


@dataclass
class _Group:
    """One model's requests of one round, the record of their jobs, and what came back."""

    model: str
    ctx: ContextUse | None
    by_key: dict[str, list[Member]]
    requests: dict[str, KeyedRequest] = field(default_factory=dict)
    thinking: dict[str, ThinkingSent] = field(default_factory=dict)
    refused: dict[str, list[Member]] = field(default_factory=dict)  # thinking the model refuses
    why_refused: dict[str, Failure] = field(default_factory=dict)
    record: BatchRecord | None = None
    not_sent: Failure | None = None  # why nothing was submitted (budget)
    latest: dict[str, types.BatchJob] = field(default_factory=dict)


class BatchRunner:
    def __init__(self, client: genai.Client, settings: Settings, prices: PriceTable,
                 contexts: dict[str, ContextUse], fallback: ContextUse | None,
                 answers: AnswerStore | None, budget: Budget, ledger: BatchLedger,
                 poll_s: float = 2.0, sleep: Callable[[float], object] | None = None,
                 on_progress: Progress | None = None, wait: bool = True,
                 policy: RoutingPolicy | None = None, catalogue: Catalogue | None = None,
                 stop: StopRequest = STOP, run_id: str | None = None) -> None:
        self.client, self.settings, self.prices = client, settings, prices
        # Thinking and output cap per task, as online requests carry them.
        self.policy = policy or load_routing_policy(settings.routing_policy_path)
        self.catalogue = catalogue or load_catalogue(settings.model_catalogue_path)
        self.contexts, self.fallback = contexts, fallback
        self.answers, self.budget, self.ledger = answers, budget, ledger
        self.stop = stop  # a stop sends no new job and ends the wait; jobs sent run on
        self.poll_s, self._on_progress = poll_s, on_progress
        self._sleep = sleep or stop.sleep  # a stop wakes the wait at once
        self.wait = wait  # False: submit, look once, and leave the rest to a collector
        self.run_id = run_id  # in each job's webhook user_metadata: which run to finish
        self.backend = backend_id(settings)
        # The Agent Platform's jobs read and write Cloud Storage (platform_batch).
        self.platform = PlatformBatches(client, settings, run_id) if client.vertexai else None
        self.batch_names: list[str] = []
        self.failures: list[BatchFailure] = []

    def run(self, jobs: list[InferenceJob]) -> BatchOutcome:
        results: dict[str, ItemResult] = {}
        keys: dict[str, str] = {}
        pending: list[Member] = []
        for job in jobs:
            ctx = self._ctx(job.route.model)
            key = request_key(job, job.route.model, self.policy, self.catalogue,
                              ctx.content_hash if ctx else None)
            keys[job.item.id] = key
            done = self.answers.get(key) if self.answers else None
            if done is not None:
                results[job.item.id] = done.model_copy(update={"reused": True})
            else:
                results[job.item.id] = ItemResult(id=job.item.id, task=job.item.task,
                                                  route=job.route)
                pending.append((job, job.route))
        records: list[BatchRecord] = []
        for hop in range(2):
            if not pending:
                break
            if self.stop.requested:  # nothing new is submitted after a stop
                stopped = self.stop.failure()
                for job, _ in pending:
                    results[job.item.id].fail(stopped.kind, stopped.message)
                break
            retry: list[Member] = []
            groups = [self._submit(model, members)
                      for model, members in _by_model(pending).items()]
            records.extend(g.record for g in groups if g.record is not None)
            if not self.wait and (still_open := self._poll(groups)):
                return BatchOutcome(results=[results[j.item.id] for j in jobs],
                                    job_names=self.batch_names, parked=still_open)
            if still_open := self._wait(groups):  # stopped: the jobs run on, in the ledger
                return BatchOutcome(results=[results[j.item.id] for j in jobs],
                                    job_names=self.batch_names, parked=still_open)
            for job, route, outcome in (o for g in groups for o in self._collect(g)):
                result = results[job.item.id]
                if isinstance(outcome, Failure):
                    result.fail(outcome.kind, outcome.message)
                    continue
                attempt, verdict = outcome
                result.attempts.append(attempt)
                if verdict.ok:
                    result.output = verdict.output
                    result.succeed()
                    continue
                nxt = escalate(route, self.settings.models, verdict.error) if hop == 0 else None
                if nxt is None:
                    failure = verdict.failure(route.model)
                    result.fail(failure.kind, failure.message)
                else:
                    result.escalated = True
                    retry.append((job, nxt))
            pending = retry
        for item_id, result in results.items():
            if result.ok and not result.reused and self.answers is not None:
                self.answers.put(keys[item_id], result)
        for record in records:  # only now: every answer they paid for is stored
            if not record.settled:
                record.settled = True
                self.ledger.put(record)
        return BatchOutcome(results=[results[j.item.id] for j in jobs],
                            failures=self.failures, job_names=self.batch_names)

    # -- submit ---------------------------------------------------------------------------

    def _submit(self, model: str, members: list[Member]) -> _Group:
        ctx = self._ctx(model)
        by_key: dict[str, list[Member]] = defaultdict(list)
        for job, route in members:
            by_key[request_key(job, route.model, self.policy, self.catalogue,
                               ctx.content_hash if ctx else None)].append((job, route))
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
        if self.budget.reached:
            group.not_sent = budget_reached(self.budget.limit, self.budget.spent)
            return group
        inputs = self._split(group)
        record = record or BatchRecord(run_key=key, backend=self.backend, model=model,
                                       request_keys=sorted(group.by_key), parts=len(inputs))
        group.record = record
        for part in inputs:
            submitted = record.job_for(part.part)
            if submitted is None:
                submitted = self._create(model, key, part)
                record.jobs.append(submitted)
                self.ledger.put(record)  # before any wait: a kill from here on re-attaches
            self.batch_names.append(submitted.name)
        return group

    def _built(self, group: _Group) -> _Group:
        """Each key's request, built as the engine builds it online (no service tier:
        the batch is the tier); a request the model would refuse (its thinking, its
        input's type) is set apart and never sent."""
        for key, members in list(group.by_key.items()):
            job, route = members[0]
            try:
                request = build_request(
                    job, route.model, group.ctx, self.policy.thinking_for(job.item),
                    catalogue=self.catalogue,
                    max_output_tokens=self.policy.max_output_for(job.item), tier=None)
            except RefusedBeforeCall as refused:
                group.refused[key] = group.by_key.pop(key)
                group.why_refused[key] = Failure(kind=refused.kind,
                                                 message=f"refused before any call: {refused}")
                continue
            group.thinking[key] = request.thinking
            group.requests[key] = KeyedRequest(key=key, request=types.InlinedRequest(
                model=request.model, contents=request.contents, config=request.config,
                metadata={"key": key}))
        return group

    def _split(self, group: _Group) -> list[BatchInput]:
        """Deterministic: a re-attaching run rebuilds the same parts from the same requests."""
        if self.platform is not None:
            return self.platform.split(list(group.requests.values()))
        return split_input(self.client, list(group.requests.values()),
                           inline_max_bytes=self.settings.inference.batch_inline_max_bytes,
                           file_max_bytes=self.settings.inference.batch_file_max_bytes)

    def _create(self, model: str, key: str, part: BatchInput) -> SubmittedJob:
        if self.platform is not None:
            return self.platform.create(model, key, part)
        name = f"flashfirst-{key[:12]}-{part.part}"
        input_file = None
        if part.inline is not None:
            src: list[types.InlinedRequest] | str = part.inline
        else:
            uploaded = self.client.files.upload(
                file=io.BytesIO(part.jsonl or b""),
                config=types.UploadFileConfig(mime_type="application/jsonl", display_name=name))
            src = input_file = uploaded.name
        batch = self.client.batches.create(model=model, src=src, config=types.CreateBatchJobConfig(
            display_name=name, webhook_config=self._webhook_config(key, part.part)))
        log.info("created batch job %s (%d requests, %s)", batch.name, len(part.keys),
                 f"JSONL {input_file}" if input_file else "inline")
        return SubmittedJob(name=batch.name, part=part.part, input_file=input_file)

    def _webhook_config(self, key: str, part: int) -> types.WebhookConfig | None:
        """What Gemini's webhook delivery echoes back: the run and request group this job
        belongs to (and the dynamic URIs, when configured). Vertex refuses the field."""
        if self.client.vertexai:
            return None
        uris = self.settings.inference.batch_webhook_uris
        return types.WebhookConfig(uris=uris or None, user_metadata={
            "flashfirst_run_id": self.run_id, "flashfirst_request_key": key, "part": part})

    # -- wait -----------------------------------------------------------------------------

    def _wait(self, groups: list[_Group]) -> list[str]:
        """Poll every job of the round until each has ended; on a stop, the names of the
        jobs still open (not cancelled: they are paid for and a later run collects them)."""
        while still_open := self._poll(groups):
            if self.stop.requested:
                return still_open
            self._sleep(self.poll_s)
        return []

    def _poll(self, groups: list[_Group]) -> list[str]:
        """Look at every job not known to have ended; the names of those still open."""
        still_open = []
        for group in groups:
            for submitted in group.record.jobs if group.record else []:
                latest = group.latest.get(submitted.name)
                if latest is not None and _state(latest) in _DONE:
                    continue
                latest = self._get(submitted.name)
                group.latest[submitted.name] = latest
                self._report(latest)
                if _state(latest) not in _DONE:
                    still_open.append(submitted.name)
        return still_open

    def _get(self, name: str) -> types.BatchJob:
        try:
            return self.client.batches.get(name=name)
        except genai_errors.ClientError as exc:
            if exc.code != 404:
                raise
            return types.BatchJob(name=name, state=types.JobState.JOB_STATE_FAILED,
                                  error=types.JobError(message="the job is gone (deleted, or "
                                                       "not on this backend)"))

    def _report(self, batch: types.BatchJob) -> None:
        if self._on_progress is None:
            return
        if self.platform is not None:
            self._on_progress(batch.name or "", _state(batch), *progress(batch))
            return
        stats = self._operation(batch.name).get("metadata", {}).get("batchStats", {})
        total = int(stats.get("requestCount", 0))
        done = int(stats.get("successfulRequestCount", 0)) + int(
            stats.get("failedRequestCount", 0))
        self._on_progress(batch.name or "", _state(batch), done, total)

    # -- collect --------------------------------------------------------------------------

    def _collect(self, group: _Group):  # noqa: ANN202 - yields (job, route, Outcome)
        for key, members in group.refused.items():
            for job, route in members:
                yield job, route, group.why_refused[key]
        if group.record is None:
            for members in group.by_key.values():
                for job, route in members:
                    yield job, route, group.not_sent or Failure(
                        kind=FailureKind.BATCH_JOB, message="not submitted to the Batch API")
            return
        for submitted in group.record.jobs:
            batch = group.latest[submitted.name]
            part_keys = self._part_keys(group, submitted)
            answers, failure = self._answers(batch, group.model, part_keys)
            if failure is not None:
                failure.item_ids = [j.item.id for k in part_keys for j, _ in group.by_key[k]]
                self.failures.append(failure)
                group.record.settled = True  # nothing to collect from it, ever
                self.ledger.put(group.record)
            for key in part_keys:
                members = group.by_key[key]
                outcome = self._outcome(key, members[0], answers, batch.name or "", group,
                                        failure)
                for n, (job, route) in enumerate(members):
                    yield job, route, _shared(outcome) if n else outcome

    def _part_keys(self, group: _Group, submitted: SubmittedJob) -> list[str]:
        if group.record is None or group.record.parts == 1:
            return sorted(group.by_key)
        # Split again as when submitted: the same requests split the same way.
        return self._split(group)[submitted.part].keys

    def _outcome(self, key: str, member: Member, answers: dict[str, dict | types.InlinedResponse],
                 job_name: str, group: _Group, failure: BatchFailure | None) -> Outcome:
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
        job, route = member
        return self._attempt(job, route, group.ctx, response, group.thinking[key])

    def _answers(self, batch: types.BatchJob, model: str, keys: list[str]
                 ) -> tuple[dict[str, dict | types.InlinedResponse], BatchFailure | None]:
        """Answers by key, or why the job gave none; ``batchStats`` must agree with them."""
        state, name = _state(batch), batch.name or ""
        if self.platform is not None:
            rows, why = self.platform.collect(batch, keys)
            return rows, why and BatchFailure(job_name=name, model=model, state=why[0],
                                              reason=why[1])
        if state != SUCCEEDED:
            return {}, BatchFailure(job_name=name, model=model, state=_short(state),
                                    reason=self._reason(batch))
        answers: dict[str, dict | types.InlinedResponse] = {}
        if batch.dest is not None and batch.dest.file_name:
            data = self.client.files.download(file=batch.dest.file_name)
            for line in data.decode().splitlines():
                if line.strip():
                    row = json.loads(line)
                    answers[str(row.get("key"))] = row
        elif batch.dest is not None:
            for answer in batch.dest.inlined_responses or []:
                answers[str((answer.metadata or {}).get("key"))] = answer
        ok = sum(1 for a in answers.values() if _succeeded(a))
        stats = self._operation(name).get("metadata", {}).get("batchStats", {})
        claimed_ok = int(stats.get("successfulRequestCount", ok))
        claimed_failed = int(stats.get("failedRequestCount", len(answers) - ok))
        if (claimed_ok, claimed_failed) != (ok, len(answers) - ok):
            return answers, BatchFailure(
                job_name=name, model=model, state="INCOMPLETE",
                reason=f"batchStats report {claimed_ok} succeeded and {claimed_failed} failed, "
                f"but {ok} answers and {len(answers) - ok} errors came back")
        return answers, None

    def _reason(self, batch: types.BatchJob) -> str:
        if batch.error is not None and batch.error.message:
            return batch.error.message
        # The SDK (3.6) drops a Developer API job's ``error``; the operation still has it.
        error = self._operation(batch.name or "").get("error") or {}
        return error.get("message") or "the API gave no reason"

    def _operation(self, name: str) -> dict:
        """The job's raw operation through the SDK's own transport: the SDK's BatchJob
        leaves out ``batchStats`` and ``error`` for the Developer API."""
        if self.client.vertexai or not name:
            return {}
        response = self.client._api_client.request("get", name, {})
        return json.loads(response.body) if response.body else {}

    def _attempt(self, job: InferenceJob, route: Route, ctx: ContextUse | None,
                 response: types.GenerateContentResponse,
                 thinking: ThinkingSent) -> tuple[Attempt, Verdict]:
        usage = Usage.from_sdk(response.usage_metadata)
        served = served_model_of(response)  # priced as the model that served
        called = datetime.now(UTC)  # when the answer is collected: the day it is priced
        day = called.date()
        cost = self.prices.price_call(
            price_row_model(route.model, served, day, self.prices, self.catalogue),
            usage, ServiceTier.BATCH, at=called)
        self.budget.add(cost)
        verdict = judge(response, job.item.response_schema, job.item.check)
        return Attempt(
            model=route.model, served_model=served, called_at=called,
            priced_as=stand_in(route.model, served, day, self.prices, self.catalogue),
            service_tier_requested=ServiceTier.BATCH,
            service_tier_served=ServiceTier.BATCH, usage=usage, cost_usd=float(cost),
            ok=verdict.ok, finish_reason=verdict.finish_reason,
            validation_error=verdict.error,
            cached_content=ctx.cache_name if ctx else None, thinking=thinking), verdict

    def _ctx(self, model: str) -> ContextUse | None:
        use = self.contexts.get(model)
        if use is not None and use.cached and self.platform is not None:
            use = None  # platform batch reads no explicit cache: the context goes inline
        if use is None and self.fallback is not None:
            return self.fallback.model_copy(update={"model": model})
        return use


def _by_model(members: list[Member]) -> dict[str, list[Member]]:
    out: dict[str, list[Member]] = defaultdict(list)
    for job, route in members:
        out[route.model].append((job, route))
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


def _succeeded(answer: dict | types.InlinedResponse) -> bool:
    if isinstance(answer, types.InlinedResponse):
        return answer.error is None and answer.response is not None
    return answer.get("error") is None and answer.get("response") is not None


def _state(batch: types.BatchJob) -> str:
    return str(getattr(batch.state, "value", batch.state))


def _short(state: str) -> str:
    return state.removeprefix("JOB_STATE_")
