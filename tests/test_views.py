"""Views over real contexts of the tiny fixture (what a template's cells display)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from salesreports.data.loading import load_dataset
from salesreports.errors import ParamsError
from salesreports.metrics.engine import compute_kpis
from salesreports.metrics.periods import parse_period
from salesreports.params import load_config
from salesreports.report.contexts import read_context, write_context
from salesreports.report.scope import Scope, build_scope
from salesreports.report.views import RepView, TeamView, either, rep_view, team_view

DEALS_ONLY = Path(__file__).parent / "fixtures" / "deals_only"


@pytest.fixture(scope="module")
def scope(tiny_config: Path) -> Scope:
    config = load_config(tiny_config, environ={})
    data = load_dataset(config.source_path)
    return build_scope(data, compute_kpis(data), config, parse_period("2025-03"))


@pytest.fixture(scope="module")
def deals_only(tmp_path_factory: pytest.TempPathFactory) -> Scope:
    """October 2026 of the deals-only export (a pipeline and a team list, 15 reps: see its make.py)."""
    from conftest import write_config

    path = write_config(tmp_path_factory.mktemp("deals-only"), DEALS_ONLY / "source.yaml")
    config = load_config(path, environ={})
    data = load_dataset(config.source_path)
    return build_scope(data, compute_kpis(data), config, parse_period("2026-10"))


def on_disk(context: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The context as a notebook gets it: written by the runner, read back from its files."""
    folder.mkdir(parents=True, exist_ok=True)
    write_context(context, folder / "context.json")
    return read_context(folder / "context.json")


@pytest.fixture(scope="module")
def ann(scope: Scope, tmp_path_factory: pytest.TempPathFactory) -> RepView:
    return RepView(on_disk(scope.rep_context("R1"), tmp_path_factory.mktemp("ann")))


def test_in_memory_and_on_disk_contexts_give_the_same_view(scope: Scope, ann: RepView) -> None:
    fresh = RepView(scope.rep_context("R1"))  # Arrow tables, as built
    assert repr(fresh.tiles()) == repr(ann.tiles())
    assert fresh.series("revenue")["value"].tolist() == ann.series("revenue")["value"].tolist()


def _scanned(view: RepView, kpi: Any, grain: str, end: Any) -> dict[str, Any]:
    k = view._kpis
    hit = k[(k["kpi"] == kpi) & (k["grain"] == grain) & (k["period_end"] == end)]
    return {} if hit.empty else {str(c): v for c, v in hit.iloc[0].to_dict().items()}


def test_row_gives_the_first_matching_row_as_a_scan_does(scope: Scope, ann: RepView) -> None:
    """row() looks rows up in an index built once: the same answer as scanning the table, for every key."""
    keys = {(r.kpi, r.grain, r.period_end) for r in ann._kpis.itertuples()}
    assert len(keys) > 20
    for kpi, grain, end in sorted(keys):
        assert repr(ann.row(kpi, grain, end)) == repr(_scanned(ann, kpi, grain, end))
    assert ann.row("revenue", "month", "1999-01") == {}
    assert ann.row("no_such_kpi") == {}
    # a duplicated key: the first row wins, as with the scan
    view = RepView(scope.rep_context("R1"))
    first = view._kpis.iloc[0]
    twin = view._kpis.iloc[[0]].assign(value=-1.0)
    view._kpis = pd.concat([view._kpis, twin], ignore_index=True)
    view._row_index = None
    assert view.row(first["kpi"], first["grain"], first["period_end"])["value"] == first["value"]
    # a row that is not text (a hand-made context): scanned, same answer
    view._kpis = view._kpis.assign(period_end=view._kpis["period_end"].astype(object))
    view._kpis.loc[len(view._kpis) - 1, "period_end"] = None
    view._row_index = None
    assert repr(view.row(first["kpi"], first["grain"], first["period_end"])) == repr(
        _scanned(view, first["kpi"], first["grain"], first["period_end"])
    )
    assert view._row_index is False


def test_tiles_show_value_target_and_change(ann: RepView) -> None:
    text = repr(ann.tiles())
    assert "Revenue: $4,000 (target $5,000 · 80.0% attained" in text
    assert "Win rate: 66.7%" in text
    assert "Lead-to-sale conversion: 25.0%" in text
    assert "team median" not in text  # North has 2 reps, fewer than min_group_size 3


