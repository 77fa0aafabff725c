"""Imports point one way: deployments → flows → tasks → core (docs/architecture.md), so the
core can be used (and tested) without Prefect, and a flow never depends on how it is
deployed. Read from the source with ``ast``: every import counts, lazy ones included.

The layers keep their folders at the top of the repository but install as
``flashfirst.tasks``, ``flashfirst.flows`` and ``flashfirst.deployments`` (pyproject's
package-dir), so installing flashfirst claims no generic top-level name in a user's
environment; the last test installs the wheel into a fresh venv and looks."""

from __future__ import annotations

import ast
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFECT = {"prefect", "prefect_dask", "prefect_gcp"}
LAYER_PACKAGES = {"tasks": "flashfirst.tasks", "flows": "flashfirst.flows",
                  "deployments": "flashfirst.deployments"}


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the absolute imports anywhere in a module (function bodies too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def reaches(name: str, forbidden: set[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def offenders(folder: str, forbidden: set[str]) -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        if bad := {n for n in imported_modules(path) if reaches(n, forbidden)}:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_core_never_imports_prefect_or_the_layers_above_it():
    # The old top-level names count too: an import of ``tasks`` would be someone else's.
    forbidden = PREFECT | set(LAYER_PACKAGES) | set(LAYER_PACKAGES.values())
    assert offenders("flashfirst", forbidden) == {}


def test_tasks_never_import_flows_or_deployments():
    assert offenders("tasks", {"flashfirst.flows", "flashfirst.deployments", "flows",
                               "deployments"}) == {}


def test_flows_never_import_deployments():
    # ``prefect.deployments`` (run_deployment) is Prefect's, not our layer.
    assert offenders("flows", {"flashfirst.deployments", "deployments"}) == {}


def task_definitions(folder: str) -> list[str]:
    """``module:function`` of every function decorated with Prefect's ``@task``."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                    ast.unparse(d.func if isinstance(d, ast.Call) else d) == "task"
                    for d in node.decorator_list):
                found.append(f"{path.relative_to(ROOT)}:{node.name}")
    return found


def test_flows_compose_tasks_and_define_none():
    # A flow reads as its steps; a task defined beside it is a step hidden from tasks/.
    assert task_definitions("flows") == []
    assert "tasks/polling.py:announce_object" in task_definitions("tasks")


def test_the_emulator_imports_nothing_of_the_product():
    # It stands in for Google: code shared with the product would make every test that
    # compares the two agree by construction.
    product = {}
    for path in sorted((ROOT / "flashfirst" / "emulator").rglob("*.py")):
        if bad := {n for n in imported_modules(path)
                   if reaches(n, {"flashfirst"}) and not reaches(n, {"flashfirst.emulator"})}:
            product[str(path.relative_to(ROOT))] = bad
    assert product == {}
    # Absolute imports only, so the check above sees every one: ``from ...x`` could leave
    # the package unseen.
    relative = [str(path.relative_to(ROOT))
                for path in sorted((ROOT / "flashfirst" / "emulator").rglob("*.py"))
                if any(isinstance(node, ast.ImportFrom) and node.level
                       for node in ast.walk(ast.parse(path.read_text())))]
    assert relative == []


def test_the_emulators_wire_layer_knows_no_surface():
    # Every surface reads and answers through it: a wire module importing a surface, the
    # state or the config would tie every surface to that one.
    outside = {str(path.relative_to(ROOT)): bad
               for path in sorted((ROOT / "flashfirst" / "emulator" / "wire").rglob("*.py"))
               if (bad := {n for n in imported_modules(path) if reaches(n, {"flashfirst"})
                           and not reaches(n, {"flashfirst.emulator.wire"})})}
    assert len(list((ROOT / "flashfirst" / "emulator" / "wire").glob("*.py"))) > 1
    assert outside == {}


def module_files() -> dict[str, Path]:
    """Dotted name → file, for the package and the three layers installed under it."""
    found = {}
    for folder, package in {"flashfirst": "flashfirst", **LAYER_PACKAGES}.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts
                     if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Our modules → our modules they import, anywhere in the file (``TYPE_CHECKING``
    blocks and function bodies included). ``from pkg import sub`` points at ``pkg.sub``."""
    files = module_files()

    def ours(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                subs = {f"{node.module}.{a.name}" for a in node.names} & files.keys()
                targets |= subs if len(subs) == len(node.names) else subs | {node.module}
        graph[module] = {t for name in targets if (t := ours(name)) and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append(path[path.index(module):] + [module])
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_the_import_graph_has_no_cycles():
    # A cycle hidden under TYPE_CHECKING still means neither module reads without the other.
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_a_layer_by_its_folder_name():
    every = {folder: offenders(folder, set(LAYER_PACKAGES))
             for folder in ("flashfirst", *LAYER_PACKAGES, "tests", "bench")}
    assert every == {folder: {} for folder in every}


def test_the_check_sees_lazy_imports(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from prefect import flow\n    import flashfirst.flows.x\n")
    assert offenders_in(module, PREFECT | {"flashfirst.flows"}) == {"prefect",
                                                                   "flashfirst.flows.x"}


def offenders_in(path: Path, forbidden: set[str]) -> set[str]:
    return {n for n in imported_modules(path) if reaches(n, forbidden)}


def test_installing_adds_only_the_flashfirst_package(tmp_path: Path):
    """``pip install .`` into a fresh venv: the wheel is built from this tree with the
    running interpreter's setuptools (no network), installed without dependencies by the
    running interpreter's pip."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir)  # no ensurepip: this interpreter's pip installs into it below
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    before = set(p.name for p in site.iterdir())
    (wheel,) = wheels.glob("flashfirst-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    added = {p.name for p in site.iterdir()} - before
    assert {n for n in added if not n.endswith(".dist-info")} == {"flashfirst"}
    # Every package of the tree is in the wheel (pyproject lists them by hand).
    for init in [*ROOT.glob("flashfirst/**/__init__.py"),
                 *(ROOT / folder / "__init__.py" for folder in LAYER_PACKAGES)]:
        relative = init.relative_to(ROOT)
        if relative.parts[0] != "flashfirst":
            relative = Path("flashfirst", *relative.parts)
        assert (site / relative).is_file(), f"{relative.parent} is missing from the wheel"
    assert (site / "flashfirst" / "deployments" / "prefect_logging.yml").is_file()
