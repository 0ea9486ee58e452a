"""Tests for salesreports.report.charts and .theme, on ``chart.to_dict()`` (schema-validated), not pixels."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import altair as alt
import pandas as pd
import pytest

from salesreports.errors import TemplateError, UnknownKpiError
from salesreports.metrics import kpis
from salesreports.report import charts, theme

NAN = math.nan
MONTHS = ["2025-12", "2026-01", "2026-02", "2026-03"]


def trend_frame(**overrides: list[float]) -> pd.DataFrame:
    data: dict[str, list[Any]] = {
        "period_end": MONTHS,
        "value": [10.0, NAN, 30.0, 40.0],
        "team_median": [12.0, 15.0, 20.0, NAN],
        "team_p25": [8.0, 9.0, 10.0, 11.0],
        "team_p75": [15.0, 18.0, 25.0, 30.0],
    }
    data.update(overrides)
    return pd.DataFrame(data)


FUNNEL = pd.DataFrame({"stage": ["Leads", "Qualified", "Won"], "count": [120, 54.0, NAN]})
ACTIVITY = pd.DataFrame(
    {
        "week": ["2026-10-05", "2026-10-05", "2026-10-12", "2026-10-12"],
        "type": ["meeting", "call", "call", "webinar"],
        "count": [3.0, 5.0, NAN, 1.0],
    }
)
RAMP = pd.DataFrame({"tenure_month": [1, 2, 3], "value": [0.1, NAN, 0.5], "benchmark": [0.2, 0.35, 0.5]})
GOALS = pd.DataFrame(
    {
        "goal": ["Revenue Q1", "Conversion 25%"],
        "actual_pct": [0.62, NAN],
        "expected_pct": [0.5, 0.7],
        "status": ["ahead", "At_Risk"],
    }
)
ENTITIES = pd.DataFrame({"entity": ["Ann", "Bob", "Chen", "Dana"], "value": [0.4, NAN, 0.2, 0.3]})

BUILDERS: dict[str, Callable[[], alt.TopLevelMixin]] = {
    "trend": lambda: charts.trend(trend_frame(), "revenue"),
    "funnel": lambda: charts.funnel(FUNNEL),
    "activity": lambda: charts.activity(ACTIVITY),
    "ramp": lambda: charts.ramp(RAMP, "quota_attainment"),
    "goal_progress": lambda: charts.goal_progress(GOALS),
    "distribution": lambda: charts.distribution(ENTITIES, "win_rate"),
    "leaderboard_bars": lambda: charts.leaderboard_bars(ENTITIES, "win_rate"),
}


def rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every inline data row of a spec (top level, layers, named datasets)."""
    found: list[dict[str, Any]] = []
    for values in spec.get("datasets", {}).values():
        found.extend(values)

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                yield from data["values"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    found.extend(walk(spec))
    return found


def encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    layers = spec.get("layer", [spec])
    return [layer.get("encoding", {}) for layer in layers]


def _symbols(node: Any) -> Iterator[dict[str, Any]]:
    """Every drawn point (symbol mark item) in a Vega scenegraph."""
    if isinstance(node, dict):
        if node.get("marktype") == "symbol" and node.get("role") == "mark":
            yield from node.get("items", [])
        for value in node.values():
            yield from _symbols(value)
    elif isinstance(node, list):
        for value in node:
            yield from _symbols(value)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_builders_give_valid_themed_specs(name: str) -> None:
    with alt.theme.enable("default"):
        chart = BUILDERS[name]()
    with theme.enable():
        spec = chart.to_dict()  # validates against the Vega-Lite schema
    cfg = spec["config"]
    assert cfg["font"] == theme.FONT
    assert cfg["axis"]["labelFont"] == cfg["axis"]["titleFont"] == theme.FONT
    assert cfg["legend"]["labelFont"] == cfg["title"]["font"] == theme.FONT
    assert cfg["range"]["category"][0] == theme.PRIMARY
    assert spec["width"] == theme.CHART_WIDTH
    assert spec["title"]["text"]


def test_builders_enable_the_house_theme() -> None:
    with alt.theme.enable("default"):
        charts.funnel(FUNNEL)
        assert alt.theme.active == theme.NAME


@pytest.mark.parametrize(
    ("kpi", "axis_format", "title"),
    [
        ("revenue", "$~s", "Revenue"),
        ("win_rate", ".0%", "Win rate"),
        ("sales_cycle_days", ",.0f", "Sales cycle (days)"),
        ("calls_per_week", ",.1~f", "Calls per week (per week)"),
    ],
)
def test_trend_takes_title_and_format_from_the_registry(kpi: str, axis_format: str, title: str) -> None:
    label = kpis.get(kpi).label
    assert title.startswith(label)
    spec = charts.trend(trend_frame(), kpi).to_dict()
    assert spec["title"]["text"] == f"{label} by month"
    axes = [e["y"]["axis"] for e in encodings(spec) if "axis" in e.get("y", {})]
    assert axes
    assert all(a["format"] == axis_format and a["title"] == charts.axis_title(kpi) for a in axes)
    assert charts.axis_title(kpi) == (title if kpi != "calls_per_week" else f"{label} (per week)")


def test_every_registry_kpi_has_formats() -> None:
    for kpi in kpis.registry():
        assert charts.axis_format(kpi)
        assert charts.tooltip_format(kpi)


def test_trend_missing_values_are_null_and_break_the_line() -> None:
    spec = charts.trend(trend_frame(), "revenue").to_dict()
    data = rows(spec)
    assert [r["value"] for r in data] == [10.0, None, 30.0, 40.0]
    assert data[3]["team_median"] is None
    marks = [layer["mark"] for layer in spec["layer"]]
    assert all(m["invalid"] == "break-paths-filter-domains" for m in marks)
    assert spec["title"]["subtitle"].startswith("Shaded")
    assert "area" in [m["type"] for m in marks]


def test_trend_scenegraph_draws_no_point_for_a_missing_month() -> None:
    vlc = pytest.importorskip("vl_convert")
    with theme.enable():
        spec = charts.trend(trend_frame(), "revenue").to_dict()
    scene = vlc.vegalite_to_scenegraph(spec)

    points = [s for s in _symbols(scene) if "y" in s]
    assert len(points) == 3  # 4 months, 1 missing: nothing is drawn at zero


def test_trend_without_band_or_values() -> None:
    spec = charts.trend(trend_frame(team_p25=[NAN] * 4, team_p75=[NAN] * 4), "revenue").to_dict()
    assert "area" not in [layer["mark"]["type"] for layer in spec["layer"]]
    assert "subtitle" not in spec["title"]
    empty = charts.trend(trend_frame(value=[NAN] * 4, team_median=[NAN] * 4), "revenue").to_dict()
    assert empty["mark"]["type"] == "text"
    assert rows(empty) == [{"message": "No values for these months."}]


def _review(last_year: list[float]) -> dict[str, Any]:
    frame = pd.DataFrame({"month": ["Jul", "Aug", "Sep"], "value": [10.0, NAN, 30.0], "last_year": last_year})
    return charts.review_trend(frame, "revenue", now="Q3 2026", before="Q3 2025").to_dict()


def _legend_domain(spec: dict[str, Any]) -> list[str]:
    domains = {tuple(layer["encoding"]["color"]["scale"]["domain"]) for layer in spec["layer"]}
    assert len(domains) == 1, "one shared legend"
    return list(domains.pop())


def test_review_trend_compares_with_the_same_months_a_year_earlier() -> None:
    spec = _review([8.0, 9.0, NAN])
    assert len(spec["layer"]) == 2
    assert _legend_domain(spec) == ["Q3 2026", "Q3 2025"]
    assert spec["title"]["subtitle"] == "Dashed: the same months of Q3 2025."
    assert [r["last_year"] for r in rows(spec)] == [8.0, 9.0, None]


def test_review_trend_without_last_year_draws_and_names_no_comparison() -> None:
    """Data that starts after the same months a year earlier: no dashed line, no 'Q3 2025' in the legend or
    tooltip, and the subtitle says there is nothing to compare with (it used to promise a dashed line)."""
    spec = _review([NAN, NAN, NAN])
    assert len(spec["layer"]) == 1
    assert _legend_domain(spec) == ["Q3 2026"]
    assert spec["title"]["subtitle"] == "The data has no figures for Q3 2025 to compare with."
    assert "Q3 2025" not in json.dumps(spec["layer"])
    assert [r["value"] for r in rows(spec)] == [10.0, None, 30.0]


def test_trend_month_labels_show_the_year_on_first_month_and_january() -> None:
    spec = charts.trend(trend_frame(), "revenue").to_dict()
    expr = spec["layer"][0]["encoding"]["x"]["axis"]["labelExpr"]
    assert '"2025-12": ["Dec", "2025"]' in expr
    assert '"2026-01": ["Jan", "2026"]' in expr
    assert '"2026-02": "Feb"' in expr


def test_funnel_labels_and_missing_stage() -> None:
    spec = charts.funnel(FUNNEL).to_dict()
    data = rows(spec)
    assert [r["label"] for r in data] == ["120", "54 (45.0%)", "not available"]
    assert data[2]["count"] is None
    assert list(spec["layer"][0]["encoding"]["y"]["sort"]) == ["Leads", "Qualified", "Won"]


def test_activity_stacks_known_types_first_and_never_draws_a_missing_count() -> None:
    spec = charts.activity(ACTIVITY).to_dict()
    bars = spec["layer"][0]
    assert bars["encoding"]["color"]["scale"]["domain"] == ["call", "meeting", "webinar"]
    assert "5 Oct" in bars["encoding"]["x"]["axis"]["labelExpr"]
    data = {(r["week"], r["type"]): r for r in rows(spec)}
    # calls at the bottom, meetings on top of them; the missing count is neither a bar nor a letter
    assert (data["2026-10-05", "call"]["y0"], data["2026-10-05", "call"]["y1"]) == (0.0, 5.0)
    assert (data["2026-10-05", "meeting"]["y0"], data["2026-10-05", "meeting"]["mid"]) == (5.0, 6.5)
    assert data["2026-10-12", "call"]["count"] is None and data["2026-10-12", "call"]["y1"] is None
    assert data["2026-10-12", "call"]["initial"] == ""
    assert (data["2026-10-12", "webinar"]["y0"], data["2026-10-12", "webinar"]["initial"]) == (0.0, "W")


def test_activity_types_differ_without_colour() -> None:
    """White gaps between the parts of a bar, a letter per part, the letters in the legend; dark colours."""
    spec = charts.activity(ACTIVITY).to_dict()
    bars, letters = spec["layer"]
    assert bars["mark"]["stroke"] == "white"
    assert letters["mark"]["type"] == "text" and letters["encoding"]["text"]["field"] == "initial"
    assert "' (' +" in bars["encoding"]["color"]["legend"]["labelExpr"]
    assert charts.activity_initials(["call", "email", "meeting", "demo", "chat"]) == {
        "call": "C", "email": "E", "meeting": "M", "demo": "D", "chat": "CH"
    }  # fmt: skip
    for colour in bars["encoding"]["color"]["scale"]["range"]:
        assert _contrast(colour, "#ffffff") >= 4.5  # white letters on it read; it stands out from the page


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        c = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_ramp_lines_and_benchmark() -> None:
    spec = charts.ramp(RAMP, "quota_attainment").to_dict()
    assert spec["title"]["text"] == "Ramp-up: quota attainment by month of tenure"
    assert [r["value"] for r in rows(spec)] == [0.1, None, 0.5]
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["This rep", "Earlier reps (median)"]


def test_goal_progress_status_colours_and_missing_actual() -> None:
    spec = charts.goal_progress(GOALS).to_dict()
    color = spec["layer"][0]["encoding"]["color"]["scale"]
    assert color["domain"] == ["ahead", "at risk"]
    assert color["range"] == [theme.STATUS_COLORS["ahead"], theme.STATUS_COLORS["at risk"]]
    data = rows(spec)
    assert data[1]["actual_pct"] is None
    assert data[1]["label"] == "not available"
    with pytest.raises(TemplateError, match="unknown goal status"):
        charts.goal_progress(GOALS.assign(status=["ahead", "late"]))


def test_distribution_leaves_out_missing_values() -> None:
    spec = charts.distribution(ENTITIES, "win_rate").to_dict()
    assert [r["entity"] for r in rows(spec)] == ["Ann", "Chen", "Dana"]
    assert spec["title"]["subtitle"] == "3 reps · median 30.0% · 1 not available"


def test_distribution_has_no_row_limit() -> None:
    big = pd.DataFrame({"entity": [f"R{i}" for i in range(6000)], "value": [i % 37 / 37 for i in range(6000)]})
    assert len(rows(charts.distribution(big, "win_rate").to_dict())) == 6000


@pytest.mark.parametrize(("kpi", "first"), [("win_rate", "Ann"), ("sales_cycle_days", "Chen")])
def test_leaderboard_orders_best_first_and_missing_last(kpi: str, first: str) -> None:
    spec = charts.leaderboard_bars(ENTITIES, kpi).to_dict()
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    assert order[0] == first
    assert order[-1] == "Bob"
    assert rows(spec)[-1]["label"] == "not available"


def test_leaderboard_limit() -> None:
    spec = charts.leaderboard_bars(ENTITIES, "win_rate", limit=2).to_dict()
    assert len(rows(spec)) == 2
    assert spec["title"]["subtitle"] == "Top 2 of 4. Sorted highest first."


@pytest.mark.parametrize(
    ("build", "frame", "column"),
    [
        (lambda f: charts.trend(f, "revenue"), trend_frame(), "team_p75"),
        (charts.funnel, FUNNEL, "count"),
        (charts.activity, ACTIVITY, "week"),
        (lambda f: charts.ramp(f, "revenue"), RAMP, "benchmark"),
        (charts.goal_progress, GOALS, "status"),
        (lambda f: charts.distribution(f, "revenue"), ENTITIES, "entity"),
        (lambda f: charts.leaderboard_bars(f, "revenue"), ENTITIES, "value"),
    ],
)
def test_builders_name_missing_columns(
    build: Callable[[pd.DataFrame], alt.TopLevelMixin], frame: pd.DataFrame, column: str
) -> None:
    with pytest.raises(TemplateError, match=rf"lacks column\(s\) {column} ") as err:
        build(frame.drop(columns=[column]))
    assert err.value.missing == [column]


def test_unknown_kpi() -> None:
    with pytest.raises(UnknownKpiError, match="Did you mean 'revenue'"):
        charts.trend(trend_frame(), "revenu")


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.funnel(FUNNEL.iloc[:0]),
        lambda: charts.activity(ACTIVITY.iloc[:0]),
        lambda: charts.ramp(RAMP.iloc[:0], "revenue"),
        lambda: charts.goal_progress(GOALS.iloc[:0]),
        lambda: charts.distribution(ENTITIES.iloc[:0], "revenue"),
        lambda: charts.leaderboard_bars(ENTITIES.iloc[:0], "revenue"),
    ],
)
def test_empty_frames_give_a_no_data_chart(build: Callable[[], alt.TopLevelMixin]) -> None:
    spec = build().to_dict()
    assert spec["mark"]["type"] == "text"
    assert rows(spec)[0]["message"]


