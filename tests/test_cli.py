"""The flashfirst command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixtures.prefect import PrefectServer

from flashfirst.emulator import EmbeddedEmulator


def flashfirst(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("flashfirst")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


LOADING = """\
import atexit, json, sys
from flashfirst.deployments.cli import main
report = sys.argv.pop(1)
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "flashfirst"
main()
"""


def flashfirst_loading(*args: str, env: dict[str, str], cwd: Path
                       ) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The command as its console script runs it, and the modules it loaded: loading
    Prefect (or its server) is most of the seconds a command takes before its work."""
    report = cwd / "loaded.json"
    done = subprocess.run([sys.executable, "-c", LOADING, str(report), *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    return done, set(json.loads(report.read_text()))


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
    # 1 of 3 failed is above the 20% threshold: the cause in one line, not Prefect's
    # traceback of our RunFailed before it.
    assert "run failed: 1 of 3 items failed" in failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr


def test_a_bad_setting_stops_before_anything_runs(env, tmp_path):
    out = flashfirst("run", str(tmp_path), env=env | {"FLASHFIRST_MEDIA__FPS": "fast"},
                     cwd=tmp_path)
    assert out.returncode == 2
    assert "FLASHFIRST_MEDIA__FPS" in out.stderr


def test_demo_twice_shows_the_reuse(env, tmp_path, demo_inputs):
    demo_inputs(env["FLASHFIRST_STORAGE_ROOT"])
    first = flashfirst("demo", "--json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert_no_noise(first.stderr)
    one = json.loads(first.stdout)
    assert one["items_ok"] == one["items_total"] >= 15
    assert one["media"]["prepared_now"] == 5 and one["cache"]["created"] >= 1
    assert one["costs"]["naive_usd"] > one["costs"]["actual_usd"] > 0
    second = json.loads(flashfirst("demo", "--json", env=env, cwd=tmp_path).stdout)
    assert second["media"]["prepared_now"] == 0 and second["media"]["reused"] == 5
    assert second["items_reused"] == second["items_total"] - 1  # one new question a run
    # Only the new question: a group of one is too small to calibrate (its minimum
    # sample of 5 would be more than half of it), so it is sent once.
    assert second["generate_calls"] == 1
    assert second["cache"]["reused"] == 1 and second["cache"]["calls_with_cache_hits"] == 1


def test_without_a_backend_run_and_serve_stop_before_any_work_and_say_what_to_set(
        env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The parcel arrived two days late.")
    for command in (["run", str(inbox)], ["estimate", str(inbox)], ["serve"]):
        out, loaded = flashfirst_loading(*command, env=env, cwd=tmp_path)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        for way in ("GEMINI_API_KEY", "VERTEX_PROJECT", "BASE_URL", "KIND=emulator"):
            assert way in out.stderr, (command, way, out.stderr)
        assert "prefect" not in loaded, command  # said at once, before Prefect loads
    assert not (tmp_path / "store").exists(), "something ran without a backend"

    asked, loaded = flashfirst_loading("run", str(inbox), "--emulator", "--json", env=env,
                                       cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    report = json.loads(asked.stdout)
    assert report["items_ok"] == 1 and "emulator" in report["backend"]
    # A Prefect server is configured (PREFECT_API_URL): its own server is not loaded.
    assert "prefect.server.api.server" not in loaded
def assert_no_noise(stderr: str) -> None:
    """What the issue saw before the report: Prefect's drain progress, its traceback of our
    own errors, the ephemeral server's telemetry racing the run on SQLite."""
    for noise in ("Traceback", "EventsWorker", "Still processing items",
                  "database is locked"):
        assert noise not in stderr, stderr


def test_demo_from_a_fresh_clone_prints_the_report_and_nothing_before_it(tmp_path):
    """No Prefect server configured: the command starts Prefect's ephemeral one, as a user's
    first `flashfirst demo` does."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    env = clean | {"PREFECT_HOME": str(tmp_path / "prefect-home"),
                   "FLASHFIRST_STORAGE_ROOT": str(tmp_path / "store")}
    out = flashfirst("demo", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert_no_noise(out.stderr)
    assert "WARNING" not in out.stderr and "ERROR" not in out.stderr, out.stderr
    assert "flashfirst run" in out.stdout and "actual" in out.stdout


def run_logs(api_url: str, flow_name: str, since: datetime) -> list[str]:
    """Every log message the Prefect server holds for runs of ``flow_name`` since then."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as c:
        runs = c.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)))
        assert runs, f"no {flow_name} run started since {since}"
        logs = c.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs])))
    return [log.message for log in logs]


def test_a_run_from_the_command_line_shows_its_logs_in_prefect(
        env, tmp_path, emulator: EmbeddedEmulator, clip_720p60: Path,
        prefect_server: PrefectServer):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(clip_720p60, inbox / "clip.mp4")
    started = datetime.now(UTC)
    out = flashfirst("run", str(inbox), "--json",
                     env=env | {"FLASHFIRST_BACKEND__BASE_URL": emulator.base_url}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    messages = run_logs(prefect_server.api_url, "analyze", started)
    # The media task's line, what the UI's logs tab shows for a deployed run too.
    assert any(m.startswith("clip.mp4: video") and "bytes, tokens" in m for m in messages), \
        messages
    assert not any("clip.mp4: video" in line for line in out.stderr.splitlines())  # console


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
    # The day after their shutdown, 2.5 Pro and 2.5 Flash are no longer priced as in force
    # (Google bills their calls at the replacements' rates).
    after = json.loads(flashfirst("prices", "--on", "2026-12-02", "--json", env=clean,
                                  cwd=tmp_path).stdout)
    listed = {p["model"] for p in after["in_force"]}
    assert not listed & {"gemini-2.5-pro", "gemini-2.5-flash"}
    assert {"gemini-4-hydrogen", "gemini-4-neon", "gemini-4-carbon"} <= listed


def test_run_dot_slash_inbox_runs_both_files_under_their_whole_names(env, tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1-a.txt").write_text("The parcel arrived two days late.")
    (inbox / "2-a.txt").write_text("The refund was paid twice.")
    (inbox / "prices.xlsx").write_bytes(b"PK\x03\x04")
    out = flashfirst("run", "./inbox", "--emulator", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["items_total"] == report["items_ok"] == 2
    assert {i["id"] for i in report["items"]} == {"1-a.txt", "2-a.txt"}
    assert [(s["uri"], s["reason"]) for s in report["skipped_inputs"]] == [
        (str(inbox.resolve() / "prices.xlsx"), "spreadsheet")]
    results = [json.loads(line) for line in
               (Path(report["output_uri"]) / "results.jsonl").read_text().splitlines()]
    assert {r["id"]: r["uri"] for r in results} == {
        name: str(inbox.resolve() / name) for name in ("1-a.txt", "2-a.txt")}
    markdown = (Path(report["output_uri"]) / "report.md").read_text()
    assert "## Skipped inputs" in markdown and "| prices.xlsx | spreadsheet |" in markdown
    shown = flashfirst("run", "./inbox", "--emulator", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "items 2/2 ok" in shown.stdout
    assert "skipped 1 file" in shown.stdout and "prices.xlsx (spreadsheet" in shown.stdout


def test_run_a_manifest_named_without_a_folder_finds_its_relative_uris(env, tmp_path: Path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "late.txt").write_text("The parcel arrived two days late.")
    (tmp_path / "items.jsonl").write_text(
        '{"id": "late", "uri": "notes/late.txt", "task": "summarize"}\n')
    out = flashfirst("run", "items.jsonl", "--emulator", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["items_ok"] == 1 and report["failures"] == {}
