"""Quarter and year scorecards (review periods) over the hand-computable ``review`` fixture.

tests/fixtures/review/deals.csv, closed deals by rep (won amount or "lost"):

=====  ==========================================  ==============================================
month  R1                                          R2
=====  ==========================================  ==============================================
2025   Feb won 2,500 · Mar lost · Aug won 1,500    Nov won 5,000 · Dec lost · Dec lost
Q2-26  Apr won 2,000 · May lost                    Jun won 3,000
Q3-26  Jul won 1,000 · Aug won 3,000, lost ·       Jul won 4,000, won 2,000 · Sep lost
       Sep won 5,000, lost, won 1,000
Q4-26  Oct won 700                                 Nov won 900 (the data's last day: 10 Nov 2026)
=====  ==========================================  ==============================================

Revenue targets: R1 3,000 and R2 2,000 in each month of Q3 2026.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from salesreports.data.loading import load_dataset
from salesreports.errors import ParamsError
from salesreports.metrics.engine import KpiTable, compute_kpis
from salesreports.metrics.periods import parse_period
from salesreports.params import load_config
from salesreports.report.contexts import read_context, write_context
from salesreports.report.scope import Scope, build_scope, header
from salesreports.report.views import RepView, TeamView
from salesreports.run.batch import run_reports

Loaded = tuple[Any, Any, KpiTable]  # settings, data set, KPI table
REVIEW = Path(__file__).parent / "fixtures" / "review" / "source.yaml"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    from conftest import write_config

    config = load_config(write_config(tmp_path_factory.mktemp("review"), REVIEW), environ={})
    data = load_dataset(config.source_path)
    return config, data, compute_kpis(data)


def scope_of(loaded: Loaded, period: str) -> Scope:
    config, data, table = loaded
    return build_scope(data, table, config, parse_period(period))


def view_of(scope: Scope, rep: str, folder: Path) -> RepView:
    """A rep's view as a notebook gets it: the context written by the runner and read back."""
    folder.mkdir(parents=True, exist_ok=True)
    write_context(scope.rep_context(rep), folder / "context.json")
    return RepView(read_context(folder / "context.json"))


# (rep, revenue, deals won, win rate, average deal size, quota attainment), computed by hand from the table above
QUARTER = [
    ("R1", 10_000.0, 4.0, 4 / 6, 2_500.0, 10_000 / 9_000),
    ("R2", 6_000.0, 2.0, 2 / 3, 3_000.0, 6_000 / 6_000),
]
YEAR = [("R1", 4_000.0, 2.0, 2 / 3, 2_000.0), ("R2", 5_000.0, 1.0, 1 / 3, 5_000.0)]


@pytest.mark.parametrize(("rep", "revenue", "won", "win_rate", "size", "attainment"), QUARTER)
def test_quarter_kpis_by_hand(
    loaded: Loaded,
    tmp_path: Path,
    rep: str,
    revenue: float,
    won: float,
    win_rate: float,
    size: float,
    attainment: float,
) -> None:
    view = view_of(scope_of(loaded, "2026-Q3"), rep, tmp_path)
    assert (view.grain, view.review, view.period_title) == ("quarter", True, "Q3 2026")
    got = [view.value(k)[0] for k in ("revenue", "deals_won", "win_rate", "avg_deal_size", "quota_attainment")]
    assert got == pytest.approx([revenue, won, win_rate, size, attainment])


@pytest.mark.parametrize(("rep", "revenue", "won", "win_rate", "size"), YEAR)
def test_year_kpis_by_hand(
    loaded: Loaded,
    tmp_path: Path,
    rep: str,
    revenue: float,
    won: float,
    win_rate: float,
    size: float,
) -> None:
    view = view_of(scope_of(loaded, "2025"), rep, tmp_path)
    assert (view.grain, view.period_title, view.period_end) == ("ytd", "2025", "2025-12")
    got = [view.value(k)[0] for k in ("revenue", "deals_won", "win_rate", "avg_deal_size")]
    assert got == pytest.approx([revenue, won, win_rate, size])


