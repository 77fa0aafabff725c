"""Bursts become one run: with FLASHFIRST_DEPLOY_UPLOADS_WINDOW_S set, the served
on-upload-window deployment's debounced trigger turns a burst of upload events into a
single flow run that analyzes every upload of the window. Real parts: Prefect server
(events, automations), `python -m flashfirst.deployments.serve gcs-window`, fake-gcs-server, the
Gemini emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fixtures.gcs import GcsEmulator, stop
from fixtures.prefect import PrefectServer, wait_for
from flashfirst.tasks.object_events import emit_object_finalized

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.inputs.seen_objects import StoredObject
from flashfirst.storage import Storage

DEPLOYMENT = "on-upload-window/gcs-window"
WINDOW_S = 8


def runs_of(api: str, deployment_id: str) -> list[dict[str, Any]]:
    return httpx.post(f"{api}/flow_runs/filter", json={
        "flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 50},
        timeout=30).json()


def test_a_burst_of_uploads_starts_one_run_that_analyzes_them_all(
        prefect_api: PrefectServer, emulator: EmbeddedEmulator, gcs_server: GcsEmulator,
        gcs_bucket: str, tmp_path: Path):
    api = prefect_api.api_url
    home = tmp_path / "serve"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": api, "PREFECT_HOME": str(home),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1", "STORAGE_EMULATOR_HOST": gcs_server.url,
            "FLASHFIRST_BACKEND__BASE_URL": emulator.base_url,
            "FLASHFIRST_STORAGE_ROOT": str(home / "store"),
            "FLASHFIRST_DEPLOY_UPLOADS_BUCKET": gcs_bucket,
            "FLASHFIRST_DEPLOY_UPLOADS_NAMES": "incoming/*",
            "FLASHFIRST_DEPLOY_UPLOADS_WINDOW_S": str(WINDOW_S)}
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flashfirst.deployments.serve",
                                 "gcs-window"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home,
                                start_new_session=True)
    deployment: dict[str, Any] = {}
    try:
        def registered() -> dict[str, Any] | None:
            assert proc.poll() is None, log.read_text()[-3000:]
            response = httpx.get(f"{api}/deployments/name/{DEPLOYMENT}", timeout=30)
            if response.status_code != 200:
                return None
            found = response.json()
            automations = httpx.post(f"{api}/automations/filter", json={}, timeout=30).json()
            owned = [a for a in automations if a["enabled"] and gcs_bucket in str(a["trigger"])
                     and found["id"] in str(a["actions"])]
            return found if owned else None

        deployment = wait_for(registered, "served deployment with its trigger", 180)
        storage = Storage()
        for i in range(6):  # the burst: six files written and announced at once
            uri = f"gs://{gcs_bucket}/incoming/note{i}.txt"
            storage.write_text(uri, f"Note {i}: the parcel was late.")
            emit_object_finalized(StoredObject(bucket=gcs_bucket, name=f"incoming/note{i}.txt",
                                               generation=storage.stat(uri).generation))
        announced = time.monotonic()

        def completed() -> list[dict[str, Any]]:
            runs = runs_of(api, deployment["id"])
            assert not [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")], \
                log.read_text()[-3000:]
            return [r for r in runs if r["state_type"] == "COMPLETED"]

        [run] = wait_for(completed, "completed window run", 180)
        # Long enough after the burst for a second run to have been started: two windows
        # and 2 s (what a run that ended right after its window used to be given).
        time.sleep(max(0.0, announced + 2 * WINDOW_S + 2 - time.monotonic()))
        assert len(runs_of(api, deployment["id"])) == 1
        assert run["parameters"]["window_s"] == WINDOW_S
        # One run analyzed all six: 6 items < 100 with no deadline, so auto chose Flex.
        assert emulator.stats.generate_calls == {"gemini-3.8-flash": {"flex": 6}}
    finally:
        stop(proc)
        if deployment:
            httpx.delete(f"{api}/automations/owned-by/prefect.deployment.{deployment['id']}",
                         timeout=30)
            httpx.delete(f"{api}/deployments/{deployment['id']}", timeout=30)
