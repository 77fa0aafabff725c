"""Bad input is refused with the line, the field and the cause, before anything runs;
whatever the input, parsing ends in a result or our own clear error."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from unittest import mock

import pytest
from flashfirst.deployments.notifications import (
    MalformedNotification,
    from_cloudevent,
    from_pubsub_message,
    from_push_envelope,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flashfirst.errors import ConfigError, FlashfirstError
from flashfirst.inputs.discover import ManifestError, read_manifest
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.settings import Settings, load_settings
from flashfirst.storage import Storage

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_a_manifest_with_typos_is_refused_line_by_line_and_nothing_starts(tmp_path: Path):
    manifest = tmp_path / "items.jsonl"
    manifest.write_text("\n".join([
        '{"id": "a", "text": "Parcel late."}',
        '{"id": "b", "text": "hi", "respone_schema": {"type": "object"}}',
        '{"id": "c", "text": "hi", "task": "dance"}',
        '{"id": "a", "text": "the same id again"}',
        '{"id": "d", "text": "hi", "response_schema": {"type": "objekt"}}',
        '{"id": "e", "text": "hi", "media_policy": {"fsp": 0.5}}',
        '{"id": "f", "text": "Refund asked."}',
    ]) + "\n")
    with pytest.raises(ManifestError) as err:
        read_manifest(str(manifest), Storage())
    message = str(err.value)
    for expected in ("line 2, field 'respone_schema': unknown field (did you mean "
                     "'response_schema'?)", "line 3, field 'task'",
                     "line 4, field 'id': 'a' is already the id on line 1",
                     "line 5, field 'response_schema': not a valid JSON Schema",
                     "line 6, field 'media_policy.fsp': unknown field (did you mean 'fps'?)"):
        assert expected in message
    assert err.value.not_started == ["a", "f"]
    assert "not started (these lines are fine): a, f" in message


def test_a_csv_with_an_unknown_column_is_refused_naming_it(tmp_path: Path):
    manifest = tmp_path / "items.csv"
    manifest.write_text("id,text,promt\nx,Parcel late.,Summarize it\n")
    with pytest.raises(ManifestError, match=r"line 1, field 'promt': unknown column \(did you "
                                            r"mean 'prompt'\?\)"):
        read_manifest(str(manifest), Storage())


def test_unknown_fields_of_an_item_in_the_run_parameters_are_refused():
    with pytest.raises(ValidationError, match="medial_policy"):
        AnalyzeParams(items=[{"id": "a", "text": "hi", "medial_policy": {"fps": 0.5}}])
    with pytest.raises(ValidationError, match="drop_audo"):
        WorkItem(id="a", uri="/x.mp4", media_policy={"drop_audo": True})


def test_an_unknown_flashfirst_variable_is_named_with_the_likely_one(monkeypatch):
    monkeypatch.setenv("FLASHFIRST_MODELS__PRO__RMP", "10")
    monkeypatch.setenv("FLASHFIRST_STORAGE_RUT", "/data")
    monkeypatch.setenv("FLASHFIRST_BRIDGE_TOKEN", "read by the bridge's own settings")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "FLASHFIRST_MODELS__PRO__RMP (did you mean FLASHFIRST_MODELS__PRO__RPM?)" in message
    assert "FLASHFIRST_STORAGE_RUT (did you mean FLASHFIRST_STORAGE_ROOT?)" in message
    assert "BRIDGE" not in message


def test_an_invalid_backend_never_shows_the_key_it_was_given(monkeypatch):
    monkeypatch.setenv("FLASHFIRST_BACKEND", json.dumps({"kind": "vertex",
                                                         "api_key": "sk-canary-123456"}))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "FLASHFIRST_BACKEND__VERTEX_PROJECT" in str(err.value)
    assert "sk-canary" not in str(err.value)


# -- fuzzing: any input ends in a result or our own error, quickly ----------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=12)
_field_names = st.sampled_from([*WorkItem.model_fields, "respone_schema", "fps", ""])
_rows = st.dictionaries(_field_names, _json_values, max_size=6)
_lines = st.one_of(_rows.map(json.dumps), st.text(max_size=60))


@FUZZ
@given(lines=st.lists(_lines, max_size=6), csv_text=st.text(max_size=200))
def test_fuzz_manifest_parsing_ends_in_items_or_a_manifest_error(
        tmp_path: Path, lines: list[str], csv_text: str):
    for name, text in (("m.jsonl", "\n".join(lines)), ("m.csv", csv_text)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            items = read_manifest(str(path), Storage())
        except FlashfirstError:
            continue
        assert all(isinstance(i, WorkItem) for i in items)
        assert len({i.id for i in items}) == len(items)


_attributes = st.dictionaries(
    st.sampled_from(["eventType", "bucketId", "objectId", "objectGeneration", "x"]),
    st.sampled_from(["OBJECT_FINALIZE", "OBJECT_DELETE", "b", "a/b.mp4", "12", "-1", ""])
    | st.text(max_size=10), max_size=5)


@FUZZ
@given(data=st.binary(max_size=80) | _json_values.map(lambda v: json.dumps(v).encode()),
       attributes=_attributes, envelope=_json_values,
       headers=st.dictionaries(st.sampled_from(["ce-type", "ce-id", "ce-subject", "ce-source",
                                                "content-type", "x"]),
                               st.text(max_size=40), max_size=5))
def test_fuzz_notification_parsing_ends_in_a_notification_or_a_malformed_error(
        data: bytes, attributes: dict, envelope: object, headers: dict):
    message = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                           "messageId": "1"}}
    attempts = [lambda: from_pubsub_message(data, attributes, "1"),
                lambda: from_push_envelope(message),
                lambda: from_push_envelope(envelope if isinstance(envelope, dict) else {}),
                lambda: from_cloudevent(headers, data)]
    for attempt in attempts:
        try:
            notification = attempt()
        except MalformedNotification:
            continue
        assert notification.object is None or notification.object.generation >= 1


_env_names = st.sampled_from([
    "FLASHFIRST_MEDIA__FPS", "FLASHFIRST_MODELS__PRO__RPM", "FLASHFIRST_MODELS",
    "FLASHFIRST_BACKEND",
    "FLASHFIRST_BACKEND__KIND", "FLASHFIRST_BACKEND__BASE_URL", "FLASHFIRST_BUDGET_USD",
    "FLASHFIRST_INFERENCE__CHUNK_SIZE", "FLASHFIRST_CACHE__ENABLED", "FLASHFIRST_MEDIAA",
    "FLASHFIRST_BACKEND__EMULATOR__PORT", "FLASHFIRST_PRICE_TABLE_PATH"])
_env_values = st.sampled_from(["", "1", "-3", "0.5", "true", "emulator", "http://h:1",
                               "{}", '{"fps": 2}', "[1]", "null", "{not json"]) | st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=12)


@FUZZ
@given(env=st.dictionaries(_env_names, _env_values, max_size=5))
def test_fuzz_settings_end_in_settings_or_a_config_error(env: dict[str, str]):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFIRST_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        try:
            loaded = load_settings()
        except ConfigError:
            return
    assert isinstance(loaded, Settings)