def test_ratios_are_computed_over_the_window_not_averaged_across_months(loaded: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(loaded, "2026-Q3"), "R1", tmp_path)
    monthly_rate = [view.value("win_rate", "month", m)[0] for m in ("2026-07", "2026-08", "2026-09")]
    monthly_size = [view.value("avg_deal_size", "month", m)[0] for m in ("2026-07", "2026-08", "2026-09")]
    assert monthly_rate == pytest.approx([1.0, 0.5, 2 / 3])
    assert monthly_size == pytest.approx([1_000.0, 3_000.0, 3_000.0])
    # the quarter's win rate is 4 won of 6 closed, not the mean of the months' rates (72.2%)
    assert view.value("win_rate")[0] == pytest.approx(4 / 6)
    assert sum(monthly_rate) / 3 == pytest.approx(0.7222, abs=1e-4)
    # the quarter's average deal is $10,000 over 4 deals, not the mean of the months' averages ($2,333)
    assert view.value("avg_deal_size")[0] == pytest.approx(2_500.0)


def test_quarter_tiles_compare_with_the_previous_quarter(loaded: Loaded, tmp_path: Path) -> None:
    scope = scope_of(loaded, "2026-Q3")
    ann, bob = view_of(scope, "R1", tmp_path / "ann"), view_of(scope, "R2", tmp_path / "bob")
    ann_text, bob_text = repr(ann.tiles()), repr(bob.tiles())
    assert "Revenue: $10,000 (target $9,000 · 111.1% attained; +$8,000 vs Q2 2026)" in ann_text  # Q2: $2,000
    assert "Revenue: $6,000 (target $6,000 · 100.0% attained; +$3,000 vs Q2 2026)" in bob_text  # Q2: $3,000
    assert "Win rate: 66.7% (+16.7 pts vs Q2 2026)" in ann_text  # Q2: 1 won of 2 closed
    assert "last month" not in ann_text + bob_text
    table = repr(ann.position())
    assert "vs Q2 2026" in table
    assert "$2,000 → $10,000" in table


def test_quarter_trend_shows_its_months_against_the_same_months_last_year(loaded: Loaded, tmp_path: Path) -> None:
    ann = view_of(scope_of(loaded, "2026-Q3"), "R1", tmp_path)
    series = ann.review_series("revenue")
    assert series["month"].tolist() == ["Jul", "Aug", "Sep"]
    assert series["value"].tolist() == [1_000.0, 3_000.0, 6_000.0]
    assert series["last_year"].tolist() == [0.0, 1_500.0, 0.0]  # Q3 2025: Aug won 1,500
    shown = ann.trend("revenue")
    assert shown.alt == (
        "Revenue by month in Q3 2026: Jul $1,000, Aug $3,000, Sep $6,000. In Q3 2025: Jul $0, Aug $1,500, Sep $0."
    )
    spec = shown.spec
    assert spec["title"]["text"] == "Revenue by month"
    assert [r["month"] for r in spec["data"]["values"]] == ["Jul", "Aug", "Sep"]


def test_year_trend_leaves_months_before_the_data_empty(loaded: Loaded, tmp_path: Path) -> None:
    bob = view_of(scope_of(loaded, "2025"), "R2", tmp_path)
    series = bob.review_series("revenue")
    assert len(series) == 12
    assert series["value"].tolist()[-2:] == [5_000.0, 0.0]
    assert series["last_year"].isna().all()  # 2024 is before the data's first month: not available, not $0
    shown = bob.trend("revenue")  # and the page says so: no dashed line, no 2024 in the legend or alt text
    assert shown.alt.endswith(" The data has no figures for 2024 to compare with.")
    assert shown.spec["title"]["subtitle"] == "The data has no figures for 2024 to compare with."
    assert len(shown.spec["layer"]) == 1


def test_team_summary_of_a_quarter(loaded: Loaded) -> None:
    scope = scope_of(loaded, "2026-Q3")
    team = TeamView(scope.team_context("North"))
    frame = team.rep_frame("revenue")
    assert dict(zip(frame["rep_id"], frame["value"], strict=True)) == {"R1": 10_000.0, "R2": 6_000.0}
    assert "Revenue: $16,000" in repr(team.tiles())
    improved = repr(team.most_improved("revenue"))
    assert "Q2 2026" in improved and "Q3 2026" in improved and "Last month" not in improved


def test_headings_name_the_quarter(loaded: Loaded) -> None:
    context = scope_of(loaded, "2026-Q3").rep_context("R1")
    assert header(context)["subtitle"] == "Team \u2068North\u2069 · Q3 2026"  # the name isolated (text.isolate)
    assert header(context)["title"].endswith("— review")  # a quarter's page is a review, not "— scorecard"
    assert header(scope_of(loaded, "2026-09").rep_context("R1"))["title"].endswith("— scorecard")
    assert context["period"]["previous"]["label"] == "2026-Q2"
    assert context["period"]["months"] == ["2026-07", "2026-08", "2026-09"]


