"""Chart builders: pandas frames in, altair charts out (never shown or saved here).

Titles, axis titles and number formats come from the KPI registry
(:func:`salesreports.metrics.kpis.get`), so a KPI reads the same on every chart, tile and
table. Every builder

- checks its columns and raises :class:`~salesreports.errors.TemplateError` naming the missing ones;
- embeds its rows inline (``{"values": [...]}``) with missing values as ``null``: a missing value is
  never drawn as zero: lines break, bars and points are left out, labels say "not available";
- returns a small "no data" chart instead of an empty frame;
- enables the house theme (:mod:`salesreports.report.theme`), so ``chart.to_dict()`` carries its fonts;
- takes the report's :class:`~salesreports.metrics.formats.Formatter` (``formats=``, default en_US and
  dollars): labels, month names and, in the spec's ``config.locale``, the number and time locale of its
  axes and tooltips (``10.000 €`` on a German page). An en_US, USD chart has no ``config.locale``.

Wrap a chart for a notebook with :func:`salesreports.report.display.chart`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import altair as alt
import pandas as pd

from salesreports import i18n
from salesreports.errors import TemplateError
from salesreports.i18n import N_, _, ngettext
from salesreports.metrics.kpis import Formatter, Kpi, as_formatter, get
from salesreports.report import theme
from salesreports.text import one_line

__all__ = [
    "ACTIVITY_PLURALS",
    "ACTIVITY_TYPES",
    "activity",
    "activity_initials",
    "activity_label",
    "axis_format",
    "axis_title",
    "distribution",
    "funnel",
    "goal_progress",
    "leaderboard_bars",
    "ramp",
    "review_trend",
    "tooltip_format",
    "trend",
]

ACTIVITY_TYPES: Final = ("call", "email", "meeting", "demo")
# the activity types' names on a page (the data's codes are English): a chart's legend, a table's headers
_ACTIVITY_NAMES: Final = {"call": N_("call"), "email": N_("email"), "meeting": N_("meeting"), "demo": N_("demo")}
ACTIVITY_PLURALS: Final = {"call": N_("Calls"), "email": N_("Emails"), "meeting": N_("Meetings"), "demo": N_("Demos")}

_AXIS_FORMATS: Final = {
    "currency": "$~s",
    "percent": ".0%",
    "count": ",.0f",
    "days": ",.0f",
    "per_week": ",.1~f",
    "ratio": ".1~f",
}
_TOOLTIP_FORMATS: Final = {
    "currency": "$,.0f",
    "percent": ".1%",
    "count": ",.0f",
    "days": ",.0f",
    "per_week": ",.1f",
    "ratio": ".2f",
}
_UNITS: Final = {"days": N_("{label} (days)"), "per_week": N_("{label} (per week)"), "ratio": N_("{label} (×)")}
_INVALID: Final = "break-paths-filter-domains"  # a null breaks the line; nothing is drawn at zero


def axis_format(kpi: Kpi | str, formats: Formatter | None = None) -> str:
    """The d3 format of a KPI's axis labels (``$~s`` for currency: $50k, $1.2M).

    d3's SI suffixes (k, M, G) are English abbreviations, so in another language amounts are written out,
    grouped by the locale (``$,.0f``: ``10.000 €``); d3 places the currency by the chart's locale."""
    fmt = _kpi(kpi).format
    if fmt == "currency" and formats is not None and not formats.locale.startswith("en"):
        return "$,.0f"
    return _AXIS_FORMATS[fmt]


def tooltip_format(kpi: Kpi | str) -> str:
    """The d3 format of a KPI's exact values (tooltips, data labels); the chart's locale writes them."""
    return _TOOLTIP_FORMATS[_kpi(kpi).format]


def localized(chart: alt.TopLevelMixin, formats: Formatter | None) -> alt.TopLevelMixin:
    """The chart with the number and time locale of ``formats`` in its config (Vega's ``config.locale``: d3
    separators, the currency's place, month and day names), read by vl-convert and by vega-embed alike.
    A chart in en_US and US dollars is returned as it is (d3's defaults)."""
    if formats is None or formats.is_default:
        return chart
    locale = {"number": formats.d3_number_locale(), "time": formats.d3_time_locale()}
    out: alt.TopLevelMixin = chart.configure(locale=locale)
    return out


def axis_title(kpi: Kpi | str) -> str:
    """The KPI's label with its unit where the numbers alone do not say it (in the active language)."""
    k = _kpi(kpi)
    return _(_UNITS[k.format]).format(label=_(k.label)) if k.format in _UNITS else _(k.label)


