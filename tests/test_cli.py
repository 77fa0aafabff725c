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
    # The new question, and the same request at Flash's default thinking: it is sent at
    # low, so it is the (task, model) group's calibration sample (at least 5, at most all).
    assert second["generate_calls"] == 2
    assert second["cache"]["reused"] == 1 and second["cache"]["calls_with_cache_hits"] == 1


def test_prices_lists_the_rows_in_force_the_next_change_and_stale_rows(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFIRST_")}
    out = flashfirst("prices", "--on", "2026-12-31", "--stale-days", "60", "--json",
                     env=clean, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    in_force = {p["model"]: p for p in listing["in_force"]}
    # pricing page: 3.8 Flash $0.75 / $3.75 through 2026-12-31, $1.50 / $7.50 from 2027-01-01
    assert (in_force["gemini-3.8-flash"]["input"], in_force["gemini-3.8-flash"]["output"]) \
        == (0.75, 3.75)
    nxt = [p for p in listing["next_changes"] if p["model"] == "gemini-3.8-flash"]
    assert nxt[0]["effective_from"] == "2027-01-01" and nxt[0]["input"] == 1.5
    assert "gemini-3.1-pro-preview" in {p["model"] for p in listing["stale"]}  # read 09-20
    text = flashfirst("prices", "--on", "2027-01-01", env=clean, cwd=tmp_path)
    assert "gemini-3.8-flash" in text.stdout and "No change announced." in text.stdout
