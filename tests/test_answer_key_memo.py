"""The answer key is computed once per job and remembered; a remembered key must never
answer a job that asks something else (a changed item, another model, another context),
and a job sent to another process (pickled, as Dask does) keys as before."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inference.request import request_key
from flashfirst.inputs.sources import text_or_document_parts
from flashfirst.items import ItemResult, WorkItem
from flashfirst.planning.jobs import plan_jobs, unanswered
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.run.context import run_context
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path, monkeypatch) -> Settings:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Settings(backend=BackendSettings(base_url=emulator.base_url),
                    storage_root=str(tmp_path / "store"),
                    inference=InferenceSettings(calibration_share=0))


def jobs_for(settings: Settings, items: list[WorkItem]) -> list[InferenceJob]:
    client, storage = make_client(settings), Storage()
    sources = {i.id: text_or_document_parts(i, storage, client, settings) for i in items}
    return plan_jobs(items, sources, {}, load_routing_policy(), settings, context_tokens=0,
                     deadline_s=None, batch=False)


def send(settings: Settings, jobs: list[InferenceJob]) -> list[ItemResult]:
    shared = run_context(settings)
    engine = Engine(InferenceContext(
        make_client(settings), settings, load_price_table(), shared.policy,
        answers=AnswerStore(Storage(), settings.storage_root, backend_id(settings)),
        catalogue=shared.catalogue, limiters=Limiters()))

    async def all_jobs() -> list[ItemResult]:
        return list(await asyncio.gather(*(engine.run(j) for j in jobs)))

    return asyncio.run(all_jobs())


def test_a_job_copied_with_another_item_is_not_answered_from_the_first_ones_answer(
        settings, emulator):
    [job] = jobs_for(settings, [WorkItem(id="a", text="Invoice 1: 40 EUR, paid.")])
    shared = run_context(settings)
    assert send(settings, [job])[0].ok
    # The planner's lookup keys (and remembers) the job: it is answered.
    assert unanswered([job], shared.answers(), None, shared.policy, shared.catalogue) == []
    changed = job.model_copy(update={"item": job.item.model_copy(
        update={"prompt": "List every amount."})})
    calls = emulator.stats.calls_to("generateContent")
    [result] = send(settings, [changed])
    assert not result.reused and result.ok
    assert emulator.stats.calls_to("generateContent") == calls + 1


def test_the_remembered_key_is_the_computed_one_for_each_model_and_context(settings):
    [job] = jobs_for(settings, [WorkItem(id="b", text="Meeting moved to Friday.")])
    shared = run_context(settings)
    other = next(s.id for s in settings.models.all if s.id != job.route.model)
    for model, context in [(job.route.model, None), (other, None), (job.route.model, "c1"),
                           (job.route.model, None)]:
        fresh = job.model_copy()
        fresh.key_memo = None
        assert request_key(job, model, shared.policy, shared.catalogue, context) == \
            request_key(fresh, model, shared.policy, shared.catalogue, context)
    keys = {request_key(job, m, shared.policy, shared.catalogue, c)
            for m in (job.route.model, other) for c in (None, "c1")}
    assert len(keys) == 4


def test_a_pickled_job_carries_no_remembered_key_and_finds_its_stored_answer(
        settings, emulator):
    [job] = jobs_for(settings, [WorkItem(id="c", text="Parcel 7 arrived damaged.")])
    assert send(settings, [job])[0].ok
    shared = run_context(settings)
    key = request_key(job, job.route.model, shared.policy, shared.catalogue, None)
    sent = pickle.loads(pickle.dumps(job))
    assert sent.key_memo is None
    calls = emulator.stats.calls_to("generateContent")
    [again] = send(settings, [sent])
    assert again.reused and emulator.stats.calls_to("generateContent") == calls
    assert request_key(sent, sent.route.model, shared.policy, shared.catalogue, None) == key
