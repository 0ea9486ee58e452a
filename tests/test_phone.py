"""Every page type on a phone and on paper, in real headless Chromium, checked by axe-core.

Pages come from real runs (the batch on a generated demo and on the deals-only fixture, as in test_pages.py):
a rep scorecard, a team summary, the company summary and the index of each, and a rep's quarter review (the
review template, on the same demo). At 390 px (a phone) and at 1280 px axe-core (``node_modules/axe-core``,
installed by ``make setup`` from package-lock.json) finds no WCAG 2.1 A/AA violation. At 390 px no table cell
(or a card's column label) is narrower than its longest word, the leaderboard is a line a rep, every report
link of the index is inside the viewport without scrolling sideways, and no chart text is drawn smaller than
11 px. The index's report links are at least 24 px at 1280 px, and its columns show they sort before they are
sorted. The index printed to an A4 PDF keeps every column.

Under ``CI=true`` a missing Chromium, axe-core or poppler fails these tests; elsewhere they are skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import test_browser
from conftest import built_once
from test_browser import Opened, require, screenshot
from test_pages import ROOT, Run, _pages, _settings, deals_only_run, demo_run

browser = test_browser.browser  # the fixtures: one Chromium per module, a fresh context per page
open_page = test_browser.open_page

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
KINDS = ["rep", "team", "company", "index"]
# every page type: (run, kind); a rep's quarter or year is the review template's page
PAGES = [(name, kind) for name in ("demo", "deals_only") for kind in KINDS] + [("review", "rep")]
PHONE = 390
DESKTOP = 1280


def review_run(root: Path, demo: Run) -> Run:
    """A quarter of the demo (2026-Q3) for one rep, who has feedback themes, a training plan and a company
    goal starting the next quarter: the review page (``templates.review``), HTML only."""
    from salesreports.params import load_config
    from salesreports.run.batch import run_reports

    source = demo.folder.parents[1] / "data" / "source.yaml"  # the demo's data, read only
    goals = str(ROOT / "params" / "goals.yaml")
    config = load_config(_settings(root, source, goals, review=True, extra="pdf:\n  enabled: false\n"), environ={})
    summary = run_reports(config, periods="2026-Q3", reps=["R001"], kinds=("rep",))
    assert summary.ok, summary.failed
    run = Run("review", config.output_path / "2026-Q3", root / "outbox", "2026-Q3")
    manifest = json.loads((run.folder / "manifest.json").read_text(encoding="utf-8"))
    assert [Path(e["template"]).name for e in manifest["reports"]] == ["review.ipynb"]
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """test_pages' runs and the demo's quarter review (each built once a session, read only here)."""
    demo = built_once(tmp_path_factory, "pages-demo", demo_run)
    return {
        "demo": demo,
        "deals_only": built_once(tmp_path_factory, "pages-deals-only", deals_only_run),
        "review": built_once(tmp_path_factory, "phone-review", partial(review_run, demo=demo)),
    }


def _page(run: Run, kind: str) -> Path:
    if kind == "index":
        return run.folder / "index.html"
    folder = next(f for k, f, _ in _pages(run) if k == kind)
    return folder / "scorecard.html"


def _axe(opened: Opened) -> list[dict[str, Any]]:
    require(AXE.exists(), f"axe-core is missing ({AXE}): `make setup` installs it (npm ci)")
    opened.page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    return opened.page.evaluate(  # type: ignore[no-any-return]
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)})))""",
        WCAG21_AA,
    )


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_axe_finds_no_wcag21_aa_violation(
    runs: dict[str, Run], open_page: Any, name: str, kind: str, width: int
) -> None:
    opened = open_page(_page(runs[name], kind), width=width)
    violations = _axe(opened)
    assert violations == [], json.dumps(violations, indent=1)


# -- at 390 px --------------------------------------------------------------------------------------------------