def test_theme_is_registered_and_idempotent() -> None:
    theme.register()
    theme.register()
    assert theme.NAME in alt.theme.names()
    assert set(theme.STATUS_COLORS) == set(theme.STATUSES)
    assert theme.config()["config"]["font"] == "Liberation Sans"


def test_theme_enable_reads_no_entry_points_once_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chart enables the theme: asking altair for its theme names read every package's entry points."""
    import altair.utils.plugin_registry as registry

    def no_scan(group: str) -> list[object]:
        raise AssertionError(f"entry points of {group} read")

    monkeypatch.setattr(registry, "importlib_metadata_get", no_scan)
    with theme.enable():
        assert alt.theme.active == theme.NAME


def test_theme_enable_registers_the_theme_again_when_unregistered() -> None:
    alt.theme.unregister(theme.NAME)
    try:
        with theme.enable():
            assert alt.theme.active == theme.NAME
            assert alt.theme.get()() == theme.config()
    finally:
        theme.register()
    assert theme.NAME in alt.theme.names()


def test_long_names_with_emoji_render() -> None:
    """Vega's own truncation split emoji into half surrogate pairs and vl-convert failed the report."""
    from salesreports.report.vega import spec_to_svg

    name = "Zoë 😀 " * 12
    frame = pd.DataFrame(
        {
            "period_end": ["2026-08", "2026-09"],
            "value": [1.0, 2.0],
            "team_median": [1.0, 1.0],
            "team_p25": [0.5, 0.5],
            "team_p75": [2.0, 2.0],
        }
    )
    svg = spec_to_svg(charts.trend(frame, "revenue", label=name).to_dict())
    assert "😀" in svg and "…" in svg
    people = pd.DataFrame({"entity": [name, name + "x", "Bob"], "value": [1.0, 2.0, 3.0]})
    spec = charts.leaderboard_bars(people, "revenue").to_dict()
    labels = [r["entity"] for r in spec["data"]["values"]]
    assert len(set(labels)) == len(labels) == 3  # two names that cut alike stay two bars
    assert spec_to_svg(spec)
    assert spec_to_svg(charts.distribution(people, "revenue").to_dict())


