"""Gemini as it is today, end to end through the real SDK and the emulator: a retired id
served by its replacement and priced as it, a run across a price change, thinking a model
does not take refused before any call, implicit cache hits priced at the cached rate.

Prices per 1M tokens from https://ai.google.dev/gemini-api/docs/pricing (stored copies
of 2026-09-26 and 2026-10-07, research file §1.2): gemini-3.5-flash-lite $0.30 in /
$2.50 out; gemini-3.8-flash $0.75 in / $3.75 out / $0.075 cached through 2026-12-31,
then $1.50 / $7.50 / $0.15. Retirements: deprecations page (second-hand copy read
2026-11-10): gemini-2.5-flash shut down 2026-12-01, served by gemini-3.5-flash-lite."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures.emulator import set_clock
from flashfirst.flows.analyze import analyze_with

from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import RetiredModel
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inputs.context import ContextUse, StaticContexts
from flashfirst.items import ItemResult, Route, TaskKind, Usage, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import load_routing_policy
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.ledger import summarize_costs
from flashfirst.reporting.render import to_markdown
from flashfirst.reporting.report import RunReport, ServedBy
from flashfirst.settings import ModelTier, Settings

M = Decimal(1_000_000)


def cost_at(usage: Usage, input_rate: str, output_rate: str, cached_rate: str = "0") -> Decimal:
    """A call's dollars by hand: uncached input, cached input and output (thoughts too)."""
    uncached = usage.prompt_tokens - usage.cached_tokens
    return (uncached * Decimal(input_rate) + usage.cached_tokens * Decimal(cached_rate)
            + (usage.candidates_tokens + usage.thoughts_tokens) * Decimal(output_rate)) / M


def questions(n: int, **kw: object) -> list[WorkItem]:
    return [WorkItem(id=f"q{i}", task=TaskKind.SUMMARIZE, text=f"Customer note {i}.", **kw)
            for i in range(n)]


def engine_for(settings: Settings, **kw: object) -> Engine:
    return Engine(InferenceContext(make_client(settings), settings, load_price_table(),
                                   load_routing_policy(), limiters=Limiters()), **kw)


def flash_job(item: WorkItem, settings: Settings) -> InferenceJob:
    route = Route(model=settings.models.flash.id, tier=ModelTier.FLASH, reason="test")
    return InferenceJob(item=item, route=route, identity=item.id)


@pytest.mark.usefixtures("prefect_api")
def test_a_retired_pro_is_served_by_its_replacement_and_priced_as_it(
        run_settings: Settings, emulator: EmbeddedEmulator):
    set_clock(emulator, datetime(2026, 12, 1, 9, tzinfo=UTC))
    settings = run_settings.model_copy(update={"allow_retired": True})
    settings.models.pro.id = "gemini-2.5-pro"
    items = [WorkItem(id=f"r{i}", task=TaskKind.REASON, text=f"Why {i}?") for i in range(2)]

    report: RunReport = analyze_with(AnalyzeParams(items=items), settings)

    lines = {line.id: line for line in report.items}
    assert all(line.models == ["gemini-2.5-pro"] for line in lines.values())
    assert all(line.served_models == ["gemini-3.8-flash"] for line in lines.values())
    assert report.served_by == [ServedBy(requested="gemini-2.5-pro",
                                         served="gemini-3.8-flash", calls=2)]
    assert "gemini-2.5-pro → served by gemini-3.8-flash: 2 calls" in to_markdown(report)
    [per_model] = report.costs.per_model
    assert per_model.model == "gemini-3.8-flash"
    usage = Usage(prompt_tokens=per_model.prompt_tokens, cached_tokens=per_model.cached_tokens,
                  candidates_tokens=per_model.output_tokens,
                  thoughts_tokens=per_model.thoughts_tokens)
    # 3.8 Flash's $0.75 / $3.75, not 2.5 Pro's $1.25 / $10.
    assert Decimal(str(per_model.cost_usd)) == cost_at(usage, "0.75", "3.75", "0.075")
    assert Decimal(str(per_model.cost_usd)) < cost_at(usage, "1.25", "10", "0.125")


@pytest.mark.usefixtures("prefect_api")
def test_a_run_on_a_retired_model_refuses_to_start_unless_insisted(
        run_settings: Settings, emulator: EmbeddedEmulator):
    set_clock(emulator, datetime(2026, 12, 1, 9, tzinfo=UTC))
    run_settings.models.flash.id = "gemini-2.5-flash"
    with pytest.raises(RetiredModel,
                       match=r"gemini-2\.5-flash .*gemini-3\.5-flash-lite.*--allow-retired"):
        analyze_with(AnalyzeParams(items=questions(1)), run_settings)
    assert emulator.stats.calls_to("generateContent") == 0


def test_a_run_across_new_year_prices_each_call_by_its_day(
        run_settings: Settings, emulator: EmbeddedEmulator):
    set_clock(emulator, datetime(2026, 12, 31, 23, 59, 50, tzinfo=UTC))
    engine = engine_for(run_settings)
    before = asyncio.run(engine.run(flash_job(questions(1)[0], run_settings)))
    emulator.control.advance_clock(20)  # the emulator's Date header is now 2027-01-01
    after = asyncio.run(engine.run(flash_job(questions(2)[1], run_settings)))

    a, b = before.attempts[0], after.attempts[0]
    assert (a.called_at.date(), b.called_at.date()) == (date(2026, 12, 31), date(2027, 1, 1))
    assert Decimal(str(a.cost_usd)) == cost_at(a.usage, "0.75", "3.75")
    assert Decimal(str(b.cost_usd)) == cost_at(b.usage, "1.50", "7.50")


