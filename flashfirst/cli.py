"""The ``flashfirst`` command's frame: the app, its consoles and progress bar, and the
commands that need only the core (the emulator). The commands that run flows are added by
``deployments/cli.py``, the layer above everything, which the console script starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flashfirst import progress

app = typer.Typer(help="Cost-optimized Gemini pipelines on Prefect: downsample media, cache "
                  "shared context, route Flash first, fan out within rate limits, and account "
                  "for every cent.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
EmulatorOpt = Annotated[bool, typer.Option(
    "--emulator", help="Answer from the embedded Gemini emulator (invented answers, no "
    "account); same as FLASHFIRST_BACKEND__KIND=emulator.")]


def require_settings(emulator: bool):  # noqa: ANN202
    """The settings, with a backend or a stop (exit 2) before any work."""
    from flashfirst.client import require_backend
    from flashfirst.settings import load_settings

    settings = load_settings()
    if emulator:
        settings.backend.kind = "emulator"
    require_backend(settings)
    return settings


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
