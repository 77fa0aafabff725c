"""The ``flashfirst`` command (the console script starts :func:`main` here): the commands
that run flows and serve deployments, on the frame ``flashfirst.cli`` gives (app, consoles,
the core-only commands). It sits above every layer; Prefect and the flows load inside the
commands, so ``flashfirst --help`` is instant."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer
from flashfirst.deployments.prefect_logging import apply_quiet_prefect_env

from flashfirst.cli import (
    EXIT_COSTS_PROVISIONAL,
    EXIT_ITEMS_FAILED,
    EXIT_NOT_STARTED,
    AllowRetired,
    EmulatorOpt,
    JsonOpt,
    app,
    console,
    out,
    progress_bar,
    require_settings,
)
from flashfirst.errors import FlashfirstError


def _run_flow(params, as_json: bool, emulator: bool,  # noqa: ANN001
              allow_retired: bool = False) -> None:
    from flashfirst.pricing.estimate import RunEstimate
    from flashfirst.reporting.render import print_report
    from flashfirst.run.overrides import RunOverrides
    from flashfirst.run.stopping import EXIT_CODES, STOP, RunStopped, stop_on_signals
    from flashfirst.run.terms import RunFailed

    try:
        # Ctrl-C or SIGTERM from here on stops the run well; a second one exits at once.
        with stop_on_signals(_announce_stop):
            require_settings(emulator)  # bad setting or no backend: exit 2 before Prefect
            from flashfirst.deployments.local_server import own_prefect_server
            from flashfirst.flows.analyze import analyze

            with own_prefect_server(), progress_bar(not as_json):
                state = analyze(params=params, overrides=RunOverrides(
                    emulator=emulator, allow_retired=allow_retired or None),
                    return_state=True)
                result = state.result(raise_on_failure=not state.is_cancelled())
    except RunFailed as failed:  # too many items failed: still show what happened
        console.print(f"[red]run failed:[/red] {failed}", highlight=False)
        result = failed.report
    except RunStopped:  # stopped before the run began
        result = None
    except FlashfirstError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_NOT_STARTED) from None
    if STOP.requested:
        if getattr(result, "stopped", None):
            out.print_json(result.model_dump_json()) if as_json else None
            console.print(" ".join(result.stop_lines()) + f" Results and report: "
                          f"{result.output_uri}", highlight=False, soft_wrap=True)
        else:
            console.print(f"Stopped: {STOP.reason} before any item was sent.",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CODES.get(STOP.signal, 130) if STOP.signal else 130)
    if isinstance(result, RunEstimate):
        out.print_json(result.model_dump_json()) if as_json else out.print(result.summary())
        return
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        print_report(result, out)
        out.print(f"results and report: {result.output_uri}")
    status = (EXIT_ITEMS_FAILED if result.items_failed else 0) + (
        EXIT_COSTS_PROVISIONAL if result.costs_provisional else 0)
    if result.costs_provisional:
        console.print(f"[yellow]costs are provisional[/yellow]: the price table has no row "
                      f"for {', '.join(sorted({p.served for p in result.provisional_prices}))}"
                      f" (exit status {status})", highlight=False)
    if status:
        raise typer.Exit(status)


def _announce_stop(signum: int) -> None:
    """Said in the signal handler, hence a bare write."""
    again = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    os.write(2, f"\nstopping: no new model calls; calls in flight may answer for a few "
             f"seconds, then the results are written ({again} again quits at once)\n"
             .encode())




def _params(source: str, task: str | None, prompt: str | None, context: list[str],
            system: str | None, deadline: float | None, batch: bool, output: str | None,
            budget: float | None, estimate_only: bool, autopilot: bool = False,
            quality_floor: float | None = None):  # noqa: ANN202
    from flashfirst.inputs.context import SharedContext
    from flashfirst.params import AnalyzeParams, RunMode

    return AnalyzeParams(source=source, task=task, prompt=prompt,
                         context=SharedContext(system_instruction=system, documents=context),
                         deadline_s=deadline, mode=RunMode.BATCH if batch else RunMode.ONLINE,
                         output=output, budget_usd=budget, estimate_only=estimate_only,
                         autopilot=autopilot, quality_floor=quality_floor)


Autopilot = Annotated[bool, typer.Option(
    "--autopilot", help="Choose each task's model and thinking by measured cost per passing "
    "answer (explores cheap candidates within the policy's exploration share).")]
QualityFloor = Annotated[float | None, typer.Option(
    "--quality-floor", min=0, max=1, help="The autopilot's least pass rate per task, in "
    "(0, 1] (implies --autopilot; default: the policy's autopilot.floor).")]


@app.command()
def demo(as_json: JsonOpt = False, allow_retired: AllowRetired = False,
         autopilot: Autopilot = False) -> None:
    """Make a small workload (video, audio, image, questions on one large document) and run
    the analyze flow on it against the embedded emulator. Run it twice to see the reuse;
    with --autopilot the report adds the autopilot's lever line."""
    from flashfirst.demo import demo_params
    from flashfirst.settings import load_settings

    params = demo_params(load_settings().storage_root)
    if autopilot:
        params = params.model_copy(update={"autopilot": True})
    _run_flow(params, as_json, emulator=True, allow_retired=allow_retired)