def activity_label(kind: str) -> str:
    """An activity type as a page names it: a known type in the active language, any other as it is."""
    return _(_ACTIVITY_NAMES[kind]) if kind in _ACTIVITY_NAMES else kind


def trend(
    frame: pd.DataFrame,
    kpi: str,
    *,
    label: str | None = None,
    title: str | None = None,
    formats: Formatter | None = None,
) -> alt.TopLevelMixin:
    """A KPI month by month against the team median and the team's middle half.

    Parameters
    ----------
    frame
        Columns ``period_end`` ('YYYY-MM'), ``value``, ``team_median``, ``team_p25``, ``team_p75``; one row per
        month. The band is left out when ``team_p25``/``team_p75`` are all missing. An optional ``note``
        column marks months whose value is still maturing (e.g. lead conversion of recent leads): their
        points are hollow and the note is in their tooltip.
    kpi
        The KPI's name in the registry (title, axis format).
    label
        The legend entry of ``value`` (default "This rep", a team's name, ...).
    title
        Overrides the default title (``"<KPI label> by month"``).

    Every fixed word (titles, legends, tooltips) is in the active language.

    Raises
    ------
    TemplateError
        A column is missing. ``UnknownKpiError`` for an unknown KPI.
    """
    k = _kpi(kpi)
    _require(frame, ("period_end", "value", "team_median", "team_p25", "team_p75"), "trend")
    heading = title or _("{kpi} by month").format(kpi=_(k.label))
    ordered = frame.sort_values("period_end")
    rows = _records(ordered, ("period_end", "value", "team_median", "team_p25", "team_p75"))
    notes = [str(n) if isinstance(n, str) else "" for n in ordered.get("note", pd.Series("", index=ordered.index))]
    for r, note in zip(rows, notes, strict=True):
        r["note"] = note  # whole (not cut like labels): it is read in the tooltip
    if not rows or _all_missing(rows, ("value", "team_median")):
        return _no_data(heading, _("No values for these months."))
    periods = [str(r["period_end"]) for r in rows]
    has_band = not _all_missing(rows, ("team_p25", "team_p75"))
    median_label = _("Team median")
    label = _short(_("This rep") if label is None else label)
    color = _series_colors([label, median_label], [theme.PRIMARY, theme.MUTED])
    subtitle = _("Shaded: the middle half of the team (25th to 75th percentile).") if has_band else alt.Undefined
    x = alt.X(
        "period_end:O",
        sort=periods,
        title=None,
        axis=alt.Axis(labelExpr=_label_expr(_month_labels(periods, formats)), labelAngle=0),
    )
    tfmt = tooltip_format(k)
    y_axis = _kpi_axis(k, formats)
    tooltip = [
        alt.Tooltip("period_end:O", title=_("Month")),
        alt.Tooltip("value:Q", title=label, format=tfmt),
        alt.Tooltip("team_median:Q", title=median_label, format=tfmt),
    ]
    layers: list[alt.Chart] = []
    if has_band:
        band = alt.Chart().mark_area(color=theme.BAND, opacity=0.7, invalid=_INVALID)
        layers.append(band.encode(x=x, y=alt.Y("team_p25:Q", axis=y_axis), y2="team_p75:Q"))
    median = alt.Chart().mark_line(strokeDash=[5, 3], strokeWidth=2, invalid=_INVALID)
    layers.append(color(median.encode(x=x, y=alt.Y("team_median:Q", axis=y_axis)), median_label))
    if not any(notes):
        own = alt.Chart().mark_line(point=True, invalid=_INVALID)
        layers.append(color(own.encode(x=x, y=alt.Y("value:Q", axis=y_axis), tooltip=tooltip), label))
        return _layer(formats, layers, rows, heading, subtitle=subtitle)
    # maturing months: the line goes on, their points are hollow and say why in the tooltip
    own = alt.Chart().mark_line(invalid=_INVALID)
    layers.append(color(own.encode(x=x, y=alt.Y("value:Q", axis=y_axis)), label))
    for hollow in (False, True):
        dots = alt.Chart().mark_point(filled=not hollow, size=60, opacity=1, invalid=_INVALID)
        dots = dots.transform_filter("datum.note != ''" if hollow else "datum.note == ''")
        tips = [*tooltip, alt.Tooltip("note:N", title=_("Note"))] if hollow else tooltip
        layers.append(color(dots.encode(x=x, y=alt.Y("value:Q", axis=y_axis), tooltip=tips), label))
    hollow_note = _("Hollow points: still maturing (see their tooltip).")
    subtitle = f"{subtitle} {hollow_note}" if has_band else hollow_note
    return _layer(formats, layers, rows, heading, subtitle=subtitle)