def test_unavailable_kpis_say_why(scope: Scope, tmp_path: Path) -> None:
    bob = RepView(on_disk(scope.rep_context("R2"), tmp_path))
    text = repr(bob.tiles())
    assert "Average deal size: not available (no deals won in the period)" in text
    assert "Quota attainment: not available (no revenue target for this period)" in text


def test_charts_carry_specs_and_alt_text(ann: RepView) -> None:
    trend = ann.trend("revenue")
    assert trend.alt.startswith("Revenue by month") and "latest $4,000" in trend.alt
    assert trend.bundle()["application/vnd.salesreports.chart+json"]["spec"]["$schema"].startswith("https://vega")
    assert ann.funnel().alt == "Funnel this month: Leads 4, Qualified 3, Won deals 2."
    assert "call" in ann.activity().alt


def test_the_activity_chart_has_a_table_of_one_row_a_week(ann: RepView) -> None:
    """R1's activities (tests/fixtures/tiny/activities.csv): calls on 3, 4 and 5 March 2025 (a Monday's week),
    calls on 10, 11 and 12 March and meetings on 13 and 14, a demo on 17 March and an email on 18 March."""
    from bs4 import BeautifulSoup

    chart = ann.activity()
    assert chart.table is not None
    table = BeautifulSoup(chart.table.html, "html.parser").table
    assert [th.get_text() for th in table.thead.select("th")] == [
        "Week starting", "Calls", "Emails", "Meetings", "Demos", "Total"
    ]  # fmt: skip
    rows = [[c.get_text() for c in tr.select("th, td")] for tr in table.tbody.select("tr")]
    # the weeks by their Mondays up to the period's end (Monday 31 March), from the first day of the activity
    # data (Monday 17 February: tiny's first activity, R2's call), not 12 weeks back; a quiet week is 0
    assert rows == [
        ["17 Feb 2025", "0", "0", "0", "0", "0"],
        ["24 Feb 2025", "0", "0", "0", "0", "0"],
        ["3 Mar 2025", "3", "0", "0", "0", "3"],
        ["10 Mar 2025", "3", "0", "2", "0", "5"],
        ["17 Mar 2025", "0", "1", "0", "1", "2"],
        ["24 Mar 2025", "0", "0", "0", "0", "0"],
        ["31 Mar 2025", "0", "0", "0", "0", "0"],
    ]
    assert table.caption.get_text() == "Activity per week, last 6 weeks"
    # averages over the 43 days from 17 February (6.1 weeks), not over the 3 weeks with activity: 6 calls -> 1.0
    averages = "call 1.0, demo 0.2, email 0.2, meeting 0.3"
    assert chart.alt == f"Activity per week over the last 6 weeks: {averages} on average."
    assert chart.bundle()["application/vnd.salesreports.chart+json"]["table"]["html"] == chart.table.html


def test_a_rep_hired_within_the_12_weeks_is_averaged_over_the_weeks_since(scope: Scope) -> None:
    """R2 joined on Saturday 15 February 2025, two days before the activity data starts (Monday 17 February):
    43 days to 31 March, 6.1 weeks; 4 calls (17-20 February)."""
    from bs4 import BeautifulSoup

    chart = RepView(scope.rep_context("R2")).activity()
    assert chart.alt == "Activity per week over the last 6 weeks: call 0.7 on average."  # 4 / (43 / 7)
    table = BeautifulSoup(chart.table.html, "html.parser").table
    assert [tr.select_one("th").get_text() for tr in table.tbody.select("tr")][:2] == ["17 Feb 2025", "24 Feb 2025"]
    assert len(table.tbody.select("tr")) == 7  # the weeks of 17 February to 31 March, not the weeks before


