"""The house chart theme: one installed font, a colour-blind-safe palette, quiet gridlines.

Importing this module registers the ``"salesreports"`` altair theme (a registry, no
other side effect); :func:`enable` makes it the active theme and
:func:`salesreports.report.display.chart` applies it while converting a chart to its spec, so
every chart spec carries the same fonts and colours whatever the global altair state.

The font is explicit and installed (``Liberation Sans``, metric-compatible with Arial):
vl-convert measures label widths with the font that WeasyPrint and Chromium later draw,
so labels never overlap. A generic ``sans-serif`` would be measured narrower than drawn.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Mapping
from typing import Any, Final

import altair as alt

from salesreports.i18n import N_

__all__ = [
    "ACTIVITY_COLORS",
    "BAND",
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "FONT",
    "FONT_STACK",
    "MUTED",
    "NAME",
    "NARROW_FONT_SIZE",
    "NARROW_WIDTH",
    "PALETTE",
    "PRIMARY",
    "STATUSES",
    "STATUS_COLORS",
    "config",
    "enable",
    "narrow",
    "register",
]

NAME: Final = "salesreports"
FONT: Final = "Liberation Sans"
# For HTML/CSS around the charts: Arial and Helvetica share Liberation Sans' metrics.
FONT_STACK: Final = '"Liberation Sans", Arial, Helvetica, sans-serif'

# Okabe & Ito (2008), ordered so that the first colours stay distinct in grey print; yellow last.
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
PRIMARY: Final = PALETTE[0]
MUTED: Final = "#6b6b6b"  # team median, benchmarks, reference lines
BAND: Final = "#d9d9d9"  # team interquartile band
TEXT: Final = "#222222"
GRID: Final = "#e8e8e8"
DOMAIN: Final = "#9a9a9a"

# Activity types (call, email, meeting, demo): Okabe-Ito hues darkened until white letters on them read at
# 4.5:1 and each is at least 3:1 against the page; the chart separates them with white gaps and letters too.
ACTIVITY_COLORS: Final = ("#0072B2", "#B35900", "#007A5A", "#A8487F", "#5f6368")

# Goal statuses, from best to worst, each with an Okabe-Ito colour (the HTML badges use the same hues). Codes in
# English (CSS classes, colour keys); a page shows each in its language (display.goal_list, charts.goal_progress).
STATUSES: Final = (N_("achieved"), N_("ahead"), N_("on track"), N_("at risk"), N_("missed"))
STATUS_COLORS: Final = {
    "achieved": "#009E73",
    "ahead": "#0072B2",
    "on track": "#56B4E9",
    "at risk": "#E69F00",
    "missed": "#D55E00",
}

# Fits the content column of an A4/Letter page (about 17 cm).
CHART_WIDTH: Final = 560
CHART_HEIGHT: Final = 200
# A phone gets its own drawing of each chart (see narrow()): drawn 340 wide with 13 px text, it is shown at
# the phone's column width, 295 px on a 320 px screen and 362 on a 390 px one, so no text is under 11 px.
NARROW_WIDTH: Final = 340
NARROW_FONT_SIZE: Final = 13
NARROW_TITLE_SIZE: Final = 16
NARROW_TICKS: Final = 4


def config() -> dict[str, Any]:
    """The theme as a Vega-Lite top-level dict (``config``, ``width``, ``height``, ``background``)."""
    label = {"labelFont": FONT, "labelFontSize": 11, "labelColor": TEXT}
    title = {"titleFont": FONT, "titleFontSize": 11, "titleFontWeight": "normal", "titleColor": TEXT}
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "background": "white",
        "padding": {"left": 2, "top": 6, "right": 8, "bottom": 4},
        # the whole chart (axes and legend included) is CHART_WIDTH wide, so every chart lines up on the page
        "autosize": {"type": "fit-x", "contains": "padding"},
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": CHART_WIDTH, "continuousHeight": CHART_HEIGHT},
            "title": {
                "font": FONT,
                "fontSize": 14,
                "fontWeight": "bold",
                "color": TEXT,
                "anchor": "start",
                "offset": 10,
                "subtitleFont": FONT,
                "subtitleFontSize": 11,
                "subtitleColor": MUTED,
            },
            "axis": {
                **label,
                **title,
                "gridColor": GRID,
                "domainColor": DOMAIN,
                "tickColor": DOMAIN,
                "labelOverlap": "greedy",
                "labelLimit": 0,  # no Vega truncation (it can split emoji); charts cut labels themselves
            },
            "axisX": {"labelAngle": 0, "grid": False, "labelPadding": 4},
            "axisY": {"grid": True, "tickCount": 5, "domain": False, "ticks": False, "labelPadding": 6},
            "axisBand": {"grid": False},
            "legend": {
                **label,
                **title,
                "orient": "bottom",
                "direction": "horizontal",
                "symbolSize": 80,
                "columnPadding": 16,
                "labelLimit": 0,
                "titleLimit": 300,
            },
            "header": {"labelFont": FONT, "titleFont": FONT, "labelFontSize": 11, "titleFontSize": 12},
            "text": {"font": FONT, "fontSize": 11, "color": TEXT},
            "mark": {"font": FONT},
            "range": {"category": list(PALETTE)},
            "line": {"strokeWidth": 2.5},
            "point": {"size": 45, "filled": True},
            "bar": {"cornerRadiusEnd": 2},
            "tick": {"thickness": 2},
            "boxplot": {"size": 28},
        },
    }


def narrow(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The phone drawing of a chart: the same data and marks, narrower, with larger text and fewer ticks.

    Scaling the page's 560 px chart down to a phone's 295-362 px column would draw its 11 px text at 6-7 px.
    This spec is drawn :data:`NARROW_WIDTH` wide instead, every text at least :data:`NARROW_FONT_SIZE` px, at
    most :data:`NARROW_TICKS` ticks on a quantitative axis (Vega drops overlapping labels of the others), a
    legend that wraps, and titles wrapped to the width. The spec given is not changed.
    """
    out = copy.deepcopy(dict(spec))
    out["width"] = NARROW_WIDTH
    cfg = out.setdefault("config", {})
    size = NARROW_FONT_SIZE
    for key in ("axis", "legend"):
        part = cfg.setdefault(key, {})
        part.update(labelFontSize=size, titleFontSize=size)
    cfg["axis"].update(labelOverlap="greedy", labelSeparation=8)  # drop labels closer than 8 px: fewer months
    cfg.setdefault("legend", {}).update(columns=3, columnPadding=12, symbolSize=110)
    cfg.setdefault("axisY", {})["tickCount"] = NARROW_TICKS
    cfg.setdefault("title", {}).update(fontSize=NARROW_TITLE_SIZE, subtitleFontSize=size)
    cfg.setdefault("text", {})["fontSize"] = size
    cfg.setdefault("header", {}).update(labelFontSize=size, titleFontSize=size)
    _fewer_ticks_larger_text(out)
    title = out.get("title")
    if isinstance(title, str):
        out["title"] = _wrap(title, NARROW_TITLE_SIZE, bold=True)
    elif isinstance(title, dict):
        if isinstance(title.get("text"), str):
            title["text"] = _wrap(title["text"], NARROW_TITLE_SIZE, bold=True)
        if isinstance(title.get("subtitle"), str):
            title["subtitle"] = _wrap(title["subtitle"], size)
    return out