def review_trend(
    frame: pd.DataFrame,
    kpi: str,
    *,
    now: str,
    before: str,
    title: str | None = None,
    formats: Formatter | None = None,
) -> alt.TopLevelMixin:
    """A KPI month by month over a quarter or year, against the same months a year earlier.

    Parameters
    ----------
    frame
        Columns ``month`` (its name, e.g. 'Jul', in order), ``value`` (this period) and ``last_year`` (the
        same month a year earlier); one row per month of the period.
    kpi
        The KPI's name in the registry (title, axis format).
    now, before
        The legend entries of ``value`` and ``last_year`` ("Q3 2026", "Q3 2025").
    title
        Overrides the default title (``"<KPI label> by month"``).

    Raises
    ------
    TemplateError
        A column is missing. ``UnknownKpiError`` for an unknown KPI.
    """
    k = _kpi(kpi)
    _require(frame, ("month", "value", "last_year"), "review_trend")
    heading = title or _("{kpi} by month").format(kpi=_(k.label))
    rows = _records(frame, ("month", "value", "last_year"))
    if not rows or _all_missing(rows, ("value", "last_year")):
        return _no_data(heading, _("No values for these months."))
    now, before = _short(now), _short(before)
    # no figure a year earlier (the data starts later): no dashed line, no legend entry, and the subtitle says so
    compared = not _all_missing(rows, ("last_year",))
    color = _series_colors([now, before] if compared else [now], [theme.PRIMARY, theme.MUTED][: 2 if compared else 1])
    x = alt.X("month:O", sort=[str(r["month"]) for r in rows], title=None, axis=alt.Axis(labelAngle=0))
    y_axis = _kpi_axis(k, formats)
    tfmt = tooltip_format(k)
    tooltip = [alt.Tooltip("month:O", title=_("Month")), alt.Tooltip("value:Q", title=now, format=tfmt)]
    own = alt.Chart().mark_line(point=True, invalid=_INVALID)
    if not compared:
        layer = color(own.encode(x=x, y=alt.Y("value:Q", axis=y_axis), tooltip=tooltip), now)
        subtitle = _("The data has no figures for {period} to compare with.").format(period=before)
        return _layer(formats, [layer], rows, heading, subtitle=subtitle)
    tooltip.append(alt.Tooltip("last_year:Q", title=before, format=tfmt))
    earlier = alt.Chart().mark_line(strokeDash=[5, 3], strokeWidth=2, point=True, invalid=_INVALID)
    layers = [
        color(earlier.encode(x=x, y=alt.Y("last_year:Q", axis=y_axis)), before),
        color(own.encode(x=x, y=alt.Y("value:Q", axis=y_axis), tooltip=tooltip), now),
    ]
    return _layer(
        formats, layers, rows, heading, subtitle=_("Dashed: the same months of {period}.").format(period=before)
    )


def funnel(frame: pd.DataFrame, *, title: str | None = None, formats: Formatter | None = None) -> alt.TopLevelMixin:
    """Horizontal bars from the first stage to the last, each labelled with its count and its share of the
    stage before.

    Parameters
    ----------
    frame
        Columns ``stage`` and ``count``, in funnel order (e.g. leads, qualified, proposals, won).

    Raises
    ------
    TemplateError
        A column is missing.
    """
    _require(frame, ("stage", "count"), "funnel")
    title = _("Sales funnel") if title is None else title
    rows = _records(frame, ("stage", "count"))
    if not rows or _all_missing(rows, ("count",)):
        return _no_data(title, _("No funnel data for this period."))
    previous: float | None = None
    top = max(float(r["count"]) for r in rows if r["count"] is not None)
    for r in rows:
        count = r["count"]
        text = _fmt(formats).value(count, "count")
        if count is not None and previous:
            text += f" ({_fmt(formats).value(count / previous, 'percent')})"
        r["label"] = text
        r["label_x"] = count if count is not None else 0.0
        previous = count
    stages = [str(r["stage"]) for r in rows]
    y = alt.Y("stage:N", sort=stages, title=None, axis=alt.Axis(labelLimit=0, labelPadding=6))
    x_scale = alt.Scale(domain=[0, (top or 1) * 1.3], nice=False)
    bars = (
        alt.Chart()
        .mark_bar(color=theme.PRIMARY, invalid="filter")
        .encode(
            y=y,
            x=alt.X("count:Q", axis=None, scale=x_scale),
            tooltip=[
                alt.Tooltip("stage:N", title=_("Stage")),
                alt.Tooltip("count:Q", title=_("Count"), format=",.0f"),
            ],
        )
    )
    labels = (
        alt.Chart()
        .mark_text(align="left", dx=5, baseline="middle")
        .encode(y=y, x=alt.X("label_x:Q", scale=x_scale, axis=None), text="label:N")
    )
    subtitle = _("In brackets: share of the stage before.") if len(rows) > 1 else alt.Undefined
    return _layer(formats, [bars, labels], rows, title, subtitle=subtitle, height=30 * len(rows))


