"""The fixtures flashfirst offers users' own test suites, used the way a user would: a test
file in a fresh folder, run by pytest in a new process that finds the plugin through its
installed ``pytest11`` entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The example under the README's 'offline Gemini' section, as users copy it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## An offline Gemini for your own tests", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_passes_as_a_users_test_file(pytester: pytest.Pytester):
    pytester.makepyfile(test_user=readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_user_conftest_can_script_the_emulator(pytester: pytest.Pytester):
    pytester.makeconftest('''
import pytest
from flashfirst.emulator import EmulatorConfig, Script

@pytest.fixture
def gemini_emulator_config():
    return EmulatorConfig(latency_scale=0, scripts=[Script(contains="refund", text="NO")])
''')
    pytester.makepyfile(test_user='''
def test_scripted_answer(gemini_client):
    answer = gemini_client.models.generate_content(
        model="gemini-2.5-flash-lite", contents="Is a refund due?")
    assert answer.text == "NO"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_package_imports_without_pytest(tmp_path: Path):
    """The plugin is the only module that needs pytest, which users' runtime may lack."""
    blocker = tmp_path / "pytest.py"
    blocker.write_text("raise ImportError('no pytest here')\n")
    code = "import flashfirst, flashfirst.emulator, flashfirst.cli; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path)}, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
