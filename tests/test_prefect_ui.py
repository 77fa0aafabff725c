"""The Prefect UI as a person sees it, read by headless Chromium from a real Prefect server:
after a demo run, the run's artifacts show the report, the per-item tables and the cost
chart; the manual deployment's run form shows every analyze parameter with its
description."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import get_type_hints

import httpx
import pytest
from fixtures.browser import Browser, Page
from fixtures.prefect import PrefectServer
from flashfirst.flows.analyze import analyze

from flashfirst.demo import demo_params
from flashfirst.reporting.report import RunReport
from flashfirst.run.overrides import in_process_settings
from flashfirst.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_api")

TEXT = "document.body ? document.body.innerText : ''"
KEYS = ["flashfirst-report", "flashfirst-items", "flashfirst-media", "flashfirst-cost-chart"]


# Each cell of the cost table holding an amount: its text, and whether a person sees it
# (its centre is inside the window and the browser draws that cell there, not something
# covering it or a scroll container clipping it).
COST_TABLE_AMOUNTS = """(() => {
    const table = Array.from(document.querySelectorAll('table'))
        .find(t => t.innerText.includes('naive'));
    if (!table) return [];
    return Array.from(table.querySelectorAll('td')).filter(td => td.innerText.trim())
        .map(td => {
            const r = td.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            const inWindow = x >= 0 && x <= window.innerWidth && y >= 0;
            const yy = Math.min(y, window.innerHeight - 1);
            const hit = inWindow ? document.elementFromPoint(x, yy) : null;
            const drawn = y > window.innerHeight || (hit !== null && td.contains(hit));
            return [td.innerText.trim().replace(/\\*/g, ''), inWindow && drawn];
        });
})()"""


def open_artifacts_tab(page: Page, ui_url: str, flow_run_id: str) -> dict[str, str]:
    """The run's page, Artifacts tab: each artifact's key → the link to its page."""
    page.goto(f"{ui_url}/runs/flow-run/{flow_run_id}")
    page.wait_for("!!document.querySelector('li#artifacts')", bool)
    page.evaluate("document.querySelector('li#artifacts').click()")
    page.wait_for(TEXT, lambda text: all(k in text for k in KEYS))
    cards = page.evaluate("""Array.from(document.querySelectorAll('a'))
        .filter(a => a.href.includes('/artifacts/artifact/'))
        .map(a => [a.innerText, a.href])""")
    return {key: href for text, href in cards for key in KEYS if key in text.split()}


def test_the_runs_artifacts_show_the_report_the_tables_and_the_chart(
        browser: Browser, prefect_server: PrefectServer, run_settings: Settings,
        tmp_path: Path, demo_inputs: Callable[[str], None]):
    demo_inputs(run_settings.storage_root)
    with in_process_settings(run_settings):
        state = analyze(demo_params(run_settings.storage_root), return_state=True)
    report: RunReport = state.result()
    page = browser.new_page()
    links = open_artifacts_tab(page, prefect_server.ui_url, str(state.state_details.flow_run_id))
    assert sorted(links) == sorted(KEYS), links

    page.goto(links["flashfirst-report"])
    actual = f"${report.costs.actual_usd:,.6f}"
    text = page.wait_for(TEXT, lambda t: report.run_id in t and actual in t)
    assert report.run_id in text and "Cost, naive → actual" in text and actual in text, text
    # The one table a data engineer opens the report for shows its money on screen: every
    # amount of the cost table is drawn where it is, not clipped or scrolled out of view.
    cells = page.evaluate(COST_TABLE_AMOUNTS)
    amounts = [t for t, _ in cells if t.startswith("$")]
    assert actual in amounts and len(amounts) >= 2 + len(report.costs.levers), cells
    assert [t for t, seen in cells if not seen] == [], cells

    page.goto(links["flashfirst-items"])
    ids = [i.id for i in report.items]
    text = page.wait_for(TEXT, lambda t: all(i in t for i in ids))
    assert [i for i in ids if i not in text] == [], text

    page.goto(links["flashfirst-media"])
    media = [i.id for i in report.items if i.id.split("/")[0] in {"video", "audio", "image"}]
    assert media, "the demo has media items"
    text = page.wait_for(TEXT, lambda t: all(i in t for i in media))
    assert all(i in text for i in media) and "tokens after" in text.lower(), text

    page.goto(links["flashfirst-cost-chart"])
    images = page.wait_for(
        "Array.from(document.images).map(i => [i.alt, i.src.slice(0, 26), i.naturalWidth])",
        lambda imgs: any(w > 0 for _, _, w in imgs))
    # Rendered, not a broken link: the browser decoded the inline SVG to a picture.
    assert ["Cost by lever, naive → actual", "data:image/svg+xml;base64,", 640] in images
    page.close()


# Every form property as shown: its label, its description, and whether the description
# takes space on the page (a hidden one would not).
FORM_FIELDS = """Array.from(document.querySelectorAll('.schema-form-property')).map(p => {
    const label = p.querySelector('.schema-form-property__label');
    const about = p.querySelector('.schema-form-property__description');
    return [label ? label.innerText.replace(/ \\(Optional\\)$/, '') : null,
            about ? about.innerText.replace(/\\s+/g, ' ').trim() : null,
            about ? about.getBoundingClientRect().height > 0 : false];
})"""


def test_the_manual_deployments_form_shows_every_parameter_with_its_description(
        browser: Browser, prefect_server: PrefectServer):
    from flashfirst.deployments.catalog import SiteSettings, deployment_specs
    from flashfirst.deployments.serve import runner_deployment

    manual = next(s for s in deployment_specs(SiteSettings()) if s.name == "manual")
    deployment_id = runner_deployment(manual).apply()
    # The fields come from the flow's own parameter model, whatever it is named today.
    model = get_type_hints(analyze.fn)["params"]
    properties = model.model_json_schema()["properties"]
    expected = [[p.get("title") or name.replace("_", " ").title(),
                 " ".join(p.get("description", "").split()), True]
                for name, p in properties.items()]
    assert all(description for _, description, _ in expected), "a field lacks a description"
    page = browser.new_page()
    try:
        page.goto(f"{prefect_server.ui_url}/deployments/deployment/{deployment_id}/run")
        shown = page.wait_for(FORM_FIELDS, lambda rows: all(e in rows for e in expected))
        assert [e for e in expected if e not in shown] == [], shown
    finally:
        page.close()
        httpx.delete(f"{prefect_server.api_url}/deployments/{deployment_id}", timeout=30)
