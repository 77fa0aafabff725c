"""A batch run's jobs tell Gemini which run they belong to: the webhook delivery of each
job's end carries the run id (and goes to the configured URIs when there are some)."""

from __future__ import annotations

import json

import pytest
from fixtures.webhooks import Receiver
from flashfirst.flows.analyze import analyze_with

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams, RunMode
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")


def items() -> list[WorkItem]:
    return [WorkItem(id=f"n{i}", text=f"Note {i}: the parcel was late.") for i in range(3)]


def test_each_batch_jobs_webhook_delivery_names_the_run_that_submitted_it(
        run_settings: Settings, emulator: EmbeddedEmulator, receiver: Receiver) -> None:
    emulator.control.configure(batch={"pending_s": 0, "running_s": 0})
    run_settings.inference.batch_webhook_uris = [receiver.url]

    report = analyze_with(AnalyzeParams(items=items(), mode=RunMode.BATCH), run_settings)

    assert report.items_ok == 3
    [(headers, body)] = receiver.wait_for(1)
    delivery = json.loads(body)
    assert delivery["type"] == "batch.succeeded"
    metadata = delivery["data"]["user_metadata"]
    assert metadata["flashfirst_run_id"] == report.run_id
    assert metadata["flashfirst_request_key"]
    assert headers["webhook-signature"].count(".") == 2  # a dynamic delivery: a JWT
