"""Tests for salesreports.report.index: the period's self-contained, sortable and filterable index page.

``manifest`` is also used by test_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from salesreports.errors import RenderError
from salesreports.report.index import write_index

TEAMS = ("North", "South", "East", "West")


def manifest(n_reps: int = 6, *, base: Path | None = None) -> dict[str, Any]:
    """A run manifest with one team report per team and ``n_reps`` rep reports (deterministic)."""
    reports: list[dict[str, Any]] = [
        {
            "kind": "team",
            "id": f"team-{t.lower()}",
            "name": f"{t} team",
            "team": t,
            "status": "ok",
            "error": None,
            "reason": None,
            "outputs": {"html": f"teams/{t.lower()}/summary.html", "pdf": f"teams/{t.lower()}/summary.pdf"},
            "headline": {"revenue": {"value": 400000.0 + i, "text": f"${400000 + i:,}"}},
        }
        for i, t in enumerate(TEAMS)
    ]
    for i in range(n_reps):
        rid = f"R{i + 1:04d}"
        status = "failed" if i % 17 == 3 else "skipped" if i % 19 == 5 else "ok"
        revenue = None if i % 13 == 7 else float((i * 7919) % 90000 + 1000)
        reports.append(
            {
                "kind": "rep",
                "id": rid,
                "name": f"Rep {i:04d} Example",
                "team": TEAMS[i % 4],
                "status": status,
                "error": "PapermillExecutionError: cell 7: KeyError 'amount'" if status == "failed" else None,
                "reason": "no deals in this period" if status == "skipped" else None,
                "outputs": {
                    "html": f"{rid}/scorecard.html",
                    "pdf": f"{rid}/scorecard.pdf",
                    "ipynb": f"{rid}/scorecard.ipynb",
                },
                "headline": {}
                if status != "ok"
                else {
                    "revenue": {"value": revenue, "text": None},
                    "win_rate": {"value": ((i * 31) % 60) / 100, "text": None},
                },
            }
        )
    if base is not None:
        reports[-1]["outputs"]["html"] = str(base / "abs" / "page.html")
    return {
        "period": "2026-10",
        "period_title": "October 2026",
        "generated_at": "2026-11-01T08:00:00Z",
        "company": "Example Corp",
        "reports": reports,
    }


def page_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="ix-data">(.*?)</script>', html, flags=re.DOTALL)
    assert match
    return json.loads(match[1])  # type: ignore[no-any-return]


def test_index_lists_every_report_with_status_and_links(tmp_path: Path) -> None:
    out = write_index(manifest(20, base=tmp_path), tmp_path / "index.html")
    html = out.read_text(encoding="utf-8")
    data = page_data(html)
    assert len(data["rows"]) == 24
    assert data["kpis"] == ["Revenue", "Win rate"]  # labels from the KPI registry
    failed = next(r for r in data["rows"] if r["s"] == "failed")
    assert failed["m"].startswith("PapermillExecutionError")
    assert failed["b"].endswith("scorecard.ipynb")
    skipped = next(r for r in data["rows"] if r["s"] == "skipped")
    assert skipped["m"] == "no deals in this period"
    assert skipped["x"] == ["", ""]
    ok = next(r for r in data["rows"] if r["i"] == "R0001")
    assert ok["h"] == "R0001/scorecard.html"
    assert ok["x"][0] == "$1,000"
    assert ok["v"][0] == 1000.0
    missing = next(r for r in data["rows"] if r["i"] == "R0008")
    assert missing["v"][0] is None
    assert missing["x"][0] == "not available"
    assert data["rows"][-1]["h"] == "abs/page.html"  # absolute paths become relative to the index
    assert "Example Corp" in html
    assert "October 2026" in html
    assert "Generated 1 Nov 2026, 08:00 UTC" in html
    assert "20 rep scorecards and 4 team summaries" in html


def test_index_is_offline_and_escapes_data(tmp_path: Path) -> None:
    m = manifest(2)
    m["reports"].append(
        {
            "kind": "rep",
            "id": "X<1>",
            "name": "</script><script>alert(1)</script>",
            "team": "<b>T</b>",
            "status": "ok",
            "outputs": {"html": "javascript:alert(1)", "pdf": "X 1/a#b.pdf", "ipynb": "http://example.org/x"},
            "headline": {"revenue": 5.0},
        }
    )
    html = write_index(m, tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "<b>T</b>" not in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html  # the team filter option
    row = page_data(html)["rows"][-1]
    assert row["n"] == "</script><script>alert(1)</script>"
    assert row["h"] is None
    assert row["b"] is None
    assert row["p"] == "X%201/a%23b.pdf"
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert refs == []  # links are built by the script from relative paths
    assert "http://" not in html
    assert "https://" not in html
    assert html.count("<script") == 2  # the JSON data and the few lines that sort and filter


def _rep(rid: str, headline: dict[str, Any], team: str = "North") -> dict[str, Any]:
    return {"kind": "rep", "id": rid, "name": rid, "team": team, "status": "ok", "outputs": {}, "headline": headline}


def test_a_rep_without_any_figure_gets_one_reason_instead_of_a_cell_each(tmp_path: Path) -> None:
    never = "no deal, lead or activity of this rep by this period"
    m = manifest(0)
    m["reports"] += [
        _rep("Gus", {k: {"value": None, "text": "not available", "reason": never} for k in ("revenue", "win_rate")}),
        _rep(
            "Ivan",
            {
                "revenue": {"value": None, "text": "not available", "reason": never},
                "win_rate": {"value": None, "text": "not available", "reason": "no deals closed in the period"},
            },
        ),
        _rep("Old", {k: {"value": None, "text": "not available"} for k in ("revenue", "win_rate")}),
        _rep("Ana", {"revenue": {"value": None, "reason": never}, "win_rate": {"value": 0.5, "text": "50.0%"}}),
    ]
    rows = {r["i"]: r for r in page_data(write_index(m, tmp_path / "i.html").read_text(encoding="utf-8"))["rows"]}
    assert rows["Gus"]["z"] == "No deal, lead or activity of this rep by this period"
    assert rows["Gus"]["v"] == [None, None]  # still sorts last by any KPI
    assert "z" not in rows["Ivan"] and "z" not in rows["Old"] and "z" not in rows["Ana"]  # two reasons, none, a value
    assert all("w" not in r for r in rows.values())


def test_the_company_summary_is_named_as_its_page_and_belongs_to_no_team(tmp_path: Path) -> None:
    m = manifest(1)
    m["reports"].append({**m["reports"][0], "id": "company", "name": "company", "team": "company"})
    html = write_index(m, tmp_path / "i.html").read_text(encoding="utf-8")
    row = next(r for r in page_data(html)["rows"] if r["i"] == "company")
    assert (row["n"], row["t"], row["o"]) == ("Company summary", "", True)  # "o": its id is not shown beside it
    assert '<option value="company">' not in html  # no team filter for "company"


def test_index_for_5000_reps_is_small_and_complete(tmp_path: Path) -> None:
    """Its time is part of `make bench-plan` (planning writes the index): a benchmark, not a timed test."""
    out = write_index(manifest(5000), tmp_path / "index.html")
    assert out.stat().st_size < 2_500_000
    assert len(page_data(out.read_text(encoding="utf-8"))["rows"]) == 5004


def test_index_rejects_a_broken_manifest_listing_every_problem(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="no 'reports' list"):
        write_index({"period": "2026-10"}, tmp_path / "index.html")
    bad = manifest(1)
    bad["reports"].extend([{"id": "", "status": "ok"}, {"id": "R9", "status": "done", "kind": "boss"}, "nope"])
    with pytest.raises(RenderError, match=r"4 problem\(s\)") as err:
        write_index(bad, tmp_path / "index.html")
    message = str(err.value)
    assert "no id" in message
    assert "status 'done'" in message
    assert "kind 'boss'" in message
    assert "got str" in message
    assert not (tmp_path / "index.html").exists()


def test_index_with_no_reports(tmp_path: Path) -> None:
    html = write_index({"reports": []}, tmp_path / "index.html").read_text(encoding="utf-8")
    assert "0 rep scorecards and 0 team summaries" in html
    assert page_data(html)["rows"] == []


# -- the company's language ------------------------------------------------------------------------------------


def test_the_index_is_in_the_company_locale(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from _catalog import install_catalog

    install_catalog(
        request,
        {
            "Sales reports · {period}": "Verkaufsberichte · {period}",
            ("{n} rep scorecard", "{n} rep scorecards"): ("{n} Scorecard", "{n} Scorecards"),
            ("{n} team summary", "{n} team summaries"): ("{n} Teambericht", "{n} Teamberichte"),
            "{reps} and {teams}": "{reps} und {teams}",
            "Generated {when}": "Erstellt am {when}",
            "skipped": "übersprungen",
            "Revenue": "Umsatz",
            "Sort by {column}": "Sortieren nach {column}",
            "Search": "Suche",
            "Showing {first}–{last} of {shown}": "{first}–{last} von {shown}",
            "joined on {date}, after {period}": "eingetreten am {date}, nach {period}",
        },
    )
    m = manifest(1200)
    m["reports"][-1] = {**m["reports"][-1], "status": "skipped", "reason": "joined on 2026-11-03, after October 2026"}
    html = write_index(m, tmp_path / "index.html", locale="de_DE").read_text(encoding="utf-8")
    assert '<html lang="de-DE">' in html
    assert "<h1>Verkaufsberichte · October 2026</h1>" in html  # the period title comes written (manifest)
    assert "1.200 Scorecards und 4 Teamberichte · Erstellt am 1. Nov. 2026, 08:00 UTC" in html
    assert '<option value="skipped">übersprungen</option>' in html
    assert "<span>Suche</span>" in html and 'title="Sortieren nach Umsatz"' in html
    assert "Sort by" not in html and "Generated" not in html
    data = page_data(html)
    assert data["kpis"][0] == "Umsatz"
    words = data["words"]
    assert words["lang"] == "de-DE" and words["statuses"]["skipped"] == "übersprungen"
    assert words["showing"] == "{first}–{last} von {shown}"
    assert words["statuses"]["failed"] == "failed"  # no translation in this catalog: as written
    assert data["rows"][-1]["m"] == "eingetreten am 2026-11-03, nach October 2026"  # the stored English reason
    # the manifest's locale is the default; without one the page stays in US English
    m["locale"] = "de_DE"
    assert '<html lang="de-DE">' in write_index(m, tmp_path / "m.html").read_text(encoding="utf-8")
    english = write_index(manifest(3), tmp_path / "en.html").read_text(encoding="utf-8")
    assert '<html lang="en-US">' in english and "3 rep scorecards and 4 team summaries · Generated" in english
    assert page_data(english)["words"]["statuses"] == {"ok": "ok", "failed": "failed", "skipped": "skipped"}