def test_a_rep_of_two_days_has_one_week_of_activity_not_a_weeks_extrapolation(scope: Scope) -> None:
    """R1 as if hired on Sunday 30 March 2025, two days before the period ends: the weeks of 24 and 31 March
    (no week before the hire), "the last 1 week", and averages over one week (no activity in them: none)."""
    context = scope.rep_context("R1")
    context["rep"] = {**context["rep"], "hire_date": "2025-03-30"}
    view = RepView(context)
    assert view._activity_window() == (["2025-03-24", "2025-03-31"], 2 / 7)
    callout = repr(view.activity())
    assert "No activity logged" in callout  # R1's activities (3-18 March) are before the hire: not this rep's weeks
    context["activity_weekly"] = [{"week": "2025-03-31", "type": "call", "count": 2}]  # two calls on 31 March
    chart = RepView(context).activity()
    assert chart.alt == "Activity per week over the last 1 week: call 2.0 on average."  # not 2 / (2/7) = 7.0
    assert "last 1 week" in chart.table.html


def test_sections(ann: RepView) -> None:
    assert ann.ramp() is None  # past the first 12 months in the role: no ramp section
    assert ann.goals() is None  # no goals concern this report: the section is left out, not asserted
    position = repr(ann.position())
    assert "Team \u2068North\u2069: 2 reps" in position  # the team name isolated (FSI…PDI)
    assert "Team median" not in position  # 2 reps < min_group_size: a column without any figure is left out
    assert "Quick answers and a clear proposal." in repr(ann.feedback())
    assert "80% attainment: estimated bonus" in repr(ann.incentive())
    assert repr(ann.coaching())


def test_team_view(scope: Scope, tmp_path: Path) -> None:
    north = TeamView(on_disk(scope.team_context("North"), tmp_path))
    board = repr(north.leaderboard()).splitlines()
    assert board[0] == "Leaderboard — March 2025, ranked by quota attainment"
    assert board[3].startswith("Ann Archer") and "80.0%" in board[3]
    assert "across 2 reps" in north.distribution("win_rate").alt
    assert "Revenue: $4,000" in repr(north.tiles())
    assert repr(north.attention())
    assert repr(north.most_improved())


def test_views_from_context_files(scope: Scope, tmp_path: Path) -> None:
    path = tmp_path / "ctx.json"
    write_context(scope.rep_context("R1"), path)
    assert rep_view("R1", "2025-03", str(path)).name == "Ann Archer"
    with pytest.raises(ParamsError, match=r"context file .* not found"):
        rep_view("R1", "2025-03", str(tmp_path / "missing.json"))


def test_views_without_context_build_one(tiny_config: Path) -> None:
    """JupyterLab preview: the default parameters build the same scoped context in-process."""
    view = rep_view("R1", "2025-03", "", str(tiny_config))
    assert view.value("revenue") == (4000.0, "")
    assert team_view("company", "2025-03", "", str(tiny_config)).name == "company"
    with pytest.raises(ParamsError, match=r"unknown rep 'R11'.*Did you mean 'R1'"):
        rep_view("R11", "2025-03", "", str(tiny_config))


def test_position_and_team_tables_use_the_tiles_period(scope: Scope) -> None:
    """Lead-to-sale conversion's tile covers the last 12 months: the position table and team views do too."""
    rep = RepView(scope.rep_context("R1"))
    line = next(x for x in repr(rep.position()).splitlines() if x.startswith("Lead-to-sale"))
    assert "(leads of the l" in line and "25.0%" in line
    team = TeamView(scope.team_context("North"))
    assert set(team.rep_frame("lead_conversion")["grain"]) == {"t12m"}
    assert set(team.rep_frame("lead_conversion", "month")["grain"]) == {"month"}
    assert set(team.rep_frame("win_rate")["grain"]) == {"month"}


def test_a_span_begun_before_the_data_says_where_the_data_starts(scope: Scope) -> None:
    """The tiny fixture's leads start in March 2025: the 12-month lead cohort of March 2025 covers one month."""
    rep = RepView(scope.rep_context("R1"))
    assert rep.since("lead_conversion", "t12m") == "March 2025"
    assert rep.since("revenue", "t12m") == ""  # the deals start in March 2024: April 2024 – March 2025 is whole
    assert rep.since("revenue", "month") == ""
    tile = rep.tile("lead_conversion")
    assert (tile.value, tile.sub[:2]) == ("25.0%", ("leads of the last 12 months", "the data starts in March 2025"))
    assert tile.sub[2].startswith("still maturing: leads from March 2025")  # item 11
    assert tile.change == ""  # no change against a span of another length
    assert "Lead-to-sale conversion (leads of the last 12 months, data from March 2025)" in rep.position()._repr_html_()


