"""The architecture of record lives in the repository and names only what exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_every_path_the_architecture_names_exists() -> None:
    named = set(re.findall(r"`((?:flashfirst|tasks|flows|deployments|tests|bench|docs)/"
                           r"[\w./-]+|pyproject\.toml|prefect\.yaml)`", DOC.read_text()))
    assert len(named) > 40  # the doc walks the code; a regex that finds nothing fails
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_no_file_points_at_a_design_document_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|\.\./shared")
    hits = [str(p.relative_to(ROOT)) for p in _tracked_files()
            if p.is_file() and p != Path(__file__)
            and outside.search(p.read_text(errors="ignore"))]
    assert not hits, f"these files refer to a document the repository does not hold: {hits}"


def test_readme_links_the_architecture() -> None:
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