NARROWEST_CELLS = """() => {
    // every table cell's content box against the widest word in it (a word: text between spaces), and a
    // card's column label (drawn before the value from data-label) against the widest word of the label
    const out = [];
    const measure = document.createElement('canvas').getContext('2d');
    for (const cell of document.querySelectorAll('table th, table td')) {
        const head = cell.closest('thead');  // on a phone the header row is only for screen readers (1 px)
        if (!cell.getClientRects().length || (head && head.getBoundingClientRect().width <= 1)) continue;
        const label = getComputedStyle(cell, '::before');
        if (cell.dataset.label && label.content !== 'none' && label.width !== 'auto') {
            measure.font = label.font;
            for (const word of cell.dataset.label.split(/\\s+/).filter(w => w)) {
                const width = measure.measureText(word).width;
                if (width > parseFloat(label.width) + 0.5) out.push({label: word, width, box: label.width});
            }
        }
        const style = getComputedStyle(cell);
        const box = cell.getBoundingClientRect().width - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight) - parseFloat(style.borderLeftWidth) - parseFloat(style.borderRightWidth);
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const text = node.textContent;
            for (const match of text.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const rects = [...range.getClientRects()];
                const lines = new Set(rects.map(r => Math.round(r.top))).size;
                const width = rects.reduce((w, r) => w + r.width, 0);
                if (lines > 1 || width > box + 0.5) out.push({word: match[0], lines, width, box});
            }
        }
    }
    return out;
}"""


@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_no_table_cell_on_a_phone_is_narrower_than_its_longest_word(
    runs: dict[str, Run], open_page: Any, name: str, kind: str
) -> None:
    opened = open_page(_page(runs[name], kind), width=PHONE)
    assert opened.page.locator("table tbody tr").count() > 0
    assert opened.page.evaluate(NARROWEST_CELLS) == []
    assert opened.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    opened.assert_clean()


