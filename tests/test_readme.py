"""The README documents every setting and the quick start the CI runs."""

from __future__ import annotations

from pathlib import Path

from flashfirst.settings_doc import readme_with_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting_as_the_code_defines_it():
    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_table(readme), (
        "settings changed: run python -m flashfirst.settings_doc --write README.md")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = 'pip install -e ".[test]" && ruff check . && pytest'
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text()
