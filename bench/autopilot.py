"""The autopilot's cost per passing answer against the static routing policy and against
all-Pro, on a workload whose answer quality the emulator knows (its own quality table,
below), with the floor 0.9.

Three tasks carry checks: classify (the policy sends it to 2.5 Flash-Lite at least
thinking, which passes 60%: the ladder pays for the rest), extract (policy: 3.8 Flash at
least; 2.5 Flash-Lite passes 97% for a fraction of the price) and reason (policy: 3.1 Pro
at default thinking, ~9k thoughts; 3.8 Flash at high passes 98%, the Gemini 4 models 99%
at default thinking, the other Flash and Flash-Lite models half the time; for classify
and extract, models the table does not list pass 99%). The autopilot's candidates are
every model the catalogue serves and prices today (issue 23, item 2). Each arm runs two sets
of items in one storage root (a warm-up set, then a fresh set): the autopilot's second
run exploits what the first measured. Cost per passing answer = what the arm paid over
the answers that passed their check (after the escalation ladder).

Run: python bench/autopilot.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from quiet_prefect import quiet_prefect  # bench/ is the script's folder

FLOOR = 0.9
PER_SET = 40
QUALITY = [
    {"match": r"^Label ticket", "correct": "POSITIVE", "wrong": "NEGATIVE",
     "pass_rate": {"gemini-2.5-flash-lite": {"0": 0.6},
                   "gemini-3.8-flash": {"low": 0.97, "default": 0.98, "high": 0.99}},
     "default": 0.99},
    {"match": r"^Extract invoice", "correct": "TOTAL 120.50", "wrong": "TOTAL unknown",
     "pass_rate": {"gemini-2.5-flash-lite": {"0": 0.97, "24576": 0.98}}, "default": 0.99},
    {"match": r"^Reason about plan", "correct": "ANSWER 42", "wrong": "ANSWER 41",
     "pass_rate": {"gemini-2.5-flash-lite": {"0": 0.2, "24576": 0.5},
                   "gemini-3.8-flash": {"low": 0.6, "default": 0.8, "high": 0.98},
                   **{m: {"low": 0.9, "default": 0.99, "high": 0.99, "xhigh": 0.99}
                      for m in ("gemini-3.1-pro-preview", "gemini-4-neon", "gemini-4-argon",
                                "gemini-4-carbon", "gemini-4-hydrogen")}},
     "default": 0.5},  # the other Flash and Flash-Lite models of the catalogue
]
CHECKS = {"classify": ("Label ticket", "regex:^POSITIVE$"),
          "extract": ("Extract invoice", r"regex:^TOTAL \d"),
          "reason": ("Reason about plan", "regex:^ANSWER 42$")}


def items(first: int):  # noqa: ANN201 - WorkItems
    from flashfirst.items import TaskKind, WorkItem

    return [WorkItem(id=f"{task}-{i:03d}", task=TaskKind(task), check=check,
                     text=f"{prefix} {i}: case number {i * 7919 % 1000}.")
            for task, (prefix, check) in CHECKS.items() for i in range(first, first + PER_SET)]


def all_pro_policy(folder: Path) -> Path:
    path = folder / "all-pro.yaml"
    path.write_text("default_tier: pro\ntasks: {}\nrules: []\nthinking: {}\n")
    return path


def run_arm(autopilot: bool, pro: bool = False):  # noqa: ANN201 - two RunReports
    from flashfirst.flows.analyze import analyze_with

    from flashfirst.client import emulator_config
    from flashfirst.emulator import EmbeddedEmulator
    from flashfirst.params import AnalyzeParams
    from flashfirst.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        extra = {"routing_policy_path": all_pro_policy(Path(tmp))} if pro else {}
        settings = Settings(storage_root=tmp, inference={"calibration_share": 0,
                                                         "failure_threshold": 1.0}, **extra)
        config = emulator_config(settings).model_copy(update={"state_dir": None})
        with EmbeddedEmulator(config) as emu:
            emu.control.configure(quality=QUALITY)
            settings = settings.model_copy(update={"backend": settings.backend.model_copy(
                update={"base_url": emu.base_url, "kind": "base_url"})})
            return [analyze_with(AnalyzeParams(items=items(first), autopilot=autopilot,
                                               quality_floor=FLOOR if autopilot else None),
                                 settings) for first in (0, 1000)]


def wire_key(model: str, thinking: str) -> tuple[str, str]:
    """(thinking as the emulator's quality table keys it, model) for a candidate."""
    from flashfirst.gemini.catalogue import load_catalogue
    from flashfirst.gemini.thinking import thinking_config

    config = thinking_config(thinking, load_catalogue().get(model))
    key = ("default" if config is None else str(config.thinking_budget)
           if config.thinking_budget is not None else
           str(getattr(config.thinking_level, "value", config.thinking_level)).lower())
    return key, model


def main() -> None:
    quiet_prefect()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    arms = {"static policy": run_arm(False), "all Pro": run_arm(False, pro=True),
            "autopilot": run_arm(True)}
    cpp = {}
    print(f"{'arm':<16}{'run':>5}{'items ok':>10}{'USD':>12}{'$/passing answer':>18}")
    for name, runs in arms.items():
        for n, r in enumerate(runs, 1):
            print(f"{name:<16}{n:>5}{r.items_ok:>6}/{r.items_total:<3}"
                  f"{r.costs.actual_usd:>12.6f}{r.costs.actual_usd / max(1, r.items_ok):>18.8f}")
        spent = sum(r.costs.actual_usd for r in runs)
        cpp[name] = spent / max(1, sum(r.items_ok for r in runs))
    held, explored, spent = True, 0.0, 0.0
    for n, r in enumerate(arms["autopilot"], 1):
        a = r.autopilot
        explored += a.exploration_usd
        spent += a.run_spend_usd
        print(f"autopilot run {n}: {a.lever_line()}")
        for t in a.tasks:
            key, model = wire_key(*t.choice.split("@"))
            rule = next(q for q in QUALITY if q["match"].lstrip("^") in CHECKS[t.group.split(
                ":")[0]][0])
            truth = rule["pass_rate"].get(model, {}).get(key, rule["default"])
            print(f"  {t.group}: {t.choice} (true pass rate {truth:.2f}), explored "
                  f"{t.explored_items} items; {t.why}")
            held = held and (truth >= FLOOR or not t.floor_met)
        held = held and r.items_ok / r.items_total >= FLOOR
    share = explored / spent if spent else 0.0
    print(f"cost per passing answer: autopilot ${cpp['autopilot']:.8f}, static policy "
          f"${cpp['static policy']:.8f}, all Pro ${cpp['all Pro']:.8f}")
    print(f"saved vs all Pro: {1 - cpp['autopilot'] / cpp['all Pro']:.3f}")
    print(f"saved_vs_policy={1 - cpp['autopilot'] / cpp['static policy']:.3f} "
          f"floor_held={str(held).lower()} exploration_share={share:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
