"""Every page type on every kind of data set: each page is the best page the data supports, and says nothing false.

Data sets: a generated demo (every table), Northwind and Olist from ``../shared/datasets`` (fewer tables), and the
deals-only fixture (a pipeline and a team list: no targets, leads, activities, feedback or hire dates; eight months;
three reps who never sold). Page types: rep scorecard, team summary, company summary (HTML, PDF), the index, the
rep's email. What the data supports comes from each report's own context (``capabilities``); what a rep did comes
from the raw files, read here with the ``csv`` module.
"""

from __future__ import annotations

import csv
import email
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from email import policy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from conftest import built_once
from salesreports.metrics.kpis import registry
from salesreports.params import load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
DEALS_ONLY = ROOT / "tests" / "fixtures" / "deals_only"
NOTE_TITLE = "These figures need data your source does not have"

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@dataclass
class Run:
    name: str
    folder: Path  # build/reports/<period>
    outbox: Path
    period: str


def _settings(
    root: Path,
    source: Path,
    goals: str = '""',
    company: str = "Matrix Co",
    locale: str = "en_US",
    currency: str = "USD",
    *,
    review: bool = False,
    extra: str = "",
) -> Path:
    """A settings file for ``source`` under ``root`` (US English and dollars unless told); ``review``: a rep's
    quarter or year uses reports/review.ipynb (``templates.review``); ``extra``: more settings, as YAML."""
    path = root / "params" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(f"""\
            company: {company}
            locale: {locale}
            currency: {currency}
            source: {source}
            output_dir: {root / "reports"}
            outbox_dir: {root / "outbox"}
            templates:
              rep: {ROOT / "reports" / "rep_scorecard.ipynb"}
              team: {ROOT / "reports" / "team_summary.ipynb"}
            goals: {goals}
            coaching: {ROOT / "params" / "coaching.yaml"}
            run:
              workers: 2
              timeout: 120
            """)
    if review:
        text = text.replace("templates:\n", f"templates:\n  review: {ROOT / 'reports' / 'review.ipynb'}\n")
    path.write_text(text + extra, encoding="utf-8")
    return path


def _run(name: str, root: Path, source: Path, period: str, reps: list[str], goals: str = '""') -> Run:
    from salesreports.mail.send import send_reports
    from salesreports.run.batch import run_reports

    if name in ("northwind", "olist") and not SHARED.is_dir():
        pytest.fail(f"the shared data sets are missing ({SHARED}): the page matrix needs them")
    config = load_config(_settings(root, source, goals), environ={})
    summary = run_reports(config, periods=period, reps=reps)
    assert summary.ok, summary.failed
    send_reports(config, period=period)  # a dry run: .eml files in the outbox
    return Run(name, config.output_path / period, root / "outbox" / period, period)


