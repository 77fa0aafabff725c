"""The run report for people: markdown (Prefect artifact), a terminal table, an SVG chart."""

from __future__ import annotations

import base64
import heapq
from collections import Counter
from html import escape

from rich.console import Console
from rich.markup import escape as escape_markup
from rich.table import Table

from flashfirst.autopilot.summary import AutopilotReport
from flashfirst.failures import FailureKind
from flashfirst.inputs.skipped import skipped_line
from flashfirst.items import ItemMedia, MediaPolicy
from flashfirst.reporting.ledger import Lever, ModelCost
from flashfirst.reporting.report import RunReport


def _money(x: float) -> str:
    return f"${x:,.6f}" if abs(x) < 1 else f"${x:,.4f}"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _saved(lv: Lever) -> str:
    """A lever nobody observed reads "not measured", never a number."""
    return _money(lv.saving_usd) if lv.measured else "not measured"


def headline(r: RunReport) -> str:
    c = r.costs
    return (f"{r.items_ok}/{r.items_total} items ok, {r.items_failed} failed, "
            f"{r.items_reused} reused · actual {_money(c.actual_usd)} vs naive "
            f"{_money(c.naive_usd)} (saved {_money(c.saving_usd)}, "
            f"{_pct(c.saving_usd, c.naive_usd)}) · lower bound {_money(c.lower_bound_usd)} · "
            f"{r.generate_calls} model calls · {r.wall_s:.1f}s")


def to_markdown(r: RunReport) -> str:
    c = r.costs
    lines = [f"# flashfirst run `{r.run_id}`", "", headline(r), "",
             *(f"**{line}**\n" for line in r.stop_lines()),
             f"Backend: {r.backend} · price table {r.price_table_version}", "",
             *_provisional(r), "## Cost, naive → actual", "", "| step | USD | saved |",
             "|---|---:|---:|",
             f"| naive | {_money(c.naive_usd)} | |"]
    # Short names beside the amounts, the long words after the table: in the Prefect UI a
    # long cell pushes the money columns out of view.
    lines += [f"| {lv.name} | | {_saved(lv)} |" for lv in c.levers]
    lines += [f"| **actual** | **{_money(c.actual_usd)}** | **{_money(c.saving_usd)}** |",
              f"| lower bound | {_money(c.lower_bound_usd)} | |", "",
              "- **naive**: all Pro, no cache, original media, standard tier",
              *(f"- **{lv.name}**: {lv.explanation}" for lv in c.levers),
              "- **lower bound**: cheapest model, batch price, no thinking", "",
              *autopilot_markdown(r.autopilot),
              "```", *_text_bars(r), "```", "",
              "## Per model", "", "| model | calls | prompt | cached | output | thoughts | USD |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {_priced(m)} | {m.calls} | {m.prompt_tokens} | {m.cached_tokens} | "
              f"{m.output_tokens} | {m.thoughts_tokens} | {_money(m.cost_usd)} |"
              for m in c.per_model]
    lines += ["", f"Cache writes {_money(c.cache_write_usd)}, storage "
              f"{_money(c.cache_storage_usd)}.", "", "## Per stage", "",
              "| stage | seconds | USD |", "|---|---:|---:|"]
    lines += [f"| {s.stage} | {s.seconds:.2f} | {_money(s.cost_usd)} |" for s in r.stages]
    lines += ["", "## Routing", "", *(f"- {m}" for m in r.mode_choices),
              "", "| model | items |", "|---|---:|"]
    lines += [f"| {m} | {n} |" for m, n in sorted(r.routing_split.items())]
    if r.served_by:
        lines += ["", "Served by another model than requested (priced as the one that "
                  "served, unless said):", ""] + [f"- {s.line()}{_stand_in(s.priced_as)}"
                                                   for s in r.served_by]
    if r.escalation:
        lines += ["", "| task | items | escalated | rate |", "|---|---:|---:|---:|"]
        lines += [f"| {e.task} | {e.items} | {e.escalated} | {e.rate:.0%} |"
                  for e in r.escalation]
    if r.first_pass:
        lines += ["", "Passed validation first time, per task and thinking setting sent:", "",
                  "| task | thinking | items | passed first | share |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {f.task} | {f.setting} | {f.items} | {f.passed_first} | {f.share:.0%} |"
                  for f in r.first_pass]
    m = r.media
    lines += ["", "## Media", "",
              f"{m.items} media items: bytes {m.bytes_before:,} → {m.bytes_after:,}, tokens "
              f"{m.tokens_before:,} → {m.tokens_after:,}; {m.prepared_now} prepared now, "
              f"{m.reused} reused, {m.uploaded} uploaded.", ""]
    lines += [*(f"- {line}" for line in m.fitted), ""] if m.fitted else []
    lines += [f"_{m.note}_", "", "## Caches", ""]
    lines += [f"- {d.model}: {d.reason}" for d in r.cache.decisions] or ["- no shared context"]
    lines += [f"- {r.cache.created} created, {r.cache.reused} reused, {r.cache.recreated} "
              f"recreated; {r.cache.calls_with_cache_hits} calls hit a cache; "
              f"{r.cache.api_calls} cache API calls."]
    if r.failures:
        lines += ["", "## Failures", "", "| kind | items |", "|---|---:|"]
        lines += [f"| {kind} | {n} |" for kind, n in r.failure_kinds.items()]
        lines += ["", "| kind | item | cause |", "|---|---|---|"]
        lines += [f"| {kind} | {i} | {escape(cause)} |" for kind, i, cause in _failed(r)]
    if r.batch_collection:
        lines += ["", "## Batch jobs collected", "", *(f"- {j.line()}"
                                                       for j in r.batch_collection)]
    if r.budget_usd is not None:
        lines += ["", f"Budget ${r.budget_usd}: {r.budget_stopped} items not dispatched."]
    if r.skipped_inputs:
        lines += ["", "## Skipped inputs", "", "Found in the source, not run:", "",
                  "| file | reason | why |", "|---|---|---|"]
        lines += [f"| {_cell(s.name)} | {s.reason} | {_cell(s.detail)} |"
                  for s in r.skipped_inputs]
    return "\n".join(lines) + "\n"


