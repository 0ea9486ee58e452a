"""Tests for salesreports.report.display: escaped HTML fragments, text fallbacks and the chart bundle."""

from __future__ import annotations

import math
from types import SimpleNamespace

import altair as alt
import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from salesreports.errors import TemplateError
from salesreports.report import display as d
from salesreports.report import theme

EVIL = "<script>alert('x')</script> $5 *bold* \u202eevil\u200b"


@pytest.fixture(autouse=True)
def _batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(d.BATCH_ENV, "1")


# -- Html ----------------------------------------------------------------------------------------------------


def test_html_object_has_html_text_and_jinja_protocol() -> None:
    a, b = d.section_note("one"), d.section_note("two")
    both = a + b
    assert both.html == a.html + b.html
    assert repr(both) == "one\n\ntwo"
    assert both.__html__() == both._repr_html_()
    assert a == d.section_note("one")
    assert hash(a) == hash(d.section_note("one"))


def test_html_carries_its_css_outside_batch_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    note = d.section_note("x")
    assert "<style>" not in note._repr_html_()
    monkeypatch.delenv(d.BATCH_ENV)
    assert note._repr_html_().startswith("<style>")
    assert ".sr-tile" in d.component_css()


@pytest.mark.parametrize(("value", "batch"), [("", False), ("0", False), ("false", False), ("1", True), ("yes", True)])
def test_in_batch(monkeypatch: pytest.MonkeyPatch, value: str, batch: bool) -> None:
    monkeypatch.setenv(d.BATCH_ENV, value)
    assert d.in_batch() is batch


# -- tiles ---------------------------------------------------------------------------------------------------


def test_tiles_escape_every_string() -> None:
    html = d.tiles([d.Tile(label=EVIL, value=EVIL, sub=[EVIL], change="+" + EVIL, direction="good")]).html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "$5 *bold*" in html
    assert "tex2jax_ignore" in html  # JupyterLab must not read $...$ as math


def test_tiles_plain_text_and_states() -> None:
    out = d.tiles(
        [
            d.Tile("Revenue", "$46,250", ["target $50,000 · 92.5% attained"], "+$5,050 vs last month", "good"),
            d.Tile("Lead conversion", unavailable_reason="no leads table"),
        ]
    )
    assert repr(out).splitlines() == [
        "Revenue: $46,250 (target $50,000 · 92.5% attained; +$5,050 vs last month)",
        "Lead conversion: not available (no leads table)",
    ]
    assert "sr-tile--good" in out.html
    assert "sr-tile--na" in out.html
    assert "▲" in out.html
    assert "(better)" in out.html


def test_tiles_reject_unknown_direction() -> None:
    with pytest.raises(TemplateError, match="direction"):
        d.tiles([d.Tile("Revenue", "$1", direction="up")])  # type: ignore[arg-type]


def test_tile_for_kpi_uses_the_registry() -> None:
    tile = d.Tile.for_kpi("revenue", 46250, target=50000, attainment=0.925, previous=41200)
    assert tile.label == "Revenue"
    assert tile.value == "$46,250"
    assert tile.sub == ("target $50,000 · 92.5% attained",)
    assert tile.change == "+$5,050 vs last month"
    assert tile.direction == "good"


@pytest.mark.parametrize(
    ("kpi", "value", "previous", "change", "direction"),
    [
        ("sales_cycle_days", 41, 36, "+5 days vs last month", "bad"),  # lower is better
        ("sales_cycle_days", 30, 36, "−6 days vs last month", "good"),
        ("win_rate", 0.31, 0.27, "+4.0 pts vs last month", "good"),
        ("deals_won", 8, 8, "±0 vs last month", "neutral"),
    ],
)
def test_tile_for_kpi_direction(kpi: str, value: float, previous: float, change: str, direction: str) -> None:
    tile = d.Tile.for_kpi(kpi, value, previous=previous)
    assert (tile.change, tile.direction) == (change, direction)


