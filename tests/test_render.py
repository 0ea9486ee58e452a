"""Tests for salesreports.report.render: notebooks built here with nbformat, rendered to HTML and PDF in tmp_path.

``scorecard_notebook`` and ``team_notebook`` are also used by test_browser.py.
"""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image, ImageChops

from salesreports.errors import RenderError
from salesreports.report import charts, render
from salesreports.report import display as d

REP = "Ann Ärcher-Lindqvist"
CODE_MARKER = "SECRET_CODE_NEVER_SHOWN"
TILE_VALUES = ["$46,250", "92.5%", "31.0%", "41 days", "$5,139", "9", "28.4%"]
HOSTILE = "Acme <script>alert(1)</script> <img src=x onerror=alert(2)>"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def _out(obj: d.Html | d.Chart) -> Any:
    if isinstance(obj, d.Chart):
        return new_output("display_data", data=obj.bundle())
    return new_output("display_data", data={"text/html": obj.html, "text/plain": obj.text})


def _cell(obj: d.Html | d.Chart, source: str = "") -> Any:
    return new_code_cell(f"{CODE_MARKER} = 1\n{source}", outputs=[_out(obj)])


def _meta(kind: str, title: str, subtitle: str, who: str) -> dict[str, str]:
    return {
        "kind": kind,
        "title": title,
        "subtitle": subtitle,
        "rep_id": "R001" if kind == "rep" else "",
        "rep_name": who if kind == "rep" else "",
        "team": "North" if kind == "rep" else who,
        "period": "2026-10",
        "period_title": "October 2026",
        "generated_at": "2026-11-01T08:00:00+00:00",
        "company": "Example Corp",
    }


