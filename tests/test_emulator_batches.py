"""Batch Mode: jobs move PENDING → RUNNING → SUCCEEDED on the emulator clock, answer
inline or in a downloadable JSONL file, can be cancelled, and bill at the batch tier."""

from __future__ import annotations

import io
import json

import pytest
from google import genai
from google.genai import errors, types

from flashfirst.emulator import EmbeddedEmulator

FLASH = "gemini-2.5-flash-lite"  # stays served as itself (2.5 Flash retired 2026-12-01)


def _request(text: str, key: str) -> dict[str, object]:
    return {"contents": [{"parts": [{"text": text}], "role": "user"}],
            "metadata": {"key": key}}


def test_inline_batch_progresses_and_answers_in_order(emulator: EmbeddedEmulator,
                                                      genai_client: genai.Client):
    emulator.control.configure(batch={"pending_s": 10, "running_s": 20})
    job = genai_client.batches.create(
        model=FLASH, src=[_request("first", "a"), _request("second", "b")],
        config={"display_name": "nightly"})
    assert job.name.startswith("batches/") and job.display_name == "nightly"
    assert job.state == types.JobState.JOB_STATE_PENDING
    emulator.control.advance_clock(11)
    assert genai_client.batches.get(name=job.name).state == types.JobState.JOB_STATE_RUNNING
    emulator.control.advance_clock(20)
    done = genai_client.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.end_time
    answers = done.dest.inlined_responses
    assert [a.metadata for a in answers] == [{"key": "a"}, {"key": "b"}]
    direct = genai_client.models.generate_content(model=FLASH, contents="first")
    assert answers[0].response.text == direct.text
    assert answers[0].response.usage_metadata == direct.usage_metadata
    stats = emulator.stats
    assert stats.generate_calls[FLASH] == {"batch": 2, "standard": 1}
    assert (stats.batches_created, stats.batch_requests) == (1, 2)


def test_file_batch_writes_a_downloadable_jsonl_of_responses(emulator: EmbeddedEmulator,
                                                             genai_client: genai.Client):
    lines = [json.dumps({"key": f"item-{i}", "request": {
        "contents": [{"parts": [{"text": f"question {i}"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}}) for i in range(3)]
    source = genai_client.files.upload(file=io.BytesIO("\n".join(lines).encode()),
                                       config={"mime_type": "application/jsonl"})
    job = genai_client.batches.create(model=FLASH, src=source.name)
    emulator.control.advance_clock(3600)
    done = genai_client.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest.file_name and done.dest.file_name.startswith("files/")
    rows = [json.loads(line) for line in
            genai_client.files.download(file=done.dest.file_name).decode().splitlines()]
    assert [r["key"] for r in rows] == ["item-0", "item-1", "item-2"]
    assert all("thoughtsTokenCount" not in r["response"]["usageMetadata"] for r in rows)


def test_failed_items_come_back_as_errors_beside_the_others(emulator: EmbeddedEmulator,
                                                           genai_client: genai.Client):
    emulator.control.add_script(contains="POISON", status=400, message="poisoned")
    job = genai_client.batches.create(model=FLASH,
                                      src=[_request("fine", "1"), _request("POISON", "2")])
    emulator.control.advance_clock(3600)
    answers = genai_client.batches.get(name=job.name).dest.inlined_responses
    assert answers[0].response.text and answers[0].error is None
    assert answers[1].response is None and answers[1].error.message == "poisoned"


def test_cancel_stops_a_running_batch(emulator: EmbeddedEmulator, genai_client: genai.Client):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 600})
    job = genai_client.batches.create(model=FLASH, src=[_request("slow", "x")])
    genai_client.batches.cancel(name=job.name)
    emulator.control.advance_clock(3600)
    cancelled = genai_client.batches.get(name=job.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    assert cancelled.dest is None
    assert emulator.stats.generate_calls == {}


def test_list_and_delete_batches(genai_client: genai.Client):
    names = [genai_client.batches.create(model=FLASH, src=[_request(str(i), str(i))]).name
             for i in range(3)]
    assert sorted(j.name for j in genai_client.batches.list(config={"page_size": 2})) == \
        sorted(names)
    genai_client.batches.delete(name=names[0])
    with pytest.raises(errors.ClientError) as info:
        genai_client.batches.get(name=names[0])
    assert info.value.code == 404


def test_batch_for_an_unknown_model_is_404(genai_client: genai.Client):
    with pytest.raises(errors.ClientError) as info:
        genai_client.batches.create(model="gemini-0-nano", src=[_request("x", "x")])
    assert info.value.code == 404


def test_list_leaves_out_inline_responses_that_get_returns(emulator: EmbeddedEmulator,
                                                            genai_client: genai.Client):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    job = genai_client.batches.create(model=FLASH, src=[_request("first", "a")])
    emulator.control.advance_clock(1)

    listed = next(j for j in genai_client.batches.list() if j.name == job.name)
    assert listed.state == types.JobState.JOB_STATE_SUCCEEDED
    assert listed.dest is None or not listed.dest.inlined_responses
    assert genai_client.batches.get(name=job.name).dest.inlined_responses