def test_ramp_ticks_are_whole_months() -> None:
    frame = pd.DataFrame({"tenure_month": [1, 2, 3], "value": [0.0, 5.0, 9.0], "benchmark": [1.0, 4.0, 8.0]})
    spec = charts.ramp(frame, "revenue").to_dict()
    axes = [layer["encoding"]["x"]["axis"] for layer in spec["layer"] if "x" in layer.get("encoding", {})]
    assert axes and all(a["values"] == [1, 2, 3] for a in axes)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_phone_drawing_is_narrower_with_larger_text_and_fewer_ticks(name: str) -> None:
    from salesreports.report import display

    spec = display.chart(BUILDERS[name](), alt="x").spec
    phone = theme.narrow(spec)
    assert phone["width"] == theme.NARROW_WIDTH < spec["width"]
    assert phone["config"]["axis"]["labelFontSize"] >= 13 and phone["config"]["legend"]["labelFontSize"] >= 13
    assert phone["config"]["axisY"]["tickCount"] <= 4
    text = json.dumps(phone)
    assert all(int(n) <= 4 for n in re.findall(r'"tickCount": (\d+)', text))
    assert all(float(n) >= 13 for n in re.findall(r'"fontSize": ([\d.]+)', text))
    assert spec["width"] == theme.CHART_WIDTH  # the page's spec is left as it was
    title = phone["title"]["text"] if isinstance(phone["title"], dict) else phone["title"]
    lines = title if isinstance(title, list) else [title]
    assert all(len(line) <= 40 for line in lines)