def test_tile_for_kpi_missing_value_is_not_available_not_zero() -> None:
    tile = d.Tile.for_kpi("lead_conversion", math.nan, reason="no leads table in this data set")
    assert tile.unavailable_reason == "no leads table in this data set"
    html = d.tiles([tile]).html
    assert "not available" in html
    assert ">0<" not in html


# -- table ---------------------------------------------------------------------------------------------------


def test_table_formats_escapes_and_marks_missing() -> None:
    frame = pd.DataFrame(
        {
            "account": [EVIL, "שלום Ltd", "A" * 90],
            "revenue": [12000.0, math.nan, 4300.0],
            "share": [0.5, 0.25, None],
            "closed": pd.to_datetime(["2026-10-03", "2026-10-09", None]),
        }
    )
    out = d.table(frame, formats={"share": "percent"}, caption="Deals <won>")
    html = out.html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<caption>Deals &lt;won&gt;</caption>" in html
    assert ">$12,000<" in html  # 'revenue' is a KPI name: its registry format and label apply
    assert '<th scope="col" class="sr-num">Revenue</th>' in html
    assert ">50.0%<" in html
    assert html.count("not available") == 3
    assert '<td class="sr-date" data-label="closed">2026-10-03</td>' in html
    assert 'dir="auto"' in html
    text = repr(out).splitlines()
    assert text[0] == "Deals <won>"
    assert text[1].split() == ["account", "Revenue", "share", "closed"]


def test_table_labels_and_empty_frame() -> None:
    out = d.table(pd.DataFrame({"x": pd.Series([], dtype=float)}), labels={"x": "Ex"})
    assert "No rows." in out.html
    assert ">Ex<" in out.html