def _fewer_ticks_larger_text(node: Any) -> None:
    """Cap every explicit ``tickCount`` and raise every explicit ``fontSize`` below the phone size, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "tickCount" and isinstance(value, (int, float)):
                node[key] = min(value, NARROW_TICKS)
            elif key in ("fontSize", "labelFontSize", "titleFontSize") and isinstance(value, (int, float)):
                node[key] = max(value, NARROW_FONT_SIZE)
            elif key not in ("data", "datasets"):
                _fewer_ticks_larger_text(value)
    elif isinstance(node, list):
        for item in node:
            _fewer_ticks_larger_text(item)


def _wrap(text: str, size: int, *, bold: bool = False) -> str | list[str]:
    """A title as lines that fit the narrow width (Vega draws a list as lines; it never wraps by itself)."""
    per_char = size * (0.6 if bold else 0.53)  # Liberation Sans averages about half an em per character
    lines = textwrap.wrap(text, max(int((NARROW_WIDTH - 12) / per_char), 12), break_long_words=False)
    return lines if len(lines) > 1 else text


def _theme() -> alt.theme.ThemeConfig:
    return config()  # type: ignore[return-value]


def register() -> None:
    """Register the house theme with altair (idempotent; done on import)."""
    if NAME not in alt.theme.names():
        alt.theme.register(NAME, enable=False)(_theme)


def enable() -> Any:
    """Make the house theme the active altair theme.

    Returns
    -------
    altair's plugin enabler, which can also be used as a context manager
    (``with theme.enable(): ...``) to restore the previous theme afterwards.

    Registered on import, the theme is enabled at once: ``alt.theme.names()`` reads every installed
    package's entry points (about 15 ms, for each chart of a report); it is only asked when the theme is
    no longer registered (e.g. ``alt.theme.unregister``), to register it again.
    """
    from altair.utils.plugin_registry import NoSuchEntryPoint

    try:
        return alt.theme.enable(NAME)
    except NoSuchEntryPoint:
        register()
        return alt.theme.enable(NAME)


register()