def test_item11_trend_draws_maturing_months_as_hollow_points_with_their_note() -> None:
    note = "still maturing: leads from March 2026 have had 0 to 19 days to convert (half take 11 days or more)"
    frame = trend_frame().assign(note=["", "", "", note])
    spec = charts.trend(frame, "lead_conversion").to_dict()
    data = rows(spec)
    assert [r["note"] for r in data] == ["", "", "", note]  # whole, not cut like a label
    points = [layer for layer in spec["layer"] if layer["mark"]["type"] == "point"]
    assert [p["mark"]["filled"] for p in points] == [True, False]
    hollow = points[1]
    assert {"filter": "datum.note != ''"} in hollow["transform"]
    assert {"field": "note", "type": "nominal", "title": "Note"} in hollow["encoding"]["tooltip"]
    assert "Hollow points: still maturing" in spec["title"]["subtitle"]
    # without notes the chart is as before: one line with its points, no hollow layer
    plain = charts.trend(trend_frame(), "lead_conversion").to_dict()
    assert "point" not in [layer["mark"]["type"] for layer in plain["layer"]]


def test_item11_trend_maturing_scenegraph_draws_every_point_once() -> None:
    vlc = pytest.importorskip("vl_convert")
    frame = trend_frame().assign(note=["", "", "", "still maturing"])
    with theme.enable():
        spec = charts.trend(frame, "lead_conversion").to_dict()
    marks = vlc.vegalite_to_scenegraph(spec)

    points = [s for s in _symbols(marks) if "y" in s]
    assert len(points) == 3  # 4 months, 1 missing; the maturing March is one of the 3, drawn once
    hollow = [p for p in points if p["fill"] == "transparent"]
    assert len(hollow) == 1
    assert hollow[0]["x"] == max(p["x"] for p in points)  # the last month, March
    assert hollow[0]["stroke"] == points[0]["fill"]  # in the series' colour


