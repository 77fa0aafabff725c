"""Prefect tasks that price the run and publish it: the core assembles the report and
writes its files (``flashfirst/reporting/run_report.py``); these log and make the artifacts."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from flashfirst.items import ItemMedia
from flashfirst.reporting.render import chart_markdown, items_table, media_table
from flashfirst.reporting.report import RunReport
from flashfirst.reporting.results_spool import ResultSpool
from flashfirst.reporting.run_report import (
    RunFacts,
    build_run_report,
    pricing_warnings,
    write_run_files,
)
from flashfirst.run.context import run_context
from flashfirst.settings import Settings
from flashfirst.storage import browser_url


@task(name="aggregate-costs", cache_policy=NO_CACHE)
def aggregate_costs(facts: RunFacts, settings: Settings) -> RunReport:
    """The run's report: every attempt priced, the outcomes counted."""
    report = build_run_report(facts, run_context(settings))
    for warning in pricing_warnings(report):
        get_run_logger().warning("%s", warning)
    return report


@task(name="write-results", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def write_results(results: ResultSpool, media: list[tuple[str, ItemMedia]], report: RunReport,
                  settings: Settings) -> str:
    """results.jsonl and report.json/.md/.svg in the output folder; Prefect artifacts.
    ``media``: each media item's bytes and tokens before and after."""
    markdown, svg_uri = write_run_files(run_context(settings).storage, settings.storage_root,
                                        results, report)
    publish_report(report, markdown, media, svg_uri)
    return report.output_uri or ""


def publish_report(report: RunReport, markdown: str, media: list[tuple[str, ItemMedia]],
                   svg_uri: str) -> None:
    """The report, its tables and its chart as Prefect artifacts."""
    create_markdown_artifact(markdown=markdown, key="flashfirst-report",
                             description=f"flashfirst run {report.run_id}")
    rows = items_table(report)
    shown = ("" if len(rows) == len(report.items) else f" ({len(rows):,} of "
             f"{len(report.items):,}: the failed, then the most expensive; every item is in "
             f"report.json and results.jsonl at {report.output_uri})")
    create_table_artifact(table=rows, key="flashfirst-items",
                          description=f"Per item: route, tier, cost, escalation, errors{shown}")
    if table := media_table(media):
        create_table_artifact(table=table, key="flashfirst-media",
                              description="Per media item: bytes and tokens before and "
                              "after, and the policy applied")
    create_markdown_artifact(markdown=chart_markdown(report), key="flashfirst-cost-chart",
                             description="Cost by lever, naive → actual")
    chart = browser_url(svg_uri)
    if chart.startswith("https://"):  # the SVG itself, for those allowed to read the bucket
        create_link_artifact(link=chart, link_text="cost by lever (SVG)",
                             key="flashfirst-cost-chart-link")