def demo_run(root: Path) -> Run:
    """A 14-month demo of 12 reps with every table, run for October 2026 (R001, R002, teams, company)."""
    from salesreports.data.demo import generate_demo

    generate_demo(root / "data", months=14, n_reps=12, end_month="2026-10")
    source = root / "data" / "source.yaml"
    tables = ("reps", "deals", "leads", "activities", "targets", "feedback")
    source.write_text(
        "name: demo\nkind: files\nbase_dir: .\ntables:\n" + "".join(f"  {t}: {{file: {t}.csv}}\n" for t in tables),
        encoding="utf-8",
    )
    return _run("demo", root, source, "2026-10", ["R001", "R002"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    out: dict[str, Run] = {"demo": built_once(tmp_path_factory, "pages-demo", demo_run)}
    nw = tmp_path_factory.mktemp("pages-northwind")
    out["northwind"] = _run("northwind", nw, ROOT / "params" / "sources" / "northwind.yaml", "1998-04", ["1", "5"])
    ol = tmp_path_factory.mktemp("pages-olist")
    olist_reps = _olist_reps()
    out["olist"] = _run("olist", ol, ROOT / "params" / "sources" / "olist.yaml", "2018-10", olist_reps)
    out["deals_only"] = built_once(tmp_path_factory, "pages-deals-only", deals_only_run)
    return out


def deals_only_run(root: Path) -> Run:
    """The deals-only export run for October 2026: seven reps (one who joined in July, one who closed nothing in
    October, two who closed only lost deals, one who never sold) with the demo's goals, which a new user copies
    along with params/."""
    goals = str(ROOT / "params" / "goals.yaml")
    reps = ["Ana Silva", "Ben Okafor", "Dev Patel", "Gus Lind", "Ivan Petrov", "Omar Haddad", "Kofi Mensah"]
    return _run("deals_only", root, DEALS_ONLY / "source.yaml", "2026-10", reps, goals)


def _olist_reps() -> list[str]:
    """Two closing reps of Olist: the one with the most won deals, and one with few."""
    if not SHARED.is_dir():
        return []
    with (SHARED / "olist-marketing-funnel" / "olist_closed_deals_dataset.csv").open(encoding="utf-8") as f:
        counts: dict[str, int] = {}
        for row in csv.DictReader(f):
            counts[row["sr_id"]] = counts.get(row["sr_id"], 0) + 1
    ranked = sorted(counts, key=lambda r: (-counts[r], r))
    return [ranked[0], ranked[-1]]


def _pages(run: Run) -> list[tuple[str, Path, dict[str, Any]]]:
    """(kind, report folder, context) of every report of the run."""
    manifest = json.loads((run.folder / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for entry in manifest["reports"]:
        if entry.get("status") != "ok":
            continue
        folder = run.folder / entry["folder"]
        ctx = json.loads((folder / "context.json").read_text(encoding="utf-8"))
        kind = "company" if entry["id"] == "company" else entry["kind"]
        out.append((kind, folder, ctx))
    return out


def _soup(folder: Path) -> BeautifulSoup:
    return BeautifulSoup((folder / "scorecard.html").read_text(encoding="utf-8"), "html.parser")


def _label_to_kpi() -> dict[str, str]:
    return {k.label.lower(): k.name for k in registry()}


DATASETS = ["demo", "northwind", "olist", "deals_only"]


@pytest.mark.parametrize("name", DATASETS)
def test_no_tile_row_column_or_chart_without_a_value(runs: dict[str, Run], name: str) -> None:
    labels = _label_to_kpi()
    for kind, folder, ctx in _pages(runs[name]):
        caps = ctx["capabilities"]
        soup = _soup(folder)
        for tile in soup.select(".sr-tile"):
            label = tile.select_one(".sr-tile__label").get_text(strip=True).lower()
            kpi = labels[label]
            assert kpi not in caps["unsupported"], f"{folder.name}: a tile for {kpi}, which the data cannot show"
            if "sr-tile--na" in tile["class"]:  # supported, but this rep, team or month lacks it: and says why
                assert tile.select_one(".sr-tile__sub").get_text(strip=True), f"{folder.name}: {label} without why"
        for table in soup.select("table.sr-table"):
            rows = [[td.get_text(strip=True) for td in tr.select("th, td")] for tr in table.select("tbody tr")]
            empty = {"not available", "—", ""}
            for col in range(1, len(rows[0]) if rows else 0):
                assert any(r[col] not in empty for r in rows), f"{folder.name}: an empty column {col}"
            if kind == "rep" or "Leaderboard" in (table.caption.get_text() if table.caption else ""):
                for r in rows:
                    assert any(c not in empty for c in r[1:]), f"{folder.name}: an empty row {r[0]}"
        for fig in soup.select("figure.sr-chart"):
            alt = fig.get("aria-label") or fig.select_one("[role=img]")["aria-label"]  # a chart with a table
            assert "not available" not in alt and "across 0 reps" not in alt, f"{folder.name}: {alt}"
        assert "across 0 reps" not in soup.get_text()


@pytest.mark.parametrize("name", DATASETS)
def test_the_not_in_your_data_note_names_exactly_what_is_missing(runs: dict[str, Run], name: str) -> None:
    reg = registry()
    for _, folder, ctx in _pages(runs[name]):
        caps = ctx["capabilities"]
        soup = _soup(folder)
        notes = [a for a in soup.select("aside.sr-callout") if NOTE_TITLE in a.get_text()]
        expected = [reg.get(k).label.lower() for k in caps["unsupported"]] + list(caps["section_labels"].values())
        if not expected:
            assert notes == [], folder.name
            continue
        assert len(notes) == 1, folder.name
        text = notes[0].get_text(" ", strip=True)
        for label in expected:
            assert label in text, f"{folder.name}: '{label}' missing from the note"
        for k in reg:
            if k.name not in caps["unsupported"]:
                assert re.search(rf"[:,] {re.escape(k.label.lower())}[,.]", text) is None, (folder.name, k.name)


@pytest.mark.parametrize("name", DATASETS)
def test_no_chart_month_before_the_data_starts(runs: dict[str, Run], name: str) -> None:
    reg = registry()
    checked = 0
    for kind, folder, ctx in _pages(runs[name]):
        if kind != "rep":
            continue
        first_months = ctx["capabilities"]["first_months"]
        nb = json.loads((folder / "scorecard.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                payload = output.get("data", {}).get("application/vnd.salesreports.chart+json")
                if not payload or not str(payload.get("name", "")).startswith("trend-"):
                    continue
                kpi = payload["name"].removeprefix("trend-").replace("-", "_")
                start = max(first_months[t] for t in reg.get(kpi).tables if t in first_months)
                spec = payload["spec"]
                data = [*spec.get("datasets", {}).values(), spec.get("data", {}).get("values", [])]
                rows = [r for d in data for r in d if "period_end" in r]
                assert rows
                assert min(str(r["period_end"]) for r in rows) >= start, f"{folder.name}: {kpi} before {start}"
                checked += 1
    # revenue and win rate, or the next headline KPIs with values: Olist (no amounts, no lost deals) charts deals won
    assert checked


@pytest.mark.parametrize("name", DATASETS)
def test_a_span_begun_before_the_data_says_so(runs: dict[str, Run], name: str) -> None:
    """A quarter, year or 12 months that began before the data is shown with where the data starts."""
    for _, folder, ctx in _pages(runs[name]):
        text = _soup(folder).get_text(" ", strip=True)
        assert "not fully covered" not in text, folder.name
        first = ctx["capabilities"]["first_months"].get("leads", "")
        if "leads of the last 12 months" in text and first > str(pd.Period(ctx["period"]["end"], "M") - 12):
            assert f"data starts in {pd.Period(first, 'M').strftime('%B %Y')}" in text, folder.name


def _deals_only_closed(period: str, stage: str = "") -> dict[str, int]:
    """Each rep's deals closed in ``period`` (only those of ``stage``, e.g. "Closed Won", when given)."""
    with (DEALS_ONLY / "deals.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    closed: dict[str, int] = {}
    for r in rows:
        closed.setdefault(r["Deal owner"], 0)
        if r["Close date"].startswith(period) and r["Stage"] == (stage or r["Stage"]):
            closed[r["Deal owner"]] += 1
    return closed


def test_no_praise_for_a_rep_without_won_deals(runs: dict[str, Run]) -> None:
    """Ben Okafor closed only lost deals in October ($0, 0.0% win rate, the bottom quarter of his team): the
    coaching rules flag nothing, but the page must not say every KPI is at or above its benchmark."""
    won = _deals_only_closed("2026-10", "Closed Won")
    seen = set()
    for kind, folder, ctx in _pages(runs["deals_only"]):
        if kind != "rep" or won.get(ctx["rep"]["rep_id"], 0):
            continue
        text = _soup(folder).get_text(" ", strip=True)
        assert "No training needs flagged" not in text and "at or above its benchmark" not in text, folder.name
        seen.add(ctx["rep"]["rep_id"])
    assert seen == {"Ben Okafor", "Dev Patel", "Gus Lind", "Ivan Petrov"}  # raw data: no deal won in October


def test_no_praise_or_benchmark_claim_for_a_rep_without_closed_deals(runs: dict[str, Run]) -> None:
    run = runs["deals_only"]
    closed = _deals_only_closed("2026-10")
    seen = 0
    for kind, folder, ctx in _pages(run):
        if kind != "rep" or closed.get(ctx["rep"]["rep_id"], 0):
            continue
        text = _soup(folder).get_text(" ", strip=True)
        assert "No training needs flagged" not in text, folder.name
        position = [tr.get_text(" ", strip=True) for tr in _soup(folder).select("table.sr-table tbody tr")]
        assert not [r for r in position if r.startswith(("Revenue", "Win rate", "Deals won"))], folder.name
        tiles = {t.get_text(strip=True) for t in _soup(folder).select(".sr-tile__label")}
        assert tiles <= {"Open pipeline"}, folder.name  # no $0 tiles with arrows: only what is not from closed deals
        assert "No deals closed in October 2026" in text or "No deals, leads or activity" in text, folder.name
        seen += 1
    assert seen == 2  # Gus Lind never sold; Dev Patel closed nothing in October (raw data)


def test_reps_who_never_sold_are_named_with_their_reason_for_managers(runs: dict[str, Run]) -> None:
    run = runs["deals_only"]
    team = next(f for k, f, c in _pages(run) if k == "team" and c["team"]["name"] == "Inside Sales")
    attention = next(a for a in _soup(team).select("aside.sr-callout") if "to talk to" in a.get_text())
    text = attention.get_text(" ", strip=True)
    assert "\u2068Gus Lind\u2069: no deal, lead or activity in the data yet" in text  # names isolated
    assert "\u2068Hana Sato\u2069: no deal, lead or activity in the data yet" in text
    board = _soup(team).select_one("table.sr-table caption").get_text()
    assert board == "Leaderboard — October 2026, ranked by revenue"  # no targets: quota attainment cannot rank


def test_a_deals_only_scorecard_says_not_available_at_most_three_times(runs: dict[str, Run]) -> None:
    run = runs["deals_only"]
    seen = 0
    for kind, folder, _ctx in _pages(run):
        if kind == "rep":
            text = _soup(folder).get_text(" ", strip=True)
            assert text.count("not available") <= 3, folder.name
            seen += 1
    assert seen == 7  # every rep of the run, Ben Okafor and Ivan Petrov (only lost deals in October) among them


def test_goals_the_data_cannot_measure_never_reach_a_page(runs: dict[str, Run]) -> None:
    """The demo's goals copied along with params/: unknown owners, a product the export has no column for."""
    run = runs["deals_only"]
    for _, folder, ctx in _pages(run):
        assert ctx["goals"] == [], folder.name
        text = _soup(folder).get_text(" ", strip=True)
        assert "figures hidden" not in text and "Goals not measured yet" not in text


def test_the_deals_only_pdf_keeps_page_one_full(runs: dict[str, Run]) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: `make sysdeps` installs it")
    run = runs["deals_only"]
    folder = next(f for k, f, c in _pages(run) if k == "rep" and c["rep"]["rep_id"] == "Ana Silva")
    pdf = folder / "scorecard.pdf"
    page1 = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True).stdout
    for text in ("Ana Silva", "Headline KPIs", "OPEN PIPELINE", "Trends", "Revenue by month"):
        assert text in page1, text
    pages = int(
        re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout)[1]
    )
    last = subprocess.run(
        ["pdftotext", "-f", str(pages), "-l", str(pages), str(pdf), "-"], capture_output=True, text=True
    )
    assert len(last.stdout.split()) > 40, "a nearly empty last page"


def _last_page_fill(pdf: Path) -> tuple[int, float]:
    """(pages, the share of the last page's height between the margins that holds something), from pdftoppm."""
    from PIL import Image

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])  # type: ignore[index]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["pdftoppm", "-r", "30", "-gray", "-png", "-f", str(pages), "-l", str(pages), str(pdf), f"{tmp}/p"]
        subprocess.run(cmd, check=True)
        image = Image.open(next(Path(tmp).glob("p*.png"))).convert("L")
        width, height = image.size
        top, bottom = round(height * 15 / 297), round(height * (297 - 17) / 297)  # report.css's page margins
        ink = [y for y in range(top, bottom) if image.crop((0, y, width, y + 1)).getextrema()[0] < 200]
    return pages, (max(ink, default=top) - top) / (bottom - top)


def test_the_deals_only_summaries_end_on_no_nearly_empty_page(runs: dict[str, Run]) -> None:
    """The team and company summaries ended with a few lines of the "Not in your data" note on a page of their
    own: the note is printed compact, and a PDF whose last page would be nearly empty is laid out tighter."""
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is missing: `make sysdeps` installs it")
    seen = 0
    for kind, folder, _ctx in _pages(runs["deals_only"]):
        if kind in ("team", "company"):
            pages, fill = _last_page_fill(folder / "scorecard.pdf")
            assert pages == 1 or fill > 1 / 3, (folder.name, pages, fill)
            seen += 1
    assert seen == 3  # Inside Sales, Field Sales, the company


@pytest.mark.parametrize("name", DATASETS)
def test_index_columns_have_values(runs: dict[str, Run], name: str) -> None:
    html = (runs[name].folder / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="ix-data">(.*?)</script>', html, re.S)[1])
    for i, label in enumerate(data["kpis"]):
        assert any(r["v"][i] is not None for r in data["rows"]), f"{name}: index column {label} is empty"


def _index_dom(run: Run) -> BeautifulSoup:
    """The run's index page as Chromium builds it (its rows are drawn by the page's script)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is missing: `make sysdeps` installs it")
    index = run.folder / "index.html"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", index.as_uri()],
            capture_output=True, text=True, timeout=60, check=True, env={**os.environ, "HOME": profile},
        ).stdout  # fmt: skip
    return BeautifulSoup(dom, "html.parser")


def test_the_index_names_a_rep_once_when_the_id_is_the_name(runs: dict[str, Run]) -> None:
    dom = _index_dom(runs["deals_only"])
    row = next(tr for tr in dom.select("tr") if "Ana Silva" in tr.get_text())
    assert row.select(".ix-id") == []
    assert row.get_text(" ", strip=True).count("Ana Silva") == 1


def test_the_index_says_once_why_a_rep_has_no_figure_and_names_the_company_row(runs: dict[str, Run]) -> None:
    """Gus Lind never sold: one cell across the KPI columns with the reason, not six "not available"; the
    company summary's row is named as its page ("Company summary"), in no team."""
    dom = _index_dom(runs["deals_only"])
    columns = len(dom.select("#ix-table thead th[data-type=num]"))
    gus = next(tr for tr in dom.select("#ix-rows tr") if "Gus Lind" in tr.get_text())
    assert "not available" not in gus.get_text()
    why = gus.select("td.ix-why")
    assert len(why) == 1 and int(why[0]["colspan"]) == columns > 1
    assert why[0].get_text(strip=True) == "No deal, lead or activity of this rep by this period"
    company = next(tr for tr in dom.select("#ix-rows tr") if tr.get("data-id") == "company")
    assert company.select_one("th").get_text(" ", strip=True) == "Company summary"  # without its id "company"
    assert company.select_one("td.ix-cell-team").get_text(strip=True) == ""
    assert "company" not in [o.get("value") for o in dom.select("#ix-team option")]


@pytest.mark.parametrize("name", DATASETS)
def test_emails_show_only_what_the_data_supports(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    reg = registry()
    contexts = {c["rep"]["rep_id"]: c for k, _, c in _pages(run) if k == "rep"}
    sent = 0
    for eml in sorted(run.outbox.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        text = msg.get_body(("plain",)).get_content()
        ctx = next(c for c in contexts.values() if c["rep"].get("email") and c["rep"]["email"] in msg["To"])
        for kpi in ctx["capabilities"]["unsupported"]:
            assert f"- {reg.get(kpi).label}:" not in text, f"{eml.name}: {kpi}"
        sent += 1
    if name in ("demo", "deals_only"):
        assert sent >= 2  # Northwind and Olist have no email addresses


def test_an_email_says_no_deals_closed_once(runs: dict[str, Run]) -> None:
    """Dev Patel closed nothing in October, Gus Lind never sold: the notice stands once above the tiles (it was
    also printed as a tile line)."""
    notices = {
        "dev.patel@": "No deals closed in October 2026.",
        "gus.lind@": "No deals, leads or activity of Gus Lind in the data up to October 2026.",
    }
    seen = 0
    for eml in sorted(runs["deals_only"].outbox.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        notice = next((n for who, n in notices.items() if who in msg["To"]), None)
        if notice is None:
            continue
        text = msg.get_body(("plain",)).get_content()
        html = BeautifulSoup(msg.get_body(("html",)).get_content(), "html.parser").get_text(" ", strip=True)
        assert text.count(notice) == 1 and f"- {notice}" not in text, eml.name
        assert " ".join(html.replace("\u2068", "").replace("\u2069", "").split()).count(notice) == 1, eml.name
        seen += 1
    assert seen == 2


def test_the_pseudo_rep_of_rows_without_a_rep_is_nobody_on_the_pages(runs: dict[str, Run]) -> None:
    """Olist's unconverted leads belong to `unassigned_rep: unassigned`: in the totals, never listed as a rep,
    never in a median, and no team summary of its own."""
    run = runs["olist"]
    pages = _pages(run)
    assert not any(kind == "team" and ctx["team"]["name"] == "Unassigned" for kind, _, ctx in pages)
    company = next(ctx for kind, _, ctx in pages if kind == "company")
    members = {m["rep_id"] for m in company["team"]["members"]}
    assert "unassigned" not in members and len(members) == 22  # the 22 closing reps of SOURCE.md
    text = _soup(next(f for kind, f, _ in pages if kind == "company")).get_text(" ", strip=True)
    assert "unassigned" not in text.lower() and "22 reps" in text
    for kind, _, ctx in pages:  # every rep's leads are the ones they won: no 100% conversion anywhere
        assert "lead_conversion" in ctx["capabilities"]["unsupported"], kind


def test_a_table_that_stops_before_the_month_leaves_its_tiles_out_with_one_note(runs: dict[str, Run]) -> None:
    """Olist's leads stop in May 2018: October 2018 shows no lead tiles, says why once, and never says 0 leads."""
    for kind, folder, _ in _pages(runs["olist"]):
        soup = _soup(folder)
        labels = [t.get_text(strip=True).lower() for t in soup.select(".sr-tile__label")]
        assert not {"leads", "qualified leads", "lead quality"} & set(labels), (folder.name, labels)
        text = soup.get_text(" ", strip=True)
        assert "The leads data ends in May 2018: no leads, qualified leads or lead quality for October 2018." in text
        if kind == "company":  # reps who closed nothing are named for managers, with why
            attention = next(a for a in soup.select("aside.sr-callout") if "to talk to" in a.get_text())
            assert "no deals closed in October 2018" in attention.get_text()


def test_managers_see_who_to_talk_to_on_a_kpi_the_data_has(runs: dict[str, Run]) -> None:
    """Northwind has none of the key KPIs (attainment, win rate, conversion, calls): the team's ranking KPI
    (revenue) decides, and Steven Buchanan's $210 in April 1998 is the lowest of the company."""
    company = next(f for kind, f, _ in _pages(runs["northwind"]) if kind == "company")
    attention = next(a for a in _soup(company).select("aside.sr-callout") if "to talk to" in a.get_text())
    assert "\u2068Steven Buchanan\u2069: Revenue $210" in attention.get_text(" ", strip=True)


def test_a_skipped_reps_reason_takes_the_kpi_columns_and_the_row_comes_last(tmp_path: Path) -> None:
    """The tiny data in January 2025: R2 joined on 15 February, so R2 is skipped. Its reason fills the KPI
    columns (it was a tower of words in the narrow status column) and its row comes after the reports."""
    from conftest import write_config
    from salesreports.run.batch import run_reports

    config = load_config(write_config(tmp_path), environ={})
    summary = run_reports(config, periods="2025-01", kinds=("rep",))
    assert summary.ok and [s["id"] for s in summary.skipped] == ["R2"]
    dom = _index_dom(Run("tiny", config.output_path / "2025-01", tmp_path / "outbox", "2025-01"))
    rows = dom.select("#ix-rows tr")
    assert [tr.get("data-id") for tr in rows][-1] == "R2"  # after every report
    columns = len(dom.select("#ix-table thead th[data-type=num]"))
    (why,) = rows[-1].select("td.ix-why")
    assert int(why["colspan"]) == columns > 1
    assert why.get_text(strip=True) == "Joined on 2025-02-15, after January 2025"
    assert rows[-1].select(".ix-msg") == []  # not also in the status column