def autopilot_markdown(a: AutopilotReport | None) -> list[str]:
    """The autopilot's lever line and, per task, its candidates and choice."""
    if a is None:
        return []
    lines = ["## Autopilot", "", f"**{a.lever_line()}**", "",
             f"Decisions on a {a.bound} at {a.confidence:.0%}.", ""]
    for t in a.tasks:
        lines += [f"### {t.group} → `{t.choice}` (floor {t.floor:.2f}"
                  f"{f', {t.state}' if t.state else ''})",
                  "", t.why, "",
                  *(f"- re-opened: {why}" for why in t.reopened),
                  *(f"- dropped for this run: {c} ({why})" for c, why in t.dropped.items()),
                  f"- items {t.items} ({t.explored_items} exploring, "
                  f"{_money(t.exploration_usd)}), {t.passing} passed, spent "
                  f"{_money(t.spend_usd)}; saving vs the policy's route "
                  f"{t.policy_route}: {_money(t.saving_usd)} ({t.policy_sample})", "",
                  "| candidate | sends | n | pass rate | bounds | $/call | $/passing answer "
                  "| status |", "|---|---|---:|---:|---|---:|---:|---|"]
        lines += [f"| {c.candidate} | {c.sends} | {c.n} | "
                  f"{'' if c.pass_rate is None else f'{c.pass_rate:.3f}'} | "
                  f"{c.lower:.3f}–{c.upper:.3f} | {c.cost_per_call_usd:.6f}"
                  f"{'' if c.cost_measured else ' (est.)'} | "
                  f"{'' if c.cost_per_pass_usd is None else f'{c.cost_per_pass_usd:.6f}'} | "
                  f"{c.status} |" for c in t.candidates]
        lines.append("")
    if a.held:
        reasons = Counter(a.held.values())
        lines += [f"- {n} item(s) on the policy's route: {why}" for why, n in reasons.items()]
        lines.append("")
    return lines


def _cell(text: str) -> str:
    """Text inside a markdown table cell: HTML-escaped, its pipes kept as text."""
    return escape(text).replace("|", "\\|")


def _provisional(r: RunReport) -> list[str]:
    """Said first, before any figure: which figures are provisional and why."""
    if not r.costs_provisional:
        return []
    return ["**Costs are provisional**: models the price table lacks served calls, priced "
            "by a stand-in row until the table has theirs (FLASHFIRST_PRICE_TABLE_PATH).", "",
            *(f"- {p.line(r.price_table_version)}" for p in r.provisional_prices), ""]


