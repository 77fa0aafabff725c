"""Secrets stay secret: no flow parameter can carry one, and a recognisable API key and
bridge token given to real runs appear nowhere those runs write or Prefect stores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixtures.prefect import PrefectServer, drain_prefect_workers
from flashfirst.flows.analyze import analyze
from flashfirst.flows.cache_janitor import cache_janitor
from flashfirst.flows.on_upload import on_upload
from flashfirst.flows.poll_bucket import poll_bucket
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.utilities.callables import parameter_schema

from flashfirst.demo import demo_params
from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import FlashfirstError
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.storage import Storage

SECRET_WORDS = {"key", "apikey", "token", "secret", "password", "credentials"}


def property_names(schema: object) -> set[str]:
    """Every property name anywhere in a JSON Schema (nested models included)."""
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= property_names(value)
    return names


@pytest.mark.parametrize("flow", [analyze, on_upload, poll_bucket, cache_janitor],
                         ids=lambda f: f.name)
def test_no_deployed_flow_offers_a_secret_field_in_its_run_form(flow):
    schema = parameter_schema(flow.fn).model_dump()
    names = property_names(schema)
    assert names, "the schema lists the parameters' fields"
    assert not [n for n in names if SECRET_WORDS & set(n.lower().split("_"))]


def test_a_recognisable_key_and_token_appear_nowhere_a_run_writes(
        prefect_api: PrefectServer, emulator: EmbeddedEmulator, gcs_bucket: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str], demo_inputs: Callable[[Path], None]):
    key, token = f"sk-canary-{uuid.uuid4().hex}", f"tok-canary-{uuid.uuid4().hex}"
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    store = tmp_path / "store"
    monkeypatch.setenv("FLASHFIRST_BACKEND__API_KEY", key)  # sent to the emulator only
    monkeypatch.setenv("FLASHFIRST_BACKEND__BASE_URL", emulator.base_url)
    monkeypatch.setenv("FLASHFIRST_BRIDGE_TOKEN", token)
    monkeypatch.setenv("FLASHFIRST_STORAGE_ROOT", str(store))
    monkeypatch.setenv("FLASHFIRST_INFERENCE__BACKOFF_BASE_S", "0.02")
    started = datetime.now(UTC)
    written: list[str] = []

    demo_inputs(store)
    params = demo_params(str(store))  # the demo's workload, plus an item that fails
    params = params.model_copy(update={"items": [
        *params.items, WorkItem(id="missing", uri=str(tmp_path / "no-such-file.mp4"))]})
    report = analyze(params)
    assert report.items_ok == report.items_total - 1 and "missing" in report.failures
    uri = f"gs://{gcs_bucket}/incoming/note.txt"
    Storage().write_text(uri, "Parcel late, refund asked.")
    assert on_upload(uri=uri).items_ok == 1
    with pytest.raises(FlashfirstError) as failed:  # a run that cannot start
        analyze(AnalyzeParams(source=str(tmp_path / "nothing-here")))
    written.append(str(failed.value))

    written += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    storage = Storage()
    written += [storage.read_bytes(u).decode(errors="replace")
                for u in storage.list(f"gs://{gcs_bucket}")]
    drain_prefect_workers()
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            start_time=FlowRunFilterStartTime(after_=started)))
        assert {r.name.split("-")[0] for r in runs} >= {"analyze", "on"}
        written += [json.dumps(r.parameters, default=str) for r in runs]
        written += [f"{r.state.message}" for r in runs if r.state]
        written += [json.dumps(a.data, default=str) + (a.description or "")
                    for a in client.read_artifacts(limit=200)]
        ours, logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs])), []
        while page := client.read_logs(log_filter=ours, limit=200, offset=len(logs)):
            logs += page
        assert logs, "the runs' logs reached the server"
        written += [log.message for log in logs]
    written += [caplog.text, *capsys.readouterr()]

    everything = "\n".join(written)
    assert "sk-canary" not in everything and key not in everything
    assert "tok-canary" not in everything and token not in everything
