"""Acceptance: a parked batch run is finished by Gemini's webhook, every part real and in
its own process, with no poll in between:

    run (collect_later) -> batch job on the emulator (own process) ends
      -> static webhook delivery, signed -> bridge (own process) -> Prefect server
      -> gemini.batch.succeeded -> collect-on-webhook deployment served by
         `python -m flashfirst.deployments.serve collect-on-webhook`
      -> flow run collects exactly that job -> results.jsonl
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.emulator import client_for
from fixtures.gcs import stop
from fixtures.prefect import (
    PrefectServer,
    completed_run,
    forget_deployment,
    served_deployment,
    wait_for,
)
from fixtures.pubsub import Bridge, EmulatorProcess, running_bridge
from flashfirst.flows.analyze import analyze_with
from flashfirst.tasks.batches import BatchSubmitted

from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import BackendSettings, InferenceSettings, Settings

DEPLOYMENT = "collect-batch-job/collect-on-webhook"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared-store")


@pytest.fixture(scope="module")
def bridge(prefect_server: PrefectServer, emulator_process: EmulatorProcess,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """The bridge holding the secret of a webhook created on the emulator with the SDK."""
    client = client_for(emulator_process.url)
    created = client.webhooks.create(uri="http://127.0.0.1:9/not-yet",
                                     subscribed_events=["batch.succeeded", "batch.failed"])
    env = {"FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET": created.new_signing_secret}
    with running_bridge(prefect_server.api_url, tmp_path_factory.mktemp("bridge"),
                        extra_env=env) as running:
        client.webhooks.update(created.id, uri=f"{running.url}/gemini-webhooks",
                               update_mask="uri")
        yield running
        client.webhooks.delete(created.id)


@pytest.fixture(scope="module")
def served(prefect_server: PrefectServer, emulator_process: EmulatorProcess, store: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": prefect_server.api_url, "PREFECT_HOME": str(home),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "FLASHFIRST_BACKEND__BASE_URL": emulator_process.url,
            "FLASHFIRST_STORAGE_ROOT": str(store)}
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flashfirst.deployments.serve", "collect-on-webhook"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)
    api, deployment = prefect_server.api_url, None
    try:
        deployment = wait_for(lambda: served_deployment(api, DEPLOYMENT, proc, log),
                              "served deployment")
        yield deployment
    finally:
        stop(proc)
        if deployment:
            forget_deployment(api, deployment["id"])


def batches_created(emulator: EmulatorProcess) -> int:
    return httpx.get(f"{emulator.url}/_emulator/stats", timeout=10).json()["batches_created"]


def test_a_parked_batch_run_is_finished_by_the_webhook_triggered_deployment(
        prefect_api: PrefectServer, bridge: Bridge, served: dict[str, Any],
        emulator_process: EmulatorProcess, store: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    before = httpx.get(f"{emulator_process.url}/_emulator/config", timeout=10).json()["batch"]
    httpx.post(f"{emulator_process.url}/_emulator/config",
               json={"batch": {"pending_s": 0, "running_s": 4}}, timeout=10)
    settings = Settings(backend=BackendSettings(base_url=emulator_process.url),
                        storage_root=str(store),
                        inference=InferenceSettings(calibration_share=0))
    created_before = batches_created(emulator_process)
    output = tmp_path / "out"
    items = [WorkItem(id=f"w{i}", text=f"Webhook note {i}: parcel late") for i in range(2)]
    try:
        submitted = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH,
                                               collect_later=True, output=str(output)),
                                 settings)
        assert isinstance(submitted, BatchSubmitted) and len(submitted.jobs) == 1
        assert not (output / "results.jsonl").exists()

        run = wait_for(lambda: completed_run(prefect_api.api_url, served["id"],
                                             job=submitted.jobs[0]), "collect-on-webhook run")
    finally:
        httpx.post(f"{emulator_process.url}/_emulator/config", json={"batch": before},
                   timeout=10)

    assert run["parameters"] == {"job": submitted.jobs[0]}
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["error"]) for line in lines] == [("w0", None), ("w1", None)]
    assert batches_created(emulator_process) == created_before + 1  # re-attached, not resubmitted
    assert bridge.stats().get("gemini_emitted", 0) >= 1