def scorecard_notebook(name: str = REP) -> Any:
    """A rep scorecard like the templates produce: tiles, three charts, goals, a table, Markdown with $."""
    rng = np.random.default_rng(7)
    months = ["2025-11", "2025-12", *(f"2026-{m:02d}" for m in range(1, 11))]
    values = rng.normal(42000, 6000, len(months))
    values[2] = math.nan
    trend = pd.DataFrame(
        {
            "period_end": months,
            "value": values,
            "team_median": rng.normal(38000, 2000, len(months)),
            "team_p25": rng.normal(31000, 1000, len(months)),
            "team_p75": rng.normal(46000, 1000, len(months)),
        }
    )
    funnel = pd.DataFrame({"stage": ["Leads", "Qualified", "Proposal", "Won"], "count": [120, 54, 20, 9]})
    weeks = ["2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    activity = pd.DataFrame(
        [(w, t, int(rng.integers(0, 12))) for w in weeks for t in ("call", "email", "meeting", "demo")],
        columns=["week", "type", "count"],
    )
    tile = d.Tile.for_kpi
    tiles = d.tiles(
        [
            tile("revenue", 46250, target=50000, attainment=0.925, previous=41200),
            tile("quota_attainment", 0.925, previous=0.98),
            tile("win_rate", 0.31, previous=0.27),
            tile("sales_cycle_days", 41, previous=36),
            tile("avg_deal_size", 5139, previous=5150),
            tile("deals_won", 9, previous=8),
            tile("lead_conversion", None, reason="no leads table in this data set"),
            tile("profit_margin", 0.284),
        ]
    )
    deals = pd.DataFrame(
        {
            "account": [HOSTILE, "Globex $5 **bold**", "שלום עולם Ltd", "Initech\u200b GmbH", "W" * 70],
            "revenue": [12000, 8000.5, math.nan, 4300, 21000],
            "win_rate": [0.5, 0.25, 0.4, math.nan, 1.0],
            "closed": pd.to_datetime(["2026-10-03", "2026-10-09", "2026-10-11", "2026-10-20", "2026-10-28"]),
        }
    )
    goals = d.goal_list(
        [
            {
                "name": "$500,000 revenue by end of Q1",
                "status": "ahead",
                "actual": "$310,000",
                "expected": "$250,000",
                "projected": "$620,000",
                "deadline": "31 Mar 2027",
                "progress": 0.62,
                "expected_progress": 0.5,
            },
            {
                "name": "Lead-to-sale conversion from 15% to 25% by year end",
                "status": "at risk",
                "actual": "18.0%",
                "expected": "22.0%",
                "projected": "20.5%",
                "deadline": "31 Dec 2026",
                "progress": 0.3,
                "expected_progress": 0.7,
                "note": "Serves: grow revenue from inbound leads",
            },
        ]
    )
    cells = [
        new_code_cell(f"{CODE_MARKER} = 'parameters'", metadata={"tags": ["parameters"]}),
        new_markdown_cell("## Headline\nYou closed **$46,250** against a $50,000 quota; $ signs stay money."),
        _cell(tiles),
        new_markdown_cell("## Trends"),
        _cell(d.chart(charts.trend(trend, "revenue"), "Revenue by month: $31k to $46k; team median about $38k.")),
        _cell(d.chart(charts.funnel(funnel), "Funnel: 120 leads, 54 qualified, 20 proposals, 9 won.", "funnel")),
        _cell(d.chart(charts.activity(activity), "Activities per week over five weeks.", "activity")),
        new_markdown_cell("## Goals"),
        _cell(goals),
        new_markdown_cell("## Deals won"),
        _cell(d.table(deals, formats={"revenue": "currency"}, caption="Deals won in October 2026")),
        _cell(d.callout("warn", "Work on closing", ["Win rate below the team median.", "Try the workshop."])),
        new_code_cell(
            "x",
            outputs=[
                new_output(
                    "display_data",
                    data={
                        "text/markdown": "Client said: *great* demo <script>bad()</script> $5 and $6",
                        "text/plain": "x",
                    },
                ),
                new_output("stream", name="stderr", text="FutureWarning: library noise\n"),
            ],
        ),
        new_code_cell("hidden", metadata={"tags": ["remove_cell"]}, outputs=[_out(d.section_note("REMOVED-CELL"))]),
        _cell(d.section_note("Data as of 1 Nov 2026.")),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["salesreports"] = _meta("rep", f"Scorecard: {name}", "North team · October 2026", name)
    return nb


def team_notebook() -> Any:
    """A team summary: leaderboard table, distribution, leaderboard bars and goal progress."""
    rng = np.random.default_rng(11)
    names = [f"Rep {chr(65 + i)}. Example" for i in range(14)]
    win = pd.DataFrame({"entity": names, "value": [*rng.uniform(0.1, 0.6, 13), math.nan]})
    revenue = pd.DataFrame({"entity": names, "value": [*rng.normal(45000, 15000, 13), math.nan]})
    board = pd.DataFrame({"rep": names, "revenue": revenue["value"], "win_rate": win["value"]})
    goals = pd.DataFrame(
        {
            "goal": ["$2M team revenue in 2026", "Win rate 35%", "300 qualified leads a month"],
            "actual_pct": [0.81, 0.95, math.nan],
            "expected_pct": [0.83, 0.8, 0.5],
            "status": ["on track", "ahead", "missed"],
        }
    )
    cells = [
        new_markdown_cell("## Team at a glance"),
        _cell(d.tiles([d.Tile.for_kpi("revenue", 612000, target=700000, attainment=0.874, previous=580000)])),
        _cell(d.chart(charts.leaderboard_bars(revenue, "revenue"), "Revenue by rep, highest $70k.", "leaderboard")),
        _cell(d.chart(charts.distribution(win, "win_rate"), "Win rates from 10% to 60%; median 35%.", "spread")),
        _cell(d.chart(charts.goal_progress(goals), "Team goals: one ahead, one on track, one missed.", "goals")),
        _cell(d.table(board, caption="Leaderboard")),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["salesreports"] = _meta("team", "Team summary: North", "North team · October 2026", "North")
    return nb


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> render.Renderer:
    return render.Renderer(cache_dir=tmp_path_factory.mktemp("cache")).warm()


@pytest.fixture(scope="module")
def built(renderer: render.Renderer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("render")
    nb_path = folder / "R001" / "scorecard.ipynb"
    nb_path.parent.mkdir()
    nbformat.write(scorecard_notebook(), nb_path)
    html = renderer.html(nb_path, folder / "R001" / "scorecard.html")
    pdf = renderer.pdf(html, folder / "R001" / "scorecard.pdf")
    return {"folder": folder, "ipynb": nb_path, "html": html, "pdf": pdf}


# -- HTML ----------------------------------------------------------------------------------------------------


def test_html_is_static_and_offline(built: dict[str, Path]) -> None:
    html = built["html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)
    assert not [r for r in refs if re.match(r"(?:https?:)?//", r)]
    assert "@import" not in html
    assert "url(http" not in html
    assert "require" not in html
    assert "MathJax" not in html
    assert "cdn" not in html.lower()
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", html)  # no event handler attributes


def test_html_hides_code_prompts_and_removed_cells(built: dict[str, Path]) -> None:
    html = built["html"].read_text(encoding="utf-8")
    assert CODE_MARKER not in html
    assert "In&nbsp;[" not in html
    assert "Out[" not in html
    assert "REMOVED-CELL" not in html
    assert "library noise" not in html  # stderr is not for the reader


def test_html_header_and_charts(built: dict[str, Path]) -> None:
    html = built["html"].read_text(encoding="utf-8")
    assert '<p class="sr-header__company" dir="auto">Example Corp</p>' in html
    assert f'<h1 class="sr-header__title" dir="auto">Scorecard: {REP}</h1>' in html
    assert "North team · October 2026" in html
    assert "Generated 1 Nov 2026, 08:00 UTC" in html
    figures = re.findall(r'<figure class="sr-chart" role="img" aria-label="([^"]+)"', html)
    assert figures == [
        "Revenue by month: $31k to $46k; team median about $38k.",
        "Funnel: 120 leads, 54 qualified, 20 proposals, 9 won.",
        "Activities per week over five weeks.",
    ]
    assert html.count("<svg") == 6  # each chart twice: for the page and PDF, and narrower for phones
    assert html.count('<div class="sr-chart__svg sr-chart__svg--narrow" aria-hidden="true"><svg') == 3
    assert html.count('font-family="Liberation Sans, Arial, Helvetica, sans-serif"') > 10
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # clip paths of different charts never collide


def test_html_money_is_not_math_and_data_is_escaped(built: dict[str, Path]) -> None:
    html = built["html"].read_text(encoding="utf-8")
    assert "<strong>$46,250</strong> against a $50,000 quota; $ signs stay money." in html
    assert "<em>great</em> demo &lt;script&gt;bad()&lt;/script&gt; $5 and $6" in html
    assert "Acme &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in html
    for value in TILE_VALUES:
        assert f">{value}<" in html


def test_html_size_is_small(built: dict[str, Path]) -> None:
    assert built["html"].stat().st_size < 200_000


def test_render_from_notebook_node_letter_and_same_output(renderer: render.Renderer, tmp_path: Path) -> None:
    out = render.render_html(scorecard_notebook(), tmp_path / "a.html", page_size="Letter")
    html = out.read_text(encoding="utf-8")
    assert "@page { size: Letter; @bottom-right" in html
    assert [p.name for p in tmp_path.iterdir()] == ["a.html"]  # no temporary file left behind


def test_interactive_inlines_the_bundle_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    r = render.Renderer(interactive=True, cache_dir=cache)
    html = r.html(scorecard_notebook(), tmp_path / "live.html").read_text(encoding="utf-8")
    assert html.count("<script>") == 1
    assert "srEmbedAll" in html
    assert html.count('<script type="application/json" class="sr-chart__spec">') == 3
    assert html.split("<script>")[0].count("<svg") == 6  # static fallbacks kept (page and phone)
    bundle = next(cache.glob("vega-bundle-*.js"))
    stamp = bundle.stat().st_mtime_ns
    r.html(team_notebook(), tmp_path / "team.html")
    assert bundle.stat().st_mtime_ns == stamp  # reused from disk, not rebuilt
    static = render.Renderer(cache_dir=cache).html_text(team_notebook())
    assert "<script" not in static


def test_chart_payload_json_cannot_close_its_script() -> None:
    text = render.json_for_script({"a": "</script><!-- \u2028"})
    assert "</" not in text
    assert "<!--" not in text
    assert "\u2028" not in text


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ('<p onclick="x()">a</p>', "<p>a</p>"),
        ("<script src=a.js></script>b", "b"),
        ('<img src="https://example.org/x.png" alt="x">', '<img data-remote-src="" alt="x">'),
        ('<a href="javascript:alert(1)">x</a>', '<a href="#">x</a>'),
        ('<link rel="stylesheet" href="//cdn.example.org/x.css">y', "y"),
        ("<p>someone = 5, online = yes</p>", "<p>someone = 5, online = yes</p>"),
    ],
)
def test_offline_html(dirty: str, clean: str) -> None:
    assert render.offline_html(dirty) == clean


def test_error_outputs_are_reported_in_the_page(renderer: render.Renderer) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x", outputs=[new_output("error", ename="KeyError", evalue="'amount'", traceback=["\x1b[31mboom"])]
            )
        ]
    )
    html = renderer.html_text(nb)
    assert "This section could not be computed." in html
    assert "KeyError: &#39;amount&#39;" in html
    assert "Scorecard" not in html
    assert "<title>Report</title>" in html  # no metadata: a neutral title


