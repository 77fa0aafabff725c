"""Settings: read once from the environment, wrong values named, secrets kept secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from flashfirst.client import backend_label, make_client
from flashfirst.errors import ConfigError, NoBackendError
from flashfirst.settings import BackendSettings, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "FLASHFIRST_BACKEND__API_KEY",
                 "FLASHFIRST_BACKEND__KIND"):
        monkeypatch.delenv(name, raising=False)


def test_a_wrong_value_fails_at_start_naming_the_variable(monkeypatch):
    monkeypatch.setenv("FLASHFIRST_MEDIA__FPS", "fast")
    monkeypatch.setenv("FLASHFIRST_MODELS__PRO__RPM", "-3")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "FLASHFIRST_MEDIA__FPS" in str(err.value)
    assert "FLASHFIRST_MODELS__PRO__RPM" in str(err.value)


def test_one_field_of_a_model_can_change_alone(monkeypatch):
    monkeypatch.setenv("FLASHFIRST_MODELS__FLASH__RPM", "2000")
    models = load_settings().models
    assert models.flash.rpm == 2000 and models.flash.id == "gemini-3.8-flash"


def test_the_api_key_comes_from_googles_variable_and_never_shows(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-very-secret")
    settings = load_settings()
    assert settings.backend.kind == "api_key"
    for text in (repr(settings), str(settings), settings.model_dump_json(),
                 backend_label(settings)):
        assert "AIza-very-secret" not in text
    monkeypatch.setenv("FLASHFIRST_BACKEND__TIMEOUT_S", "soon")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "AIza-very-secret" not in str(err.value)


def test_an_explicit_base_url_wins_and_must_be_a_url():
    with pytest.raises(ConfigError, match="FLASHFIRST_BACKEND__BASE_URL"):
        load_settings(backend={"base_url": "localhost:8799"})
    settings = Settings(backend=BackendSettings(base_url="http://127.0.0.1:1/",
                                                api_key=SecretStr("k")))
    assert settings.backend.kind == "base_url"
    assert settings.backend.base_url == "http://127.0.0.1:1"


def test_without_credentials_nothing_answers_and_the_message_says_what_to_set(tmp_path):
    settings = Settings(storage_root=str(tmp_path))
    assert settings.backend.kind is None  # never the emulator by default
    with pytest.raises(NoBackendError) as err:
        make_client(settings)
    for way in ("GEMINI_API_KEY", "FLASHFIRST_BACKEND__VERTEX_PROJECT",
                "FLASHFIRST_BACKEND__BASE_URL", "FLASHFIRST_BACKEND__KIND=emulator"):
        assert way in str(err.value)


def test_a_kind_without_what_it_needs_is_named(monkeypatch):
    monkeypatch.setenv("FLASHFIRST_BACKEND__KIND", "vertex")
    with pytest.raises(ConfigError, match="FLASHFIRST_BACKEND__VERTEX_PROJECT"):
        load_settings()
    monkeypatch.setenv("FLASHFIRST_BACKEND__KIND", "api_key")
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        load_settings()
    monkeypatch.setenv("FLASHFIRST_BACKEND__KIND", "gemini")
    with pytest.raises(ConfigError, match="FLASHFIRST_BACKEND__KIND"):
        load_settings()


def test_the_embedded_emulator_answers_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHFIRST_BACKEND__KIND", "emulator")
    settings = load_settings(storage_root=str(tmp_path))
    assert settings.backend.kind == "emulator"
    client = make_client(settings)  # keep it: the SDK closes its HTTP client on __del__
    answer = client.models.generate_content(model=settings.models.flash.id,
                                            contents="Say hello.")
    assert answer.text and answer.usage_metadata.prompt_token_count > 0


def test_a_missing_price_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="FLASHFIRST_PRICE_TABLE_PATH"):
        load_settings(price_table_path=tmp_path / "nope.json")