def activity(frame: pd.DataFrame, *, title: str | None = None, formats: Formatter | None = None) -> alt.TopLevelMixin:
    """Stacked weekly bars of calls, emails, meetings and demos, told apart without colour.

    The types are always stacked in the same order (calls at the bottom), separated by a white gap, and each
    segment tall enough for a letter carries its type's initial (the legend reads "call (C)"), so the chart
    reads in grey print and for colour-blind readers. Its colours are Okabe-Ito hues dark enough for white
    letters and at least 3:1 against the page. Give it a weekly table as its text alternative
    (``display.chart(..., table=...)``).

    Parameters
    ----------
    frame
        Columns ``week`` ('YYYY-MM-DD', the week's first day), ``type`` and ``count``.

    Raises
    ------
    TemplateError
        A column is missing.
    """
    theme.enable()
    _require(frame, ("week", "type", "count"), "activity")
    title = _("Activity per week") if title is None else title
    rows = _records(frame.sort_values("week"), ("week", "type", "count"))
    if not rows or not any(r["count"] for r in rows):
        return _no_data(title, _("No activities recorded in this period."))
    weeks = list(dict.fromkeys(str(r["week"]) for r in rows))
    present = list(dict.fromkeys(str(r["type"]) for r in rows))
    codes = [t for t in ACTIVITY_TYPES if t in present] + [t for t in present if t not in ACTIVITY_TYPES]
    # each type by its name in the page's language (its legend entry, tooltip and initial), in the same order
    names = {t: activity_label(t) for t in codes}
    for r in rows:
        r["type"] = names.get(str(r["type"]), r["type"])
    types = [names[t] for t in codes]
    initials = activity_initials(types)
    # stacked here rather than by Vega, so that each segment's letter sits in its middle
    rank = {t: i for i, t in enumerate(types)}
    top = 0.0
    for r in rows:  # a missing count stays null: no bar, no letter (never drawn as zero)
        r["y0"] = r["y1"] = r["mid"] = None
    for week in weeks:
        base = 0.0
        counted = (r for r in rows if str(r["week"]) == week and r["count"] is not None)
        for r in sorted(counted, key=lambda r: rank[str(r["type"])]):
            r["y0"], r["y1"] = base, base + float(r["count"])
            r["mid"] = base + float(r["count"]) / 2
            base = r["y1"]
        top = max(top, base)
    for r in rows:  # a letter only where the segment is at least about 14 px of the chart's 200 px
        tall = r["count"] is not None and float(r["count"]) >= top * 0.07
        r["initial"] = initials[str(r["type"])] if tall else ""
    colors = [theme.ACTIVITY_COLORS[i % len(theme.ACTIVITY_COLORS)] for i in range(len(types))]
    legend_expr = f"datum.label + ' (' + {json.dumps(initials, ensure_ascii=True)}[datum.label] + ')'"
    x = alt.X(
        "week:O",
        sort=weeks,
        title=_("Week starting"),
        axis=alt.Axis(labelExpr=_label_expr(_week_labels(weeks, formats)), labelAngle=0),
    )
    y_scale = alt.Scale(domain=[0, top or 1], nice=True)
    bars = (
        alt.Chart()
        .mark_bar(stroke="white", strokeWidth=1, cornerRadiusEnd=0, invalid="filter")
        .encode(
            x=x,
            y=alt.Y("y0:Q", title=_("Activities"), scale=y_scale, axis=alt.Axis(format=",.0f", tickMinStep=1)),
            y2="y1:Q",
            color=alt.Color(
                "type:N",
                sort=types,
                scale=alt.Scale(domain=types, range=colors),
                legend=alt.Legend(title=_("Stacked from the bottom:"), labelExpr=legend_expr),
            ),
            tooltip=[
                alt.Tooltip("week:O", title=_("Week starting")),
                alt.Tooltip("type:N", title=_("Type")),
                alt.Tooltip("count:Q", title=_("Count"), format=",.0f"),
            ],
        )
    )
    letters = (
        alt.Chart()
        .mark_text(color="white", fontWeight="bold", baseline="middle", invalid="filter")
        .encode(x=x, y=alt.Y("mid:Q", scale=y_scale), text="initial:N")
    )
    return _layer(formats, [bars, letters], rows, title, subtitle=_("Letters: the type of each part of a bar."))