# -- errors and atomic writes --------------------------------------------------------------------------------


def test_broken_chart_names_notebook_and_chart_and_keeps_old_file(renderer: render.Renderer, tmp_path: Path) -> None:
    out = tmp_path / "scorecard.html"
    out.write_text("previous version", encoding="utf-8")
    nb = scorecard_notebook()
    nb.cells.append(
        new_code_cell(
            "x",
            outputs=[
                new_output(
                    "display_data",
                    data={
                        d.CHART_MIME: {"spec": {"mark": "nonsense-mark"}, "alt": "broken", "name": "broken-one"},
                        "text/plain": "x",
                    },
                )
            ],
        )
    )
    with pytest.raises(RenderError, match=r"notebook \(rep, R001, North, 2026-10\): chart 'broken-one'") as err:
        renderer.html(nb, out)
    assert err.value.stage == "chart"
    assert err.value.chart == "broken-one"
    assert out.read_text(encoding="utf-8") == "previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["scorecard.html"]


def test_item1_a_chart_vl_convert_rejects_is_one_short_line_naming_rep_and_chart(
    renderer: render.Renderer, tmp_path: Path
) -> None:
    """vl-convert's message carries ~30 lines of JavaScript stack: the error keeps its first line."""
    bad = {
        "data": {"values": [{"x": 1}]},
        "transform": [{"calculate": "datum.x + (((", "as": "y"}],  # an expression Vega cannot parse
        "mark": "point",
        "encoding": {"x": {"field": "y", "type": "quantitative"}},
    }
    nb = scorecard_notebook()
    payload = {"spec": bad, "alt": "unparsable", "name": "bad-expression"}
    nb.cells.append(new_code_cell("x", outputs=[new_output("display_data", data={d.CHART_MIME: payload})]))
    with pytest.raises(RenderError) as err:
        renderer.html(nb, tmp_path / "scorecard.html")
    message = str(err.value)
    assert message.startswith("notebook (rep, R001, North, 2026-10): chart 'bad-expression' could not be drawn: ")
    assert "\n" not in message and "cdn.jsdelivr" not in message and len(message) < 400, message
    assert "Error: Unexpected end of input" in message  # the cause stays
    assert err.value.stage == "chart" and err.value.chart == "bad-expression"


