"""One run context per settings value in a process: the tasks and chunks of a run share
one SDK client, price table and answer store, two backends never share one, and a data
file edited between two runs of a long-lived worker is read again."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.genai import errors
from pydantic import SecretStr

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.items import TaskKind
from flashfirst.run.context import run_context
from flashfirst.settings import BackendSettings, Settings


def test_every_task_on_the_same_settings_shares_one_client_price_table_and_store(
        tmp_path: Path):
    settings = Settings(backend=BackendSettings(base_url="http://127.0.0.1:9"),
                        storage_root=str(tmp_path))
    # What a task receives: the settings as Prefect serialized and rebuilt them.
    again = Settings.model_validate_json(settings.model_dump_json())
    first, second = run_context(settings), run_context(again)
    assert first is second
    assert first.client is second.client
    assert first.prices is second.prices and first.policy is second.policy
    assert first.answers() is second.answers()


def test_two_api_keys_never_share_a_context_nor_a_client(tmp_path: Path):
    def with_key(key: str) -> Settings:
        return Settings(backend=BackendSettings(api_key=SecretStr(key)),
                        storage_root=str(tmp_path))

    # Their JSON is the same (the key is masked in it), their backends are not.
    assert with_key("key-one").model_dump_json() == with_key("key-two").model_dump_json()
    one, two = run_context(with_key("key-one")), run_context(with_key("key-two"))
    assert one is not two
    assert one.backend != two.backend
    assert one.client is not two.client
    assert one.answers() is not two.answers()


def test_a_routing_policy_edited_between_runs_is_read_by_the_next_run(tmp_path: Path):
    policy = tmp_path / "routing.yaml"
    policy.write_text("thinking: {classify: least}\n")
    settings = Settings(backend=BackendSettings(base_url="http://127.0.0.1:9"),
                        storage_root=str(tmp_path), routing_policy_path=policy)
    assert run_context(settings).policy.thinking[TaskKind.CLASSIFY] == "least"
    policy.write_text("thinking: {classify: high}  # more, after all\n")
    assert run_context(settings).policy.thinking[TaskKind.CLASSIFY] == "high"


def test_a_key_corrected_for_the_same_base_url_is_the_key_sent(
        emulator: EmbeddedEmulator, tmp_path: Path):
    """One client per base URL would keep sending the first key a process used (the
    suite's tests share one emulator URL per worker, and a worker's settings can change)."""
    emulator.control.configure(api_key="right-key")

    def with_key(key: str) -> Settings:
        return Settings(backend=BackendSettings(base_url=emulator.base_url,
                                                api_key=SecretStr(key)),
                        storage_root=str(tmp_path))

    wrong = run_context(with_key("wrong-key")).client
    with pytest.raises(errors.ClientError, match="API key not valid"):
        wrong.models.generate_content(model="gemini-2.5-flash-lite", contents="hello")
    right = run_context(with_key("right-key")).client
    assert right.models.generate_content(model="gemini-2.5-flash-lite", contents="hello").text
