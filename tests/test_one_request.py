"""One item, one request: online and through the Batch API the model receives the same
contents, thinking and output cap (only the service tier differs: a batch is its own).

Thinking controls: https://ai.google.dev/gemini-api/docs/thinking (copies dated
2026-09-25): gemini-3.8-flash takes ``thinkingLevel`` low, medium or high (no minimal), so
the routing policy's "least" for classify is level LOW on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.emulator.stats import LogEntry
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.run.terms import RunFailed
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}


def camel(config: dict | None) -> dict | None:
    """Keys in camelCase, however the SDK spelled them on the wire."""
    def key(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(w.title() for w in rest)

    if config is None:
        return None
    return {key(k): camel(v) if isinstance(v, dict) else v for k, v in config.items()
            if key(k) != "serviceTier"}


def answered(emulator: EmbeddedEmulator, endpoint: str) -> list[LogEntry]:
    return [e for e in emulator.stats.request_log if e.endpoint == endpoint and e.status == 200]


def run_both_ways(items: list[WorkItem], settings: Settings, emulator: EmbeddedEmulator,
                  tmp_path: Path) -> tuple[LogEntry, LogEntry]:
    """The items once through the Batch API and once online, each run with its own store
    (so the second pays for its answer instead of reusing the first's)."""
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    batch = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH), settings)
    online = analyze_with(AnalyzeParams(items=items), settings.model_copy(
        update={"storage_root": str(tmp_path / "online-store")}))
    assert batch.items_ok == online.items_ok == len(items)
    [in_batch] = answered(emulator, "batch")
    [sent_online] = answered(emulator, "generateContent")
    return in_batch, sent_online


def test_a_batch_run_sends_the_thinking_level_an_online_run_sends(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    item = WorkItem(id="ticket", task=TaskKind.CLASSIFY, text="Ticket: 'charged twice'.",
                    model="gemini-3.8-flash")
    in_batch, sent_online = run_both_ways([item], run_settings, emulator, tmp_path)
    assert in_batch.model == sent_online.model == "gemini-3.8-flash"
    assert camel(sent_online.thinking_config) == {"thinkingLevel": "LOW"}
    assert camel(in_batch.thinking_config) == {"thinkingLevel": "LOW"}
    # Fewer thoughts at low than at the model's default (medium), in batch as online.
    assert in_batch.usage["thoughtsTokenCount"] == sent_online.usage["thoughtsTokenCount"]


def test_one_items_online_and_batch_requests_read_the_same_and_are_configured_alike(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    item = WorkItem(id="label", task=TaskKind.EXTRACT, text="Parcel 7 arrived crushed.",
                    response_schema=SCHEMA, max_output_tokens=900, thinking="high")
    in_batch, sent_online = run_both_ways([item], run_settings, emulator, tmp_path)
    assert in_batch.content_digest == sent_online.content_digest
    assert camel(in_batch.generation_config) == camel(sent_online.generation_config)
    assert camel(sent_online.generation_config)["maxOutputTokens"] == 900


def test_an_answer_is_reused_only_for_the_same_thinking_and_output_cap(
        run_settings: Settings, emulator: EmbeddedEmulator):
    def note(**asks: object) -> WorkItem:
        return WorkItem(id="note", task=TaskKind.SUMMARIZE, text="Shipping fees rose 4%.",
                        **asks)

    def run(**asks: object) -> int:
        report = analyze_with(AnalyzeParams(items=[note(**asks)]), run_settings)
        assert report.items_ok == 1
        return report.items_reused

    assert run() == 0  # the policy's thinking for summarize: low
    assert run() == 1
    assert run(thinking="high") == 0  # another thinking may give another answer: paid
    assert run(thinking="high") == 1
    assert run(thinking="high", max_output_tokens=8000) == 0  # so may another cap
    assert run(thinking="high", max_output_tokens=8000) == 1
    assert len(answered(emulator, "generateContent")) == 3
    # The estimate counts the same way: only the request not answered yet is to be paid.
    for asks, to_send in (({"thinking": "high"}, 0), ({"thinking": "default"}, 1)):
        estimate = analyze_with(AnalyzeParams(items=[note(**asks)], estimate_only=True),
                                run_settings)
        assert estimate.items == to_send


def test_an_image_answer_is_reused_only_at_the_same_media_resolution(
        run_settings: Settings, emulator: EmbeddedEmulator, large_image: Path):
    def run(**policy: object) -> int:
        shelf = WorkItem(id="shelf", uri=str(large_image), task=TaskKind.SUMMARIZE,
                         model="gemini-3.8-flash",
                         media_policy=MediaPolicy(**policy) if policy else None)
        report = analyze_with(AnalyzeParams(items=[shelf]), run_settings)
        assert report.items_ok == 1
        return report.items_reused

    assert run() == 0
    # Same file, same prompt, but the model sees the image at 280 tokens, not 1,120.
    assert run(media_resolution="low") == 0
    assert run(media_resolution="low") == 1
    assert len(answered(emulator, "generateContent")) == 2


def test_a_batch_item_asking_thinking_its_model_refuses_fails_before_any_call(
        run_settings: Settings, emulator: EmbeddedEmulator):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    refused = WorkItem(id="odd", task=TaskKind.CLASSIFY, text="Ticket: 'late parcel'.",
                       model="gemini-3.8-flash", thinking="minimal")  # 3.8 Flash: low and up
    fine = WorkItem(id="ok", task=TaskKind.CLASSIFY, text="Ticket: 'charged twice'.",
                    model="gemini-3.8-flash")
    with pytest.raises(RunFailed) as failed:  # 1 of 2 is above the failure threshold
        analyze_with(AnalyzeParams(items=[refused, fine], mode=RunMode.BATCH), run_settings)
    report = failed.value.report
    assert report.items_ok == 1
    assert report.failures["odd"].startswith("refused before any call")
    assert report.failure_kinds == {"bad_input": 1}  # as online: refused, not a batch failure
    assert len(answered(emulator, "batch")) == 1  # only the item its model accepts is sent
    assert emulator.stats.batch_requests == 1
