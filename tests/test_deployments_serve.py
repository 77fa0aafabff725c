"""`flashfirst serve` as a user starts it: the deployments registered with their triggers,
the bridge answering beside them when a token is set, and a clear refusal without a
Prefect server to talk to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.gcs import free_port, stop, wait_until_up
from fixtures.prefect import PrefectServer


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    return env | extra


@dataclass
class Served:
    bridge_url: str
    token: str
    deployment: dict[str, Any]
    automations: list[dict[str, Any]]


@pytest.fixture(scope="module")
def served_with_bridge(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[Served]:
    """`python -m flashfirst.deployments.serve gcs` with the bridge settings of a site that takes
    uploads from ``gs://site-uploads/inbox/`` (and no FLASHFIRST_DEPLOY_UPLOADS_*)."""
    home = tmp_path_factory.mktemp("serve-bridge")
    port, token = free_port(), f"tok-{uuid.uuid4().hex}"
    env = clean_env(PREFECT_API_URL=prefect_server.api_url, PREFECT_HOME=str(home),
                    FLASHFIRST_BRIDGE_TOKEN=token, FLASHFIRST_BRIDGE_PORT=str(port),
                    FLASHFIRST_BRIDGE_BUCKET="site-uploads", FLASHFIRST_BRIDGE_PREFIX="inbox/")
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flashfirst.deployments.serve", "gcs"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home,
                                start_new_session=True)
    api, deployment = prefect_server.api_url, None
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, log, "served bridge")
        deployment, automations = wait_for_registration(api, proc, log)
        yield Served(f"http://127.0.0.1:{port}", token, deployment, automations)
    finally:
        stop(proc)
        if deployment:
            httpx.delete(f"{api}/automations/owned-by/prefect.deployment.{deployment['id']}",
                         timeout=30)
            httpx.delete(f"{api}/deployments/{deployment['id']}", timeout=30)


def wait_for_registration(api: str, proc: subprocess.Popen[bytes], log: Path,
                          deadline_s: float = 60
                          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The served deployment and its automations, once serve has registered them."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and proc.poll() is None:
        response = httpx.get(f"{api}/deployments/name/on-upload/gcs", timeout=30)
        if response.status_code == 200:
            deployment = response.json()
            automations = [a for a in httpx.post(f"{api}/automations/filter", json={},
                                                 timeout=30).json()
                           if any(x.get("deployment_id") == deployment["id"]
                                  for x in a["actions"])]
            if automations:
                return deployment, automations
        time.sleep(0.5)
    raise AssertionError(f"on-upload/gcs not registered:\n{log.read_text()[-3000:]}")


def test_the_upload_trigger_follows_the_bridge_bucket_and_prefix(
        served_with_bridge: Served) -> None:
    [automation] = served_with_bridge.automations

    assert automation["trigger"]["match"] == {"prefect.resource.id": "gcs.object.*",
                                              "gcs.bucket": "site-uploads",
                                              "gcs.name": "inbox/*"}
    assert served_with_bridge.deployment["global_concurrency_limit"]["limit"] == 4


def test_the_bridge_runs_beside_the_served_flows_and_checks_its_token(
        served_with_bridge: Served) -> None:
    url = f"{served_with_bridge.bridge_url}/notifications"
    envelope = {"message": {"data": "", "messageId": "1",
                            "attributes": {"eventType": "OBJECT_DELETE"}}}

    assert httpx.post(f"{url}?token=nope", json=envelope, timeout=30).status_code == 403
    answer = httpx.post(f"{url}?token={served_with_bridge.token}", json=envelope, timeout=30)
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"


def test_serve_without_a_prefect_server_says_what_to_set(tmp_path: Path) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "flashfirst"), "serve"], cwd=tmp_path,
                          env=clean_env(PREFECT_HOME=str(tmp_path),
                                        FLASHFIRST_BACKEND__BASE_URL="http://127.0.0.1:9"),
                          capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 2
    assert "PREFECT_API_URL is not set" in done.stderr
