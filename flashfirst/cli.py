"""The ``flashfirst`` command. Prefect and the flows load inside the commands, so
``flashfirst --help`` is instant and the core stays free of Prefect."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flashfirst import progress
from flashfirst.errors import FlashfirstError

app = typer.Typer(help="Cost-optimized Gemini pipelines on Prefect: downsample media, cache "
                  "shared context, route Flash first, fan out within rate limits, and account "
                  "for every cent.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
AllowRetired = Annotated[bool, typer.Option(
    "--allow-retired", help="Run even on a model past its shutdown date (Google serves it "
    "by its replacement, billed at the replacement's rates).")]


@contextmanager
def _progress_bar(enabled: bool):  # noqa: ANN202
    if not enabled:
        yield
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def show(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        stop = progress.listen(show)
        try:
            yield
        finally:
            stop()


def _run_flow(params, as_json: bool, allow_retired: bool = False) -> None:  # noqa: ANN001
    from flashfirst.estimate import RunEstimate
    from flashfirst.report_render import print_report
    from flashfirst.settings import load_settings
    from flows.analyze import RunFailed, analyze

    try:
        settings = load_settings(**({"allow_retired": True} if allow_retired else {}))
        with _progress_bar(not as_json):
            result = analyze(params=params, settings=settings)
    except RunFailed as failed:  # too many items failed: still show what happened
        console.print(f"[red]run failed:[/red] {failed}", highlight=False)
        result = failed.report
    except FlashfirstError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if isinstance(result, RunEstimate):
        out.print_json(result.model_dump_json()) if as_json else out.print(result.summary())
        return
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        print_report(result, out)
        out.print(f"results and report: {result.output_uri}")
    if result.items_failed:
        raise typer.Exit(1)


@app.command()
def demo(as_json: JsonOpt = False, allow_retired: AllowRetired = False) -> None:
    """Make a small workload (video, audio, image, questions on one large document) and run
    the analyze flow on it against the embedded emulator. Run it twice to see the reuse."""
    from flashfirst.demo import demo_params
    from flashfirst.settings import load_settings

    params = demo_params(load_settings().storage_root)
    _run_flow(params, as_json, allow_retired)


def _params(source: str, task: str | None, prompt: str | None, context: list[str],
            system: str | None, deadline: float | None, batch: bool, output: str | None,
            budget: float | None, estimate_only: bool):  # noqa: ANN202
    from flashfirst.context import SharedContext
    from flashfirst.params import AnalyzeParams, RunMode

    return AnalyzeParams(source=source, task=task, prompt=prompt,
                         context=SharedContext(system_instruction=system, documents=context),
                         deadline_s=deadline, mode=RunMode.BATCH if batch else RunMode.ONLINE,
                         output=output, budget_usd=budget, estimate_only=estimate_only)


Source = Annotated[str, typer.Argument(help="Manifest (.jsonl/.csv), folder or gs://bucket/prefix.")]
Task = Annotated[str | None, typer.Option(help="Task for every file found (else by extension).")]
Prompt = Annotated[str | None, typer.Option(help="Instruction for every file found.")]
Context = Annotated[list[str], typer.Option("--context", help="Shared document URI (repeat).")]
System = Annotated[str | None, typer.Option("--system", help="Shared system instruction.")]
Deadline = Annotated[float | None, typer.Option(help="Seconds the run may take (>=900: Flex).")]
Batch = Annotated[bool, typer.Option("--batch", help="Use the Batch API (half price, <24 h).")]
Output = Annotated[str | None, typer.Option(help="Where results and report go.")]
Budget = Annotated[float | None, typer.Option(help="USD; refuse or stop above it.")]


@app.command()
def run(source: Source, task: Task = None, prompt: Prompt = None, context: Context = [],  # noqa: B006
        system: System = None, deadline: Deadline = None, batch: Batch = False,
        output: Output = None, budget: Budget = None, as_json: JsonOpt = False,
        allow_retired: AllowRetired = False) -> None:
    """Run the analyze flow on a manifest or folder with the configured backend.
    Exit status 1 when items failed, 2 when the run could not start."""
    _run_flow(_params(source, task, prompt, context, system, deadline, batch, output, budget,
                      False), as_json, allow_retired)


@app.command()
def estimate(source: Source, task: Task = None, prompt: Prompt = None,
             context: Context = [], system: System = None, deadline: Deadline = None,  # noqa: B006
             batch: Batch = False, budget: Budget = None, as_json: JsonOpt = False,
             allow_retired: AllowRetired = False) -> None:
    """Count tokens with the API and price the plan, without paid calls."""
    _run_flow(_params(source, task, prompt, context, system, deadline, batch, None, budget,
                      True), as_json, allow_retired)


@app.command()
def prices(stale_days: Annotated[int, typer.Option(
               help="List rows in force read more than this many days ago.")] = 60,
           on: Annotated[str | None, typer.Option(
               help="The day to look at (YYYY-MM-DD, UTC); today when unset.")] = None,
           as_json: JsonOpt = False) -> None:
    """The price rows in force today, the next price change, and rows read long ago."""
    from datetime import UTC, date, datetime

    from flashfirst.price_listing import price_listing
    from flashfirst.prices import load_price_table
    from flashfirst.settings import load_settings

    try:
        day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        console.print(f"[red]error:[/red] --on {on!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    listing = price_listing(load_price_table(load_settings().price_table_path), day,
                            stale_days)
    if as_json:
        out.print_json(listing.model_dump_json())
    else:
        out.print(listing.text(), highlight=False, soft_wrap=True)


@app.command()
def emulator(port: Annotated[int, typer.Option(help="Port to listen on.")] = 8799,
             host: Annotated[str, typer.Option(help="Interface.")] = "127.0.0.1",
             seed: Annotated[int, typer.Option(help="Seed for deterministic answers.")] = 0,
             latency_scale: Annotated[float, typer.Option(
                 help="0 answers at once; 1 is realistic latency.")] = 0.0,
             state_dir: Annotated[str | None, typer.Option(
                 help="Keep files, caches and batches here across restarts.")] = None) -> None:
    """Serve the Gemini API emulator (point google-genai at http://HOST:PORT)."""
    from flashfirst.client import emulator_config
    from flashfirst.emulator import serve
    from flashfirst.settings import load_settings

    settings = load_settings()
    config = emulator_config(settings).model_copy(update={
        "seed": seed, "latency_scale": latency_scale, "state_dir": state_dir})
    console.print(f"Gemini API emulator on http://{host}:{port} (Ctrl-C stops it)")
    serve(host=host, port=port, config=config)


@app.command()
def janitor(as_json: JsonOpt = False) -> None:
    """Delete our caches past their reuse window and report their storage cost."""
    from flows.cache_janitor import cache_janitor

    report = cache_janitor()
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        out.print(report.summary())


@app.command()
def serve() -> None:
    """Serve every flow locally with its schedules and triggers, plus the GCS bridge."""
    from deployments.serve import serve_all

    serve_all()


@app.callback()
def _options(verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show Prefect's task and flow logs.")] = False) -> None:
    if not verbose:  # before Prefect is imported: its logging reads this once
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def main() -> None:
    try:
        app()
    except FlashfirstError as exc:  # settings errors raised before a command runs
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)