@pytest.mark.parametrize(("width", "least"), [(PHONE, 44), (DESKTOP, 24)], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", ["demo", "deals_only"])
def test_every_report_link_of_the_index_is_on_screen_and_easy_to_tap(
    runs: dict[str, Run], open_page: Any, name: str, width: int, least: int
) -> None:
    """The links are the only way to open a report: each inside the screen, 44 x 44 px on a phone (a finger),
    at least WCAG 2.2's 24 x 24 px (target size, minimum) on a desktop."""
    opened = open_page(_page(runs[name], "index"), width=width)
    links = opened.page.eval_on_selector_all(
        "#ix-rows a",
        "links => links.map(a => { const r = a.getBoundingClientRect();"
        " return {text: a.textContent, left: r.left, right: r.right, width: r.width, height: r.height}; })",
    )
    reports = len(json.loads((runs[name].folder / "manifest.json").read_text(encoding="utf-8"))["reports"])
    assert len(links) >= 2 * reports - 2  # HTML and PDF of each (a failed report has its notebook instead)
    for link in links:
        assert link["left"] >= 0 and link["right"] <= width, link
        assert link["width"] >= least and link["height"] >= least, link
    assert opened.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    opened.assert_clean()


SORT_MARKS = """() => [...document.querySelectorAll('#ix-table thead th[aria-sort]')].map(th => {
    const arrow = th.querySelector('.ix-arrow'), mark = getComputedStyle(arrow, '::after');
    const box = arrow.getBoundingClientRect();
    return {key: th.dataset.key, sort: th.getAttribute('aria-sort'), mark: mark.content,
            shown: box.width > 0 && box.height > 0 && mark.display !== 'none' && mark.visibility === 'visible'};
})"""


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_index_shows_every_column_sorts_before_it_is_sorted(
    runs: dict[str, Run], open_page: Any, width: int
) -> None:
    opened = open_page(_page(runs["demo"], "index"), width=width)
    before = opened.page.evaluate(SORT_MARKS)
    assert len(before) >= 9  # name, kind, team, status and the headline KPIs
    assert {(m["sort"], m["mark"], m["shown"]) for m in before} == {("none", '"↕"', True)}
    opened.page.locator("#ix-table thead th[aria-sort] button").first.click()
    after = opened.page.evaluate(SORT_MARKS)
    assert (after[0]["sort"], after[0]["mark"]) == ("ascending", '"▲"')
    assert {(m["sort"], m["mark"]) for m in after[1:]} == {("none", '"↕"')}
    opened.assert_clean()


CHART_TEXT = """() => [...document.querySelectorAll('figure.sr-chart svg')]
    .filter(svg => svg.getClientRects().length)
    .flatMap(svg => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => ({
            text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale}));
    })"""


CHART_PAGES = [
    *[("demo", kind, width) for kind in ("rep", "team", "company") for width in (320, PHONE)],
    *[("deals_only", kind, PHONE) for kind in ("rep", "team", "company")],
    ("review", "rep", PHONE),
]


@pytest.mark.parametrize(("name", "kind", "width"), CHART_PAGES)
def test_no_chart_text_on_a_phone_is_under_11_px(
    runs: dict[str, Run], open_page: Any, name: str, kind: str, width: int
) -> None:
    opened = open_page(_page(runs[name], kind), width=width)
    texts = opened.page.evaluate(CHART_TEXT)
    assert len(texts) > 10
    small = [t for t in texts if t["px"] < 11]
    assert small == []
    opened.assert_clean()


LEADERBOARD = """() => {
    const table = [...document.querySelectorAll('table.sr-table')]
        .find(t => t.caption && t.caption.textContent.startsWith('Leaderboard'));
    const shown = el => el.getClientRects().length > 0;
    const note = table.parentElement.querySelector('.sr-note');
    return {height: table.getBoundingClientRect().height, rows: table.tBodies[0].rows.length,
            heads: [...table.tHead.rows[0].cells].filter(shown).map(th => th.textContent),
            columns: table.tHead.rows[0].cells.length, note: note && shown(note) ? note.textContent : ''};
}"""


def test_the_leaderboard_on_a_phone_is_a_line_a_rep_and_every_column_on_a_wider_screen(
    runs: dict[str, Run], open_page: Any
) -> None:
    """The company's 12 reps at 390 px: a card of every column was 196 px a rep (8,357 px for the 43 of the full
    demo); a table of the name, the ranking KPI and revenue is 31 px a rep, caption and header included (the
    bound leaves room for names on two lines), and a note names the other columns."""
    phone = open_page(_page(runs["demo"], "company"), width=PHONE)
    board = phone.page.evaluate(LEADERBOARD)
    assert board["rows"] == 12
    assert board["height"] / board["rows"] <= 36, board
    assert board["heads"] == ["Rep", "Quota attainment", "Revenue"]
    assert board["note"] == (
        "More columns on a wider screen or on paper: deals won, win rate, average deal size, lead-to-sale conversion."
    )
    desktop = open_page(_page(runs["demo"], "company"), width=DESKTOP).page.evaluate(LEADERBOARD)
    assert len(desktop["heads"]) == desktop["columns"] == 7
    assert desktop["note"] == ""
    phone.assert_clean()


def test_the_index_printed_to_a4_keeps_every_column(runs: dict[str, Run], open_page: Any, tmp_path: Path) -> None:
    require(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is missing: `make sysdeps` installs it")
    opened = open_page(_page(runs["demo"], "index"), width=DESKTOP)
    headers = opened.page.eval_on_selector_all("#ix-table thead th", "ths => ths.map(th => th.textContent.trim())")
    assert len(headers) >= 10  # name, kind, team, status, the headline KPIs and the links
    pdf = tmp_path / "index.pdf"
    opened.page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for header in headers:
        assert all(word in flat for word in header.split()), header
    # the last column on the page: each report's links
    assert flat.count("HTML PDF") >= 7
    opened.assert_clean()


# -- reference screenshots ----------------------------------------------------------------------------------------


SHOTS = [("rep", "phone-scorecard"), ("team", "phone-team"), ("index", "phone-index")]


@pytest.mark.parametrize(("kind", "file"), SHOTS)
def test_phone_screenshots(runs: dict[str, Run], open_page: Any, tmp_path: Path, kind: str, file: str) -> None:
    """The README's phone pictures: ``SALESREPORTS_SCREENSHOTS=docs/img`` writes them there."""
    opened = open_page(_page(runs["demo"], kind), width=PHONE)
    screenshot(opened, tmp_path, file)
    opened.assert_clean()
