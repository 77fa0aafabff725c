"""A run planned a block of items at a time gives every item the job it would get planned
whole: the same routes, the same answered items dropped, the same calibration sample
(the lowest hashes of the ids, whatever order the items come in)."""

from __future__ import annotations

import hashlib
import random

from flashfirst.client import backend_id
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.request import request_key
from flashfirst.inputs.sources import read_texts, text_or_document_parts
from flashfirst.items import ItemResult, TaskKind, WorkItem
from flashfirst.packed import BLOCK, Packed
from flashfirst.planning.calibration import sample_size
from flashfirst.planning.jobs import plan_jobs
from flashfirst.planning.packed_plan import plan_packed
from flashfirst.planning.router import load_routing_policy
from flashfirst.run.context import run_context
from flashfirst.settings import BackendSettings, Settings
from flashfirst.storage import Storage


def _items(n: int) -> list[WorkItem]:
    return [WorkItem(id=f"note-{i}", text=f"Note {i}: the parcel arrived late.",
                     task=TaskKind.SUMMARIZE if i % 4 else TaskKind.CLASSIFY)
            for i in range(n)]


def _plan(items: list[WorkItem], settings: Settings, answers: AnswerStore):
    shared = run_context(settings)
    storage = Storage()
    return plan_packed(Packed(WorkItem, items), {}, {},
                       lambda block: read_texts(block, storage, None, settings),  # inline text
                       answers, None, shared.policy, shared.catalogue, settings,
                       deadline_s=None, batch=False)


def test_blocks_plan_as_the_whole_list_does_and_the_sample_is_the_lowest_hashes(
        emulator, tmp_path):
    settings = Settings(backend=BackendSettings(base_url=emulator.base_url),
                        storage_root=str(tmp_path / "store"))
    answers = AnswerStore(Storage(), settings.storage_root, backend_id(settings))
    items = _items(2 * BLOCK + 300)
    answered = items[7]
    whole = plan_jobs(items, {i.id: text_or_document_parts(i, Storage(), None, settings)
                              for i in items}, {}, load_routing_policy(), settings,
                      context_tokens=0, deadline_s=None, batch=False)
    packed = _plan(items, settings, answers)
    assert list(packed.jobs) == whole
    assert len(packed.pending) == len(whole)

    calibrated = {j.item.id for j in whole if j.calibrate}
    sampled = {j.item.task for j in whole if j.calibrate}
    assert sampled, "the policy sends some of these tasks below their default thinking"
    for task in sampled:
        group = sorted((i.id for i in items if i.task is task),
                       key=lambda i: hashlib.sha256(i.encode()).hexdigest())
        n = sample_size(len(group), settings.inference)
        assert {i for i in calibrated if i in group} == set(group[:n])

    shuffled = list(items)
    random.Random(5).shuffle(shuffled)
    job = next(j for j in packed.jobs if j.item.id == answered.id)
    shared = run_context(settings)
    answers.put(request_key(job, job.route.model, shared.policy, shared.catalogue, None),
                ItemResult(id=answered.id, task=answered.task, output="done"))
    again = _plan(shuffled, settings, answers)
    assert {j.item.id for j in again.jobs if j.calibrate} == calibrated
    assert answered.id not in {j.item.id for j in again.pending}
    assert len(again.pending) == len(items) - 1
