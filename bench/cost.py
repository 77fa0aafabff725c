"""The demo workload's cost: naive baseline, actual, and the lower bound, on today's
default models, beside the same workload on the 2.5 generation priced with the old table.

Runs the analyze flow on the demo workload (`flashfirst demo`'s items: video, audio, an
image and questions sharing one large document) against an emulator, in fresh storage
roots so nothing is reused, twice:
- today: the default models (2.5 Flash-Lite, 3.8 Flash, 3.1 Pro Preview) and the packaged
  dated price table, on the emulator's clock of today;
- 2.5: the old defaults (2.5 Flash-Lite, 2.5 Flash, 2.5 Pro) priced with the 2.5 table
  this project shipped before (bench/prices-2.5-table.json), with the emulator's clock on
  2026-11-30, the last day Google served 2.5 Flash and Pro, and the model catalogue as it
  stood that day (no shutdown yet), so the 2.x token rules and thinking budgets apply;
and once more on today's defaults with thinking at every model's default (the packaged
routing policy with its `thinking` emptied): the cost the thinking policy is measured
against. The policy run pays its calibration sample (default settings: on the demo's
small groups the minimum of 5 per task and model means every Flash item), so its saving
is net of it; a fourth run with calibration off shows the policy's saving alone. The
report's own thinking lever (an estimate from that sample) is printed beside the
measured difference.

Run: python bench/cost.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from quiet_prefect import quiet_prefect  # bench/ is the script's folder

OLD_TABLE = Path(__file__).with_name("prices-2.5-table.json")
OLD_MODELS = {"flash_lite": {"id": "gemini-2.5-flash-lite"}, "flash": {"id": "gemini-2.5-flash"},
              "pro": {"id": "gemini-2.5-pro"}}


def catalogue_before_shutdown(folder: Path) -> Path:
    """The packaged catalogue without the 2026-12-01 retirements: the day before."""
    from importlib import resources

    data = json.loads(resources.files("flashfirst.data").joinpath("models.json").read_text())
    for model in data["models"]:
        if model["shutdown"] == "2026-12-01":
            model.update(status="ga", shutdown=None, replacement=None)
    path = folder / "models-2026-11-30.json"
    path.write_text(json.dumps(data))
    return path


def default_thinking_policy(folder: Path) -> Path:
    """The packaged routing policy with no thinking per task: every model's default."""
    from importlib import resources

    import yaml

    policy = yaml.safe_load(resources.files("flashfirst.data").joinpath("routing.yaml")
                            .read_text())
    policy["thinking"] = {}
    path = folder / "routing-default-thinking.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def run_demo(old: bool, default_thinking: bool = False,  # noqa: ANN201
             calibration: bool = True):
    from flashfirst.flows.analyze import analyze_with

    from flashfirst.client import emulator_config
    from flashfirst.demo import demo_params
    from flashfirst.emulator import EmbeddedEmulator
    from flashfirst.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        extra = {"models": OLD_MODELS, "price_table_path": OLD_TABLE,
                 "model_catalogue_path": catalogue_before_shutdown(Path(tmp))} if old else {}
        if default_thinking:
            extra["routing_policy_path"] = default_thinking_policy(Path(tmp))
        if not calibration:
            extra["inference"] = {"calibration_share": 0}
        settings = Settings(storage_root=tmp, **extra)
        with EmbeddedEmulator(emulator_config(settings)) as emu:
            if old:
                last_day = datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp()
                emu.control.advance_clock(last_day - emu.control.now())
            settings = settings.model_copy(update={"backend": settings.backend.model_copy(
                update={"base_url": emu.base_url, "kind": "base_url"})})
            params = demo_params(tmp)
            estimate = analyze_with(params.model_copy(update={"estimate_only": True}),
                                    settings)  # no paid calls, made first
            return analyze_with(params, settings), estimate


def main() -> None:
    quiet_prefect()
    (report, pre_run), (old, _) = run_demo(old=False), run_demo(old=True)
    default, _ = run_demo(old=False, default_thinking=True)
    uncalibrated, _ = run_demo(old=False, calibration=False)
    c, o, d, u = report.costs, old.costs, default.costs, uncalibrated.costs
    print(f"{report.items_ok}/{report.items_total} items, {report.generate_calls} calls "
          f"(2.5 run: {old.items_ok}/{old.items_total}, {old.generate_calls} calls)")
    print(f"{'':<52}{'today':>12}{'2.5 table':>12}")
    print(f"{'naive (all Pro, uncached, original media, standard)':<52}"
          f"${c.naive_usd:>11.6f}${o.naive_usd:>11.6f}")
    old_levers = {lv.name: lv.saving_usd for lv in o.levers}
    for lever in c.levers:
        print(f"  - {lever.name:<48}${lever.saving_usd:>11.6f}"
              f"${old_levers.get(lever.name, 0.0):>11.6f}")
    print(f"{'actual':<52}${c.actual_usd:>11.6f}${o.actual_usd:>11.6f}")
    print(f"{'lower bound (cheapest model, batch, no thinking)':<52}"
          f"${c.lower_bound_usd:>11.6f}${o.lower_bound_usd:>11.6f}")
    saved = d.actual_usd - c.actual_usd
    lever = next(lv for lv in c.levers if lv.name == "thinking")
    estimate = f"${lever.saving_usd:.6f}" if lever.measured else "not measured"
    print(f"thinking at every model's default: ${d.actual_usd:.6f} "
          f"({default.generate_calls} calls); with the policy: ${c.actual_usd:.6f} "
          f"({report.generate_calls} calls, {c.thinking.sample_calls} of them calibration, "
          f"${c.thinking.calibration_usd:.6f}); saved ${saved:.6f} measured, "
          f"{estimate} estimated by the report's thinking lever (at standard prices)")
    print(f"with the policy and calibration off: ${u.actual_usd:.6f} "
          f"(saved ${d.actual_usd - u.actual_usd:.6f}, "
          f"{1 - u.actual_usd / d.actual_usd:.1%}; the lever reads not measured)")
    print(f"actual_usd={c.actual_usd:.6f} naive_usd={c.naive_usd:.6f} "
          f"lower_bound_usd={c.lower_bound_usd:.6f} "
          f"vs_lower_bound={c.actual_usd / c.lower_bound_usd:.2f} "
          f"old_actual_usd={o.actual_usd:.6f} old_naive_usd={o.naive_usd:.6f} "
          f"today_vs_2_5={c.actual_usd / o.actual_usd:.2f} "
          f"thinking_saved_usd={saved:.6f} saved_share={1 - c.actual_usd / d.actual_usd:.3f} "
          f"uncalibrated_saved_share={1 - u.actual_usd / d.actual_usd:.3f} "
          f"estimate_vs_actual={pre_run.usd / c.actual_usd:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