Source = Annotated[str, typer.Argument(help="Manifest (.jsonl/.csv), folder or gs://bucket/prefix.")]
Task = Annotated[str | None, typer.Option(help="Task for every file found (else by extension).")]
Prompt = Annotated[str | None, typer.Option(help="Instruction for every file found.")]
Context = Annotated[list[str], typer.Option("--context", help="Shared document URI (repeat).")]
System = Annotated[str | None, typer.Option("--system", help="Shared system instruction.")]
Deadline = Annotated[float | None, typer.Option(help="Seconds the run may take (>=900: Flex).")]
Batch = Annotated[bool, typer.Option("--batch", help="Use the Batch API (half price, <24 h).")]
Output = Annotated[str | None, typer.Option(help="Where results and report go.")]
Budget = Annotated[float | None, typer.Option(help="USD; refuse or stop above it.")]
Backend = Annotated[str | None, typer.Option(
    "--backend", help="api-key, agent-platform (alias vertex: the Gemini Enterprise Agent "
    "Platform, with FLASHFIRST_BACKEND__VERTEX_PROJECT/_LOCATION), base-url or emulator; "
    "same as FLASHFIRST_BACKEND__KIND. Unset: inferred from the credentials.")]


def _choose_backend(backend: str | None) -> None:
    """The flow reads its settings from the environment: the choice goes there."""
    if backend is not None:
        from flashfirst.settings import KIND_ALIASES, BackendKind

        kind = KIND_ALIASES.get(backend, backend)
        if kind not in set(BackendKind):
            console.print(f"[red]error:[/red] --backend {backend!r}: one of api-key, "
                          "agent-platform (or vertex), base-url, emulator", highlight=False)
            raise typer.Exit(EXIT_NOT_STARTED)
        os.environ["FLASHFIRST_BACKEND__KIND"] = kind


@app.command()
def run(source: Source, task: Task = None, prompt: Prompt = None, context: Context = [],  # noqa: B006
        system: System = None, deadline: Deadline = None, batch: Batch = False,
        output: Output = None, budget: Budget = None, as_json: JsonOpt = False,
        emulator: EmulatorOpt = False, allow_retired: AllowRetired = False,
        backend: Backend = None, autopilot: Autopilot = False,
        quality_floor: QualityFloor = None) -> None:
    """Run the analyze flow on a manifest or folder with the configured backend.
    Exit status 1 when items failed, 2 when the run could not start (no backend, bad
    settings or input), 4 when its costs are provisional (a model the price table lacks
    served calls; priced by a stand-in row, see the report), 5 when both 1 and 4."""
    _choose_backend(backend)
    try:
        params = _params(source, task, prompt, context, system, deadline, batch, output,
                         budget, False, autopilot, quality_floor)
    except ValueError as exc:  # pydantic names the field (quality_floor, mode)
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_NOT_STARTED) from None
    _run_flow(params, as_json, emulator, allow_retired)


@app.command()
def estimate(source: Source, task: Task = None, prompt: Prompt = None,
             context: Context = [], system: System = None, deadline: Deadline = None,  # noqa: B006
             batch: Batch = False, budget: Budget = None, as_json: JsonOpt = False,
             emulator: EmulatorOpt = False, allow_retired: AllowRetired = False,
             backend: Backend = None) -> None:
    """Count tokens with the API and price the plan, without paid calls."""
    _choose_backend(backend)
    _run_flow(_params(source, task, prompt, context, system, deadline, batch, None, budget,
                      True), as_json, emulator, allow_retired)


@app.command()
def janitor(as_json: JsonOpt = False) -> None:
    """Delete our caches past their reuse window and report their storage cost."""
    require_settings(emulator=False)
    from flashfirst.flows.cache_janitor import cache_janitor

    report = cache_janitor()
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        out.print(report.summary())


@app.command()
def serve(emulator: EmulatorOpt = False) -> None:
    """Serve every flow locally with its schedules and triggers, plus the GCS bridge."""
    if emulator:  # the served flow runs read the environment, as deployed runs do
        os.environ["FLASHFIRST_BACKEND__KIND"] = "emulator"
        os.environ["FLASHFIRST_BACKEND__EMULATOR__ALLOW_IN_DEPLOYMENTS"] = "true"
    require_settings(emulator)  # no backend: exit 2 before Prefect and the flows load
    from flashfirst.deployments.serve import serve_all

    serve_all()


@app.callback()
def _options(verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show Prefect's task and flow logs.")] = False) -> None:
    apply_quiet_prefect_env(verbose)  # before Prefect is imported: it reads them once


def main() -> None:
    from flashfirst.run.stopping import STOP

    try:
        app()
    except FlashfirstError as exc:  # settings errors raised before a command runs
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except SystemExit as done:
        if STOP.requested:  # everything is written: skip the interpreter's slow teardown
            _exit_now(done.code if isinstance(done.code, int) else 1)
        raise


def _exit_now(code: int) -> None:
    """Exit at once after the exit handlers (Prefect's, ours) and flushing the output:
    tearing down Prefect's and the SDK's modules took 2-6 s on a busy machine, too long
    for a user who asked to stop."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

