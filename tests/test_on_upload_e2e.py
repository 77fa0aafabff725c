"""Acceptance: a file written to a bucket is analyzed, with every part real and in its own
process, as on a self-hosted Prefect:

    upload (google-cloud-storage) -> fake-gcs-server -> Pub/Sub emulator topic
      -> push subscription -> bridge -> Prefect server (event, automation)
      -> on-upload deployment served by `python -m flashfirst.deployments.serve gcs`
      -> flow run -> Gemini emulator -> results.jsonl + report.json in the bucket
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fixtures.gcs import GcsEmulator, stop
from fixtures.prefect import (
    PrefectServer,
    completed_run,
    deployment_runs,
    forget_deployment,
    served_deployment,
    wait_for,
)
from fixtures.pubsub import NOTIFY_TOPIC, UPLOADS_BUCKET, Bridge, EmulatorProcess, gcs_notification
from google.cloud import pubsub_v1

from flashfirst.storage import Storage, split_gcs

DEPLOYMENT = "on-upload/gcs"


@pytest.fixture(scope="module")
def served(prefect_server: PrefectServer, gcs_notifying_server: GcsEmulator,
           emulator_process: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, Any]]:
    """The on-upload deployment served with its trigger, as `flashfirst serve` does it, for
    bucket ``uploads`` and names ``incoming/*``; yields the deployment as Prefect has it."""
    home = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "FLASHFIRST_", "GEMINI_", "GOOGLE_API"))}
    env |= {"PREFECT_API_URL": prefect_server.api_url, "PREFECT_HOME": str(home),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "STORAGE_EMULATOR_HOST": gcs_notifying_server.url,
            "FLASHFIRST_BACKEND__BASE_URL": emulator_process.url,
            "FLASHFIRST_STORAGE_ROOT": str(home / "store"),
            "FLASHFIRST_DEPLOY_UPLOADS_BUCKET": UPLOADS_BUCKET,
            "FLASHFIRST_DEPLOY_UPLOADS_NAMES": "incoming/*"}
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flashfirst.deployments.serve", "gcs"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home,
                                start_new_session=True)
    api = prefect_server.api_url
    try:
        deployment = wait_for(lambda: served_deployment(
            api, DEPLOYMENT, proc, log, **{"gcs.bucket": UPLOADS_BUCKET}), "served deployment")
        yield deployment
    finally:
        stop(proc)
        forget_deployment(api, deployment["id"])


def test_an_uploaded_file_is_analyzed_once_by_the_served_deployment(
        served: dict[str, Any], bridge: Bridge, uploads_bucket: str,
        prefect_server: PrefectServer, emulator_process: EmulatorProcess) -> None:
    calls_before = emulator_process.calls_to("generateContent")
    uri = f"{uploads_bucket}/incoming/{uuid.uuid4().hex}.txt"
    generation = Storage().write_text(uri, "The parcel came two days late; refund asked.")

    run = wait_for(lambda: completed_run(prefect_server.api_url, served["id"], uri=uri),
                   f"completed run for {uri}")

    assert run["parameters"] == {"uri": uri, "generation": generation}
    bucket, name = split_gcs(uri)
    output = f"gs://{bucket}/.flashfirst/results/{name}/{generation}"
    [result] = [json.loads(line) for line in
                Storage().read_text(f"{output}/results.jsonl").splitlines()]
    assert result["id"] == name and result["output"] and result["error"] is None
    report = json.loads(Storage().read_text(f"{output}/report.json"))
    assert report["items_ok"] == 1 and report["output_uri"] == output
    # One item, one call: a group of one is too small to calibrate.
    assert report["generate_calls"] == 1
    assert emulator_process.calls_to("generateContent") == calls_before + 1

    # Pub/Sub delivers at least once: the same notification again, by the topic and direct.
    duplicates = bridge.stats().get("duplicate", 0)
    data, attributes = gcs_notification(bucket, name, generation, size=44)
    pubsub_v1.PublisherClient().publish(NOTIFY_TOPIC, data, **attributes).result()
    envelope = {"message": {"data": base64.b64encode(data).decode(),
                            "attributes": attributes, "messageId": f"again-{uuid.uuid4()}"}}
    assert httpx.post(bridge.endpoint, json=envelope, timeout=30).json()["status"] == \
        "duplicate"
    wait_for(lambda: bridge.stats().get("duplicate", 0) >= duplicates + 2,
             "second duplicate at the bridge")
    assert len(deployment_runs(prefect_server.api_url, served["id"], uri=uri)) == 1
    assert emulator_process.calls_to("generateContent") == calls_before + 1


@pytest.mark.parametrize("token,status", [(None, 401), ("wrong-token", 403)])
def test_a_notification_without_the_right_token_starts_no_run(
        token: str | None, status: int, served: dict[str, Any], bridge: Bridge,
        prefect_server: PrefectServer) -> None:
    name = f"incoming/forged-{uuid.uuid4().hex}.txt"
    data, attributes = gcs_notification(UPLOADS_BUCKET, name, 1)
    envelope = {"message": {"data": base64.b64encode(data).decode(),
                            "attributes": attributes, "messageId": str(uuid.uuid4())}}
    url = f"{bridge.url}/notifications" + (f"?token={token}" if token else "")

    assert httpx.post(url, json=envelope, timeout=30).status_code == status
    assert prefect_server.read_events("gcs.object.finalized",
                                      f"gcs.object.{UPLOADS_BUCKET}/{name}#1") == []
    assert deployment_runs(prefect_server.api_url, served["id"],
                           uri=f"gs://{UPLOADS_BUCKET}/{name}") == []
