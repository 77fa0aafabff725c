"""Acceptance: a parked batch run is finished by Gemini's webhook, every part real and in
its own process, with no poll in between:

    run (collect_later) -> batch job on the emulator (own process) ends
      -> static webhook delivery, signed -> bridge (own process) -> Prefect server
      -> gemini.batch.succeeded -> collect-on-webhook deployment served by
         `python -m flashfirst.deployments.serve collect-on-webhook`
      -> flow run collects exactly that job -> results.jsonl

and, with the emulator dropping every delivery, the scheduled collect-batches deployment
(served the same way) finishes it instead. Each run's report says which path finished it,
and exactly one job is created either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.emulator import client_for
from fixtures.gcs import stop
from fixtures.prefect import (
    PrefectServer,
    completed_run,
    deployment_runs,
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
POLL_DEPLOYMENT = "collect-batches/collect-batches"


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


@contextmanager
def serving(prefect_server: PrefectServer, emulator_process: EmulatorProcess, store: Path,
            home: Path, name: str, **extra_env: str) -> Iterator[dict[str, Any]]:
    """``python -m flashfirst.deployments.serve <name>`` in its own process, as a site runs
    it; yields the deployment once the server has it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": prefect_server.api_url, "PREFECT_HOME": str(home),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "FLASHFIRST_BACKEND__BASE_URL": emulator_process.url,
            "FLASHFIRST_STORAGE_ROOT": str(store), **extra_env}
    api, deployment = prefect_server.api_url, None
    full_name = DEPLOYMENT if name == "collect-on-webhook" else POLL_DEPLOYMENT
    # The worker's Prefect server is shared with other test files: one that deployed the
    # same name from prefect.yaml leaves a deployment without a code path, which serving
    # updates rather than replaces, and its runs then fail to load the flow.
    left = httpx.get(f"{api}/deployments/name/{full_name}", timeout=30)
    if left.status_code == 200:
        forget_deployment(api, left.json()["id"])
    home.mkdir(parents=True, exist_ok=True)
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flashfirst.deployments.serve", name],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)
    try:
        deployment = wait_for(lambda: _registered(api, full_name, proc, log),
                              f"served deployment {name}")
        yield deployment
    finally:
        stop(proc)
        if deployment:
            forget_deployment(api, deployment["id"])


def _registered(api: str, name: str, proc: subprocess.Popen[bytes], log: Path
                ) -> dict[str, Any] | None:
    if name == DEPLOYMENT:  # ready once its trigger is registered
        return served_deployment(api, name, proc, log)
    if proc.poll() is not None:
        raise RuntimeError(f"serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
    response = httpx.get(f"{api}/deployments/name/{name}", timeout=30)
    return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="module")
def served(prefect_server: PrefectServer, emulator_process: EmulatorProcess, store: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serving(prefect_server, emulator_process, store, tmp_path_factory.mktemp("serve"),
                 "collect-on-webhook") as deployment:
        yield deployment


def batches_created(emulator: EmulatorProcess) -> int:
    return httpx.get(f"{emulator.url}/_emulator/stats", timeout=10).json()["batches_created"]


def poll_runs_since(api_url: str, since: float) -> list[dict[str, Any]]:
    """Runs of the collect-batches flow (the poll) started after ``since`` (epoch s)."""
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={
        "flows": {"name": {"any_": ["collect-batches"]}}, "limit": 200}, timeout=30).json()
    return [r for r in runs if r["start_time"] and
            datetime.fromisoformat(r["start_time"]).timestamp() >= since]


def recorded_paths(output: Path) -> list[tuple[str, str]]:
    report = json.loads((output / "report.json").read_text())
    return [(j["job"], j["path"]) for j in report["batch_collection"]]


def park(emulator: EmulatorProcess, store: Path, output: Path, prefix: str
         ) -> BatchSubmitted:
    settings = Settings(backend=BackendSettings(base_url=emulator.url),
                        storage_root=str(store),
                        inference=InferenceSettings(calibration_share=0))
    items = [WorkItem(id=f"{prefix}{i}", text=f"Webhook note {prefix} {i}: parcel late")
             for i in range(2)]
    submitted = analyze_with(AnalyzeParams(items=items, mode=RunMode.BATCH,
                                           collect_later=True, output=str(output)), settings)
    assert isinstance(submitted, BatchSubmitted) and len(submitted.jobs) == 1
    assert not (output / "results.jsonl").exists()
    return submitted


@contextmanager
def emulator_config(emulator: EmulatorProcess, **changes: dict[str, Any]) -> Iterator[None]:
    url = f"{emulator.url}/_emulator/config"
    before = httpx.get(url, timeout=10).json()
    httpx.post(url, json=changes, timeout=10).raise_for_status()
    try:
        yield
    finally:
        httpx.post(url, json={k: before[k] for k in changes}, timeout=10)


def test_a_parked_batch_run_is_finished_by_the_webhook_triggered_deployment(
        prefect_api: PrefectServer, bridge: Bridge, served: dict[str, Any],
        emulator_process: EmulatorProcess, store: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    created_before, started = batches_created(emulator_process), time.time()
    output = tmp_path / "out"
    with emulator_config(emulator_process, batch={"pending_s": 0, "running_s": 4}):
        submitted = park(emulator_process, store, output, "w")

        run = wait_for(lambda: completed_run(prefect_api.api_url, served["id"],
                                             job=submitted.jobs[0]), "collect-on-webhook run")

    assert run["parameters"] == {"job": submitted.jobs[0]}
    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["error"]) for line in lines] == [("w0", None), ("w1", None)]
    assert batches_created(emulator_process) == created_before + 1  # re-attached, not resubmitted
    assert bridge.stats().get("gemini_emitted", 0) >= 1
    assert recorded_paths(output) == [(submitted.jobs[0], "webhook")]
    assert poll_runs_since(prefect_api.api_url, started) == []  # no poll in between


def test_with_deliveries_dropped_the_scheduled_poll_finishes_the_parked_run(
        prefect_api: PrefectServer, bridge: Bridge, served: dict[str, Any],
        emulator_process: EmulatorProcess, store: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    created_before = batches_created(emulator_process)
    emitted_before = bridge.stats().get("gemini_emitted", 0)
    output = tmp_path / "out"
    with emulator_config(emulator_process, batch={"pending_s": 0, "running_s": 4},
                         webhooks={"drop_share": 1.0}), \
            serving(prefect_api, emulator_process, store, tmp_path / "poll-home",
                    "collect-batches", FLASHFIRST_DEPLOY_COLLECT_INTERVAL_S="5"):
        submitted = park(emulator_process, store, output, "d")

        wait_for(lambda: (output / "report.json").exists(), "results written by the poll",
                 deadline_s=180)

    lines = [json.loads(x) for x in (output / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["error"]) for line in lines] == [("d0", None), ("d1", None)]
    assert recorded_paths(output) == [(submitted.jobs[0], "poll")]
    assert batches_created(emulator_process) == created_before + 1  # every look re-attached
    assert bridge.stats().get("gemini_emitted", 0) == emitted_before  # nothing delivered
    assert deployment_runs(prefect_api.api_url, served["id"], job=submitted.jobs[0]) == []
