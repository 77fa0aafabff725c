"""`flashfirst webhooks register`, run as a user runs it: the static webhook is created
once, its secret printed once on stdout for the bridge's environment and nowhere else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fixtures.emulator import client_for

from flashfirst.emulator import EmbeddedEmulator

BRIDGE = "https://bridge.example.com/gemini-webhooks"


def flashfirst(*args: str, emulator: EmbeddedEmulator, cwd: Path
               ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASHFIRST_", "PREFECT_", "GEMINI_", "GOOGLE_API"))}
    env |= {"FLASHFIRST_BACKEND__BASE_URL": emulator.base_url,
            "FLASHFIRST_STORAGE_ROOT": str(cwd / "store")}
    exe = Path(sys.executable).with_name("flashfirst")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_register_creates_the_webhook_once_and_prints_its_secret_once(
        emulator: EmbeddedEmulator, tmp_path: Path) -> None:
    first = flashfirst("webhooks", "register", BRIDGE, emulator=emulator, cwd=tmp_path)
    again = flashfirst("webhooks", "register", BRIDGE, emulator=emulator, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    [line] = first.stdout.splitlines()
    name, _, secret = line.partition("=")
    assert name == "FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET" and secret.startswith("whsec_")
    assert secret not in first.stderr
    assert again.returncode == 0 and again.stdout == ""
    assert "already delivers" in again.stderr
    with client_for(emulator.base_url) as client:
        hooks = client.webhooks.list().webhooks or []
    assert [(h.uri, sorted(h.subscribed_events)) for h in hooks] == [(BRIDGE, sorted([
        "batch.succeeded", "batch.failed", "batch.expired", "interaction.completed",
        "interaction.failed"]))]


def test_register_refuses_a_plain_http_address(emulator: EmbeddedEmulator,
                                               tmp_path: Path) -> None:
    refused = flashfirst("webhooks", "register", "http://bridge.example.com/gemini-webhooks",
                         emulator=emulator, cwd=tmp_path)

    assert refused.returncode != 0
    assert "https://" in refused.stderr
    with client_for(emulator.base_url) as client:
        assert not (client.webhooks.list().webhooks or [])