def test_span_text_and_since() -> None:
    from salesreports.report.views import since, span_text

    assert since("quarter", "2026-04", "2026-03") == ""  # Q2 begins in April, after the data's start
    assert since("quarter", "2026-03", "2026-02") == "February 2026"
    assert since("ytd", "2026-10", "2026-03") == "March 2026"
    assert since("t12m", "2026-10", "2025-11") == ""
    assert since("t12m", "2026-10", "2025-12") == "December 2025"
    assert since("t12m", "2026-10", "2026-11") == ""  # the KPI's data starts after the period: nothing to cover
    assert since("month", "2026-10", "2026-10") == ""
    assert span_text("ytd", "2026-10", "2026-03") == "since March 2026"
    assert span_text("ytd", "2026-10", "2025-03") == "year to date"
    assert span_text("quarter", "2026-10", "") == "quarter to date"


def test_coaching_evidence_names_the_span_of_its_own_kpis_data() -> None:
    from salesreports.report.views import either, evidence_text

    ctx = {"period": {"end": "2025-03"}, "capabilities": {"first_months": {"deals": "2024-03", "leads": "2025-03"}}}
    need = {"grain": "quarter"}
    conversion = {"kind": "kpi", "kpi": "lead_conversion", "text": "lead conversion 10%"}
    revenue = {"kind": "kpi", "kpi": "revenue", "text": "revenue $4,000"}
    assert evidence_text(need, conversion, ctx) == "Since March 2025: lead conversion 10%"  # the leads start then
    assert evidence_text(need, revenue, ctx) == "Quarter to date: revenue $4,000"  # the deals began a year before
    assert evidence_text({"grain": "month"}, revenue, ctx) == "revenue $4,000"
    assert (either([]), either(["a"]), either(["a", "b"]), either(["a", "b", "c"])) == ("", "a", "a or b", "a, b or c")


def test_item11_lead_conversion_of_maturing_months_is_shown_with_a_note(ann: RepView) -> None:
    """Tiny: L1 (2025-03-01) converted with D2 on 2025-03-12, 11 days: the median lead-to-sale time. As of
    2025-03-20 March's leads have had 0 (created on the 20th) to 19 days: still maturing."""
    note = (
        "still maturing: leads from March 2025 have had 0 to 19 days to convert "
        "(half of the leads that convert take 11 days or more)"
    )
    assert ann.maturing("lead_conversion") == note
    assert ann.maturing("lead_conversion", "t12m") == note  # the tile's 12 months hold March
    assert ann.maturing("lead_conversion", "month", "2025-02") == ""
    assert ann.maturing("win_rate") == ""  # only KPIs that keep growing after the period
    tile = ann.tile("lead_conversion")
    assert tile.value == "25.0%"  # the value so far stays, with the note beside it
    assert note in tile.sub
    trend = ann.trend("lead_conversion")
    assert "Still maturing: leads from March 2025 have had 0 to 19 days" in trend.alt
    assert "drawn as hollow points" in trend.alt
    spec = trend.bundle()["application/vnd.salesreports.chart+json"]["spec"]
    assert note in json.dumps(spec)
    assert [m["mark"]["filled"] for m in spec["layer"] if m["mark"]["type"] == "point"] == [True, False]


def test_item11_maturing_note_lists_the_months_of_a_span() -> None:
    ctx = {
        "period": {"end": "2026-06"},
        "maturing": {"lead_conversion": {"days": 45, "months": {"2026-05": [30, 60], "2026-06": [0, 29]}}},
    }
    view = RepView({**ctx, "rep": {"name": "Ann", "team": "T"}})
    assert view.maturing("lead_conversion", "quarter") == (
        "still maturing: leads from May and June 2026 have had 0 to 60 days to convert "
        "(half of the leads that convert take 45 days or more)"
    )
    assert view.maturing("lead_conversion", "month", "2026-05").startswith("still maturing: leads from May 2026 have")
    assert view.maturing("lead_conversion", "month", "2026-04") == ""


