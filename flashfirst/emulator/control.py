"""Driving a running emulator from a test: change its config, script answers, move its
clock, read its stats. The same operations are served over HTTP under ``/_emulator/``
so a standalone process can be driven too."""

from __future__ import annotations

from typing import Any

from flashfirst.emulator.batches.completion import complete_due_batches
from flashfirst.emulator.config import EmulatorConfig, Script
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.stats import EmulatorStats
from flashfirst.emulator.webhooks.hub import WebhookHub


class EmulatorControl:
    """Thread-safe: every method takes the emulator's lock."""

    def __init__(self, state: EmulatorState, webhooks: WebhookHub) -> None:
        self._state = state
        self._webhooks = webhooks

    @property
    def config(self) -> EmulatorConfig:
        """A copy; change it with ``configure`` or ``set_config``."""
        with self._state.lock:
            return self._state.config.model_copy(deep=True)

    def set_config(self, config: EmulatorConfig) -> None:
        self._state.set_config(config.model_copy(deep=True))

    def configure(self, **patch: Any) -> EmulatorConfig:
        """Merge a partial config, e.g. ``configure(faults={"unavailable_share": 1})``.

        ``models`` may be a dict ``{model_id: {field: value}}`` to change some models'
        fields (``{"gemini-2.5-flash": {"rpm": 2}}``) or a full list to replace them."""
        with self._state.lock:
            current = self._state.config.model_dump()
            models = patch.pop("models", None)
            merged = _deep_merge(current, patch)
            if isinstance(models, dict):
                unknown = set(models) - {m["id"] for m in merged["models"]}
                if unknown:
                    raise KeyError(f"unknown emulated model(s): {sorted(unknown)}")
                merged["models"] = [{**m, **models.get(m["id"], {})} for m in merged["models"]]
            elif models is not None:
                merged["models"] = models
            config = EmulatorConfig.model_validate(merged)
            self._state.set_config(config)
            return config.model_copy(deep=True)

    def add_script(self, script: Script | None = None, **fields: Any) -> Script:
        """Append a rule (``add_script(contains="X", text="not json")``)."""
        rule = script or Script(**fields)
        with self._state.lock:
            scripts = [*self._state.config.scripts, rule]
            self._state.config = self._state.config.model_copy(update={"scripts": scripts})
        return rule

    def clear_scripts(self) -> None:
        with self._state.lock:
            self._state.config = self._state.config.model_copy(update={"scripts": []})
            self._state.script_fires.clear()

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock on: caches expire, batches finish, quotas free up."""
        with self._state.lock:
            self._state.clock_offset += seconds
            return self._state.now()

    def now(self) -> float:
        return self._state.now()

    def stored_interactions(self) -> list[str]:
        """Ids of the interactions the server keeps (a ``store=false`` one is not kept)."""
        with self._state.lock:
            return list(self._state.interactions)

    def reset(self) -> None:
        """Back to the start config and clock, with no files, caches, batches,
        interactions, scripts, quota use, stats or webhooks, and names counted anew."""
        self._state.reset()  # first: with no jobs left, none can be announced in between
        self._webhooks.reset()

    def stats(self) -> EmulatorStats:
        complete_due_batches(self._state)
        return self._state.snapshot_stats()


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
