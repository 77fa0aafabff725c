"""The flashfirst command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.prefect import PrefectServer

from flashfirst.emulator import EmbeddedEmulator


def flashfirst(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("flashfirst")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture
def env(prefect_server: PrefectServer, tmp_path: Path) -> dict[str, str]:
    """The session's Prefect server (no ephemeral start per command), a fresh store."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    return clean | {"PREFECT_API_URL": prefect_server.api_url,
                    "FLASHFIRST_STORAGE_ROOT": str(tmp_path / "store")}


def test_help_explains_every_command(env, tmp_path):
    out = flashfirst("--help", env=env, cwd=tmp_path)
    assert out.returncode == 0
    for command in ("demo", "run", "estimate", "emulator", "serve", "janitor"):
        assert command in out.stdout


def test_run_exits_nonzero_when_an_item_failed_and_names_it(
        env, tmp_path, emulator: EmbeddedEmulator, clip_720p60: Path, corrupt_video: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The parcel arrived two days late.")
    shutil.copy(clip_720p60, inbox / "clip.mp4")
    env = env | {"FLASHFIRST_BACKEND__BASE_URL": emulator.base_url}
    ok = flashfirst("run", str(inbox), "--json", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["items_ok"] == 2 and report["failures"] == {}
    shutil.copy(corrupt_video, inbox / "broken.mp4")
    failed = flashfirst("run", str(inbox), env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert "broken.mp4" in failed.stdout and "not a readable" in failed.stdout


def test_a_bad_setting_stops_before_anything_runs(env, tmp_path):
    out = flashfirst("run", str(tmp_path), env=env | {"FLASHFIRST_MEDIA__FPS": "fast"},
                     cwd=tmp_path)
    assert out.returncode == 2
    assert "FLASHFIRST_MEDIA__FPS" in out.stderr


def test_demo_twice_shows_the_reuse(env, tmp_path):
    first = flashfirst("demo", "--json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    one = json.loads(first.stdout)
    assert one["items_ok"] == one["items_total"] >= 15
    assert one["media"]["prepared_now"] == 5 and one["cache"]["created"] >= 1
    assert one["costs"]["naive_usd"] > one["costs"]["actual_usd"] > 0
    second = json.loads(flashfirst("demo", "--json", env=env, cwd=tmp_path).stdout)
    assert second["media"]["prepared_now"] == 0 and second["media"]["reused"] == 5
    assert second["items_reused"] == second["items_total"] - 1  # one new question a run
    assert second["generate_calls"] == 1
    assert second["cache"]["reused"] == 1 and second["cache"]["calls_with_cache_hits"] == 1


def test_without_a_backend_run_and_serve_stop_before_any_work_and_say_what_to_set(
        env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The parcel arrived two days late.")
    for command in (["run", str(inbox)], ["estimate", str(inbox)], ["serve"]):
        out = flashfirst(*command, env=env, cwd=tmp_path)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        for way in ("GEMINI_API_KEY", "VERTEX_PROJECT", "BASE_URL", "KIND=emulator"):
            assert way in out.stderr, (command, way, out.stderr)
    assert not (tmp_path / "store").exists(), "something ran without a backend"

    asked = flashfirst("run", str(inbox), "--emulator", "--json", env=env, cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    report = json.loads(asked.stdout)
    assert report["items_ok"] == 1 and "emulator" in report["backend"]
