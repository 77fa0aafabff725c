"""Answer checks a manifest may name: built-in patterns (with a time limit) and checks the
installation registered; nothing in a manifest selects code to import."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fixtures.engine import answer

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import ConfigError
from flashfirst.inputs.checks import registered_checks
from flashfirst.inputs.discover import read_manifest
from flashfirst.items import WorkItem
from flashfirst.settings import BackendSettings, InferenceSettings, Settings
from flashfirst.storage import Storage


@pytest.fixture
def settings(emulator: EmbeddedEmulator, tmp_path: Path) -> Settings:
    return Settings(backend=BackendSettings(base_url=emulator.base_url),
                    storage_root=str(tmp_path / "store"),
                    inference=InferenceSettings(backoff_base_s=0.02, backoff_max_s=1.0))


@pytest.mark.parametrize("check", ["python:os:system", "python:builtins:exec", "os.system"])
def test_a_manifest_naming_python_code_is_refused_at_its_line(tmp_path: Path, check: str):
    manifest = tmp_path / "items.jsonl"
    manifest.write_text('{"id": "fine", "text": "Parcel late."}\n'
                        f'{{"id": "evil", "text": "rm -rf /", "check": "{check}"}}\n')
    with pytest.raises(ConfigError) as err:
        read_manifest(str(manifest), Storage())
    message = str(err.value)
    assert "line 2" in message and "check" in message and check in message
    assert "not allowed" in message


@pytest.mark.timeout(60)
def test_a_catastrophic_pattern_fails_its_item_instead_of_hanging_the_run(
        settings: Settings, emulator: EmbeddedEmulator):
    # (a|aa)+$ on forty a's and a '!' backtracks through ~fib(40) paths: hours in `re`.
    emulator.control.add_script(contains="backtrack", text="a" * 40 + "!")
    [slow, fine] = answer(settings, [
        WorkItem(id="slow", text="backtrack me", check="regex:(a|aa)+$"),
        WorkItem(id="fine", text="Parcel late.", check="regex:.")])
    assert fine.ok
    assert not slow.ok and "too complex" in slow.error


def test_a_check_registered_by_the_installation_runs_by_name(
        settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    # A real installed distribution with an entry point, found by importlib.metadata.
    site = tmp_path / "site"
    (site / "house_checks-1.0.dist-info").mkdir(parents=True)
    (site / "house_checks-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: house-checks\nVersion: 1.0\n")
    (site / "house_checks-1.0.dist-info" / "entry_points.txt").write_text(
        "[flashfirst.inputs.checks]\nsays_refund = house_checks:says_refund\n")
    (site / "house_checks.py").write_text(textwrap.dedent('''
        def says_refund(output):
            return "refund" in str(output).lower() or "no refund mentioned"
    '''))
    monkeypatch.syspath_prepend(str(site))
    registered_checks.cache_clear()
    try:
        emulator.control.add_script(contains="refund please", text="Refund granted.")
        emulator.control.add_script(contains="just thanks", text="You are welcome.")
        [yes, no] = answer(settings, [
            WorkItem(id="yes", text="refund please", check="says_refund"),
            WorkItem(id="no", text="just thanks", check="says_refund")])
    finally:
        registered_checks.cache_clear()
    assert yes.ok and yes.output == "Refund granted."
    assert not no.ok and "no refund mentioned" in no.error