def test_a_page_in_german_says_everything_in_german(scope: Scope, request: pytest.FixtureRequest) -> None:
    """Words, KPI labels, the engine's stored English reasons and the funnel's stages in the page's language;
    what the catalog lacks stays as written."""
    from _catalog import install_catalog

    install_catalog(
        request,
        {
            "Average deal size": "Durchschnittlicher Auftragswert",
            "Revenue": "Umsatz",
            "not available": "nicht verfügbar",
            "no deals won in the period": "keine gewonnenen Aufträge im Zeitraum",
            "target {amount}": "Ziel {amount}",
            "{percent} attained": "{percent} erreicht",
            "{change} vs {period}": "{change} ggü. {period}",
            "last month": "Vormonat",
            "Funnel {period}: {stages}.": "Trichter {period}: {stages}.",
            "this month": "diesen Monat",
            "Qualified": "Qualifiziert",
            "Won deals": "Gewonnene Aufträge",
            "{items} or {last}": "{items} oder {last}",
        },
    )
    bob = RepView({**scope.rep_context("R2"), "locale": "de_DE"})
    text = repr(bob.tiles())
    assert "Durchschnittlicher Auftragswert: nicht verfügbar (keine gewonnenen Aufträge im Zeitraum)" in text
    assert "Quota attainment: nicht verfügbar (no revenue target for this period)" in text  # not in this catalog
    ann = RepView({**scope.rep_context("R1"), "locale": "de_DE"})
    text = repr(ann.tiles())
    assert "Umsatz: 4.000\u00a0$ (Ziel 5.000\u00a0$ · 80,0\u00a0% erreicht" in text
    assert "ggü. Vormonat" in text and "vs last month" not in text
    assert ann.funnel().alt == "Trichter diesen Monat: Leads 4, Qualifiziert 3, Gewonnene Aufträge 2."
    assert either(["a", "b", "c"]) == "a, b oder c"


def test_a_rep_without_won_deals_has_no_position_row_for_closed_deal_kpis(deals_only: Scope) -> None:
    """Ivan Petrov closed only lost deals in October: no average deal size or sales cycle of his own. Their tiles
    say why; the position table leaves their rows out (a team median beside "not available" ranks nothing)."""
    ivan = RepView(deals_only.rep_context("Ivan Petrov"))
    assert ivan.value("win_rate")[0] == 0.0 and ivan.value("avg_deal_size")[0] is None
    rows = [line.split("  ")[0] for line in repr(ivan.position()).splitlines()]
    assert any(r.startswith("Win rate") for r in rows)
    assert not [r for r in rows if r.startswith(("Average deal size", "Sales cycle"))], rows
    assert "Average deal size: not available (no deals won in the period)" in repr(ivan.tiles())
    for rep_id in deals_only.rep_ids():
        view = RepView(deals_only.rep_context(rep_id))
        text = f"{view.tiles()!r}\n{view.position()!r}"
        assert text.count("not available") <= 3, (rep_id, text)


def test_no_praise_for_a_rep_without_won_deals_or_in_the_bottom_quarter(deals_only: Scope) -> None:
    """Ben Okafor and Chloé Martin closed only lost deals in October: $0, 0.0% win rate, the bottom quarter of
    Inside Sales. The coaching rules flag nothing; the page says so without claiming every KPI is at or above
    its benchmark."""
    for rep_id in ("Ben Okafor", "Chloé Martin"):
        view = RepView(deals_only.rep_context(rep_id))
        assert view.ctx["coaching"] == [] and view.won_nothing()
        assert {"revenue", "win_rate"} <= set(view.bottom_quarter())
        text = repr(view.coaching())
        assert "No training needs flagged" not in text and "at or above its benchmark" not in text
        assert "bottom quarter of the team on revenue, deals won and win rate" in " ".join(text.split())
    praised = 0
    for rep_id in deals_only.rep_ids():
        view = RepView(deals_only.rep_context(rep_id))
        if "No training needs flagged" in repr(view.coaching()):
            assert not view.won_nothing() and not view.bottom_quarter(), rep_id
            praised += 1
    assert praised  # reps who won deals above the bottom quarter keep it (Kofi Mensah: 3 won, 75.0%)