# -- hostile names (issue #16) -------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "line break": "Ann\nLee",
    "crlf": "Ann\r\nLee",
    "backslash": "Ann \\ Lee\\",
    "double quote": 'Ann "Q" Lee"',
    "quote after backslash": 'Ann\\"Lee',
    "line separator": "Ann\u2028Lee",
    "paragraph separator": "Ann\u2029Lee",
    "form feed": "Ann\x0cLee",
    "escape and nul": "Ann\x1b\x00Lee",
    "right-to-left override": "Ann \u202eLee",
}


def strings(node: Any) -> Iterator[str]:
    """Every string in a spec (keys, values, list items)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def hostile_charts(name: str) -> dict[str, alt.TopLevelMixin]:
    """Every builder with ``name`` in each of its text inputs: titles, series labels, categories, entities."""
    return {
        "trend": charts.trend(trend_frame(), "revenue", label=name, title=f"Revenue of {name}"),
        "ramp": charts.ramp(RAMP, "quota_attainment", label=name, title=f"Ramp of {name}"),
        "funnel": charts.funnel(FUNNEL.assign(stage=[name, "Qualified", "Won"]), title=name),
        "activity": charts.activity(ACTIVITY.assign(type=[name, "call", "call", "webinar"]), title=name),
        "goal_progress": charts.goal_progress(GOALS.assign(goal=[name, "Conversion"]), title=name),
        "distribution": charts.distribution(ENTITIES.assign(entity=[name, "Bob", "Chen", "Dana"]), "win_rate"),
        "leaderboard_bars": charts.leaderboard_bars(ENTITIES.assign(entity=[name, "Bob", "Chen", "Dana"]), "win_rate"),
    }


@pytest.mark.parametrize("kind", list(HOSTILE_NAMES))
def test_item1_name_with_line_break_quote_backslash_renders_charts(kind: str) -> None:
    """A name goes into tooltip titles, legend labels, sort orders and titles: Vega-Lite copies them into
    expressions without escaping line breaks or U+2028/U+2029 (vl-convert failed with a JavaScript parse
    error), and a control character made the PNG renderer abort. display.chart() stores a spec every
    renderer can draw (vega.safe_spec): the page's SVG and the email's PNG, with the name readable."""
    import vl_convert as vlc

    from salesreports.report import display, vega
    from salesreports.text import one_line

    name = HOSTILE_NAMES[kind]
    readable = one_line(name)  # line breaks -> spaces, controls dropped, quotes and backslashes kept
    assert "\n" not in readable and ('"' in readable) == ('"' in name) and ("\\" in readable) == ("\\" in name)
    for builder, chart in hostile_charts(name).items():
        spec = display.chart(chart, alt=f"{builder} of {name}").spec
        assert not re.search("[\x00-\x1f\x7f\u2028\u2029]", json.dumps(spec, ensure_ascii=False)), builder
        assert any(readable in text for text in strings(spec)), builder
        svg = vega.spec_to_svg(spec)
        assert svg.startswith("<svg"), builder
        png = vlc.vegalite_to_png(spec, scale=1, vl_version=vega.vl_version(spec))  # as the email draws it
        assert png.startswith(b"\x89PNG"), builder
    trend = display.chart(hostile_charts(name)["trend"], alt="trend").spec
    assert trend["title"]["text"] == f"Revenue of {readable}"
    # the tooltip names the rep exactly: its title is a key of a Vega expression (a JavaScript string literal)
    compiled = vlc.vegalite_to_vega(trend, vl_version=vega.vl_version(trend))
    signals = [t for t in strings(compiled) if t.startswith('{"Month"')]
    assert signals and all(f"{json.dumps(readable, ensure_ascii=False)}: format(" in t for t in signals)


def test_item1_safe_spec_is_the_one_rule_for_text_in_a_spec() -> None:
    from salesreports.report.vega import safe_spec

    spec = {"title": {"text": "a\nb", "subtitle": ["c\u2028d"]}, "data": {"values": [{"n": "x\x0cy", "v": 1.5}]}}
    assert safe_spec(spec) == {
        "title": {"text": "a b", "subtitle": ["c d"]},
        "data": {"values": [{"n": "x y", "v": 1.5}]},
    }
    tooltip = {"encoding": {"tooltip": [{"field": "v", "title": "a\\b"}], "x": {"field": "v", "title": "a\\b"}}}
    escaped = safe_spec(tooltip)["encoding"]
    assert escaped["tooltip"][0]["title"] == "a\\\\b"  # a key of an expression Vega-Lite does not escape
    assert escaped["x"]["title"] == "a\\b"  # plain text elsewhere


def _svg_texts(svg: str) -> list[str]:
    return [t.replace("&#160;", "\u00a0") for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_a_german_chart_reads_euros_the_german_way() -> None:
    """The axis of a German scorecard reads 10.000 €, its months Okt, Nov: vl-convert draws the spec's locale."""
    from salesreports.metrics.formats import formatter
    from salesreports.report.vega import spec_to_svg

    german = formatter("de_DE", "EUR")
    frame = trend_frame(
        period_end=["2026-09", "2026-10", "2026-11", "2026-12"],
        value=[10_000.0, 25_000.0, 40_000.0, 32_000.0],
        team_median=[12_000.0, 15_000.0, 20_000.0, 22_000.0],
    )
    spec = charts.trend(frame, "revenue", formats=german).to_dict()
    assert spec["config"]["locale"]["number"]["thousands"] == "."
    y_format = {layer["encoding"]["y"]["axis"]["format"] for layer in spec["layer"] if "y" in layer["encoding"]}
    assert y_format == {"$,.0f"}  # written out: d3's k and M are English
    texts = _svg_texts(spec_to_svg(spec))
    assert "10.000\u00a0€" in texts and "40.000\u00a0€" in texts
    assert not [t for t in texts if "$" in t or re.fullmatch(r"\d+,\d{3}", t)]
    assert {"Okt", "Nov", "Dez"} <= set(texts)  # the month labels in German


