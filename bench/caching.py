"""Context caching: never, always, or by our break-even decision.

For a 100k-token shared context on Flash and 10, 100 and 1,000 items, prices from the
price table:
- never: every call sends the context at the input rate;
- always: what a cache-everything pipeline pays: a cache written per run with the API's
  default one-hour TTL, left to expire;
- ours: the break-even decision (cache only where it saves), a TTL covering the run, and
  a reuse window capped where keeping costs more than writing again.
Then one real analyze run of 100 items against the emulator counts the cache API calls
(finding, creating, extending, releasing the cache) per item.

Run: python bench/caching.py
"""

from __future__ import annotations

import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from quiet_prefect import quiet_prefect  # bench/ is the script's folder

CONTEXT_TOKENS, ITEM_TOKENS, OUTPUT_TOKENS = 100_000, 60, 300
MODEL = "gemini-3.8-flash"  # the Flash tier's default model
DEFAULT_TTL_S = 3600.0


def costs(n: int) -> dict[str, Decimal]:
    from flashfirst.caching.decision import decide, expected_run_s, worth_keeping_s
    from flashfirst.pricing.prices import load_price_table
    from flashfirst.settings import Settings

    prices, settings = load_price_table(), Settings()
    spec = settings.models.flash
    calls_uncached = n * prices.price_tokens(MODEL, input_tokens=CONTEXT_TOKENS + ITEM_TOKENS,
                                             output_tokens=OUTPUT_TOKENS)
    calls_cached = n * prices.price_tokens(MODEL, input_tokens=ITEM_TOKENS,
                                           cached_tokens=CONTEXT_TOKENS,
                                           output_tokens=OUTPUT_TOKENS)
    write = prices.cache_write(MODEL, CONTEXT_TOKENS)
    always = calls_cached + write + prices.cache_storage(MODEL, CONTEXT_TOKENS, DEFAULT_TTL_S)
    ttl = max(settings.cache.min_ttl_s,
              expected_run_s(n, spec.rpm, spec.concurrency, 10.0) * settings.cache.ttl_margin)
    decision = decide(model=MODEL, context_tokens=CONTEXT_TOKENS, items=n, ttl_s=ttl,
                      min_tokens=spec.min_cache_tokens, prices=prices)
    keep = min(settings.cache.reuse_window_s, worth_keeping_s(MODEL, prices))
    ours = (calls_cached + write + prices.cache_storage(MODEL, CONTEXT_TOKENS, ttl + keep)
            if decision.create else calls_uncached)
    return {"never": calls_uncached, "always": always, "ours": ours}


def lookups_per_item(n: int) -> tuple[float, int]:
    """A real run: cache API calls seen by the emulator, per item."""
    from flashfirst.flows.analyze import analyze_with

    from flashfirst.emulator import EmbeddedEmulator, EmulatorConfig
    from flashfirst.inputs.context import SharedContext
    from flashfirst.items import WorkItem
    from flashfirst.params import AnalyzeParams
    from flashfirst.settings import BackendSettings, Settings

    with tempfile.TemporaryDirectory() as tmp, EmbeddedEmulator(EmulatorConfig()) as emu:
        doc = Path(tmp) / "context.md"
        doc.write_text("x" * (CONTEXT_TOKENS * 4 - 200))  # 4 characters a token
        settings = Settings(backend=BackendSettings(base_url=emu.base_url), storage_root=tmp)
        # 100 calls × 100k tokens is 10M input tokens: at Tier 1's 1M TPM that alone takes
        # 10 minutes (the limiter paces it); measure lookups at a higher tier's TPM.
        settings.models.flash.tpm = 50_000_000
        analyze_with(AnalyzeParams(
            items=[WorkItem(id=f"q{i}", text=f"Question {i}?") for i in range(n)],
            context=SharedContext(system_instruction="Answer from the document.",
                                  documents=[str(doc)])), settings)
        stats = emu.stats
        cache_calls = sum(sum(by_model.values()) for endpoint, by_model in stats.calls.items()
                          if endpoint.startswith("cachedContents"))
        return cache_calls / n, stats.cache_creations


def main() -> None:
    quiet_prefect()
    print(f"{CONTEXT_TOKENS:,}-token context on {MODEL}, {ITEM_TOKENS} tokens in and "
          f"{OUTPUT_TOKENS} out per item")
    print(f"{'items':>6} {'never':>10} {'always':>10} {'ours':>10}")
    table = {n: costs(n) for n in (10, 100, 1000)}
    for n, c in table.items():
        print(f"{n:>6} " + " ".join(f"${float(c[k]):>9.4f}" for k in ("never", "always", "ours")))
    lookups, created = lookups_per_item(100)
    print(f"real run of 100 items: {lookups * 100:.0f} cache API calls, {created} cache created")
    c = table[100]
    print(f"lookups_per_item={lookups:.3f} saving_vs_always={float(c['always'] - c['ours']):.4f} "
          f"saving_vs_never={float(c['never'] - c['ours']):.4f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
