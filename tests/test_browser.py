"""Rendered pages in real headless Chromium (playwright driving /usr/bin/chromium), opened from file://.

Every page must draw its charts, log no console error and make NO network request of any kind: requests are
recorded both by playwright (``page.on("request")``) and by the DevTools protocol (``Network.requestWillBeSent``);
only the file:// document itself is allowed. Screenshots go to tmp_path (or to ``$SALESREPORTS_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from salesreports.report.index import write_index
from salesreports.report.render import Renderer
from test_index import manifest
from test_render import REP, scorecard_notebook, team_notebook

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class Opened:
    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    cdp_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]
        assert [u for u in self.cdp_requests if u != self.url] == []


def require(ok: bool, why: str) -> None:
    """Skip a test whose tool is missing; under CI (``CI=true``) fail instead, so nothing is skipped quietly."""
    if ok:
        return
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        require(False, "playwright is not installed (make setup)")
    require(CHROMIUM.exists(), "Debian chromium is not installed (make sysdeps)")
    with sync_api.sync_playwright() as p:
        # playwright gives every launch a fresh, temporary user-data-dir and removes it on close
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("site")
    renderer = Renderer(cache_dir=tmp_path_factory.mktemp("cache"))
    return {
        "scorecard": renderer.html(scorecard_notebook(), folder / "R0001" / "scorecard.html"),
        "team": renderer.html(team_notebook(), folder / "teams" / "north" / "summary.html"),
        "live": renderer.html(scorecard_notebook(), folder / "R0002" / "scorecard.html", interactive=True),
        "index": write_index(manifest(250), folder / "index.html"),
    }


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def _open(path: Path, width: int = 1000) -> Opened:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        opened = Opened(page=page, url=path.resolve().as_uri())
        page.on("request", lambda r: opened.requests.append(r.url))
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(str(e)))
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", lambda e: opened.cdp_requests.append(e["request"]["url"]))
        page.goto(opened.url, wait_until="load")
        return opened

    yield _open
    for context in contexts:
        context.close()


def screenshot(opened: Opened, tmp_path: Path, name: str) -> Path:
    out = tmp_path / f"{name}.png"
    opened.page.screenshot(path=str(out), full_page=True)
    folder = os.environ.get("SALESREPORTS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(folder) / out.name)
    assert out.stat().st_size > 10_000
    return out


def chart_marks(opened: Opened, selector: str = "figure.sr-chart .sr-chart__svg svg") -> list[dict[str, Any]]:
    """Per shown chart (a page has each chart's page and phone drawing; CSS shows one): size and data marks."""
    return opened.page.eval_on_selector_all(  # type: ignore[no-any-return]
        selector,
        """svgs => svgs.filter(svg => svg.getClientRects().length).map(svg => ({
            width: svg.getBoundingClientRect().width,
            height: svg.getBoundingClientRect().height,
            marks: svg.querySelectorAll('.role-mark path, .role-mark line, .role-mark text').length,
        }))""",
    )


def no_horizontal_scroll(opened: Opened) -> bool:
    return bool(opened.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_scorecard_draws_charts_offline(open_page: Any, site: dict[str, Path], tmp_path: Path) -> None:
    opened = open_page(site["scorecard"])
    charts = chart_marks(opened)
    assert len(charts) == 3
    assert all(c["marks"] > 3 and c["width"] > 500 and c["height"] > 100 for c in charts)
    assert opened.page.locator(".sr-tile").count() == 8
    assert opened.page.locator("h1").inner_text() == f"Scorecard: {REP}"
    assert opened.page.locator("script").count() == 0
    assert no_horizontal_scroll(opened)
    screenshot(opened, tmp_path, "scorecard")
    opened.assert_clean()


def test_scorecard_fits_a_phone(open_page: Any, site: dict[str, Path], tmp_path: Path) -> None:
    opened = open_page(site["scorecard"], width=390)
    assert no_horizontal_scroll(opened)
    widths = [c["width"] for c in chart_marks(opened)]
    assert widths
    assert all(w <= 390 for w in widths)
    columns = opened.page.evaluate(
        "getComputedStyle(document.querySelector('.sr-tiles')).gridTemplateColumns.split(' ').length"
    )
    assert columns == 2
    screenshot(opened, tmp_path, "scorecard-phone")
    opened.assert_clean()


def test_team_summary_draws_charts_offline(open_page: Any, site: dict[str, Path], tmp_path: Path) -> None:
    opened = open_page(site["team"])
    charts = chart_marks(opened)
    assert len(charts) == 3
    assert all(c["marks"] > 3 for c in charts)
    assert opened.page.locator(".sr-table tbody tr").count() == 14
    screenshot(opened, tmp_path, "team-summary")
    opened.assert_clean()


def test_interactive_scorecard_draws_live_charts_offline(open_page: Any, site: dict[str, Path]) -> None:
    opened = open_page(site["live"])
    opened.page.wait_for_function("document.querySelectorAll('figure.sr-chart--live').length === 3")
    live = chart_marks(opened, "figure.sr-chart .sr-chart__live svg")
    assert len(live) == 3
    assert all(c["marks"] > 3 and c["width"] > 300 for c in live)
    assert opened.page.locator(".sr-chart__svg").first.is_hidden()
    opened.assert_clean()


def _first_cells(opened: Opened, column: int) -> list[str]:
    return opened.page.eval_on_selector_all(  # type: ignore[no-any-return]
        "#ix-rows tr", f"rows => rows.map(r => r.children[{column}] ? r.children[{column}].textContent : '')"
    )


def test_index_sorts_filters_and_pages_offline(open_page: Any, site: dict[str, Path], tmp_path: Path) -> None:
    opened = open_page(site["index"], width=1100)
    page = opened.page
    assert page.locator("#ix-rows tr").count() == 100
    assert page.locator("#ix-status-line").inner_text() == "Showing 1–100 of 254"
    assert page.locator("#ix-rows tr").first.locator(".ix-badge--failed").count() == 1  # failures first
    screenshot(opened, tmp_path, "index")

    revenue = page.locator("th[data-key='kpi:0'] button")
    revenue.click()  # numbers sort highest first
    assert page.locator("th[data-key='kpi:0']").get_attribute("aria-sort") == "descending"
    first = _first_cells(opened, 4)
    assert first[0] == "$400,003"  # the largest (a team summary)
    revenue.click()
    values = [v for v in _first_cells(opened, 4) if v.startswith("$")]
    numbers = [float(v.strip("$").replace(",", "")) for v in values]
    assert numbers == sorted(numbers)

    page.fill("#ix-q", "r0100")  # ids, names and teams are searched, case- and accent-insensitively
    page.wait_for_function("document.querySelectorAll('#ix-rows tr').length === 1")
    assert "Rep 0099 Example" in page.locator("#ix-rows tr").inner_text()
    page.fill("#ix-q", "")
    page.select_option("#ix-status", "failed")
    page.wait_for_function("document.getElementById('ix-status-line').textContent.includes('filtered')")
    statuses = page.eval_on_selector_all("#ix-rows tr .ix-badge--failed", "els => els.length")
    assert statuses == page.locator("#ix-rows tr").count() > 0
    assert page.locator("#ix-rows tr a", has_text="notebook").count() == statuses

    page.select_option("#ix-status", "")
    page.click("#ix-next")
    assert page.locator("#ix-status-line").inner_text() == "Showing 101–200 of 254"
    page.select_option("#ix-size", "1000")
    assert page.locator("#ix-rows tr").count() == 254
    opened.assert_clean()


def test_figures_in_a_crowded_table_never_break_inside_a_number(open_page: Any, tmp_path: Path) -> None:
    """The position table's figures wrap between words only; without ``figures`` they would break mid-number."""
    import pandas as pd

    from salesreports.report import display

    long = "Lead-to-sale conversion (leads of the last 12 months) " * 2
    frame = pd.DataFrame(
        {
            "KPI": [long, "Revenue"],
            "You": ["$33,320", "$1,234,567"],
            "Team median": ["$47,345", "104.1%"],
            "Team middle half": ["$29,670 – $84,418", "40.5% – 104.1%"],
            "vs last review": ["$20,680 → $33,320", "$10,340 → $8,330"],
        }
    )
    lines_per_word = """cells => cells.map(td => td.textContent.split(' ').filter(w => w.length > 1).map(word => {
        const text = td.firstChild, at = text.textContent.indexOf(word), range = document.createRange();
        range.setStart(text, at); range.setEnd(text, at + word.length);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    })).flat()"""
    lines = {}
    for name, figures in (("kept", [c for c in frame.columns if c != "KPI"]), ("plain", [])):
        table = display.table(frame, figures=figures).html
        page = tmp_path / f"{name}.html"
        page.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><style>{display.component_css()}</style>"
            # overflow-wrap: anywhere (what pages had before) squeezes the table: only `figures` keeps numbers whole
            "<style>.sr { overflow-wrap: anywhere; }</style></head>"
            f"<body><div class='sr' style='width: 420px'>{table}</div></body></html>",
            encoding="utf-8",
        )
        opened = open_page(page, width=800)
        lines[name] = opened.page.eval_on_selector_all("td:not(:first-child)", lines_per_word)
        opened.assert_clean()
    assert lines["kept"] and set(lines["kept"]) == {1}  # every figure on one line
    assert max(lines["plain"]) > 1  # the same table without `figures` breaks a number: the test can fail
