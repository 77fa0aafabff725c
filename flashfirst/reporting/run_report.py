"""A run's report assembled from what the run did, and its files written where the user
reads them: the counting, the pricing and the budget stops live here, so the Prefect
tasks (``tasks/costs.py``) only log and publish."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from flashfirst.autopilot.summary import AutopilotReport
from flashfirst.caching.decision import CacheDecision
from flashfirst.caching.record import CacheRecord
from flashfirst.failures import FailureKind
from flashfirst.inference.collection import JobCollection
from flashfirst.inputs.skipped import SkippedInput
from flashfirst.media import MediaStats
from flashfirst.planning.thinking_figures import record_run
from flashfirst.pricing.unpriced_seen import record_unpriced
from flashfirst.reporting.fit import media_delta
from flashfirst.reporting.item_lines import ItemLine, ItemLines
from flashfirst.reporting.ledger import CostSummary, CostTally
from flashfirst.reporting.render import to_markdown, to_svg
from flashfirst.reporting.report import (
    RunReport,
    StageLine,
    cache_summary,
    media_summary,
)
from flashfirst.reporting.results_spool import ResultSpool
from flashfirst.reporting.results_stream import RunTally
from flashfirst.reporting.stages import Stage
from flashfirst.run.context import RunContext
from flashfirst.storage import Storage, join

_SPOOL_BYTES = 8 * 2**20


class RunFacts(BaseModel):
    """Everything the report is made of, gathered by the flow."""

    run_id: str
    started_at: datetime
    model_config = ConfigDict(arbitrary_types_allowed=True)

    tally: RunTally = Field(description="Every item of the run, those that failed before "
                            "inference included, folded as they came.")
    media: dict[str, MediaStats]
    media_seconds: float = 0.0
    decisions: list[CacheDecision]
    cache_records: list[CacheRecord]
    cache_api_calls: int = 0
    stages: list[StageLine]
    budget_usd: float | None = None
    output_uri: str
    skipped_inputs: list[SkippedInput] = Field(default_factory=list)
    mode_choices: list[str] = Field(default_factory=list)
    batch_collection: list[JobCollection] = Field(default_factory=list)
    autopilot: AutopilotReport | None = None
    stopped: str | None = None
    batch_jobs_left: list[str] = Field(default_factory=list)


def build_run_report(facts: RunFacts, shared: RunContext) -> RunReport:
    """The report from the run's tally: every attempt priced, the outcomes counted; records
    the run's thinking figures for later estimates."""
    t = facts.tally.report
    costs = facts.tally.costs.summary(facts.cache_records)
    record_run(shared.storage, shared.settings.storage_root, facts.tally.figures)
    kinds = t.failure_kinds()
    return RunReport(
        run_id=facts.run_id, backend=shared.backend_label,
        price_table_version=shared.prices.version, started_at=facts.started_at,
        finished_at=datetime.now(UTC), items_total=t.total, items_ok=t.ok,
        items_failed=len(t.failures), items_reused=t.reused, generate_calls=t.generate_calls,
        costs=costs, stages=priced_stages(facts.stages, costs), routing_split=dict(t.routing),
        served_by=t.served_by(), provisional_prices=t.provisional_prices(),
        escalation=t.escalations(), first_pass=t.first_pass(),
        media=media_summary(list(facts.media.values()), facts.media_seconds).model_copy(
            update={"fitted": t.fit_lines()}),
        cache=cache_summary(facts.decisions, facts.cache_records, t.cache_hit_calls,
                            facts.cache_api_calls),
        failures=t.failures, failure_kinds=kinds, budget_usd=facts.budget_usd,
        budget_stopped=kinds.get(FailureKind.BUDGET, 0), items=t.items,
        output_uri=facts.output_uri, skipped_inputs=facts.skipped_inputs,
        mode_choices=facts.mode_choices, batch_collection=facts.batch_collection,
        autopilot=facts.autopilot, stopped=facts.stopped,
        batch_jobs_left=facts.batch_jobs_left,
    )


def cost_tally(media: dict[str, MediaStats], shared: RunContext) -> CostTally:
    """The run's costs, folded as results come, with each media item's lever."""
    return CostTally({i: media_delta(s) for i, s in media.items()}, shared.prices,
                     shared.settings.models, shared.catalogue)


def pricing_warnings(report: RunReport) -> list[str]:
    """Once per run, whatever the number of calls: models served by another and priced as
    it, and provisional prices."""
    substituted = [f"{line.line()}, priced as {line.served}" for line in report.served_by
                   if line.priced_as is None]  # else said below, as provisional
    return substituted + [f"costs are provisional: {p.line(report.price_table_version)}"
                          for p in report.provisional_prices]


def priced_stages(stages: list[StageLine], costs: CostSummary) -> list[StageLine]:
    """What each stage spent: caches their writes and storage, inference its calls
    (escalations included); preparing media and planning cost nothing at Google."""
    spent = {Stage.ENSURE_CACHES: costs.cache_write_usd + costs.cache_storage_usd,
             Stage.INFER: costs.calls_usd}
    return [s.model_copy(update={"cost_usd": round(spent.get(s.stage, 0.0), 9)})
            for s in stages]


_NO_ITEMS = '\n  "items": []'


def report_json(report: RunReport) -> Iterator[bytes]:
    """``report.model_dump_json(indent=2)``, byte for byte, with its item lines written
    one at a time from their compressed blocks (never all as objects at once)."""
    head, tail = report.model_copy(update={"items": ItemLines()}).model_dump_json(
        indent=2).split(_NO_ITEMS)
    if not report.items:
        yield (head + _NO_ITEMS + tail).encode()
        return
    yield (head + '\n  "items": [').encode()
    for n, raw in enumerate(report.items.json_lines()):
        line = ItemLine.model_validate_json(raw).model_dump_json(indent=2)
        yield ("," if n else "").encode() + b"\n    " + line.replace("\n", "\n    ").encode()
    yield ("\n  ]" + tail).encode()


def write_run_files(storage: Storage, storage_root: str, results: ResultSpool,
                    report: RunReport) -> tuple[str, str]:
    """results.jsonl (by item id), report.json/.md/.svg in the run's output folder, each
    written atomically; the report's markdown and the SVG's URI, for the artifacts."""
    out = report.output_uri or ""
    # Line by line from the run's spool through a spooled file, not one string.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        for line in results.lines_by_id():
            spool.write(line)
        spool.seek(0)
        storage.write_stream(join(out, "results.jsonl"), spool,
                             content_type="application/x-ndjson")
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        for chunk in report_json(report):
            spool.write(chunk)
        spool.seek(0)
        storage.write_stream(join(out, "report.json"), spool, content_type="application/json")
    markdown = to_markdown(report)
    storage.write_text(join(out, "report.md"), markdown, content_type="text/markdown")
    record_unpriced(storage, storage_root, report)  # `flashfirst prices` lists them
    svg_uri = join(out, "report.svg")
    storage.write_text(svg_uri, to_svg(report), content_type="image/svg+xml")
    return markdown, svg_uri