@pytest.mark.parametrize(
    ("formats", "message"),
    [({"revenue": "curency"}, "Did you mean 'currency'"), ({"revenu": "currency"}, "no such column")],
)
def test_table_rejects_bad_formats(formats: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        d.table(pd.DataFrame({"revenue": [1.0]}), formats=formats)


# -- callouts, badges, notes ---------------------------------------------------------------------------------


def test_callout_kinds_and_text() -> None:
    out = d.callout("warn", "Work on <closing>", ["Win rate below median.", EVIL])
    assert "sr-callout--warn" in out.html
    assert "&lt;closing&gt;" in out.html
    assert "<li" in out.html
    assert "<script>" not in out.html
    assert repr(out).startswith("[Needs attention] Work on <closing>\n  - Win rate below median.")
    single = d.callout("good", "Great month", "Quota reached.")
    assert '<p dir="auto">Quota reached.</p>' in single.html
    with pytest.raises(TemplateError, match="kind"):
        d.callout("danger", "x")  # type: ignore[arg-type]
    assert "sr-callout--compact" not in out.html  # reference text only (the "Not in your data" note), on request
    assert "sr-callout--compact" in d.callout("info", "Not in your data", ["a", "b"], compact=True).html


def test_lead_is_a_paragraph_of_escaped_text() -> None:
    out = d.lead("Figures <b>against</b> target")
    assert out.html.startswith('<p class="sr sr-lead') and "&lt;b&gt;against&lt;/b&gt;" in out.html
    assert repr(out) == "Figures <b>against</b> target"


@pytest.mark.parametrize(("kind", "css"), [("at risk", "at-risk"), ("on_track", "on-track"), ("good", "good")])
def test_badge(kind: str, css: str) -> None:
    out = d.badge("<b>", kind)
    assert f"sr-badge--{css}" in out.html
    assert "&lt;b&gt;" in out.html
    assert repr(out) == "[<b>]"


def test_badge_rejects_unknown_kind() -> None:
    with pytest.raises(TemplateError, match="Did you mean 'missed'"):
        d.badge("x", "mised")


def test_section_note_strips_control_characters_and_lone_surrogates() -> None:
    out = d.section_note("a\x00b\x1bc\ud800d")
    assert "\x00" not in out.html
    assert "\x1b" not in out.html
    out.html.encode("utf-8")  # no lone surrogate left


# -- goals ---------------------------------------------------------------------------------------------------


def test_goal_list_from_mappings_objects_and_items() -> None:
    goals = [
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
        SimpleNamespace(name=EVIL, status="on_track", progress=1.7, expected_progress=float("nan"), actual=None),
        d.GoalItem(name="Retention +10%", status="achieved"),
    ]
    out = d.goal_list(goals)
    html = out.html
    assert html.count('class="sr-goal ') == 3
    assert "sr-badge--ahead" in html
    assert "sr-badge--on-track" in html
    assert "sr-badge--achieved" in html
    assert 'style="width:62.0%"' in html
    assert 'style="left:50.0%"' in html
    assert 'style="width:100.0%"' in html  # 170% is drawn full, labelled 170.0%
    assert "170.0%" in html
    assert "<script>" not in html
    assert "Projected by 31 Mar 2027" in html
    assert repr(out).splitlines()[0].startswith("- $500,000 revenue by end of Q1 [ahead]: actual $310,000")


def test_goal_list_errors_and_empty() -> None:
    assert "No goals" in d.goal_list([]).html
    with pytest.raises(TemplateError, match="unknown goal status"):
        d.goal_list([{"name": "x", "status": "late"}])
    with pytest.raises(TemplateError, match="name and a status"):
        d.goal_list([{"name": "x"}])


# -- charts --------------------------------------------------------------------------------------------------


def _plain_chart() -> alt.Chart:
    return alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x:Q", y="y:Q")


def test_chart_bundle_in_batch_mode_has_no_image() -> None:
    with alt.theme.enable("default"):
        c = d.chart(_plain_chart(), alt="Two points.", name="My Chart!")
    bundle = c._repr_mimebundle_()
    assert set(bundle) == {d.CHART_MIME, "text/plain"}
    payload = bundle[d.CHART_MIME]
    assert payload["alt"] == "Two points."
    assert payload["name"] == "my-chart"
    assert payload["spec"]["config"]["font"] == theme.FONT  # the house theme applies whatever is active
    assert repr(c) == "Chart my-chart: Two points."


def test_chart_bundle_outside_batch_adds_svg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(d.BATCH_ENV)
    bundle = d.chart(_plain_chart(), alt="Two points.")._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg")
    assert bundle[d.CHART_MIME]["name"] == "two-points"


def test_chart_bundle_is_valid_nbformat() -> None:
    bundle = d.chart(_plain_chart(), alt="Two points.")._repr_mimebundle_()
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("display_data", data=bundle)])])
    nbformat.validate(nb)
    nbformat.reads(nbformat.writes(nb), as_version=4)


def test_chart_accepts_a_dict_and_requires_alt() -> None:
    spec = {"mark": "point"}
    assert d.chart(spec, alt="x").spec == spec
    with pytest.raises(TemplateError, match="alt text"):
        d.chart(_plain_chart(), alt="  ")
    with pytest.raises(TemplateError, match="expected an altair chart"):
        d.chart(42, alt="x")


def test_table_figure_columns_break_only_between_words() -> None:
    frame = pd.DataFrame({"KPI": ["Revenue"], "You": ["$33,320"], "Range": [None]})
    html = d.table(frame, figures=["You", "Range"]).html
    assert '<th scope="row" dir="auto">Revenue</th>' in html  # the row's name is its header
    assert '<td class="sr-fig" dir="auto" data-label="You">$33,320</td>' in html
    assert '<td class="sr-fig sr-na" dir="auto" data-label="Range">not available</td>' in html
    css = d.component_css(browser=False)  # on every screen and in the PDF, not only from 40em or in print
    assert ".sr-table .sr-fig, .sr-table .sr-num { overflow-wrap: normal; }" in css
    assert "@media print, (min-width: 40em)" not in css


def test_table_without_row_headers_and_cards_label_every_cell() -> None:
    frame = pd.DataFrame({"week": ["5 Oct"], "calls": [3]})
    html = d.table(frame, row_headers=False, caption="Per week").html
    assert 'scope="row"' not in html
    assert '<td dir="auto" data-label="week">5 Oct</td>' in html
    assert 'role="region" tabindex="0" aria-label="Per week"' in html  # a scrolling table is reachable by keyboard