@pytest.mark.parametrize(("asked", "allowed"), [
    ("minimal", "low, medium, high"),  # thinking page: 3.8 Flash has no minimal ...
    ("0", "low, medium, high"),        # ... and cannot turn thinking off
])
def test_thinking_the_model_does_not_take_is_refused_before_any_call(
        run_settings: Settings, emulator: EmbeddedEmulator, asked: str, allowed: str):
    item = WorkItem(id="x", text="Think.", thinking=asked)
    result = asyncio.run(engine_for(run_settings).run(flash_job(item, run_settings)))
    assert result.error is not None and "refused before any call" in result.error
    assert "gemini-3.8-flash" in result.error and allowed in result.error
    assert result.attempts == []
    assert emulator.stats.calls_to("generateContent") == 0


def test_thinking_levels_the_model_takes_reach_it_and_cost_as_output(
        run_settings: Settings, emulator: EmbeddedEmulator):
    engine = engine_for(run_settings)
    low, high = (asyncio.run(engine.run(flash_job(
        WorkItem(id=level, text="Plan a trip.", thinking=level), run_settings)))
        for level in ("least", "high"))
    assert low.ok and high.ok
    assert 0 < low.attempts[0].usage.thoughts_tokens < high.attempts[0].usage.thoughts_tokens
    for r in (low, high):
        a = r.attempts[0]
        assert Decimal(str(a.cost_usd)) == cost_at(a.usage, "0.75", "3.75")


def test_implicit_cache_hits_are_priced_at_the_cached_rate_under_the_caching_lever(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    from google.genai import types

    set_clock(emulator, datetime(2026, 12, 1, 9, tzinfo=UTC))
    # A shared context of ~6,000 tokens (above 3.8 Flash's implicit minimum of 4,096,
    # caching page 2026-10-13) sent inline first in every request, no cache object.
    text = "".join(f"Rule {n}: refunds take {n % 9 + 1} days.\n" for n in range(700))
    inline = ContextUse(model="gemini-3.8-flash", content_hash="h",
                        parts=[types.Part(text=text)])
    engine = engine_for(run_settings, contexts=StaticContexts(fallback=inline))
    results: list[ItemResult] = [asyncio.run(engine.run(flash_job(item, run_settings)))
                                 for item in questions(3)]

    first, *later = [r.attempts[0] for r in results]
    assert first.usage.cached_tokens == 0 and first.cached_content is None
    assert all(a.usage.cached_tokens >= 4096 and a.cached_content is None for a in later)
    for a in later:  # cached tokens at $0.075, the rest of the prompt at $0.75
        assert Decimal(str(a.cost_usd)) == cost_at(a.usage, "0.75", "3.75", "0.075")
    costs = summarize_costs(results, [], {}, load_price_table(), run_settings.models)
    implicit = next(lv for lv in costs.levers if lv.name == "caching (implicit)")
    hits = sum(a.usage.cached_tokens for a in later)
    # Saved: the hits at $0.75 − $0.075 = $0.675 per 1M.
    assert Decimal(str(implicit.saving_usd)) == hits * Decimal("0.675") / M
    assert f"{hits:,} tokens" in implicit.explanation


def test_thinking_set_per_task_in_the_routing_policy_reaches_the_model(
        run_settings: Settings, emulator: EmbeddedEmulator):
    least = load_routing_policy().model_copy(update={"thinking": {TaskKind.SUMMARIZE: "least"}})
    item = WorkItem(id="s", task=TaskKind.SUMMARIZE, text="Summarize the quarter.")
    at_default = item.model_copy(update={"thinking": "default"})  # the item's own wins
    default = asyncio.run(engine_for(run_settings).run(flash_job(at_default, run_settings)))
    lowest = asyncio.run(Engine(InferenceContext(
        make_client(run_settings), run_settings, load_price_table(), least,
        limiters=Limiters())).run(flash_job(item, run_settings)))
    # 3.8 Flash thinks at medium by default; "least" is its lowest level, low.
    assert 0 < lowest.attempts[0].usage.thoughts_tokens < default.attempts[0].usage.thoughts_tokens


def test_a_context_with_gemini_3_part_resolution_is_cached_on_a_2_x_model_too(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path,
        large_image: Path):
    from google.genai import types

    from flashfirst.caching.manager import CacheManager, PreparedContext
    from flashfirst.gemini.catalogue import load_catalogue
    from flashfirst.storage import Storage

    # A reference image asked at low resolution per part (Gemini 3/4 only, media-resolution
    # page) beside ~5,000 text tokens: 2.5 Flash-Lite refuses the per-part field, so its
    # cache is made without that field (the image at 2.x default) instead of failing.
    image = types.Part(inline_data=types.Blob(data=large_image.read_bytes(),
                                              mime_type="image/png"),
                       media_resolution=types.PartMediaResolution(
                           level=types.PartMediaResolutionLevel.MEDIA_RESOLUTION_LOW))
    context = PreparedContext(content_hash="ctx", parts=[image, types.Part(text="x " * 10_000)])
    manager = CacheManager(make_client(run_settings), Storage(), str(tmp_path / "state"),
                           backend_id(run_settings), catalogue=load_catalogue())
    use = manager.ensure(context, "gemini-2.5-flash-lite", ttl_s=300)
    assert use.cached and emulator.stats.cache_creations == 1
