"""`prefect deploy --all` against a real Prefect server, then a run started by hand (as the
UI's "Run" button does) executed by a process worker: the deployed path, no serving."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fixtures.prefect import PrefectServer
from fixtures.pubsub import EmulatorProcess

PROJECT = Path(__file__).parents[1]
SITE = yaml.safe_load((PROJECT / "prefect.yaml").read_text())["definitions"]["site"]


def prefect_cli(*args: str, env: dict[str, str], cwd: Path = PROJECT,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prefect", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def cli_env(server: PrefectServer, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    return env | {"PREFECT_API_URL": server.api_url, "PREFECT_HOME": str(home)} | extra


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, dict[str, Any]]]:
    """Every deployment of prefect.yaml, deployed to its (process) work pool; removed after."""
    env = cli_env(prefect_server, tmp_path_factory.mktemp("deployer"))
    pool = prefect_cli("work-pool", "create", SITE["work_pool"], "--type", "process",
                       "--overwrite", env=env)
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = prefect_cli("deploy", "--all", env=env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    api = prefect_server.api_url
    found = httpx.post(f"{api}/deployments/filter", json={
        "work_pools": {"name": {"any_": [SITE["work_pool"]]}}}, timeout=30).json()
    deployments = {d["name"]: d for d in found}
    yield deployments
    for deployment in deployments.values():
        httpx.delete(f"{api}/automations/owned-by/prefect.deployment.{deployment['id']}",
                     timeout=30)
        httpx.delete(f"{api}/deployments/{deployment['id']}", timeout=30)


def automations_of(server: PrefectServer, deployment_id: str) -> list[dict[str, Any]]:
    found = httpx.post(f"{server.api_url}/automations/filter", json={}, timeout=30).json()
    return [a for a in found
            if any(action.get("deployment_id") == deployment_id for action in a["actions"])]


def test_deploy_all_registers_every_deployment_from_the_installed_package(
        deployed: dict[str, dict[str, Any]]) -> None:
    assert sorted(deployed) == ["batch", "collect-batches", "collect-on-webhook", "gcs",
                                "gcs-window", "hourly", "manual", "poll", "scheduled"]
    assert all(d["pull_steps"] == [] for d in deployed.values()), "no code to pull"
    assert deployed["scheduled"]["entrypoint"] == "flashfirst.deployments.entrypoints.analyze"
    assert deployed["manual"]["parameters"] == {"params": {"source": SITE["manual_source"]}}
    assert deployed["manual"]["schedules"] == []


def test_schedules_and_concurrency_limits_are_registered(
        deployed: dict[str, dict[str, Any]]) -> None:
    [nightly] = deployed["scheduled"]["schedules"]
    assert nightly["schedule"]["cron"] == SITE["scheduled_cron"]
    assert nightly["schedule"]["timezone"] == SITE["timezone"] and nightly["active"]
    [poll] = deployed["poll"]["schedules"]
    assert poll["schedule"]["interval"] == SITE["poll_interval_s"]
    assert poll["active"] is SITE["poll_enabled"]
    limits = {name: (d["global_concurrency_limit"] or {}).get("limit")
              for name, d in deployed.items()}
    assert limits == {"scheduled": 1, "manual": None, "batch": None, "gcs": 4, "hourly": 1,
                      "poll": 1, "collect-batches": 1, "gcs-window": 2,
                      "collect-on-webhook": 2}
    assert deployed["gcs"]["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert deployed["scheduled"]["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"


def test_the_upload_deployment_gets_its_event_trigger(
        deployed: dict[str, dict[str, Any]], prefect_server: PrefectServer) -> None:
    [automation] = automations_of(prefect_server, deployed["gcs"]["id"])

    assert automation["enabled"] and automation["trigger"]["expect"] == [
        "gcs.object.finalized"]
    assert automation["trigger"]["match"]["gcs.bucket"] == SITE["uploads_bucket"]
    assert automation["actions"][0]["parameters"]["uri"] == "{{ event.resource['gcs.uri'] }}"


def test_deploying_again_replaces_rather_than_duplicates_the_trigger(
        deployed: dict[str, dict[str, Any]], prefect_server: PrefectServer,
        tmp_path: Path) -> None:
    again = prefect_cli("deploy", "--all", env=cli_env(prefect_server, tmp_path))

    assert again.returncode == 0, again.stdout + again.stderr
    assert len(automations_of(prefect_server, deployed["gcs"]["id"])) == 1


def test_a_run_started_by_hand_completes_on_a_process_worker(
        deployed: dict[str, dict[str, Any]], prefect_server: PrefectServer,
        emulator_process: EmulatorProcess, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, text in enumerate(["Parcel late, refund asked.", "Great service, thanks."]):
        (inbox / f"note{n}.txt").write_text(text)
    output = tmp_path / "out"
    run = httpx.post(f"{prefect_server.api_url}/deployments/{deployed['manual']['id']}"
                     "/create_flow_run", json={"parameters": {"params": {
                         "source": str(inbox), "output": str(output)}}}, timeout=30)
    assert run.status_code == 201, run.text

    worker = prefect_cli(
        "worker", "start", "--pool", SITE["work_pool"], "--run-once", cwd=tmp_path,
        env=cli_env(prefect_server, tmp_path / "worker",
                    FLASHFIRST_BACKEND__BASE_URL=emulator_process.url,
                    FLASHFIRST_STORAGE_ROOT=str(tmp_path / "store")))

    state = httpx.get(f"{prefect_server.api_url}/flow_runs/{run.json()['id']}",
                      timeout=30).json()["state"]
    assert state["type"] == "COMPLETED", worker.stdout + worker.stderr
    lines = (output / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and (output / "report.json").exists()


def test_a_deployed_run_refuses_the_embedded_emulator_it_was_not_allowed(
        deployed: dict[str, dict[str, Any]], prefect_server: PrefectServer,
        tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("Parcel late, refund asked.")
    output = tmp_path / "out"
    run = httpx.post(f"{prefect_server.api_url}/deployments/{deployed['manual']['id']}"
                     "/create_flow_run", json={"parameters": {"params": {
                         "source": str(inbox), "output": str(output)}}}, timeout=30)
    assert run.status_code == 201, run.text

    # A worker whose environment says "emulator" (a dev .env copied over, say) but whose
    # deployment never allowed it: the run must fail instead of inventing answers.
    worker = prefect_cli(
        "worker", "start", "--pool", SITE["work_pool"], "--run-once", cwd=tmp_path,
        env=cli_env(prefect_server, tmp_path / "worker", FLASHFIRST_BACKEND__KIND="emulator",
                    FLASHFIRST_STORAGE_ROOT=str(tmp_path / "store")))

    ended = httpx.get(f"{prefect_server.api_url}/flow_runs/{run.json()['id']}",
                      timeout=30).json()
    state = ended["state"]
    assert state["type"] == "FAILED", worker.stdout + worker.stderr
    assert "ALLOW_IN_DEPLOYMENTS" in state["message"] + worker.stdout + worker.stderr
    # Refused once: a setting does not change in the deployment's retry delay.
    assert ended["run_count"] == 1, worker.stdout + worker.stderr
    assert not output.exists() and not (tmp_path / "store").exists()