def test_table_with_phone_columns_leaves_the_others_out_on_a_phone_only_and_names_them() -> None:
    frame = pd.DataFrame(
        {"Rep": ["Ann"], "quota_attainment": [1.2], "revenue": [5000.0], "deals_won": [3.0], "win_rate": [0.5]}
    )
    html = d.table(frame, phone_columns=2).html
    assert '<table class="sr-table sr-table--compact">' in html
    assert '<th scope="col" class="sr-num">Revenue</th><th scope="col" class="sr-num sr-wide">Deals won</th>' in html
    assert '<td class="sr-num" data-label="Revenue">$5,000</td>' in html
    assert '<td class="sr-num sr-wide" data-label="Win rate">50.0%</td>' in html
    note = "More columns on a wider screen or on paper: deals won, win rate."
    assert f'<p class="sr-note sr-phone-only" dir="auto">{note}</p>' in html
    assert "More columns" not in str(d.table(frame, phone_columns=2))  # the text version has every column
    # nothing left out: no note; no phone_columns: a card per row on a phone, as before
    assert "sr-phone-only" not in d.table(frame, phone_columns=4).html
    assert '<table class="sr-table">' in d.table(frame).html and "sr-wide" not in d.table(frame).html
    # the note is for phones: the PDF's CSS hides it, the browser's shows it below 520 px
    assert ".sr-phone-only { display: none; }" in d.component_css(browser=False)


@pytest.mark.parametrize(
    ("progress", "pct", "aria"),
    [
        (0.5, "50.0%", "50.0% of target reached"),
        (-0.92, "moved away", "no progress towards the target: moved away from it by 92.0% of the distance to go"),
    ],
)
def test_goal_bar_reads_sensibly_when_progress_is_negative(progress: float, pct: str, aria: str) -> None:
    html = d.goal_list([d.GoalItem(name="Cycle time", status="at risk", progress=progress)]).html
    assert f'<span class="sr-bar__pct">{pct}</span>' in html
    assert f'aria-label="{aria}"' in html
    assert "-92" not in html


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
     (40.6, "41st"), (41, "41st"), (42, "42nd"), (43, "43rd"), (92, "92nd"), (100, "100th"), (111, "111th")],
)  # fmt: skip
def test_ordinal(value: float, text: str) -> None:
    assert d.ordinal(value) == text


def test_fragments_in_the_active_language(request: pytest.FixtureRequest) -> None:
    """Fixed words of the fragments in the active language; a KPI's stored English reason retranslated."""
    from _catalog import install_catalog
    from salesreports import i18n

    install_catalog(
        request,
        {
            "Revenue": "Umsatz",
            "not available": "nicht verfügbar",
            "needs {n} months of data": "braucht {n} Monate Daten",
            "Note": "Hinweis",
            "{n}nd": "{n}.",
            "{n}st": "{n}.",
            "on track": "im Plan",
            "Target": "Ziel",
        },
    )
    with i18n.override("de_DE"):
        tile = d.Tile.for_kpi("revenue", None, reason="needs 3 months of data")
        html = d.tiles([tile]).html
        box = d.callout("info", "Titel", ["Zeile"])
        goals = d.goal_list([{"name": "G", "status": "on track", "target": "5"}])
        ranks = (d.ordinal(92), d.ordinal(21), d.ordinal(13))
    assert tile.label == "Umsatz" and tile.unavailable_reason == "braucht 3 Monate Daten"
    assert '<div class="sr-tile__value">nicht verfügbar</div>' in html
    assert 'aria-label="Hinweis"' in box.html and box.text.startswith("[Hinweis] Titel")
    assert '<span class="sr-badge sr-badge--on-track">im Plan</span>' in goals.html  # class: the status code
    assert "<dt>Ziel</dt>" in goals.html
    assert ranks == ("92.", "21.", "13th")  # "{n}th" has no translation in this catalog
    assert d.ordinal(92) == "92nd" and d.Tile.for_kpi("revenue", None).unavailable_reason == "not enough data"
