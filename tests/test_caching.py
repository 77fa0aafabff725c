"""Context caching that pays, end to end through the analyze flow and the emulator."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from importlib import resources
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from flashfirst.flows.cache_janitor import cache_janitor

from flashfirst.caching.manager import CacheManager, PreparedContext
from flashfirst.caching.provider import CachedContexts
from flashfirst.client import backend_id, make_client
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.failures import FailureKind
from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.inference.engine import Engine
from flashfirst.inference.inference_context import InferenceContext
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.ratelimit import Limiters
from flashfirst.inputs.context import SharedContext
from flashfirst.inputs.sources import prepare_context
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.planning.router import load_routing_policy, route
from flashfirst.pricing.prices import load_price_table
from flashfirst.reporting.report import RunReport
from flashfirst.settings import Settings
from flashfirst.storage import Storage

pytestmark = pytest.mark.usefixtures("prefect_api")


def handbook(tmp_path: Path, sections: int = 300, version: str = "v1") -> str:
    """About 90 characters a section: 300 sections ≈ 7,000 tokens by the 4-chars rule."""
    path = tmp_path / f"handbook-{version}.md"
    path.write_text("".join(f"Section {n} ({version}): refunds take {n % 9 + 1} days; "
                            f"escalate to team {n % 5}.\n" for n in range(sections)))
    return str(path)


def params(doc: str, n: int = 20, task: TaskKind = TaskKind.SUMMARIZE,
           **kw: object) -> AnalyzeParams:
    return AnalyzeParams(
        items=[WorkItem(id=f"q{i}", task=task, text=f"Question {i} about refunds.")
               for i in range(n)],
        context=SharedContext(system_instruction="Answer from the handbook.",
                              documents=[doc]), **kw)


def test_first_run_caches_second_run_reuses_and_every_call_hits(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    doc = handbook(tmp_path)
    first: RunReport = analyze_with(params(doc), run_settings)
    assert emulator.stats.cache_creations == 1
    [decision] = first.cache.decisions
    assert decision.model == "gemini-3.8-flash" and decision.create
    assert first.cache.created == 1
    emulator.control.clear_scripts()
    # New questions, same context: no new cache, and every call reads it.
    second: RunReport = analyze_with(params(doc).model_copy(update={"items": [
        WorkItem(id=f"n{i}", text=f"Another question {i}.") for i in range(20)]}),
        run_settings)
    assert emulator.stats.cache_creations == 1
    assert second.cache.reused == 1 and second.cache.created == 0
    assert second.cache.calls_with_cache_hits == second.generate_calls == 20
    assert all(line.cost_usd > 0 for line in second.items)


def test_a_changed_document_gets_a_new_cache(run_settings, emulator, tmp_path):
    analyze_with(params(handbook(tmp_path, version="v1")), run_settings)
    analyze_with(params(handbook(tmp_path, version="v2")), run_settings)
    assert emulator.stats.cache_creations == 2


def test_two_runs_started_together_create_one_cache(run_settings, emulator, tmp_path):
    doc = handbook(tmp_path)
    reports: list[RunReport] = []
    def one_run(k: str) -> None:
        reports.append(analyze_with(params(doc).model_copy(update={"items": [
            WorkItem(id=f"{k}{i}", text=f"Run {k} question {i}") for i in range(20)]}),
            run_settings))

    # Each thread carries this test's Prefect settings (the session's server).
    runs = [threading.Thread(target=contextvars.copy_context().run, args=(one_run, k))
            for k in "ab"]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert len(reports) == 2
    assert emulator.stats.cache_creations == 1
    assert sorted(r.cache.created for r in reports) == [0, 1]


def test_below_the_minimum_is_never_cached_and_the_report_says_why(run_settings, emulator,
                                                                  tmp_path):
    report = analyze_with(params(handbook(tmp_path, sections=20)), run_settings)
    stats = emulator.stats
    assert not any(endpoint.startswith("cachedContents") for endpoint in stats.calls)
    [decision] = report.cache.decisions
    assert not decision.create and "below" in decision.reason and "minimum" in decision.reason


def test_a_context_not_worth_caching_is_sent_inline(run_settings, emulator, tmp_path):
    # One call cannot pay for a cache write plus five minutes of storage on Pro.
    report = analyze_with(params(handbook(tmp_path), n=1, task=TaskKind.REASON), run_settings)
    [decision] = report.cache.decisions
    assert decision.model == "gemini-3.1-pro-preview" and not decision.create
    assert "less than storage" in decision.reason
    assert emulator.stats.cache_creations == 0
    assert report.cache.calls_with_cache_hits == 0


def test_a_user_catalogue_decides_the_media_resolution_a_cache_is_made_with(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path,
        large_image: Path):
    # Google re-routes 2.5 Flash-Lite to 3.5 Flash-Lite (as it re-routed 3.x ids on
    # 2026-10-08); the user's catalogue says so. Gemini 3 rules then apply to its cache:
    # the reference image keeps its per-part low resolution (280 tokens, not 1,120).
    emulator.control.configure(models={"gemini-2.5-flash-lite": {
        "served_by": "gemini-3.5-flash-lite", "served_by_since": "2026-11-01"}})
    catalogue = json.loads(resources.files("flashfirst.data").joinpath("models.json")
                           .read_text())
    lite = next(m for m in catalogue["models"] if m["id"] == "gemini-2.5-flash-lite")
    lite.update(served_by="gemini-3.5-flash-lite", served_by_since="2026-11-01")
    (tmp_path / "models.json").write_text(json.dumps(catalogue))
    settings = Settings(backend=run_settings.backend, storage_root=run_settings.storage_root,
                        inference=run_settings.inference,
                        model_catalogue_path=tmp_path / "models.json")
    run = params(handbook(tmp_path), task=TaskKind.CLASSIFY,
                 media_policy=MediaPolicy(media_resolution="low"))
    run.context.documents.insert(0, str(large_image))

    report = analyze_with(run, settings)

    [record] = report.cache.records
    assert record.model == "gemini-2.5-flash-lite"
    hits = [e.usage for e in emulator.stats.request_log
            if e.endpoint == "generateContent" and e.usage and "cacheTokensDetails" in e.usage]
    image_tokens = [d["tokenCount"] for u in hits for d in u["cacheTokensDetails"]
                    if d["modality"] == "IMAGE"]
    assert image_tokens == [280] * 20


def engine_on_a_live_cache(settings: Settings, tmp_path: Path
                           ) -> tuple[Engine, CacheManager, PreparedContext, str]:
    """An engine whose Flash calls name a live cache of the handbook (the run's plan)."""
    client, storage = make_client(settings), Storage()
    context = prepare_context(SharedContext(system_instruction="Answer from the handbook.",
                                            documents=[handbook(tmp_path)]),
                              storage, client, settings)
    manager = CacheManager(client, storage, settings.storage_root, backend_id(settings),
                           catalogue=load_catalogue())
    use = manager.ensure(context, "gemini-3.8-flash", ttl_s=300)
    contexts = CachedContexts(manager, context, {"gemini-3.8-flash": use}, ttl_s=300)
    engine = Engine(InferenceContext(client, settings, load_price_table(), load_routing_policy(),
                                     limiters=Limiters()), contexts)
    return engine, manager, context, use.cache_name


def question_jobs(settings: Settings, n: int) -> list[InferenceJob]:
    flash = route(WorkItem(id="x", text="x"), load_routing_policy(), settings.models)
    return [InferenceJob(item=WorkItem(id=f"i{i}", text=f"Question {i}"), identity=f"i{i}",
                         route=flash) for i in range(n)]


@pytest.mark.parametrize("api", ["generate_content", "interactions"])
def test_a_cache_that_expires_mid_run_is_recreated_once(run_settings, emulator, tmp_path,
                                                        api):
    """Between ensuring the cache and the calls, it expires: the calls recreate it once
    (on either API: the Interactions API names the cache the same way)."""
    run_settings.inference.api = api
    engine, manager, context, cache_name = engine_on_a_live_cache(run_settings, tmp_path)
    emulator.control.advance_clock(301)
    jobs = question_jobs(run_settings, 12)

    async def go() -> list:
        return list(await asyncio.gather(*(engine.run(j) for j in jobs)))

    results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert emulator.stats.cache_creations == 2
    wire = "interactions" if api == "interactions" else "generateContent"
    assert emulator.stats.calls_to(wire) >= len(jobs)
    # By hand, "a token is about 4 characters" (https://ai.google.dev/gemini-api/docs/
    # tokens): each handbook line is 56 characters plus the digits of its number (10 × 1
    # + 90 × 2 + 200 × 3 = 790 digits), 300 × 56 + 790 = 17,590 characters → 4,398 tokens;
    # the system instruction's 25 characters → 7. The cache holds 4,405 tokens.
    assert context.tokens == 4405
    assert all(r.attempts[0].usage.cached_tokens == 4405 for r in results)
    recreated = [r for r in manager.records.values() if r.recreated]
    assert len(recreated) == 1 and recreated[0].name != cache_name


def test_a_call_still_refused_after_its_cache_was_recreated_fails_as_cache_gone(
        run_settings, emulator, tmp_path):
    """The API keeps answering 403 PERMISSION_DENIED to a request naming a cache (as for
    an expired one): the engine recreates the cache once, then fails the item with the
    kind cache_gone, not a generic rejection; nothing is retried further."""
    engine, *_ = engine_on_a_live_cache(run_settings, tmp_path)
    emulator.control.add_script(contains="Question", status=403,
                                message="CachedContent not found (or permission denied)")
    [job] = question_jobs(run_settings, 1)
    result = asyncio.run(engine.run(job))
    assert result.failure is not None and result.failure.kind == FailureKind.CACHE_GONE
    assert "recreated once" in result.error
    assert emulator.stats.cache_creations == 2  # the first, and one recreation
    assert emulator.stats.calls_to("generateContent") == 2


def test_janitor_deletes_only_our_idle_caches(run_settings, emulator, tmp_path, monkeypatch):
    from google.genai import types

    analyze_with(params(handbook(tmp_path), keep_caches_s=7200), run_settings)
    client = make_client(run_settings)
    theirs = client.caches.create(model="gemini-3.8-flash", config=types.CreateCachedContentConfig(
        display_name="someone-elses", contents=["x " * 9000], ttl="86400s"))
    monkeypatch.setenv("FLASHFIRST_BACKEND__BASE_URL", emulator.base_url)
    kept = cache_janitor(reuse_window_s=3600)
    assert kept.deleted == [] and len(kept.ours) == 1
    swept = cache_janitor(reuse_window_s=0)  # every second idle is too long now
    assert len(swept.deleted) == 1 and swept.storage_usd > 0
    names = [c.name for c in client.caches.list()]
    assert theirs.name in names and swept.deleted[0].name not in names