def _stand_in(priced_as: str | None) -> str:
    return f" (priced provisionally as {priced_as})" if priced_as else ""


def _priced(m: ModelCost) -> str:
    return f"{m.model} (priced as {m.priced_as})" if m.priced_as else m.model


def _failed(r: RunReport) -> list[tuple[str, str, str]]:
    """(kind, item, cause) of every failed item, grouped by kind."""
    kinds = {i.id: i.failure_kind for i in r.items if i.id in r.failures}
    return sorted((str(kinds.get(i) or FailureKind.UNCLASSIFIED), i, cause)
                  for i, cause in r.failures.items())


def _text_bars(r: RunReport, width: int = 40) -> list[str]:
    c = r.costs
    top = max(c.naive_usd, c.actual_usd, 1e-12)
    rows = [("naive", c.naive_usd, None)] + [
        (f"- {lv.name}", lv.saving_usd, None if lv.measured else "not measured")
        for lv in c.levers]
    rows += [("actual", c.actual_usd, None), ("lower bound", c.lower_bound_usd, None)]
    return [f"{name:<16} {'█' * max(0, round(width * v / top)):<{width}} {note or _money(v)}"
            for name, v, note in rows]


ITEMS_TABLE_ROWS = 1000
"""The items table artifact's rows at most: Prefect stores an artifact as one JSON value
and its UI renders every row, so a run of a million items shows the lines a user looks
for (failed first, then the most expensive) and report.json/results.jsonl hold them all."""


def items_table(r: RunReport, limit: int = ITEMS_TABLE_ROWS) -> list[dict[str, object]]:
    """One row per item in the report's order; over ``limit`` items, the failed and the
    most expensive ``limit`` of them."""
    lines = r.items if len(r.items) <= limit else heapq.nsmallest(
        limit, r.items, key=lambda i: (i.failure_kind is None, -i.cost_usd, i.id))
    return [{"item": i.id, "task": i.task, "models": " → ".join(i.models),
             "tier": i.service_tier or "", "usd": round(i.cost_usd, 6),
             "escalated": i.escalated, "reused": i.reused,
             "provisional": i.cost_provisional,
             "failure": str(i.failure_kind or ""), "error": i.error or ""}
            for i in lines]


def chart_markdown(r: RunReport) -> str:
    """The SVG chart inline, as a ``data:`` URI: Prefect's UI renders markdown images from
    one (it does not render inline ``<svg>``), and a browser on any machine can show it,
    unlike a ``file://`` link. The bars' figures follow as text."""
    svg = base64.b64encode(to_svg(r).encode()).decode()
    return "\n".join([f"![Cost by lever, naive → actual](data:image/svg+xml;base64,{svg})",
                      "", "```", *_text_bars(r), "```", ""])


def describe_policy(p: MediaPolicy) -> str:
    """The token-reducing choices a policy made, or 'as is'."""
    parts = [f"{p.fps:g} fps"] if p.fps else []
    if p.media_resolution and p.media_resolution.value != "default":
        parts.append(f"{p.media_resolution.value} resolution")
    if p.trim_start_s or p.trim_end_s:
        end = f"{p.trim_end_s:g}" if p.trim_end_s else "end"
        parts.append(f"trim {p.trim_start_s or 0:g}-{end} s")
    parts += [name for name, on in (("no audio", p.drop_audio),
                                    ("silence removed", p.remove_silence),
                                    ("keyframes as images", p.keyframes_as_images)) if on]
    return ", ".join(parts) or "as is"


def media_table(media: list[tuple[str, ItemMedia]]) -> list[dict[str, object]]:
    """Per media item (by id): bytes and billed tokens before and after, and the policy
    applied."""
    return [{"item": item_id, "bytes before": m.bytes_before, "bytes after": m.bytes_after,
             "tokens before": m.tokens_before, "tokens after": m.tokens_after,
             "policy": describe_policy(m.policy)}
            for item_id, m in sorted(media, key=lambda e: e[0])]