def test_an_en_us_chart_has_no_locale_and_keeps_its_formats() -> None:
    from salesreports.metrics.formats import DEFAULT

    for formats in (None, DEFAULT):
        spec = charts.trend(trend_frame(), "revenue", formats=formats).to_dict()
        assert "locale" not in spec.get("config", {})
        assert charts.axis_format("revenue", formats) == "$~s"
    assert (
        charts.trend(trend_frame(), "revenue", formats=DEFAULT).to_dict()
        == charts.trend(trend_frame(), "revenue").to_dict()
    )


def test_labels_of_a_french_funnel_and_leaderboard() -> None:
    from salesreports.metrics.formats import formatter

    french = formatter("fr_FR", "EUR")
    spec = charts.funnel(pd.DataFrame({"stage": ["Leads", "Won"], "count": [1200.0, 300.0]}), formats=french).to_dict()
    assert [r["label"] for r in spec["data"]["values"]] == ["1\u202f200", "300 (25,0\u00a0%)"]
    people = pd.DataFrame({"entity": ["Ana", "Bo"], "value": [12_345.0, 2_000.0]})
    spec = charts.leaderboard_bars(people, "revenue", formats=french).to_dict()
    assert [r["label"] for r in spec["data"]["values"]] == ["12\u202f345\u00a0€", "2\u202f000\u00a0€"]