def test_a_quarter_to_date_is_labelled_as_such(loaded: Loaded, tmp_path: Path) -> None:
    bob = view_of(scope_of(loaded, "2026-11-QTD"), "R2", tmp_path)
    assert bob.period_title == "Q4 2026 to date (Oct–Nov)"
    assert bob.value("revenue")[0] == pytest.approx(900.0)
    assert bob.previous_title == "Q3 2026 to date (Jul–Aug)"  # the same months of the quarter before
    assert "−$5,100 vs Q3 2026 to date (Jul–Aug)" in repr(bob.tiles())  # Jul–Aug 2026: 4,000 + 2,000 won


def test_a_partial_quarter_is_refused_before_anything_runs(make_config: Callable[..., Path], tmp_path: Path) -> None:
    config = load_config(make_config(REVIEW), environ={})
    with pytest.raises(ParamsError, match=r"Q4 2026 is not over in the data: it ends in November 2026") as err:
        run_reports(config, periods="2026-Q4")
    assert "--period 2026-11-QTD for Q4 2026 to date (Oct–Nov)" in str(err.value)
    with pytest.raises(ParamsError, match=r"--period 2026-11-YTD for 2026 to date \(Jan–Nov\)"):
        run_reports(config, periods="2026")
    assert not config.output_path.exists() or not any(config.output_path.iterdir())


def test_send_picks_the_newest_period_a_month_before_its_quarter(make_config: Callable[..., Path]) -> None:
    from salesreports.mail.recipients import default_period

    config = load_config(make_config(REVIEW), environ={})
    for folder in ("2026-08", "2026-Q3", "2026-09", "2025", "not-a-period"):
        (config.output_path / folder).mkdir(parents=True)
        (config.output_path / folder / "manifest.json").write_text("{}", encoding="utf-8")
    assert default_period(config) == "2026-09"  # by name, "2026-Q3" sorts after "2026-09"
    (config.output_path / "2026-11-QTD").mkdir()
    (config.output_path / "2026-11-QTD" / "manifest.json").write_text("{}", encoding="utf-8")
    assert default_period(config) == "2026-11-QTD"


def test_review_coaching_evidence_names_the_quarter_unless_the_data_starts_within_it() -> None:
    from salesreports.report.views import evidence_text

    period = {"end": "2025-03", "kpi_grain": "quarter", "title": "Q1 2025"}
    ctx = {"period": period, "capabilities": {"first_months": {"deals": "2024-03", "leads": "2025-02"}}}
    revenue = {"kind": "kpi", "kpi": "revenue", "text": "revenue $4,000"}
    conversion = {"kind": "kpi", "kpi": "lead_conversion", "text": "lead conversion 10%"}
    assert evidence_text({"grain": "quarter"}, revenue, ctx) == "Q1 2025: revenue $4,000"
    assert evidence_text({"grain": "quarter"}, conversion, ctx) == "Since February 2025: lead conversion 10%"


def test_goals_are_measured_as_of_the_quarters_last_day(loaded: Loaded, tmp_path: Path) -> None:
    config, data, table = loaded
    goals = tmp_path / "goals.yaml"
    goals.write_text(
        "goals:\n"
        "  - {id: r1-2026, owner: R1, metric: revenue, target: 20000, start: 2026-01, deadline: 2026,\n"
        "     objective: Fund a second account executive.}\n",
        encoding="utf-8",
    )
    config = config.model_copy(update={"goals": str(goals)})
    q3 = build_scope(data, table, config, parse_period("2026-Q3")).rep_context("R1")["goals"]
    to_date = build_scope(data, table, config, parse_period("2026-11-QTD")).rep_context("R1")["goals"]
    assert (q3[0]["as_of"], q3[0]["actual"]) == ("2026-09-30", 12_000.0)  # Apr 2,000 + Q3 10,000
    assert (to_date[0]["as_of"], to_date[0]["actual"]) == ("2026-11-10", 12_700.0)  # + Oct 700, to the data's end