def activity_initials(types: Sequence[str]) -> dict[str, str]:
    """A short, unique, upper-case mark per activity type: call C, email E, meeting M, demo D."""
    out: dict[str, str] = {}
    for t in types:
        n = 1
        while t[:n].upper() in out.values() and n < len(t):
            n += 1
        out[t] = t[:n].upper() or "?"
    return out


def ramp(
    frame: pd.DataFrame,
    kpi: str,
    *,
    label: str | None = None,
    title: str | None = None,
    formats: Formatter | None = None,
) -> alt.TopLevelMixin:
    """A new rep's KPI by month of tenure against the trial-month benchmark.

    Parameters
    ----------
    frame
        Columns ``tenure_month`` (1, 2, ...), ``value`` and ``benchmark`` (median of earlier reps in that month).
    kpi
        The KPI's name in the registry.

    Raises
    ------
    TemplateError
        A column is missing.
    """
    k = _kpi(kpi)
    _require(frame, ("tenure_month", "value", "benchmark"), "ramp")
    kpi_label = _(k.label)
    heading = title or _("Ramp-up: {kpi} by month of tenure").format(kpi=i18n.in_sentence(kpi_label))
    rows = _records(frame.sort_values("tenure_month"), ("tenure_month", "value", "benchmark"))
    if not rows or _all_missing(rows, ("value", "benchmark")):
        return _no_data(heading, _("No tenure history yet."))
    bench_label = _("Earlier reps (median)")
    label = _short(_("This rep") if label is None else label)
    color = _series_colors([label, bench_label], [theme.PRIMARY, theme.MUTED])
    months = sorted({int(r["tenure_month"]) for r in rows if r["tenure_month"] is not None})
    ticks = list(range(months[0], months[-1] + 1)) if months else []
    x = alt.X("tenure_month:Q", title=_("Month of tenure"), axis=alt.Axis(format="d", values=ticks))
    y_axis = _kpi_axis(k, formats)
    tfmt = tooltip_format(k)
    tooltip = [
        alt.Tooltip("tenure_month:Q", title=_("Month of tenure")),
        alt.Tooltip("value:Q", title=label, format=tfmt),
        alt.Tooltip("benchmark:Q", title=bench_label, format=tfmt),
    ]
    bench = alt.Chart().mark_line(strokeDash=[5, 3], strokeWidth=2, invalid=_INVALID)
    bench = color(bench.encode(x=x, y=alt.Y("benchmark:Q", axis=y_axis)), bench_label)
    own = alt.Chart().mark_line(point=True, invalid=_INVALID)
    own = color(own.encode(x=x, y=alt.Y("value:Q", axis=y_axis), tooltip=tooltip), label)
    return _layer(formats, [bench, own], rows, heading)


def goal_progress(
    frame: pd.DataFrame, *, title: str | None = None, formats: Formatter | None = None
) -> alt.TopLevelMixin:
    """One bar per goal: the share of its target reached so far, coloured by status, with a tick where the
    goal should be by now and a line at 100%.

    Parameters
    ----------
    frame
        Columns ``goal`` (name), ``actual_pct`` and ``expected_pct`` (fractions of the target: 0.5 is 50%) and
        ``status`` (achieved, ahead, on track, at risk, missed).

    Raises
    ------
    TemplateError
        A column is missing or a status is unknown.
    """
    _require(frame, ("goal", "actual_pct", "expected_pct", "status"), "goal_progress")
    title = _("Goals: progress to target") if title is None else title
    rows = _records(frame, ("goal", "actual_pct", "expected_pct", "status"))
    if not rows:
        return _no_data(title, _("No goals for this period."))
    for r in rows:
        r["status"] = _status(r["status"])
        r["label"] = (
            _fmt(formats).value(r["actual_pct"], "percent") if r["actual_pct"] is not None else _("not available")
        )
    top = max([1.0, *(float(r[c]) for r in rows for c in ("actual_pct", "expected_pct") if r[c] is not None)])
    goals = [str(r["goal"]) for r in rows]
    y = alt.Y("goal:N", sort=goals, title=None, axis=alt.Axis(labelLimit=0, labelPadding=6))
    # the labels sit in a column at the right edge, clear of the bars and of the "expected" ticks
    x_scale = alt.Scale(domain=[0, top * 1.25], nice=False)
    step = 0.2 if top <= 2 else 0.5 if top <= 5 else 1.0
    ticks = [round(i * step, 2) for i in range(int(top / step + 1e-9) + 1)]
    x_axis = alt.Axis(format=".0%", title=_("Share of target"), grid=True, values=ticks)
    present = {r["status"] for r in rows}
    codes = [s for s in theme.STATUSES if s in present]
    colors = [theme.STATUS_COLORS[s] for s in codes]
    # the legend and tooltips name each status in the page's language; the colours stay the codes'
    for r in rows:
        r["status"] = _(r["status"])
    statuses = [_(s) for s in codes]
    bars = (
        alt.Chart()
        .mark_bar(invalid="filter", height=alt.RelativeBandSize(0.6))
        .encode(
            y=y,
            x=alt.X("actual_pct:Q", scale=x_scale, axis=x_axis),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=statuses, range=colors),
                legend=alt.Legend(title=None),
            ),
            tooltip=[
                alt.Tooltip("goal:N", title=_("Goal")),
                alt.Tooltip("status:N", title=_("Status")),
                alt.Tooltip("actual_pct:Q", title=_("Reached"), format=".0%"),
                alt.Tooltip("expected_pct:Q", title=_("Expected by now"), format=".0%"),
            ],
        )
    )
    expected = (
        alt.Chart()
        .mark_tick(color="#222222", thickness=2.5, invalid="filter", size=22)
        .encode(y=y, x=alt.X("expected_pct:Q", scale=x_scale))
    )
    target = alt.Chart().mark_rule(color=theme.MUTED, strokeDash=[4, 3]).encode(x=alt.datum(1.0))
    labels = (
        alt.Chart()
        .mark_text(align="right", baseline="middle")
        .encode(y=y, x={"value": {"expr": "width"}}, text="label:N")
    )
    subtitle = _("Bar: share of target reached · black tick: where the goal should be by now · dashed line: target.")
    return _layer(formats, [bars, target, expected, labels], rows, title, subtitle=subtitle, height=34 * len(rows))


