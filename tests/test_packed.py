"""A run's items and jobs held packed read back exactly as they were put in: every field
of a work item and of a job (inline bytes, file parts, split segments) survives, across
blocks, pickling and a pydantic field."""

from __future__ import annotations

import pickle

from google.genai import types
from pydantic import BaseModel

from flashfirst.inference.job import InferenceJob
from flashfirst.items import MediaPolicy, ModelTier, Route, ServiceTier, TaskKind, WorkItem
from flashfirst.media.split import SegmentParts
from flashfirst.packed import BLOCK, Packed


def _item(n: int) -> WorkItem:
    if n % 3 == 0:
        return WorkItem(id=f"clip-{n}.mp4", uri=f"gs://bucket/clips/clip-{n}.mp4", generation=7,
                        task=TaskKind.SUMMARIZE, media_policy=MediaPolicy(fps=0.5),
                        metadata={"camera": "north", "n": str(n)}, thinking="low")
    return WorkItem(id=f"note-{n}", text=f"Note {n}: the parcel arrived late ✓",
                    task=TaskKind.CLASSIFY, response_schema={"type": "object"},
                    check="regex:^[a-z]+$", max_output_tokens=300)


def _job(n: int) -> InferenceJob:
    """Every tenth job with parts of each kind (the SDK's parts are slow to validate)."""
    item = _item(n)
    if n % 10:
        return InferenceJob(item=item, route=Route(model="gemini-3.5-flash-lite",
                                                   tier=ModelTier.FLASH_LITE, reason="cheap"),
                            parts=[types.Part(text=f"text {n}")], identity=f"sha-{n}")
    parts = [types.Part(text=f"part {n}"),
             types.Part(inline_data=types.Blob(data=bytes(range(256)) * 3,
                                               mime_type="image/png")),
             types.Part(file_data=types.FileData(file_uri=f"https://files/{n}",
                                                 mime_type="video/mp4"),
                        media_resolution=types.PartMediaResolution(
                            level=types.PartMediaResolutionLevel.MEDIA_RESOLUTION_LOW))]
    segments = [SegmentParts(index=1, start_s=0.0, end_s=60.5, owns_from_s=0.0,
                             parts=parts[1:2], tokens=1234, identity=f"seg-{n}")] \
        if n % 30 == 0 else []
    route = Route(model="gemini-3.8-flash", tier=ModelTier.FLASH, reason="flash first",
                  service_tier=ServiceTier.FLEX)
    return InferenceJob(item=item, route=route,
                        parts=parts, identity=f"sha-{n}", est_prompt_tokens=n,
                        calibrate=n % 2 == 0, segments=segments)


def test_jobs_and_items_read_back_field_for_field_across_blocks():
    jobs = [_job(n) for n in range(BLOCK + 5)]
    packed = Packed(InferenceJob, jobs)

    assert len(packed) == len(jobs)
    assert list(packed) == jobs
    assert packed[3] == jobs[3] and packed[-1] == jobs[-1] and packed[BLOCK] == jobs[BLOCK]
    assert packed[10].parts[1].inline_data.data == bytes(range(256)) * 3
    assert [len(b) for b in packed.blocks()] == [BLOCK, 5]
    assert [j for block in packed.blocks() for j in block] == jobs
    items = Packed(WorkItem, (j.item for j in jobs))
    assert list(items) == [j.item for j in jobs]


def test_a_replaced_job_is_read_back_and_its_neighbours_are_untouched():
    jobs = [_job(n) for n in range(BLOCK + 3)]
    packed = Packed(InferenceJob, jobs)
    first, last = jobs[1].model_copy(update={"calibrate": True}), jobs[-1].model_copy(
        update={"identity": "changed"})

    packed.replace({1: first, len(jobs) - 1: last})

    assert packed[1] == first and packed[-1] == last
    assert list(packed) == [first if n == 1 else last if n == len(jobs) - 1 else j
                            for n, j in enumerate(jobs)]


class Plan(BaseModel):
    jobs: Packed[InferenceJob]


def test_packed_survives_pickling_and_a_pydantic_field():
    jobs = [_job(n) for n in range(BLOCK + 2)]
    plan = Plan(jobs=jobs)  # validated from a list

    assert isinstance(plan.jobs, Packed) and list(plan.jobs) == jobs
    again = pickle.loads(pickle.dumps(plan))
    assert list(again.jobs) == jobs
    assert Plan.model_validate_json(plan.model_dump_json()).jobs == jobs
    assert Plan.model_json_schema()["properties"]["jobs"]["type"] == "array"
