"""Which model should fill the flash tier, 3.8 Flash or Gemini 4 Hydrogen, priced from the
packaged dated price table on two days (today's rows and those of 2027-01-01), at each
model's default thinking and at the routing policy's, per 1,000 calls of each task the
policy sends to the flash tier.

Each call: 2,000 uncached input tokens plus, in the "cached" column, a 10,000-token shared
prefix read from the implicit cache (both models cache implicitly from 4,096 tokens); the
answer is the estimate's assumed size for the task (``estimate.ASSUMED_ANSWER_TOKENS``)
and the thoughts our assumed figure for the level the call sends
(``thinking_figures.ASSUMED_THOUGHTS``: 400 low, 800 medium, 2,000 high; Google publishes
no sizes — measure yours with the thinking lever's calibration sample). Escalations are
left out: a failed answer's "think" step goes to the model's default, high on Hydrogen.

Run: python bench/flash_tier.py
"""

from __future__ import annotations

from datetime import date

from flashfirst.gemini.catalogue import load_catalogue
from flashfirst.gemini.thinking import sent, thinking_config
from flashfirst.items import TaskKind
from flashfirst.planning.router import load_routing_policy
from flashfirst.planning.thinking_figures import assumed_thoughts
from flashfirst.pricing.estimate import ASSUMED_ANSWER_TOKENS
from flashfirst.pricing.prices import load_price_table
from flashfirst.settings import ModelTier

MODELS = ("gemini-3.8-flash", "gemini-4-hydrogen")
DAYS = (date(2026, 12, 2), date(2027, 1, 1))
INPUT, PREFIX, CALLS = 2_000, 10_000, 1_000


def call_usd(model: str, task: TaskKind, asked: str | None, day: date, cached: int) -> float:
    info = load_catalogue().get(model)
    thoughts = assumed_thoughts(sent(asked, thinking_config(asked, info), info), info)
    out = ASSUMED_ANSWER_TOKENS[task] + thoughts
    return float(load_price_table().price_tokens(model, input_tokens=INPUT, cached_tokens=cached,
                                                 output_tokens=out, at=day))


def main() -> None:
    policy = load_routing_policy()
    tasks = [t for t, tier in policy.tasks.items() if tier is ModelTier.FLASH]
    print(f"USD per {CALLS:,} calls ({INPUT:,} input tokens; cached: plus a {PREFIX:,}-token "
          "prefix read from the implicit cache)")
    print(f"{'task':<11}{'thinking':<10}{'day':<12}" + "".join(
        f"{m + (' cached' if c else ''):>26}" for c in (0, PREFIX) for m in MODELS))
    totals = {(m, d, th, c): 0.0 for m in MODELS for d in DAYS for th in ("default", "policy")
              for c in (0, PREFIX)}
    for task in tasks:
        for label, asked in (("default", None), ("policy", policy.thinking.get(task))):
            for day in DAYS:
                row = []
                for cached in (0, PREFIX):
                    for model in MODELS:
                        usd = CALLS * call_usd(model, task, asked, day, cached)
                        totals[(model, day, label, cached)] += usd
                        row.append(f"{usd:>26.4f}")
                print(f"{task.value:<11}{label:<10}{day!s:<12}" + "".join(row))
    print("all flash tasks, one call each (ratio Hydrogen / 3.8 Flash):")
    figures = []
    for label in ("default", "policy"):
        for day in DAYS:
            for cached in (0, PREFIX):
                flash, hydrogen = (totals[(m, day, label, cached)] for m in MODELS)
                kind = "cached" if cached else "uncached"
                print(f"  thinking {label:<8} {day}  {kind:<9}"
                      f" 3.8 Flash ${flash:.4f}  Hydrogen ${hydrogen:.4f}  "
                      f"ratio {hydrogen / flash:.2f}")
                figures.append(f"hydrogen_vs_flash_{label}_{day:%Y%m%d}_{kind}="
                               f"{hydrogen / flash:.2f}")
    print(" ".join(figures))


if __name__ == "__main__":
    main()