def print_report(r: RunReport, console: Console | None = None) -> None:
    console = console or Console()
    c = r.costs
    table = Table(title=f"flashfirst run {r.run_id}", show_lines=False)
    table.add_column("")
    table.add_column("USD", justify="right")
    table.add_row("naive (all Pro, no cache, original media)", _money(c.naive_usd))
    for lv in c.levers:
        table.add_row(f"  saved by {lv.name}", _saved(lv))
    table.add_row("[bold]actual[/bold]", f"[bold]{_money(c.actual_usd)}[/bold]")
    table.add_row("lower bound", _money(c.lower_bound_usd))
    console.print(table)
    m = r.media
    console.print(
        f"items {r.items_ok}/{r.items_total} ok, {r.items_failed} failed, {r.items_reused} "
        f"reused · calls {r.generate_calls} · routing "
        + ", ".join(f"{k}={v}" for k, v in sorted(r.routing_split.items()))
        + f"\nmedia bytes {m.bytes_before:,} → {m.bytes_after:,} · tokens {m.tokens_before:,} → "
        f"{m.tokens_after:,} · prepared {m.prepared_now}, reused {m.reused}, uploaded "
        f"{m.uploaded}\ncaches created {r.cache.created}, reused {r.cache.reused}, calls with "
        f"cache hits {r.cache.calls_with_cache_hits} · wall {r.wall_s:.1f}s")
    for line in m.fitted:
        console.print(f"fitted: {escape_markup(line)}", highlight=False)
    if r.autopilot is not None:
        console.print(r.autopilot.lever_line(), highlight=False, soft_wrap=True)
        for t_line in r.autopilot.tasks:
            console.print(f"  {t_line.group}: {t_line.choice} — {t_line.why}",
                          highlight=False, soft_wrap=True)
    t = c.thinking
    if t.sample_calls:
        console.print(f"thinking lever: an estimate from {t.sample_calls} calibration calls "
                      f"at default thinking ({_money(t.calibration_usd)} of the cost), range "
                      f"{_money(t.low_usd)} to {_money(t.high_usd)}", highlight=False)
    for s in r.served_by:
        console.print(f"[yellow]{s.line()}[/yellow] (priced as {s.served})"
                      if s.priced_as is None else f"[yellow]{s.line()}[/yellow]"
                      f"{_stand_in(s.priced_as)}", highlight=False)
    for p in r.provisional_prices:
        console.print(f"[yellow]provisional cost:[/yellow] {p.line(r.price_table_version)}",
                      highlight=False)
    for kind, item_id, cause in _failed(r):
        console.print(f"[red]failed[/red] ({kind}) {item_id}: {cause}", highlight=False)
    if skipped := skipped_line(r.skipped_inputs):
        console.print(f"[yellow]{escape_markup(skipped)}[/yellow]", highlight=False)


def to_svg(r: RunReport) -> str:
    """A waterfall bar chart: naive, each lever's saving, actual, lower bound."""
    c = r.costs
    bars: list[tuple[str, float, float, str]] = [("naive", 0.0, c.naive_usd, "#9e9e9e")]
    level = c.naive_usd
    for lv in c.levers:
        if not lv.measured:
            continue  # no bar for a saving nobody observed
        bars.append((lv.name, level - lv.saving_usd, level, "#43a047" if lv.saving_usd >= 0
                     else "#e53935"))
        level -= lv.saving_usd
    bars += [("actual", 0.0, c.actual_usd, "#1e88e5"),
             ("lower bound", 0.0, c.lower_bound_usd, "#8e24aa")]
    top = max(max(hi, lo) for _, lo, hi, _ in bars) or 1.0
    w, h, pad, bw = 640, 300, 40, 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{pad}" y="18" font-size="13">Cost by lever, naive → actual (USD)</text>']
    for i, (name, lo, hi, color) in enumerate(bars):
        x = pad + i * (bw + 16)
        y_hi = h - pad - (max(lo, hi) / top) * (h - 2 * pad)
        height = abs(hi - lo) / top * (h - 2 * pad)
        parts.append(f'<rect x="{x}" y="{y_hi:.1f}" width="{bw}" height="{max(height, 1):.1f}" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{x}" y="{h - pad + 14}">{escape(name)}</text>')
        parts.append(f'<text x="{x}" y="{y_hi - 4:.1f}">{hi - lo:.4g}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
