"""``flashfirst run ./inbox --backend agent-platform`` as a user runs it (a real process)
against the emulator's platform surface and fake-gcs-server: online and in batch mode, with
results of the same kind as a run on the Developer API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.gcs import GcsEmulator
from fixtures.prefect import PrefectServer

from flashfirst.emulator import EmbeddedEmulator


def flashfirst(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("flashfirst")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture
def inbox(tmp_path: Path, large_image: Path, audio_mp3: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(3):
        (folder / f"note{n}.txt").write_text(f"Parcel {n} arrived {n + 1} days late; refund?")
    shutil.copy(large_image, folder / "shelf.png")
    shutil.copy(audio_mp3, folder / "call.mp3")
    return folder


@pytest.fixture
def env(prefect_server: PrefectServer, gcs_server: GcsEmulator, gcs_bucket: str,
        emulator: EmbeddedEmulator) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_"))}
    return clean | {"PREFECT_API_URL": prefect_server.api_url,
                    "STORAGE_EMULATOR_HOST": gcs_server.url,
                    "FLASHFIRST_STORAGE_ROOT": f"gs://{gcs_bucket}/run",
                    "FLASHFIRST_BACKEND__BASE_URL": emulator.base_url,
                    "FLASHFIRST_BACKEND__VERTEX_PROJECT": "acme-ml",
                    "FLASHFIRST_BACKEND__VERTEX_LOCATION": "us-central1",
                    "FLASHFIRST_INFERENCE__BATCH_POLL_S": "0.2",
                    "FLASHFIRST_INFERENCE__CALIBRATION_SHARE": "0"}


def shape(report: dict) -> dict:
    """What a run's results are made of, whichever backend answered."""
    return {"items": report["items_total"], "ok": report["items_ok"],
            "failures": report["failures"]}


def test_run_on_the_agent_platform_online_and_in_batch_like_the_developer_api(
        env: dict[str, str], inbox: Path, emulator: EmbeddedEmulator, tmp_path: Path):
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})  # jobs end at once
    online = flashfirst("run", str(inbox), "--backend", "agent-platform", "--json",
                        "--output", str(tmp_path / "online"), env=env, cwd=tmp_path)
    assert online.returncode == 0, online.stderr[-3000:]
    generate = emulator.stats.calls_to("generateContent")

    # Its own storage root: the online run's answers would be reused (the same requests).
    batch_env = env | {"FLASHFIRST_STORAGE_ROOT": env["FLASHFIRST_STORAGE_ROOT"] + "-batch"}
    batch = flashfirst("run", str(inbox), "--backend", "agent-platform", "--batch", "--json",
                       "--output", str(tmp_path / "batch"), env=batch_env, cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr[-3000:]
    assert emulator.stats.uploads == 0  # the platform reads media from the bucket, by URI

    developer_env = {k: v for k, v in env.items() if "VERTEX" not in k}
    developer = flashfirst("run", str(inbox), "--backend", "base-url", "--json", "--output",
                           str(tmp_path / "developer"), env=developer_env, cwd=tmp_path)
    assert developer.returncode == 0, developer.stderr[-3000:]

    online_r, batch_r, developer_r = (json.loads(p.stdout) for p in (online, batch, developer))
    assert shape(online_r) == shape(batch_r) == shape(developer_r) == {
        "items": 5, "ok": 5, "failures": {}}
    assert generate == 5
    results = {name: {r["id"]: r for r in map(json.loads, (
        tmp_path / name / "results.jsonl").read_text().splitlines())}
        for name in ("online", "batch", "developer")}
    assert results["online"].keys() == results["batch"].keys() == results["developer"].keys()
    for item in results["batch"].values():
        assert item["backend"].startswith("Agent Platform (acme-ml, us-central1)")
        assert item["attempts"][-1]["service_tier_served"] == "batch" and item["output"]
    models = {item["route"]["model"] for item in results["batch"].values()}
    assert emulator.stats.batches_created == len(models)  # one job per model
    for item in results["online"].values():
        assert item["attempts"][-1]["service_tier_served"] == "standard" and item["output"]


def test_vertex_stays_an_alias_and_a_wrong_backend_is_named(
        env: dict[str, str], inbox: Path, tmp_path: Path):
    wrong = flashfirst("estimate", str(inbox), "--backend", "agent-plaform", env=env,
                       cwd=tmp_path)
    alias = flashfirst("estimate", str(inbox), "--backend", "vertex", "--json", env=env,
                       cwd=tmp_path)

    assert wrong.returncode == 2 and "--backend 'agent-plaform'" in wrong.stderr
    assert alias.returncode == 0, alias.stderr[-3000:]
