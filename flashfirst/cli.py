"""The ``flashfirst`` command's frame: the app, its consoles and progress bar, and the
commands that need only the core (the emulator). The commands that run flows are added by
``deployments/cli.py``, the layer above everything, which the console script starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flashfirst.run import progress

if TYPE_CHECKING:
    from flashfirst.pricing.unpriced_seen import UnpricedRecords
    from flashfirst.settings import Settings

app = typer.Typer(help="Cost-optimized Gemini pipelines on Prefect: downsample media, cache "
                  "shared context, route Flash first, fan out within rate limits, and account "
                  "for every cent.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console()

# Exit statuses of a run (documented in ``run --help`` and the README): 4 is added to 1
# when items failed too, so a script can test either.
EXIT_ITEMS_FAILED = 1
EXIT_NOT_STARTED = 2
EXIT_COSTS_PROVISIONAL = 4

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
EmulatorOpt = Annotated[bool, typer.Option(
    "--emulator", help="Answer from the embedded Gemini emulator (invented answers, no "
    "account); same as FLASHFIRST_BACKEND__KIND=emulator.")]


def require_settings(emulator: bool):  # noqa: ANN202
    """The settings, with a backend or a stop (exit 2) before any work."""
    from flashfirst.client import require_backend
    from flashfirst.settings import BackendKind, load_settings

    settings = load_settings()
    if emulator:
        settings.backend.kind = BackendKind.EMULATOR
    require_backend(settings)
    return settings

AllowRetired = Annotated[bool, typer.Option(
    "--allow-retired", help="Run even on a model past its shutdown date (Google serves it "
    "by its replacement, billed at the replacement's rates).")]


@contextmanager
def progress_bar(enabled: bool) -> Iterator[None]:
    """Stage progress on stderr while a run lasts (the core's progress events)."""
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


webhooks = typer.Typer(help="Gemini webhooks: the end of long jobs pushed to the bridge.",
                       no_args_is_help=True)
app.add_typer(webhooks, name="webhooks")


@webhooks.command("register")
def register_webhook(uri: Annotated[str, typer.Argument(
        help="The bridge's public /gemini-webhooks URL.")]) -> None:
    """Create the project's static webhook once; print its secret for the bridge's .env."""
    from flashfirst.client import make_client
    from flashfirst.webhook_setup import register_webhook as register

    registered = register(make_client(require_settings(emulator=False)), uri)
    if not registered.created or registered.secret is None:
        console.print(f"webhook {registered.webhook_id} already delivers to {uri}; its "
                      "secret was shown when it was created (rotate it if it is lost).")
        return
    console.print(f"created webhook {registered.webhook_id}. The line on stdout is its "
                  "signing secret, shown this once: put it in the bridge's environment "
                  "(e.g. `>> .env`), nowhere else.")
    out.print(f"FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET={registered.secret.get_secret_value()}",
              highlight=False, soft_wrap=True)


@app.command()
def prices(stale_days: Annotated[int, typer.Option(
               help="List rows in force read more than this many days ago.")] = 60,
           on: Annotated[str | None, typer.Option(
               help="The day to look at (YYYY-MM-DD, UTC); today when unset.")] = None,
           as_json: JsonOpt = False) -> None:
    """The price rows in force today, the next price change, rows read long ago, and models
    that served earlier runs (under the storage root) with no row here."""
    from datetime import UTC, date, datetime

    from flashfirst.pricing.listing import price_listing
    from flashfirst.pricing.prices import load_price_table
    from flashfirst.settings import load_settings

    try:
        day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        console.print(f"[red]error:[/red] --on {on!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    settings = load_settings()
    listing = price_listing(load_price_table(settings.price_table_path), day, stale_days,
                            _unpriced_records(settings))
    if as_json:
        out.print_json(listing.model_dump_json())
    else:
        out.print(listing.text(), highlight=False, soft_wrap=True)


def _unpriced_records(settings: Settings) -> UnpricedRecords | None:
    """Earlier runs' records of models the table lacked; unreadable storage is said, and
    the rest of the listing still shown."""
    from flashfirst.errors import StorageError
    from flashfirst.pricing.unpriced_seen import load_unpriced
    from flashfirst.storage import Storage

    try:
        return load_unpriced(Storage.for_settings(settings), settings.storage_root)
    except StorageError as exc:
        console.print(f"[yellow]warning:[/yellow] earlier runs' records not read: {exc}",
                      highlight=False)
        return None


@app.command()
def models(emulator: EmulatorOpt = False, as_json: JsonOpt = False) -> None:
    """The backend's models.list against the model catalogue: models served that it lacks,
    catalogue rows no longer listed, and rows whose successor Google has named."""
    from google.genai import errors

    from flashfirst.client import make_client
    from flashfirst.errors import FlashfirstError
    from flashfirst.gemini.catalogue import load_catalogue, today
    from flashfirst.gemini.listing import models_listing, served_models

    try:
        settings = require_settings(emulator)
        served = served_models(make_client(settings))
        listing = models_listing(load_catalogue(settings.model_catalogue_path), served,
                                 today())
    except (FlashfirstError, errors.APIError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
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
