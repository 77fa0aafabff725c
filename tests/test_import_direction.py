"""Imports point one way: deployments → flows → tasks → core (DESIGN.md §2, §8), so the
core can be used (and tested) without Prefect, and a flow never depends on how it is
deployed. Read from the source with ``ast``: every import counts, lazy ones included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_roots(path: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in a module (function bodies too)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def offenders(layer: str, forbidden: set[str]) -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / layer).rglob("*.py")):
        if bad := imported_roots(path) & forbidden:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_core_never_imports_prefect_or_the_layers_above_it():
    assert offenders("flashfirst", {"prefect", "prefect_dask", "prefect_gcp", "flows",
                                    "tasks", "deployments"}) == {}


def test_tasks_never_import_flows_or_deployments():
    assert offenders("tasks", {"flows", "deployments"}) == {}


def test_flows_never_import_deployments():
    # ``prefect.deployments`` (run_deployment) is Prefect's, not our layer: roots only.
    assert offenders("flows", {"deployments"}) == {}


def test_the_check_sees_lazy_imports(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from prefect import flow\n    import deployments.serve\n")
    assert imported_roots(module) == {"prefect", "deployments"}