def distribution(
    frame: pd.DataFrame,
    kpi: str,
    *,
    unit: str | None = None,
    title: str | None = None,
    formats: Formatter | None = None,
) -> alt.TopLevelMixin:
    """How a KPI is spread across a team: a box (middle half, median) and one dot per rep.

    Parameters
    ----------
    frame
        Columns ``entity`` (rep or team name) and ``value``.
    kpi
        The KPI's name in the registry.
    unit
        What an entity is, for the subtitle ("12 reps · 2 not available"); default reps (in the active
        language).

    Raises
    ------
    TemplateError
        A column is missing.
    """
    theme.enable()
    k = _kpi(kpi)
    _require(frame, ("entity", "value"), "distribution")
    heading = title or _("{kpi} across the team").format(kpi=_(k.label))
    rows = _records(frame, ("entity", "value"))
    valid = [r for r in rows if r["value"] is not None]
    kpi_label = i18n.in_sentence(_(k.label))
    if not valid:
        if unit is None:
            return _no_data(heading, _("No {kpi} values for these reps.").format(kpi=kpi_label))
        return _no_data(heading, _("No {kpi} values for these {unit}.").format(kpi=kpi_label, unit=unit))
    # A deterministic vertical jitter, so dots with equal values stay visible.
    for i, r in enumerate(valid):
        r["jitter"] = ((i * 7919) % 17 - 8) / 8
    median = float(pd.Series([float(r["value"]) for r in valid]).median())
    missing = len(rows) - len(valid)
    median_text = _fmt(formats).value(median, k.format)
    if unit is None:
        count = ngettext("{n} rep · median {median}", "{n} reps · median {median}", len(valid))
        subtitle = count.format(n=len(valid), median=median_text)
    else:
        subtitle = _("{n} {unit} · median {median}").format(n=len(valid), unit=unit, median=median_text)
    if missing:
        subtitle += " · " + _("{n} not available").format(n=missing)
    x = alt.X("value:Q", axis=_kpi_axis(k, formats, grid=True, tickCount=6))
    box = (
        alt.Chart()
        .mark_boxplot(
            extent="min-max",
            size=34,
            color="#cfe3f1",
            median=alt.MarkConfig(color="#222222", strokeWidth=2),
            rule=alt.MarkConfig(color=theme.MUTED),
            ticks=alt.MarkConfig(color=theme.MUTED, size=14),
            box=alt.MarkConfig(stroke=theme.MUTED, strokeWidth=1),
        )
        .encode(x=x)
    )
    dots = (
        alt.Chart()
        .mark_circle(size=40, opacity=0.75, color=theme.PRIMARY)
        .encode(
            x=x,
            y=alt.Y("jitter:Q", axis=None, scale=alt.Scale(domain=[-3, 3])),
            tooltip=[
                alt.Tooltip(
                    "entity:N",
                    title=_("Rep") if unit is None else unit[:-1].capitalize() if unit.endswith("s") else unit,
                ),
                alt.Tooltip("value:Q", title=_(k.label), format=tooltip_format(k)),
            ],
        )
    )
    chart: alt.TopLevelMixin = (
        alt.layer(box, dots, data=_data(valid), title=alt.Title(heading, subtitle=subtitle))
        .resolve_scale(y="independent")
        .properties(width=theme.CHART_WIDTH, height=90)
    )
    return localized(chart, formats)