def test_a_chart_in_the_active_language(request: pytest.FixtureRequest) -> None:
    """Titles, axis titles, legends and tooltips in the page's language; goal statuses keep their colours."""
    from _catalog import install_catalog
    from salesreports import i18n

    install_catalog(
        request,
        {
            "{kpi} by month": "{kpi} nach Monat",
            "Revenue": "Umsatz",
            "Team median": "Team-Median",
            "This rep": "Diese Person",
            "Month": "Monat",
            "{label} (days)": "{label} (Tage)",
            "Sales cycle": "Verkaufszyklus",
            "on track": "im Plan",
            "Status": "Status",
        },
    )
    with i18n.override("de_DE"):
        spec = charts.trend(trend_frame(), "revenue").to_dict()
        assert charts.axis_title("sales_cycle_days") == "Verkaufszyklus (Tage)"
        goals = pd.DataFrame(
            {"goal": ["A", "B"], "actual_pct": [0.5, 0.9], "expected_pct": [0.6, 0.8], "status": ["on track", "missed"]}
        )
        progress = charts.goal_progress(goals).to_dict()
    assert spec["title"]["text"] == "Umsatz nach Monat"
    text = json.dumps(spec, ensure_ascii=False)
    assert '"Team-Median"' in text and '"Diese Person"' in text and '"title": "Monat"' in text
    assert '"title": "Umsatz"' in text  # the y axis
    scale = next(
        layer["encoding"]["color"]["scale"] for layer in progress["layer"] if "color" in layer.get("encoding", {})
    )
    assert scale["domain"] == ["im Plan", "missed"]  # "missed" has no translation here: as written
    assert scale["range"] == [theme.STATUS_COLORS["on track"], theme.STATUS_COLORS["missed"]]
    # outside the override: English
    assert charts.trend(trend_frame(), "revenue").to_dict()["title"]["text"] == "Revenue by month"


