"""Pricing the run, and writing its results and report where the user reads them."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flashfirst.caching.decision import CacheDecision
from flashfirst.caching.record import CacheRecord
from flashfirst.failures import FailureKind
from flashfirst.fit_report import fit_lines, media_delta
from flashfirst.items import ItemResult
from flashfirst.ledger import CostSummary, summarize_costs
from flashfirst.media import MediaStats
from flashfirst.report import (
    RunReport,
    StageLine,
    cache_summary,
    escalation_by_task,
    failure_counts,
    first_pass_by_setting,
    item_lines,
    media_summary,
    provisional_prices,
    routing_split,
    served_by,
)
from flashfirst.report_render import (
    chart_markdown,
    items_table,
    media_table,
    to_markdown,
    to_svg,
)
from flashfirst.run_context import run_context
from flashfirst.settings import Settings
from flashfirst.skipped import SkippedInput
from flashfirst.stages import Stage
from flashfirst.storage import browser_url, join
from flashfirst.thinking_figures import record_run
from flashfirst.unpriced_seen import record_unpriced

_SPOOL_BYTES = 8 * 2**20


class RunFacts(BaseModel):
    """Everything the report is made of, gathered by the flow."""

    run_id: str
    started_at: datetime
    results: list[ItemResult] = Field(description="Every item of the run, those that "
                                      "failed before inference included.")
    media: dict[str, MediaStats]
    media_seconds: float = 0.0
    decisions: list[CacheDecision]
    cache_records: list[CacheRecord]
    cache_api_calls: int = 0
    stages: list[StageLine]
    budget_usd: float | None = None
    output_uri: str
    skipped_inputs: list[SkippedInput] = Field(default_factory=list)


@task(name="aggregate-costs", cache_policy=NO_CACHE)
def aggregate_costs(facts: RunFacts, settings: Settings) -> RunReport:
    shared = run_context(settings)
    prices = shared.prices
    deltas = {i: media_delta(s) for i, s in facts.media.items()}
    costs = summarize_costs(facts.results, facts.cache_records, deltas, prices, settings.models,
                            shared.catalogue)
    record_run(shared.storage, settings.storage_root, facts.results)  # for later estimates
    substituted, provisional = served_by(facts.results), provisional_prices(facts.results)
    for line in substituted:  # once per run, whatever the number of calls
        if line.priced_as is None:  # else said below, as provisional
            get_run_logger().warning("%s, priced as %s", line.line(), line.served)
    for p in provisional:
        get_run_logger().warning("costs are provisional: %s", p.line(prices.version))
    failures = {r.id: r.failure.message for r in facts.results if r.failure}
    kinds = failure_counts(facts.results)
    return RunReport(
        run_id=facts.run_id, backend=shared.backend_label, price_table_version=prices.version,
        started_at=facts.started_at, finished_at=datetime.now(UTC),
        items_total=len(facts.results),
        items_ok=sum(1 for r in facts.results if r.ok), items_failed=len(failures),
        items_reused=sum(1 for r in facts.results if r.reused),
        generate_calls=sum(len(r.attempts) + int(r.calibration is not None)
                           for r in facts.results if not r.reused),
        costs=costs, stages=priced_stages(facts.stages, costs),
        routing_split=routing_split(facts.results), served_by=substituted,
        provisional_prices=provisional,
        escalation=escalation_by_task(facts.results),
        first_pass=first_pass_by_setting(facts.results),
        media=media_summary(list(facts.media.values()), facts.media_seconds).model_copy(
            update={"fitted": fit_lines(facts.results)}),
        cache=cache_summary(facts.decisions, facts.cache_records, facts.results,
                            facts.cache_api_calls),
        failures=failures, failure_kinds=kinds, budget_usd=facts.budget_usd,
        budget_stopped=kinds.get(FailureKind.BUDGET, 0),
        items=item_lines(facts.results), output_uri=facts.output_uri,
        skipped_inputs=facts.skipped_inputs,
    )


def priced_stages(stages: list[StageLine], costs: CostSummary) -> list[StageLine]:
    """What each stage spent: caches their writes and storage, inference its calls
    (escalations included); preparing media and planning cost nothing at Google."""
    spent = {Stage.ENSURE_CACHES: costs.cache_write_usd + costs.cache_storage_usd,
             Stage.INFER: costs.calls_usd}
    return [s.model_copy(update={"cost_usd": round(spent.get(s.stage, 0.0), 9)})
            for s in stages]


@task(name="write-results", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def write_results(results: list[ItemResult], report: RunReport, settings: Settings) -> str:
    """results.jsonl, report.json/.md/.svg, each written atomically; Prefect artifacts."""
    storage, out = run_context(settings).storage, report.output_uri or ""
    # Line by line through a spooled file, not one string: a run's results can be large.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        for r in sorted(results, key=lambda r: r.id):
            r.backend = report.backend
            spool.write(r.model_dump_json().encode() + b"\n")
        spool.seek(0)
        storage.write_stream(join(out, "results.jsonl"), spool,
                             content_type="application/x-ndjson")
    storage.write_text(join(out, "report.json"), report.model_dump_json(indent=2),
                       content_type="application/json")
    markdown = to_markdown(report)
    storage.write_text(join(out, "report.md"), markdown, content_type="text/markdown")
    record_unpriced(storage, settings.storage_root, report)  # `flashfirst prices` lists them
    svg_uri = join(out, "report.svg")
    storage.write_text(svg_uri, to_svg(report), content_type="image/svg+xml")
    create_markdown_artifact(markdown=markdown, key="flashfirst-report",
                             description=f"flashfirst run {report.run_id}")
    create_table_artifact(table=items_table(report), key="flashfirst-items",
                          description="Per item: route, tier, cost, escalation, errors")
    if media := media_table(results):
        create_table_artifact(table=media, key="flashfirst-media",
                              description="Per media item: bytes and tokens before and "
                              "after, and the policy applied")
    create_markdown_artifact(markdown=chart_markdown(report), key="flashfirst-cost-chart",
                             description="Cost by lever, naive → actual")
    chart = browser_url(svg_uri)
    if chart.startswith("https://"):  # the SVG itself, for those allowed to read the bucket
        create_link_artifact(link=chart, link_text="cost by lever (SVG)",
                             key="flashfirst-cost-chart-link")
    return out