@pytest.mark.notebooks
def test_a_quarter_run_writes_its_scorecards_index_and_manifest(make_config: Callable[..., Path]) -> None:
    import json

    config = load_config(make_config(REVIEW), environ={})
    summary = run_reports(config, periods="2026-q3", reps=["R1"], workers=1)
    assert summary.ok, summary.failed
    assert summary.periods == ["2026-Q3"]
    folder = config.output_path / "2026-Q3"
    for sub in ("R1", "team-North", "team-company"):
        for name in ("scorecard.html", "scorecard.pdf"):
            assert (folder / sub / name).stat().st_size > 0
    html = (folder / "R1" / "scorecard.html").read_text(encoding="utf-8")
    assert "Team \u2068North\u2069 · Q3 2026" in html
    assert "$10,000" in html and "vs Q2 2026" in html and "vs last month" not in html
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["period"], manifest["period_title"]) == ("2026-Q3", "Q3 2026")
    entry = next(r for r in manifest["reports"] if r["key"] == "rep/R1")
    assert entry["parameters"] == {"period": "2026-Q3", "rep_id": "R1"}
    # the index shows the quarter's figures, as the tiles do (September alone: $6,000 and 2 of 3)
    assert (entry["headline"]["revenue"]["text"], entry["headline"]["deals_won"]["text"]) == ("$10,000", "4")
    assert "Q3 2026" in (folder / "index.html").read_text(encoding="utf-8")


@pytest.mark.notebooks
def test_send_finds_a_quarters_reports_however_its_label_is_written(make_config: Callable[..., Path]) -> None:
    from salesreports.mail.recipients import select_reports

    config = load_config(make_config(REVIEW), environ={})
    run_reports(config, periods="2026-Q3", reps=["R1"], kinds=("rep",), workers=1)
    for written in ("2026-Q3", "2026-q3", "2026-09-QTD"):
        selection = select_reports(config, written, None, ["reps"])
        assert (selection.period, selection.period_title) == ("2026-Q3", "Q3 2026")
        assert [c.rep_id for c in selection.candidates if c.kind == "rep"] == ["R1"]


def test_a_view_takes_its_quarter_however_written_and_refuses_another(loaded: Loaded, tmp_path: Path) -> None:
    from salesreports.report.views import rep_view

    path = tmp_path / "context.json"
    write_context(scope_of(loaded, "2026-Q3").rep_context("R1"), path)
    assert rep_view("R1", "2026-q3", str(path)).period_title == "Q3 2026"
    with pytest.raises(
        ParamsError, match=r"is the rep report of 'R1' for 2026-Q3, but the notebook asks for .* 2026-Q2"
    ):
        rep_view("R1", "2026-Q2", str(path))


@pytest.mark.parametrize(
    ("label", "rep", "revenue"),
    [
        ("2025", "R1", 4_000.0),  # the year to date at December
        ("2025-12-YTD", "R1", 4_000.0),
        ("2026-Q3", "R1", 10_000.0),
        ("2026-q3", "R2", 6_000.0),
        ("2026-09-QTD", "R2", 6_000.0),  # a quarter to date at its last month is the quarter
        ("2026-11-QTD", "R2", 900.0),
        ("2026-08-QTD", "R1", 4_000.0),  # Jul 1,000 + Aug 3,000
    ],
)
def test_every_period_label_finds_its_figure_in_the_kpi_table(
    loaded: Loaded, label: str, rep: str, revenue: float
) -> None:
    assert loaded[2].lookup(rep, "revenue", label) == (pytest.approx(revenue), "")


# -- the review template (reports/review.ipynb) ---------------------------------------------------------------
# tests/fixtures/review/feedback.csv (R1's notes; R2's two "pricing" notes are never R1's) and goals.yaml:
# r1-q3 (Jul–Sep 2026, achieved: 10,000 of 9,000), r1-q4 (Oct–Dec 2026), r1-2027 (Q1 2027), r2-q4 (R2's)
REVIEW_TEMPLATE = Path(__file__).parents[1] / "reports" / "review.ipynb"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    from conftest import write_review_settings

    config = load_config(write_review_settings(tmp_path_factory.mktemp("pack")), environ={})
    data = load_dataset(config.source_path)
    return config, data, compute_kpis(data)


def test_review_settings_select_the_review_template_for_quarters_and_years_only(pack: Loaded) -> None:
    config = pack[0]
    assert config.template_for("rep", review=True) == REVIEW_TEMPLATE.resolve()
    assert config.template_for("rep", review=False).name == "rep_scorecard.ipynb"
    assert config.template_for("team", review=True).name == "team_summary.ipynb"


