"""flashfirst on the Interactions API (FLASHFIRST_INFERENCE__API=interactions): the same
requests, answers, costs and retries as on generateContent, through the unmodified SDK
over HTTP to the emulator."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from google.genai import types

from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig
from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.interactions_call import sender
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inference.request import build_request
from flashfirst.inputs.context import ContextUse, SharedContext
from flashfirst.inputs.sources import text_or_document_parts
from flashfirst.items import ItemResult, ModelTier, Route, ServiceTier, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.jobs import plan_jobs
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.report import RunReport
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}},
          "required": ["label"]}


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path: Path, monkeypatch) -> Settings:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Settings(backend=BackendSettings(base_url=emulator.base_url),
                    storage_root=str(tmp_path / "store"),
                    inference=InferenceSettings(api="interactions", backoff_base_s=0.02,
                                                backoff_max_s=1.0, calibration_share=0))


def on_api(settings: Settings, api: str, **inference: object) -> Settings:
    return settings.model_copy(update={"inference": settings.inference.model_copy(
        update={"api": api, **inference})})


def run(settings: Settings, items: list[WorkItem], *,
        deadline_s: float | None = None) -> list[ItemResult]:
    client, storage, policy = make_client(settings), Storage(), load_routing_policy()
    sources = {i.id: text_or_document_parts(i, storage, client, settings) for i in items}
    jobs = plan_jobs(items, sources, {}, policy, settings, context_tokens=0,
                     deadline_s=deadline_s, batch=False)
    # Its own limiters: a per-day quota marks a model used up for the whole process (and
    # every later test in it) when the process-wide ones are shared.
    engine = Engine(InferenceContext(
        client, settings, load_price_table(), policy,
        answers=AnswerStore(storage, settings.storage_root, backend_id(settings)),
        deadline_at=time.time() + deadline_s if deadline_s else None, limiters=Limiters()))

    async def all_jobs() -> list[ItemResult]:
        return list(await asyncio.gather(*(engine.run(j) for j in jobs)))

    return asyncio.run(all_jobs())


def mixed_items() -> list[WorkItem]:
    return [WorkItem(id="label", task=TaskKind.CLASSIFY, text="Parcel arrived broken."),
            WorkItem(id="summary", task=TaskKind.SUMMARIZE, text="Refund took nine days."),
            WorkItem(id="fields", task=TaskKind.EXTRACT, text="Order 41, Oslo.",
                     response_schema=SCHEMA),
            WorkItem(id="why", task=TaskKind.REASON, text="Why do refunds take long?"),
            # "low" on 2.5 Flash-Lite is a budget of 1,024: on the Interactions API, level low
            WorkItem(id="lite", task=TaskKind.SUMMARIZE, text="Parcel late again.",
                     model="gemini-2.5-flash-lite")]


def handbook(tmp_path: Path) -> str:
    """About 8,000 tokens: worth an explicit cache on Gemini 3.8 Flash."""
    path = tmp_path / "handbook.md"
    path.write_text("".join(f"Section {n}: refunds take {n % 9 + 1} days; escalate to team "
                            f"{n % 5}.\n" for n in range(600)))
    return str(path)


@pytest.mark.usefixtures("prefect_api")
def test_one_workload_reports_the_same_costs_on_both_apis(run_settings: Settings,
                                                          tmp_path: Path) -> None:
    # Each API on its own emulator and storage, so each run pays for everything itself:
    # the cached context, Flex (the deadline allows it) and every task's model.
    params = AnalyzeParams(
        items=[*mixed_items(), *(WorkItem(id=f"q{i}", text=f"Question {i} about refunds.")
                                 for i in range(6))],
        context=SharedContext(system_instruction="Answer from the handbook.",
                              documents=[handbook(tmp_path)]),
        deadline_s=3600)
    reports: dict[str, RunReport] = {}
    stats = {}
    for api in ("generate_content", "interactions"):
        with EmbeddedEmulator(EmulatorConfig(latency_scale=0)) as emu:
            settings = on_api(run_settings, api).model_copy(update={
                "backend": BackendSettings(base_url=emu.base_url),
                "storage_root": str(tmp_path / api)})
            for spec in settings.models.all:
                # One call at a time per model: which item reads the implicit cache's
                # prefix then follows the items' order, not which call the machine ran first.
                spec.concurrency = 1
            reports[api] = analyze_with(params, settings)
            stats[api] = emu.stats

    via_generate, via_interactions = reports["generate_content"], reports["interactions"]
    assert via_interactions.backend.endswith("via the Interactions API")
    assert "Interactions" not in via_generate.backend
    assert stats["generate_content"].calls_to("interactions") == 0
    assert stats["interactions"].calls_to("generateContent") == 0
    assert stats["interactions"].calls_to("interactions") == via_interactions.generate_calls
    assert via_interactions.items_ok == via_interactions.items_total == len(params.items)
    assert via_interactions.cache.created == via_generate.cache.created == 1
    assert via_interactions.cache.calls_with_cache_hits == \
        via_generate.cache.calls_with_cache_hits > 0
    by_id = {line.id: line for line in via_generate.items}
    for line in via_interactions.items:
        assert line.cost_usd == by_id[line.id].cost_usd, line.id
    a, b = via_generate.costs, via_interactions.costs
    assert (b.calls_usd, b.cache_write_usd, b.naive_usd, b.lower_bound_usd) == \
        (a.calls_usd, a.cache_write_usd, a.naive_usd, a.lower_bound_usd)
    assert b.calls_usd > 0
    # The cache's storage is billed by the second for as long as it lived: two runs on two
    # emulators keep theirs a few wall-clock milliseconds apart.
    assert b.cache_storage_usd == pytest.approx(a.cache_storage_usd, rel=0.05)
    assert b.actual_usd - b.cache_storage_usd == pytest.approx(
        a.actual_usd - a.cache_storage_usd, abs=1e-12)
    assert b.per_model == a.per_model
    for mine, theirs in zip(b.levers, a.levers, strict=True):
        assert mine.name == theirs.name
        if mine.name == "caching":  # net of that storage
            assert mine.saving_usd == pytest.approx(theirs.saving_usd, rel=0.01)
        else:
            assert mine.saving_usd == theirs.saving_usd, mine.name


def test_answers_and_usage_match_generate_content_call_for_call(settings: Settings,
                                                                 emulator) -> None:
    on_generate = run(on_api(settings, "generate_content"), mixed_items())
    on_interactions = run(settings.model_copy(update={"storage_root":
                                                      settings.storage_root + "-i"}),
                          mixed_items())

    for g, i in zip(on_generate, on_interactions, strict=True):
        assert i.ok and not i.reused
        assert i.output == g.output
        [ga], [ia] = g.attempts, i.attempts
        assert ia.usage == ga.usage
        assert (ia.model, ia.served_model, ia.thinking) == (ga.model, ga.served_model,
                                                            ga.thinking)
        assert ia.service_tier_served is ga.service_tier_served
        assert ia.called_at.date() == ga.called_at.date()
    assert emulator.stats.calls_to("interactions") == len(on_interactions)


def test_an_answer_bought_on_one_api_is_not_bought_again_on_the_other(settings: Settings,
                                                                      emulator) -> None:
    # The API is the wire, not the question: the same model asked the same thing with the
    # same thinking and cap gives an answer of the same worth, so it is found by either.
    first = run(on_api(settings, "generate_content"), mixed_items())
    again = run(settings, mixed_items())

    assert all(r.reused for r in again)
    assert [r.output for r in again] == [r.output for r in first]
    assert emulator.stats.calls_to("interactions") == 0
    back = run(on_api(settings, "generate_content"), mixed_items())
    assert all(r.reused for r in back)
    assert emulator.stats.calls_to("generateContent") == len(first)


def test_interactions_are_not_stored_on_the_server_unless_asked(settings: Settings,
                                                                 emulator) -> None:
    run(settings, mixed_items()[:2])
    assert emulator.control.stored_interactions() == []

    kept = on_api(settings, "interactions", interactions_store=True)
    run(kept.model_copy(update={"storage_root": settings.storage_root + "-kept"}),
        mixed_items()[:2])
    assert len(emulator.control.stored_interactions()) == 2


def test_a_429_is_retried_by_our_policy_after_the_servers_delay_not_by_the_sdk(
        settings: Settings, emulator) -> None:
    emulator.control.add_script(contains="ONCE", status=429, retry_delay_s=0.05, times=1)
    [once] = run(settings, [WorkItem(id="once", text="ONCE")])
    assert once.ok
    assert once.attempts[0].transient_retries == 1
    assert emulator.stats.calls_to("interactions") == 2

    # Always refused: our two tries are the only two requests (the interactions client's
    # own default is five a call).
    emulator.control.add_script(contains="ALWAYS", status=429, retry_delay_s=0.01)
    tight = on_api(settings, "interactions", max_attempts=2)
    [refused] = run(tight, [WorkItem(id="always", text="ALWAYS")])
    assert not refused.ok and refused.failure.kind == "transient"
    assert "gave up after 2 tries" in refused.error and "429" in refused.error
    assert emulator.stats.calls_to("interactions") == 2 + 2


def test_a_rejected_interaction_fails_only_its_item(settings: Settings, emulator) -> None:
    emulator.control.add_script(contains="BAD", status=400, message="Request is malformed.")
    results = {r.id: r for r in run(settings, [WorkItem(id="bad", text="BAD"),
                                               WorkItem(id="good", text="fine")])}
    assert results["good"].ok
    assert results["bad"].failure.kind == "rejected"
    assert "400" in results["bad"].error and "malformed" in results["bad"].error


def test_a_thinking_budget_the_interactions_api_cannot_carry_is_refused_before_a_call(
        settings: Settings, emulator) -> None:
    # Dynamic thinking (-1) on a model that does not think by default has no level.
    [result] = run(settings, [WorkItem(id="budget", task=TaskKind.CLASSIFY, text="x",
                                       model="gemini-2.5-flash-lite", thinking="-1")])
    assert result.failure.kind == "bad_input"
    assert "thinking budget of -1" in result.error
    assert "FLASHFIRST_INFERENCE__API=generate_content" in result.error
    assert emulator.stats.calls_to("interactions") == 0


def test_flex_is_served_at_half_price_and_a_shed_call_moves_to_standard(
        settings: Settings, emulator) -> None:
    [flex] = run(settings, [WorkItem(id="flex", text="Can wait.")], deadline_s=3600)
    [standard] = run(settings.model_copy(update={"storage_root": settings.storage_root + "-s"}),
                     [WorkItem(id="flex", text="Can wait.")])
    assert flex.attempts[0].service_tier_served is ServiceTier.FLEX
    assert flex.cost_usd == pytest.approx(standard.cost_usd / 2, rel=1e-9)

    emulator.control.configure(tiers={"flex_shed_share": 1.0})
    [shed] = run(settings.model_copy(update={"storage_root": settings.storage_root + "-x"}),
                 [WorkItem(id="shed", text="Shed me.")], deadline_s=3600)
    assert shed.ok and shed.attempts[0].service_tier_requested is ServiceTier.FLEX
    assert shed.attempts[0].service_tier_served is ServiceTier.STANDARD


def test_a_per_day_quota_stops_the_model_without_retrying(settings: Settings,
                                                          emulator) -> None:
    per_day = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    emulator.control.add_script(status=429, quota_id=per_day, retry_delay_s=30.0,
                                model="gemini-3.8-flash")
    settings.models.flash.concurrency = 1
    results = run(settings, [WorkItem(id=f"q{i}", text=f"Note {i}.") for i in range(3)])
    assert emulator.stats.calls_to("interactions") == 1
    assert {r.failure.kind for r in results} == {"daily_quota"}
    assert per_day in results[0].error and "not retried" in results[0].error


def test_a_request_wide_media_resolution_reaches_every_media_part_on_both_apis(
        emulator, emulator_media) -> None:
    # A context image carries no resolution of its own: generateContent applies the
    # request-wide one; the Interactions API has none, so each content carries it.
    image = types.Part(inline_data=types.Blob(
        data=emulator_media["image1000x800"].read_bytes(), mime_type="image/jpeg"))
    job = InferenceJob(item=WorkItem(id="pic", text="What is shown?"), identity="pic",
                       route=Route(model="gemini-3.8-flash", tier=ModelTier.FLASH, reason="test"),
                       media_resolution=MediaResolution.LOW)
    context = ContextUse(model="gemini-3.8-flash", content_hash="c", parts=[image])
    request = build_request(job, "gemini-3.8-flash", context, None, catalogue=load_catalogue(),
                            max_output_tokens=None, tier=None)

    client = make_client(Settings(backend=BackendSettings(base_url=emulator.base_url)))

    def send(api: str) -> int:
        response = asyncio.run(sender(client, api)(request))  # type: ignore[arg-type]
        return response.usage_metadata.prompt_token_count

    low = send("generate_content")
    assert send("interactions") == low
    request.config.media_resolution = None
    assert send("generate_content") > low  # the level mattered