def _overrides_isolated(text: str) -> bool:
    """Every right-to-left override (U+202E) sits inside an isolate (FSI/LRI/RLI … PDI) of the text."""
    depth = 0
    for ch in text:
        if ch in "\u2066\u2067\u2068":
            depth += 1
        elif ch == "\u2069":
            depth = max(0, depth - 1)
        elif ch == "\u202e" and not depth:
            return False
    return True


def test_item4_right_to_left_override_stays_inside_the_name(renderer: render.Renderer) -> None:
    """A U+202E in a name reversed "— scorecard" in <h1> and <title>: names are isolated where a heading or
    title is composed (scope.header, FSI…PDI), and the template shows each isolated name in a <bdi>."""
    import html as html_module

    from salesreports.report.scope import header

    context = {
        "kind": "rep",
        "company": "Tiny \u202eCo",
        "generated_at": "2026-11-01T08:00:00+00:00",
        "period": {"label": "2026-10", "title": "October 2026"},
        "rep": {"rep_id": "R9", "name": "Bob \u202eBaker", "team": "No\u202erth"},
    }
    nb = scorecard_notebook()
    nb.metadata["salesreports"] = header(context)
    page = renderer.html_text(nb)
    title = html_module.unescape(re.search(r"<title>(.*?)</title>", page, re.DOTALL)[1])
    assert title == "\u2068Bob \u202eBaker\u2069 — scorecard · Team \u2068No\u202erth\u2069 · October 2026"
    assert '<h1 class="sr-header__title" dir="auto"><bdi>\u2068Bob \u202eBaker\u2069</bdi> — scorecard</h1>' in page
    assert "Team <bdi>\u2068No\u202erth\u2069</bdi> · October 2026" in page
    assert '<span class="sr-who" dir="auto"><bdi>\u2068Bob \u202eBaker\u2069</bdi></span>' in page  # PDF margin
    assert "<bdi>\u2068Tiny \u202eCo\u2069</bdi> · Made by salesreports" in page  # the footer
    header_html = page[page.index('<header class="sr-header">') : page.index("</header>")]
    company = re.search(r'<p class="sr-header__company" dir="auto">([^<]*)</p>', header_html)
    assert company and company[1] == "Tiny \u202eCo"  # alone in its own element, isolated by dir="auto"
    plain = re.sub(r"<[^>]+>", "", header_html.replace(company[0], ""))
    assert _overrides_isolated(title) and _overrides_isolated(plain)
    assert not _overrides_isolated("Bob \u202eBaker — scorecard")  # what the check catches


