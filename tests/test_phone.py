"""Every page type on a phone and on paper, in real headless Chromium, checked by axe-core.

Pages come from real runs (the batch on a generated demo and on the deals-only fixture, as in test_pages.py):
a rep scorecard, a team summary, the company summary and the index of each. At 390 px (a phone) and at 1280 px
axe-core (``node_modules/axe-core``, installed by ``make setup`` from package-lock.json) finds no WCAG 2.1 A/AA
violation. At 390 px no table cell is narrower than its longest word, every report link of the index is inside
the viewport without scrolling sideways, and no chart text is drawn smaller than 11 px. The index printed to an
A4 PDF keeps every column.

Under ``CI=true`` a missing Chromium, axe-core or poppler fails these tests; elsewhere they are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import test_browser
from test_browser import Opened, require
from test_pages import DEALS_ONLY, ROOT, Run, _pages, _run

browser = test_browser.browser  # the fixtures: one Chromium per module, a fresh context per page
open_page = test_browser.open_page

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
KINDS = ["rep", "team", "company", "index"]
PHONE = 390
DESKTOP = 1280


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    from salesreports.data.demo import generate_demo

    out: dict[str, Run] = {}
    demo = tmp_path_factory.mktemp("phone-demo")
    generate_demo(demo / "data", months=14, n_reps=12, end_month="2026-10")
    source = demo / "data" / "source.yaml"
    source.write_text(
        "name: demo\nkind: files\nbase_dir: .\ntables:\n"
        + "".join(
            f"  {t}: {{file: {t}.csv}}\n" for t in ("reps", "deals", "leads", "activities", "targets", "feedback")
        ),
        encoding="utf-8",
    )
    out["demo"] = _run("demo", demo, source, "2026-10", ["R001", "R002"])
    do = tmp_path_factory.mktemp("phone-deals-only")
    out["deals_only"] = _run("deals_only", do, DEALS_ONLY / "source.yaml", "2026-10", ["Ana Silva", "Gus Lind"])
    return out


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
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["demo", "deals_only"])
def test_axe_finds_no_wcag21_aa_violation(
    runs: dict[str, Run], open_page: Any, name: str, kind: str, width: int
) -> None:
    opened = open_page(_page(runs[name], kind), width=width)
    violations = _axe(opened)
    assert violations == [], json.dumps(violations, indent=1)