def leaderboard_bars(
    frame: pd.DataFrame, kpi: str, *, limit: int = 30, title: str | None = None, formats: Formatter | None = None
) -> alt.TopLevelMixin:
    """Entities ranked by a KPI, best first (lowest first when lower is better), with value labels.

    Parameters
    ----------
    frame
        Columns ``entity`` and ``value``.
    kpi
        The KPI's name in the registry.
    limit
        Show at most this many entities (the subtitle says how many were left out); those without a value
        come last and are labelled "not available".

    Raises
    ------
    TemplateError
        A column is missing.
    """
    k = _kpi(kpi)
    _require(frame, ("entity", "value"), "leaderboard_bars")
    heading = title or _("{kpi}: ranking").format(kpi=_(k.label))
    rows = _records(frame, ("entity", "value"))
    if not rows:
        return _no_data(heading, _("Nobody to rank."))
    valid = sorted(
        (r for r in rows if r["value"] is not None),
        key=lambda r: float(r["value"]),
        reverse=k.higher_is_better,
    )
    ranked = [*valid, *(r for r in rows if r["value"] is None)]
    shown = ranked[: max(limit, 1)]
    for r in shown:
        r["label"] = _fmt(formats).value(r["value"], k.format)
        r["label_x"] = r["value"] if r["value"] is not None else 0.0
    values = [float(r["value"]) for r in shown if r["value"] is not None]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    span = (hi - lo) or 1.0
    x_scale = alt.Scale(domain=[lo - (0.3 * span if lo < 0 else 0), hi + 0.3 * span], nice=False)
    order = [str(r["entity"]) for r in shown]
    y = alt.Y("entity:N", sort=order, title=None, axis=alt.Axis(labelLimit=0, labelPadding=6))
    bars = (
        alt.Chart()
        .mark_bar(color=theme.PRIMARY, invalid="filter")
        .encode(
            y=y,
            x=alt.X("value:Q", scale=x_scale, axis=_kpi_axis(k, formats, tickCount=6)),
            tooltip=[
                alt.Tooltip("entity:N", title=_("Name")),
                alt.Tooltip("value:Q", title=_(k.label), format=tooltip_format(k)),
            ],
        )
    )
    labels = (
        alt.Chart()
        .mark_text(align="left", dx=5, baseline="middle")
        .encode(y=y, x=alt.X("label_x:Q", scale=x_scale), text="label:N")
    )
    sorted_ = _("Sorted highest first.") if k.higher_is_better else _("Sorted lowest first (lower is better).")
    subtitle = sorted_
    if len(ranked) > len(shown):
        subtitle = _("Top {shown} of {total}.").format(shown=len(shown), total=len(ranked)) + " " + sorted_
    return _layer(formats, [bars, labels], shown, heading, subtitle=subtitle, height=22 * len(shown))


# -- helpers -------------------------------------------------------------------------------------------------


def _kpi(kpi: Kpi | str) -> Kpi:
    return kpi if isinstance(kpi, Kpi) else get(kpi)


def _kpi_axis(k: Kpi, formats: Formatter | None, **options: Any) -> alt.Axis:
    """An axis with the KPI's title and number format ("$0" rather than d3's "$0k" at zero; "0 €" in German)."""
    options.setdefault("title", axis_title(k))
    fmt = axis_format(k, formats)
    if k.format == "currency" and fmt.endswith("~s"):  # an SI axis: zero in the chart's currency, no "k"
        zero = "'$0'" if formats is None or formats.is_default else json.dumps(formats.amount(0))
        options.setdefault("labelExpr", f"datum.value === 0 ? {zero} : datum.label")
    return alt.Axis(format=fmt, **options)