def test_next_goals_are_exactly_those_starting_in_the_next_quarter(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    text = str(view.next_goals())
    assert "Goals for Q4 2026" in text
    assert "Q4 plan of R1." in text  # r1-q4 starts in October 2026
    for other in ("Q3 plan of R1.", "Q1 2027 plan of R1.", "Q4 plan of R2."):
        assert other not in text
    assert "$3,000" in text and "October 2026" in text and "Q4 2026" in text


def test_next_goals_starting_after_the_data_are_kept_for_a_review(pack: Loaded, tmp_path: Path) -> None:
    # Q4 2026 to date (the data ends 10 Nov 2026): the next quarter, Q1 2027, lies wholly after the data
    view = view_of(scope_of(pack, "2026-11-QTD"), "R1", tmp_path / "qtd")
    text = str(view.next_goals())
    assert "Goals for Q1 2027" in text and "Q1 2027 plan of R1." in text and "Q4 plan of R1." not in text
    # a month's page has no next goals, and a month's context keeps no goal that starts after the data
    month = view_of(scope_of(pack, "2026-10"), "R1", tmp_path / "month")
    assert month.next_goals() is None
    assert [g["goal_id"] for g in month.ctx["goals"]] == ["r1-q3", "r1-q4"]


def test_next_goals_say_so_when_none_starts_then(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q2"), "R1", tmp_path)  # r1-q3 starts in July: Q3 2026
    assert "Q3 plan of R1." in str(view.next_goals())
    view = view_of(scope_of(pack, "2026-Q1"), "R2", tmp_path / "r2")  # nothing of R2's starts in Q2 2026
    assert str(view.next_goals()).startswith("[Note] No goals start in Q2 2026 yet")


def test_achievements_show_quota_and_the_goals_of_the_period(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    text = str(view.achievements())
    # revenue 10,000 against 3 x 3,000 (hand-computed in the table at the top)
    assert "Quota Q3 2026: 111.1% attained" in text
    assert "Revenue $10,000 against a target of $9,000" in text
    assert "Revenue: $10,000 of $9,000 (111%) by Sep 2026: achieved. [achieved]" in text  # r1-q3
    assert "Q3 plan of R1." in view.achievements().html  # with the objective it serves
    assert "Q4 plan of R1." not in view.achievements().html  # later goals are next goals
    assert "$3,000" not in text and "Q1 2027" not in text


def test_achievements_without_a_target_say_it_is_not_available(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q2"), "R2", tmp_path)  # targets exist only for Q3 2026
    text = str(view.achievements())
    assert "Quota Q2 2026: not available" in text
    assert "0.0%" not in text and "$0" not in text


def test_the_achievements_intro_says_only_what_the_section_shows(
    pack: Loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path / "both")  # a quota and the goal r1-q3
    assert str(both.achievements_intro()).startswith("The period's revenue against its target, and each goal")
    quota = view_of(scope_of(pack, "2026-Q2"), "R2", tmp_path / "quota")  # no goal of R2's is measured in Q2
    assert str(quota.achievements_intro()) == "The period's revenue against its target."
    for view in (both, quota):  # a data set without targets: no word of a target
        monkeypatch.setattr(view, "supports", lambda kpi: kpi != "quota_attainment")
    assert str(both.achievements_intro()).startswith("Each goal measured over the period")
    assert "target" not in str(both.achievements_intro())
    assert quota.achievements_intro() is None and quota.achievements() is None  # the section is left out


def test_since_last_review_compares_each_kpi_with_the_quarter_before(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    text = str(view.since_last_review())
    # R1 Q2 2026: Apr won 2,000, May lost; Q3 2026: 10,000, 4 won of 6 closed
    rows = {line.split("  ")[0]: line.split() for line in text.splitlines()[3:]}
    assert text.splitlines()[0] == "Q3 2026 against the last review (Q2 2026)"
    assert rows["Revenue"] == ["Revenue", "$2,000", "$10,000", "+$8,000", "(better)"]
    assert rows["Deals won"] == ["Deals", "won", "1", "4", "+3", "(better)"]
    assert rows["Win rate"] == ["Win", "rate", "50.0%", "66.7%", "+16.7", "pts", "(better)"]
    # no target in Q2 2026: no attainment then, and no change from a made-up zero
    assert rows["Quota attainment"] == ["Quota", "attainment", "—", "111.1%", "—"]


def test_feedback_themes_count_recurring_tags_with_redacted_quotes(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    text = str(view.feedback_themes())
    # six months to 30 Sep 2026: follow-up in the notes of 10 May and 20 Sep, pricing in 15 Aug and 20 Sep;
    # product-knowledge once (not a theme); January's and October's notes are outside the window
    assert "follow-up: 2 notes from client or peer" in text
    assert "pricing: 2 notes from client or manager" in text
    assert "product-knowledge" not in text
    assert text.index("follow-up") < text.index("pricing: 2")  # equal counts: by name
    # the lowest score's quote first; a colleague's name never reaches the page
    pricing = text[text.index("pricing: 2") :]
    assert pricing.index("Pricing came late") < pricing.index("Offered a discount")
    assert "[a colleague]" in text and "Bob Baker" not in text
    assert "After the end of Q3" not in text and "Older than six months" not in text and "Bob's" not in text


def test_feedback_themes_without_a_recurring_tag(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-09"), "R1", tmp_path)
    assert "follow-up: 2 notes" in str(view.feedback_themes())
    view = view_of(scope_of(pack, "2025"), "R1", tmp_path / "y")  # no feedback up to December 2025
    assert str(view.feedback_themes()) == "[Note] No feedback\n  - No client, manager or peer feedback in 2025."
    assert "in 2025" in str(view.feedback())


def test_a_years_feedback_covers_the_year_a_quarters_the_last_six_months(pack: Loaded, tmp_path: Path) -> None:
    # January to October 2026 (a year to date): January's pricing note counts, beside August's, September's and
    # October's; the quarter ending in September looks back six months (from April: two pricing notes)
    ytd = view_of(scope_of(pack, "2026-10-YTD"), "R1", tmp_path / "ytd")
    assert "pricing: 4 notes" in str(ytd.feedback_themes())
    assert str(ytd.feedback()).startswith("[Note] Feedback (6 notes in Jan 2026 – Oct 2026)")
    quarter = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path / "q3")
    assert "pricing: 2 notes" in str(quarter.feedback_themes())
    assert str(quarter.feedback()).startswith("[Note] Recent feedback (4 notes in six months)")


def test_training_plan_lists_coaching_topics_with_their_evidence(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    html = view.training_plan().html
    # params/coaching.yaml maps follow-up to Deal progression (the note of 20 Sep scored 2: a need; the praise
    # of 10 May, scored 4, is not counted); pricing is not one of its tags, and the KPIs are all above the team's
    assert "Training plan for Q4 2026" in html
    topics = re.findall(r'<th scope="row"[^>]*>([^<]+)</th>', html)
    assert topics == ["Deal progression"]
    assert "&#x27;follow-up&#x27; raised in 1 feedback note since Apr 2026 (score 2)" in html
    assert "“Pricing came late and [a colleague] had to step in.” (client, 20 Sep 2026)" in html


def test_notes_area_is_a_ruled_area_with_the_rep_and_period(pack: Loaded, tmp_path: Path) -> None:
    view = view_of(scope_of(pack, "2026-Q3"), "R1", tmp_path)
    area = view.notes_area(lines=5)
    assert area.html.count('class="sr-notes-area__line"') == 5
    assert "Notes from the review" in area.html and "Ann Archer" in area.html and "Q3 2026" in area.html


@pytest.mark.notebooks
def test_a_review_renders_to_html_and_pdf_with_its_notes_page(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess

    from conftest import write_review_settings

    config = load_config(write_review_settings(tmp_path), environ={})
    summary = run_reports(config, periods="2026-Q3", reps=["R1"], kinds=("rep",), workers=1)
    assert summary.ok, summary.failed
    folder = config.output_path / "2026-Q3"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = next(r for r in manifest["reports"] if r["key"] == "rep/R1")
    assert Path(entry["template"]).name == "review.ipynb"
    html = (folder / "R1" / "scorecard.html").read_text(encoding="utf-8")
    for heading in ("Achievements against objectives", "Since the last review", "Feedback themes", "Training plan"):
        assert heading in html
    assert "Goals for Q4 2026" in html and "Q4 plan of R1." in html and "sr-notes-area__line" in html
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is needed"
    pages = subprocess.run(
        [pdftotext, str(folder / "R1" / "scorecard.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    notes = [i for i, page in enumerate(pages) if "Notes from the review" in page]
    assert notes and "Review notes" in pages[notes[0]]  # the heading and its ruled area on one page
    # a month of the same settings keeps the rep template
    month = run_reports(config, periods="2026-09", reps=["R1"], kinds=("rep",), workers=1, plan_only=True)
    assert month.planned == {"2026-09": ["rep/R1"]}
