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

from typing import Any, Final

import altair as alt

__all__ = [
    "BAND",
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "FONT",
    "FONT_STACK",
    "MUTED",
    "NAME",
    "PALETTE",
    "PRIMARY",
    "STATUSES",
    "STATUS_COLORS",
    "config",
    "enable",
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

# Goal statuses, from best to worst, each with an Okabe-Ito colour (the HTML badges use the same hues).
STATUSES: Final = ("achieved", "ahead", "on track", "at risk", "missed")
STATUS_COLORS: Final = {
    "achieved": "#009E73",
    "ahead": "#0072B2",
    "on track": "#56B4E9",
    "at risk": "#E69F00",
    "missed": "#D55E00",
}

# Fits the content column of an A4/Letter page (about 17 cm) and scales down on a phone.
CHART_WIDTH: Final = 560
CHART_HEIGHT: Final = 200


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
    """
    register()
    return alt.theme.enable(NAME)


register()