def test_a_spec_is_drawn_once_per_process_and_again_when_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """spec_to_svg keeps vl-convert's drawing by the spec's exact JSON: a changed spec is always drawn again."""
    import vl_convert as vlc

    from salesreports.report import vega

    drawn: list[str] = []
    real = vlc.vegalite_to_svg

    def counting(spec: dict[str, Any], **kw: Any) -> str:
        drawn.append(json.dumps(spec))
        return str(real(spec, **kw))

    monkeypatch.setattr(vlc, "vegalite_to_svg", counting)
    monkeypatch.setattr(vega, "_DRAWN", type(vega._DRAWN)())
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "data": {"values": [{"m": "Aug", "v": 1.0}, {"m": "Sep", "v": 2.0}, {"m": "Oct", "v": 3.0}]},
        "mark": {"type": "line", "clip": True},
        "encoding": {"x": {"field": "m", "type": "ordinal"}, "y": {"field": "v", "type": "quantitative"}},
    }
    first = vega.spec_to_svg(spec, id_prefix="sr1-trend")
    again = vega.spec_to_svg(json.loads(json.dumps(spec)), id_prefix="sr2-trend")
    assert len(drawn) == 1
    assert "sr1-trend-clip" in first, "its ids are made unique on the page"
    assert again == first.replace("sr1-trend", "sr2-trend") and "sr1-trend" not in again
    changed = json.loads(json.dumps(spec))
    changed["data"]["values"][-1]["v"] = 30.0
    assert vega.spec_to_svg(changed, id_prefix="sr1-trend") != first
    assert len(drawn) == 2
    for n in range(vega.DRAWN_KEEP + 1):  # bounded: the oldest drawing goes
        vega.spec_to_svg({**spec, "description": str(n)})
    assert len(vega._DRAWN) == vega.DRAWN_KEEP
    vega.spec_to_svg(spec)
    assert len(drawn) == vega.DRAWN_KEEP + 4
