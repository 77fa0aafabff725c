"""One hierarchy: a caller can catch every error we raise on purpose with ``FlashfirstError``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from flashfirst.errors import FlashfirstError

ROOT = Path(__file__).resolve().parents[1]
# Folder in the repository → the package it installs as (pyproject package-dir).
PACKAGES = {"flashfirst": "flashfirst", "tasks": "flashfirst.tasks",
            "flows": "flashfirst.flows", "deployments": "flashfirst.deployments"}
# The emulator's wire errors model Google's (google.rpc.Status answers), not ours.
EXEMPT = ROOT / "flashfirst" / "emulator"


def module_files() -> list[tuple[str, Path]]:
    found = []
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if EXEMPT in path.parents:
                continue
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found.append((".".join((package, *parts)), path))
    return found


def test_every_exception_class_we_define_derives_from_flashfirst_error():
    exception_classes, outside = [], []
    for module_name, path in module_files():
        classes = [n.name for n in ast.parse(path.read_text()).body
                   if isinstance(n, ast.ClassDef)]
        if not classes:
            continue
        module = importlib.import_module(module_name)
        for name in classes:
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                exception_classes.append(f"{module_name}.{name}")
                if not issubclass(cls, FlashfirstError):
                    outside.append(f"{module_name}.{name}")
    assert len(exception_classes) > 20  # the walk found the project's errors
    assert outside == []


def test_one_name_for_a_failed_announcement():
    from flashfirst.deployments import dispatch
    from flashfirst.flows import poll_bucket
    from flashfirst.tasks import polling

    from flashfirst.errors import AnnounceFailed

    assert dispatch.AnnounceFailed is polling.AnnounceFailed is AnnounceFailed
    assert not hasattr(poll_bucket, "AnnouncementsFailed")


def test_errors_callers_catch_as_value_errors_still_are():
    from flashfirst.deployments.notifications import MalformedNotification

    from flashfirst.media import NotDelivered

    assert issubclass(NotDelivered, ValueError)
    assert issubclass(MalformedNotification, ValueError)