def test_the_position_table_names_the_month_of_the_last_review(deals_only: Scope, ann: RepView) -> None:
    """review_cycle_months (3) before October 2026: July 2026, named in the column (it said "vs last review")."""
    ana = RepView(deals_only.rep_context("Ana Silva"))
    assert ana.ctx["period"]["last_review"] == {"end": "2026-07", "title": "July 2026"}
    header = repr(ana.position()).splitlines()[1]  # under the caption
    assert "vs last review (July 2026)" in header
    assert "vs last review (December 2024)" in repr(ann.position())


def test_the_headline_intro_claims_a_target_only_when_the_data_has_targets(deals_only: Scope, ann: RepView) -> None:
    ana = RepView(deals_only.rep_context("Ana Silva"))
    assert not ana.supports("quota_attainment")
    assert repr(ana.headline_intro()) == "This month's figures, the change since last month, and the team median."
    assert repr(ann.headline_intro()).startswith("This month's figures against target, the change since last month")
    quarter = {**ana.ctx, "period": {**ana.ctx["period"], "kpi_grain": "quarter", "title": "Q3 2026"}}
    quarter["period"]["previous"] = {"title": "Q2 2026", "end": "2026-06"}
    assert repr(RepView(quarter).headline_intro()) == (
        "The figures of Q3 2026, the change since Q2 2026, and the team median."
    )


def test_a_configured_headline_reaches_the_page(tmp_path: Path) -> None:
    """scorecard.headline in the settings: those tiles, in that order, minus what the data cannot show (no
    targets: no quota attainment); the position table follows it."""
    from conftest import write_config

    extra = "scorecard:\n  headline: [win_rate, quota_attainment, open_pipeline, revenue]\n"
    config = load_config(write_config(tmp_path, DEALS_ONLY / "source.yaml", extra=extra), environ={})
    data = load_dataset(config.source_path)
    scope = build_scope(data, compute_kpis(data), config, parse_period("2026-10"))
    ana = RepView(on_disk(scope.rep_context("Ana Silva"), tmp_path / "ana"))
    assert ana.ctx["headline"] == ["win_rate", "open_pipeline", "revenue"]
    assert [t.label for t in ana.tile_list()[0]] == ["Win rate", "Open pipeline", "Revenue"]
    rows = [line.split("  ")[0] for line in repr(ana.position()).splitlines()[3:]]
    assert rows == ["Win rate", "Open pipeline", "Revenue"]
    team = TeamView(on_disk(scope.team_context("Inside Sales"), tmp_path / "team"))
    assert [t.label for t in (team.tile(n) for n in team.tile_names())] == ["Win rate", "Open pipeline", "Revenue"]


def test_the_rep_page_and_the_team_page_share_one_bottom_quarter_rule(ann: RepView) -> None:
    """A team's revenues 0, 10, 20, 30, 40 (quartile 10, median 20): the rep with 10 is in the bottom quarter on
    both pages, although the engine's percentile for 10 is 30 (the rep page used "percentile at most 25")."""
    from salesreports.metrics.kpis import get

    revenue = get("revenue")
    assert revenue.in_bottom_quarter(10, 10, 20, 30) and revenue.in_bottom_quarter(0, 10, 20, 30)
    assert not revenue.in_bottom_quarter(20, 10, 20, 30)
    assert not revenue.in_bottom_quarter(0, 0, 0, 10)  # everyone at $0 up to the median: nobody is worse
    assert get("sales_cycle_days").in_bottom_quarter(60, 20, 40, 55)  # lower is better: the upper quartile
    view = RepView(dict(ann.ctx))
    view._kpis = view._kpis.copy()
    at = (view._kpis["kpi"] == "revenue") & (view._kpis["grain"] == view.tile_grain("revenue"))
    at &= view._kpis["period_end"] == view.period_end
    assert at.sum() == 1
    view._kpis.loc[at, ["value", "team_p25", "team_median", "team_p75", "percentile"]] = [10.0, 10.0, 20.0, 30.0, 30.0]
    assert "revenue" in view.bottom_quarter()
