"""The house's shape, as the next maintainer meets it: small modules, packages that say
what they own, and no document outside the repository that the code leans on."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("flashfirst", "tasks", "flows", "deployments")
MOST_LINES = 400


def sources() -> list[Path]:
    return sorted(p for folder in CODE for p in (ROOT / folder).rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in sources()
            if (n := len(p.read_text().splitlines())) > MOST_LINES}
    assert long == {}, f"split these by concern: {long}"


def test_every_package_of_the_core_says_what_it_owns():
    silent = [str(init.relative_to(ROOT)) for init in (ROOT / "flashfirst").rglob("__init__.py")
              if init.parent.name != "flashfirst"
              and not ast.get_docstring(ast.parse(init.read_text()))]
    assert silent == [], silent


def test_the_core_root_holds_only_what_every_concern_shares():
    # The concerns live in packages; a new flat module belongs in one of them.
    flat = sorted(p.stem for p in (ROOT / "flashfirst").glob("*.py"))
    assert len(flat) <= 16, f"{len(flat)} modules at the core's root: {flat}"


def test_nothing_refers_to_a_design_document_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    outside = re.compile(r"DESIGN\.md|\.\./shared/")
    named = [f for f in tracked if (ROOT / f).is_file() and f != "tests/test_house_shape.py"
             and outside.search((ROOT / f).read_text(errors="ignore"))]
    assert named == [], named
