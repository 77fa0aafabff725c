"""Fixtures live in tests/fixtures/, one module per real part they start. The hooks below
decide which tests may go to different xdist workers."""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadFileScheduling

pytest_plugins = [
    "fixtures.emulator",
    "fixtures.media",
    "fixtures.gcs",
    "fixtures.prefect_home",
    "fixtures.prefect",
    "fixtures.pubsub",
    "fixtures.browser",
    "fixtures.webhooks",
    "pytester",
]

# Slow files whose tests share no state (no module-scoped fixture, no order between them),
# and slow tests of otherwise quick files: each goes to whichever worker is free, first.
SPREAD = frozenset({
    "tests/test_cli.py",
    "tests/test_autopilot_cli.py",
    "tests/test_platform_cli.py",
    "tests/test_faults.py",
    "tests/test_faults_restarts.py",
    "tests/test_run_state.py",
    "tests/test_unpriced_served_model.py",
    "tests/test_media_split.py",
    "tests/test_import_direction.py::test_installing_adds_only_the_flashfirst_package",
})


def spread(nodeid: str) -> bool:
    return nodeid in SPREAD or nodeid.split("::", 1)[0] in SPREAD


class FilesUnlessSpread(LoadFileScheduling):
    """``--dist loadfile`` (pyproject): a file's tests run on one worker, so its
    module-scoped servers start once; but a ``SPREAD`` test is a unit of its own, so one
    slow file no longer keeps one worker busy while the other has nothing left to do."""

    def _split_scope(self, nodeid: str) -> str:
        return nodeid if spread(nodeid) else super()._split_scope(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadFileScheduling | None:
    return FilesUnlessSpread(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The spread tests first: the workers are handed the collection in its order (with
    ``--no-loadscope-reorder``), and the longest pieces belong at the start."""
    items.sort(key=lambda item: not spread(item.nodeid))  # stable: files keep their order
