"""The autopilot from the command line, as a user runs it (a real process): the flags,
a bad floor refused before anything runs, and the demo's lever line."""

from __future__ import annotations

from pathlib import Path

from test_cli import env, flashfirst  # noqa: F401 - the fixture and the runner

from flashfirst.emulator import EmbeddedEmulator


def test_a_floor_outside_0_1_is_refused_before_anything_runs(env, tmp_path: Path) -> None:  # noqa: F811
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The parcel arrived two days late.")
    out = flashfirst("run", str(inbox), "--emulator", "--quality-floor", "0", env=env,
                     cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "quality_floor" in out.stderr
    assert not (tmp_path / "store").exists(), "something ran with a bad floor"


def test_a_run_with_autopilot_shows_the_lever_line(
        env, tmp_path: Path, emulator: EmbeddedEmulator) -> None:  # noqa: F811
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "tickets.jsonl").write_text("".join(
        f'{{"id": "t{i}", "task": "classify", "text": "Ticket {i}", "check": "regex:."}}\n'
        for i in range(6)))
    run = flashfirst("run", str(inbox / "tickets.jsonl"), "--autopilot", "--quality-floor",
                     "0.8", env=env | {"FLASHFIRST_BACKEND__BASE_URL": emulator.base_url},
                     cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "autopilot: saved $" in run.stdout and "classify:text →" in run.stdout


# Its own test (each command takes minutes on a loaded machine: two in one test came
# near pytest's 300 s timeout), so the two may also run on different workers.
def test_the_demo_with_autopilot_shows_the_lever_line(
        env, tmp_path: Path, demo_inputs) -> None:  # noqa: F811
    demo_inputs(env["FLASHFIRST_STORAGE_ROOT"])
    demo = flashfirst("demo", "--autopilot", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "autopilot: saved $" in demo.stdout and "saved $-" not in demo.stdout
    # Two schema questions are too few to decide: the policy's route, said so.
    assert "not enough evidence yet" in demo.stdout
    assert "extract:text →" in demo.stdout  # the demo's extractions carry a schema