def test_unreadable_notebook(renderer: render.Renderer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(RenderError, match=r"bad\.ipynb: cannot read the notebook") as err:
        renderer.html(bad, tmp_path / "bad.html")
    assert err.value.notebook == str(bad)
    with pytest.raises(RenderError, match="expected a notebook"):
        renderer.html_text(42)


def test_unknown_page_size() -> None:
    with pytest.raises(RenderError, match="use A4 or Letter"):
        render.Renderer(page_size="A5")  # type: ignore[arg-type]


def test_pdf_of_missing_html(renderer: render.Renderer, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="cannot read the HTML report"):
        renderer.pdf(tmp_path / "nope.html", tmp_path / "nope.pdf")
    assert not (tmp_path / "nope.pdf").exists()


def test_atomic_write_cleans_up_on_failure(tmp_path: Path) -> None:
    def explode(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        render.atomic_write(tmp_path / "x.pdf", explode)
    assert list(tmp_path.iterdir()) == []


def test_format_timestamp() -> None:
    assert render.format_timestamp("2026-11-01T08:05:00Z") == "1 Nov 2026, 08:05 UTC"
    assert render.format_timestamp("2026-11-01T08:05:00+01:00") == "1 Nov 2026, 08:05 +01:00"
    assert render.format_timestamp("2026-11-01T08:05:00") == "1 Nov 2026, 08:05"
    assert render.format_timestamp("soon") == "soon"
    assert render.format_timestamp(None) == ""


# -- PDF -----------------------------------------------------------------------------------------------------


def _pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@needs_poppler
def test_pdf_text_has_rep_period_tiles_and_footer(built: dict[str, Path]) -> None:
    text = _pdftext(built["pdf"])
    assert REP in text
    assert "October 2026" in text
    for value in TILE_VALUES:
        assert value in text
    assert f"{REP} · October 2026" in text  # the running footer
    assert "Page 1 of" in text
    assert "$5 and $6" in text
    # the closing "Made by" line sits at the foot of the last page (out of the flow: never a page of its own)
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert text.count("Made by salesreports") == 1 and "Made by salesreports" in pages[-1]
    assert all(len(p.split()) > 20 for p in pages), "a page with hardly anything on it"


@needs_poppler
def test_pdf_pages_and_first_page_image(built: dict[str, Path], tmp_path: Path) -> None:
    info = subprocess.run(["pdfinfo", str(built["pdf"])], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])  # type: ignore[index]
    assert 2 <= pages <= 4
    assert "A4" in info or "595.276 x 841.89" in info
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(built["pdf"]), str(tmp_path / "p")], check=True
    )
    png = next(tmp_path.glob("p*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000


def _lines_page(path: Path, lines: int) -> Path:
    """A page of ``lines`` lines of 10 pt type, 15 pt apart: 50 lines fill an A4 page between 15 mm margins."""
    rows = "".join(f"<p>Line {i}</p>" for i in range(lines))
    path.write_text(
        "<!doctype html><html><head><style>@page { margin: 15mm; } html { font-size: 10pt; }"
        f" p {{ margin: 0; line-height: 1.5; }}</style></head><body>{rows}</body></html>",
        encoding="utf-8",
    )
    return path


@needs_poppler
@pytest.mark.parametrize(("lines", "pages", "last_line_on"), [(103, 2, 2), (120, 3, 3), (40, 1, 1)])
def test_a_pdf_lays_out_tighter_when_that_saves_a_nearly_empty_last_page(
    renderer: render.Renderer, tmp_path: Path, lines: int, pages: int, last_line_on: int
) -> None:
    """103 lines: 2 pages and 3 lines, which the tighter type (print-tight.css) fits on 2 pages. 120 lines: a
    last page with 20 lines is no near-empty page, and 40 lines fit one page: both are laid out as they are."""
    pdf = renderer.pdf(_lines_page(tmp_path / "page.html", lines), tmp_path / "page.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    found = [p for p in text.split("\f") if p.strip()]
    assert len(found) == pages
    assert f"Line {lines - 1}" in found[last_line_on - 1]


def test_last_page_fill_measures_the_laid_out_last_page(renderer: render.Renderer, tmp_path: Path) -> None:
    import weasyprint

    for lines, share in ((103, 3 / 50), (120, 20 / 50), (25, 25 / 50)):
        laid = weasyprint.HTML(filename=str(_lines_page(tmp_path / f"{lines}.html", lines))).render()
        assert render.last_page_fill(laid) == pytest.approx(share, abs=0.02), lines
    assert render.last_page_fill(object()) == 1.0  # a layout it cannot read: nothing to tighten


def test_pdf_draws_each_chart_as_an_svg_image() -> None:
    page = (
        '<figure><div class="sr-chart__svg" aria-hidden="true"><svg width="10"><g><text>a</text></g></svg></div>'
        '</figure><div class="sr-chart__svg">\n<svg width="20"><svg><rect/></svg></svg>\n</div><p>x</p>'
    )
    out = render._charts_as_images(page)
    assert "<svg" not in out and out.count('<img src="data:image/svg+xml;base64,') == 2
    assert out.endswith("</div><p>x</p>")
    svgs = [base64.b64decode(m).decode() for m in re.findall(r"base64,([^\"]+)", out)]
    assert svgs == ['<svg width="10"><g><text>a</text></g></svg>', '<svg width="20"><svg><rect/></svg></svg>']


@needs_poppler
def test_pdf_charts_as_images_look_the_same_as_inline(
    built: dict[str, Path], renderer: render.Renderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The faster image route draws the same pixels as WeasyPrint's inline SVG, and the axis text stays text."""
    monkeypatch.setattr(render, "_charts_as_images", lambda text: text)
    inline = renderer.pdf(built["html"], tmp_path / "inline.pdf")
    pages = []
    for pdf in (built["pdf"], inline):
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / pdf.stem)], check=True)
        pages.append(sorted(tmp_path.glob(f"{pdf.stem}-*.png")))
    assert len(pages[0]) == len(pages[1]) >= 2
    for a, b in zip(*pages, strict=True):
        assert ImageChops.difference(Image.open(a).convert("RGB"), Image.open(b).convert("RGB")).getbbox() is None, a
    assert _pdftext(built["pdf"]) == _pdftext(inline)


@needs_poppler
def test_team_pdf_letter(renderer: render.Renderer, tmp_path: Path) -> None:
    result = renderer.render(team_notebook(), tmp_path / "team.html", tmp_path / "team.pdf")
    assert result.pdf is not None
    assert result.html_seconds > 0
    assert result.pdf_seconds > 0
    letter = renderer.pdf(result.html, tmp_path / "letter.pdf", page_size="Letter")
    info = subprocess.run(["pdfinfo", str(letter)], capture_output=True, text=True, check=True).stdout
    assert "612 x 792" in info
    text = _pdftext(result.pdf)
    assert "North · October 2026" in text
    assert "Leaderboard" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.pdf", "team.html", "team.pdf"]


def test_the_company_summary_is_named_as_its_title_in_the_header_and_footer(
    renderer: render.Renderer, tmp_path: Path
) -> None:
    """The company summary's team is the id "company": the header line and the PDF footer say its title."""
    nb = team_notebook()
    nb.metadata["salesreports"] = _meta("team", "Company summary", "15 reps · October 2026", "company")
    html = renderer.html(nb, tmp_path / "company.html").read_text(encoding="utf-8")
    who = re.search(r'<span class="sr-who"[^>]*>(.*?)</span>', html)[1]  # type: ignore[index]
    assert re.sub(r"<[^>]+>|[\u2068\u2069]", "", who) == "Company summary"


def test_a_section_the_data_could_not_fill_is_left_out_with_its_heading() -> None:
    """A view returns None for a section without its data: its heading and narrative go with it."""
    shown = new_output("display_data", data={"text/plain": "tiles"})
    nb = new_notebook(
        cells=[
            new_markdown_cell("## Headline KPIs\n\nThis month."),
            new_code_cell("view.tiles()", outputs=[shown]),
            new_markdown_cell("## Ramp\n\nFor reps in their first months."),
            new_code_cell("view.ramp()", outputs=[]),
            new_markdown_cell("## Funnel and activity"),
            new_code_cell("view.funnel()", outputs=[]),
            new_code_cell("view.activity()", outputs=[shown]),
            new_markdown_cell("Closing words, no heading."),
            new_code_cell("x = 1", outputs=[]),
            new_markdown_cell("## The end"),
        ]
    )
    prepared, _ = render._prepare(nb, interactive=False)
    texts = [c.source for c in prepared.cells if c.cell_type == "markdown"]
    assert texts == [
        "## Headline KPIs\n\nThis month.",
        "## Funnel and activity",
        "Closing words, no heading.",
        "## The end",
    ]


def test_the_pdf_leaves_out_phone_charts_and_chart_tables(tmp_path: Path) -> None:
    """A chart's phone drawing and its numbers as a table are for browsers; the PDF draws each chart once."""
    weeks = pd.DataFrame({"week": ["2026-10-05", "2026-10-05"], "type": ["call", "email"], "count": [3, 4]})
    numbers = d.table(pd.DataFrame({"week": ["5 Oct"], "call": [3], "email": [4]}), caption="Per week")
    chart = d.chart(charts.activity(weeks), alt="Activity: 7 in one week.", name="activity", table=numbers)
    nb = new_notebook(cells=[_cell(chart)], metadata={"salesreports": _meta("rep", "S", "", REP)})
    r = render.Renderer()
    html = r.html(nb, tmp_path / "a.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2
    assert '<figure class="sr-chart" data-chart="activity"><div class="sr-chart__pic" role="img"' in html
    assert '<details class="sr-chart__data"><summary>The numbers as a table</summary>' in html
    assert '<th scope="row" dir="auto">5 Oct</th>' in html  # the table stays a table, outside the image
    seen: list[str] = []
    real = render._charts_as_images
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "_charts_as_images", lambda text: seen.append(text) or real(text))
        r.pdf(tmp_path / "a.html", tmp_path / "a.pdf")
    assert seen and 'sr-chart__svg--narrow" aria-hidden' not in seen[0] and "<details" not in seen[0]
    assert seen[0].count('<div class="sr-chart__svg"') == 1


# -- the report's language -------------------------------------------------------------------------------------


def _german_notebook() -> Any:
    meta = {**_meta("rep", "Ann — scorecard", "Team North · Oktober 2026", "Ann"), "locale": "de_DE"}
    nb = new_notebook(
        cells=[
            new_markdown_cell("## Headline KPIs\n\nThe month at a glance.\n\nNot translated yet."),
            new_code_cell("x", outputs=[new_output("error", ename="KeyError", evalue="'amount'", traceback=[])]),
        ]
    )
    nb.metadata["salesreports"] = meta
    return nb


def test_the_page_language_is_the_report_locale(renderer: render.Renderer) -> None:
    html = renderer.html_text(_german_notebook())
    assert '<html lang="de-DE">' in html
    english = new_notebook(cells=[new_markdown_cell("Hello")])
    english.metadata["salesreports"] = _meta("rep", "Ann — scorecard", "Team North · October 2026", "Ann")
    assert '<html lang="en-US">' in renderer.html_text(english)  # no locale in the metadata: en_US
    assert render.html_lang("fr_CA") == "fr-CA"


def test_markdown_cells_and_fixed_words_are_translated(
    renderer: render.Renderer, request: pytest.FixtureRequest
) -> None:
    from _catalog import install_catalog

    install_catalog(
        request,
        {
            "## Headline KPIs": "## Wichtigste Kennzahlen",
            "The month at a glance.": "Der Monat auf einen Blick.",
            "This section could not be computed.": "Dieser Abschnitt konnte nicht berechnet werden.",
            "Generated {when}": "Erstellt am {when}",
            "Made by salesreports {version} on {generated}.": "Erstellt mit salesreports {version} am {generated}.",
            "Page {page} of {pages}": 'Seite {page} von {pages} "A4"',
        },
    )
    html = renderer.html_text(_german_notebook())
    # the PDF's page numbers: CSS content, the translation's quotes escaped
    assert '@bottom-right { content: "Seite " counter(page) " von " counter(pages) " \\"A4\\""; }' in html
    assert "<h2" in html and "Wichtigste Kennzahlen</h2>" in html
    assert "<p>Der Monat auf einen Blick.</p>" in html
    assert "<p>Not translated yet.</p>" in html  # a paragraph without a translation stays as written
    assert "Headline KPIs" not in html and "The month at a glance" not in html
    assert "Dieser Abschnitt konnte nicht berechnet werden." in html
    assert "Erstellt am 1. Nov. 2026, 08:00 UTC" in html
    assert f"Erstellt mit salesreports {render.__version__} am 1. Nov. 2026, 08:00 UTC." in html
    # the notebook itself is left as it was, and an English report of the same process stays English
    assert _german_notebook().cells[0].source.startswith("## Headline KPIs")
    english = new_notebook(cells=[new_markdown_cell("## Headline KPIs\n\nThe month at a glance.")])
    html = renderer.html_text(english)
    assert "Headline KPIs</h2>" in html and "Wichtigste" not in html
