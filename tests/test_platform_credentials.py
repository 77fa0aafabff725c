"""The Agent Platform backend's credentials: a static token against an emulator, else
Application Default Credentials named in the log (which identity, which project), or a
clear refusal saying how to get some. No network: ADC is read from files only."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flashfirst.client import backend_id, backend_label, make_client
from flashfirst.errors import NoBackendError
from flashfirst.settings import BackendSettings, Settings


@pytest.fixture
def no_ambient_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key file, an empty gcloud config and no metadata server lookup."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud-empty"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def service_account_key(path: Path, email: str, project: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": "k1",
        "private_key": pem, "client_email": email, "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return path


def platform_settings(tmp_path: Path, **backend: object) -> Settings:
    return Settings(storage_root=str(tmp_path / "data"),
                    backend=BackendSettings(kind="vertex", vertex_project="acme-ml",
                                            vertex_location="europe-west4", **backend))


def test_without_credentials_the_platform_backend_says_how_to_get_them(
        no_ambient_adc: None, tmp_path: Path):
    with pytest.raises(NoBackendError) as err:
        make_client(platform_settings(tmp_path))
    message = str(err.value)
    assert "Application Default Credentials" in message
    for way in ("gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS",
                "FLASHFIRST_BACKEND__BASE_URL", "roles/aiplatform.user"):
        assert way in message


def test_the_log_names_the_service_account_and_both_projects(
        no_ambient_adc: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture):
    key = service_account_key(tmp_path / "sa.json", "runner@acme-ci.iam.gserviceaccount.com",
                              "acme-ci")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with caplog.at_level(logging.INFO, logger="flashfirst.client"):
        client = make_client(platform_settings(tmp_path))
    assert client.vertexai
    line = next(r.getMessage() for r in caplog.records if "Agent Platform" in r.getMessage())
    assert "service account runner@acme-ci.iam.gserviceaccount.com" in line
    assert "project acme-ml" in line and "location europe-west4" in line
    assert "Application Default Credentials name project acme-ci" in line
    assert "PRIVATE KEY" not in caplog.text


def test_an_emulator_base_url_needs_no_credentials_and_keeps_its_own_state(
        no_ambient_adc: None, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    emulated = platform_settings(tmp_path, base_url="http://127.0.0.1:9")
    with caplog.at_level(logging.INFO, logger="flashfirst.client"):
        client = make_client(emulated)
    assert client.vertexai
    assert "static token (emulator)" in caplog.text
    assert backend_id(emulated) != backend_id(platform_settings(tmp_path))
    assert backend_label(emulated) == \
        "Agent Platform (acme-ml, europe-west4) at http://127.0.0.1:9"