def _require(frame: pd.DataFrame, columns: Sequence[str], builder: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        msg = (
            f"charts.{builder}(): the frame lacks column(s) {', '.join(missing)} "
            f"(it has: {have}); expected {', '.join(columns)}."
        )
        raise TemplateError(msg, builder=builder, missing=missing)


def _clean(value: Any) -> Any:
    """A JSON-safe Python value: NaN/NaT/None -> None, numpy scalars -> Python, dates -> ISO text, text on one
    clean line."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()[:10]
    if isinstance(value, pd.Period):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return one_line(value)  # the spec's text rule (vega.safe_spec), also inside the expressions built here
    if isinstance(value, (bool, int, float)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return one_line(value)


LABEL_CHARS = 32


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    """Cut a label at a character (code point) boundary.

    Vega's own label truncation cuts UTF-16 units and can split an emoji into half a surrogate pair, which
    vl-convert cannot measure (the whole report then fails). So the theme turns Vega's truncation off
    (``labelLimit: 0``) and every label from data is cut here instead, on one clean line
    (:func:`salesreports.text.one_line`, the rule of :func:`salesreports.report.vega.safe_spec`): a label
    also goes into expressions (a series' name), where a later walk of the spec cannot reach it.
    """
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    cols = list(columns)
    data = {c: frame[c].tolist() for c in cols}
    rows = [{c: _clean(data[c][i]) for c in cols} for i in range(len(frame))]
    for c in cols:
        seen: dict[str, int] = {}
        for r in rows:
            if isinstance(r[c], str) and len(r[c]) > LABEL_CHARS:
                cut = _short(r[c])
                seen[cut] = seen.get(cut, 0) + 1
                r[c] = cut if seen[cut] == 1 else f"{cut} ({seen[cut]})"
    return rows


def _all_missing(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> bool:
    return all(r[c] is None for r in rows for c in columns)


def _data(rows: list[dict[str, Any]]) -> Any:
    """Inline rows (not a DataFrame: no row limit, no global data transformer, nulls stay null)."""
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def _series_colors(domain: list[str], colors: list[str]) -> Any:
    """A function that gives a layer a constant series name, coloured from one shared, legended scale."""
    scale = alt.Scale(domain=domain, range=colors)
    legend = alt.Legend(title=None, symbolType="stroke", symbolStrokeWidth=3)

    def series(layer: alt.Chart, name: str) -> alt.TopLevelMixin:
        return layer.transform_calculate(series=json.dumps(name)).encode(
            color=alt.Color("series:N", scale=scale, legend=legend)
        )

    return series


def _theme_size() -> dict[str, Any]:
    return {"width": theme.CHART_WIDTH, "height": theme.CHART_HEIGHT}


def _layer(
    formats: Formatter | None,
    layers: Sequence[alt.Chart],
    rows: list[dict[str, Any]],
    title: str,
    *,
    subtitle: Any = alt.Undefined,
    height: Any = theme.CHART_HEIGHT,
) -> alt.TopLevelMixin:
    theme.enable()
    chart = alt.layer(*layers, data=_data(rows), title=alt.Title(title, subtitle=subtitle)).properties(
        width=theme.CHART_WIDTH, height=height
    )
    return localized(chart, formats)


def _no_data(title: str, message: str) -> alt.TopLevelMixin:
    theme.enable()
    chart: alt.TopLevelMixin = (
        alt.Chart(_data([{"message": message}]), title=alt.Title(title))
        .mark_text(color=theme.MUTED, fontSize=13)
        .encode(text="message:N")
        .properties(width=theme.CHART_WIDTH, height=50)
    )
    return chart


def _label_expr(labels: Mapping[str, str | list[str]]) -> str:
    """A Vega expression mapping axis values to display labels (unknown values show as they are)."""
    return f"{json.dumps(labels, ensure_ascii=True)}[datum.value] || datum.value"


def _fmt(formats: Formatter | None) -> Formatter:
    return as_formatter(formats or "$")


def _month_labels(periods: Sequence[str], formats: Formatter | None) -> dict[str, str | list[str]]:
    """'2026-10' -> 'Oct' ('Okt' in German); the first month and every January get the year on a second line."""
    name = _fmt(formats).month_name
    out: dict[str, str | list[str]] = {}
    for i, p in enumerate(periods):
        try:
            d = dt.date.fromisoformat(f"{p[:7]}-01")
        except ValueError:
            out[p] = p
            continue
        out[p] = [name(d), str(d.year)] if i == 0 or d.month == 1 else name(d)
    return out


def _week_labels(weeks: Sequence[str], formats: Formatter | None) -> dict[str, str]:
    """'2026-10-05' -> '5 Oct' (the day and the month's name in the locale's order: '5. Okt.')."""
    f = _fmt(formats)
    out: dict[str, str] = {}
    for w in weeks:
        try:
            d = dt.date.fromisoformat(w[:10])
        except ValueError:
            out[w] = w
            continue
        out[w] = f.day_month(d)
    return out


def _status(value: Any) -> str:
    text = str(getattr(value, "value", value)).strip().lower().replace("_", " ").replace("-", " ")
    if text not in theme.STATUSES:
        msg = f"unknown goal status {value!r}; use one of: {', '.join(theme.STATUSES)}."
        raise TemplateError(msg, status=str(value))
    return text
