"""Vega-Lite specs to pictures with vl-convert: the one place that knows vl-convert's versions and fonts.

:mod:`salesreports.report.display` shows SVG in JupyterLab, :mod:`salesreports.report.render` draws
the pages' SVG and :mod:`salesreports.mail.message` the emails' PNG through these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from salesreports.text import one_line

__all__ = ["FONT_FALLBACK", "lab_spec", "safe_spec", "spec_to_svg", "vl_version"]

FONT_FALLBACK: Final = "Liberation Sans, Arial, Helvetica, sans-serif"
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_FONT = re.compile(r'font-family="Liberation Sans"')


def safe_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with every string in it on one clean line (:func:`salesreports.text.one_line`), and the
    backslashes of tooltip titles escaped.

    The one rule for text in a Vega-Lite spec, applied once, where a chart enters a report
    (:func:`salesreports.report.display.chart`), so that the notebook holds a spec that the page's SVG, the
    live chart and the email's PNG can all draw. Vega-Lite copies titles, tooltip titles, legend and axis
    labels and data values into Vega expressions without escaping line breaks or U+2028/U+2029, so a rep
    named ``"Ann\\nLee"`` made vl-convert fail with a JavaScript parse error; a control character (form
    feed) made its PNG renderer abort the process. A tooltip title becomes a key of an object expression in
    which Vega-Lite escapes double quotes but not backslashes: they are doubled here, so that the tooltip
    shows the name as it is. Walking the whole spec (not just the fields known to hold names) also covers
    inline data, sort orders and titles. Not idempotent (tooltip backslashes): apply it once.
    """
    safe: dict[str, Any] = _safe(spec, tooltip=False)
    return safe


def _safe(value: Any, *, tooltip: bool) -> Any:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, Mapping):
        out = {one_line(k): _safe(v, tooltip=k == "tooltip") for k, v in value.items()}
        if tooltip and isinstance(out.get("title"), str):
            out["title"] = out["title"].replace("\\", "\\\\")
        return out
    if isinstance(value, (list, tuple)):
        return [_safe(v, tooltip=tooltip) for v in value]
    return value


def vl_version(spec: Mapping[str, Any]) -> str | None:
    """The vl-convert Vega-Lite version matching the spec's ``$schema`` (``"6.4"``), or ``None`` for the latest."""
    import vl_convert as vlc

    match = re.search(r"/v(\d+)\.(\d+)", str(spec.get("$schema", "")))
    if not match:
        return None
    wanted = f"{match[1]}.{match[2]}"
    return wanted if wanted in _vl_versions(vlc) else None


@cache
def _vl_versions(vlc: Any) -> tuple[str, ...]:
    return tuple(vlc.get_vegalite_versions())


def lab_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec for JupyterLab's own Vega-Lite renderer, which stops at Vega-Lite 5: the same spec under the
    version-5 schema (the charts use nothing that Vega-Lite 6 added)."""
    out = dict(spec)
    out["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json"
    return out


def spec_to_svg(spec: Mapping[str, Any], *, id_prefix: str = "") -> str:
    """Convert a Vega-Lite spec to an SVG string with vl-convert.

    The chart's font gets metric-compatible fallbacks (Arial, Helvetica) for viewers without Liberation
    Sans, and with ``id_prefix`` the SVG's internal ids (clip paths) are made unique on the page.
    """
    import vl_convert as vlc

    svg: str = vlc.vegalite_to_svg(dict(spec), vl_version=vl_version(spec))
    svg = _SVG_FONT.sub(f'font-family="{FONT_FALLBACK}"', svg)
    if id_prefix:
        ids = set(_SVG_ID.findall(svg))
        if ids:
            svg = re.sub(
                r'(\bid="|url\(#|href="#)([^")]+)',
                lambda m: m[1] + (f"{id_prefix}-{m[2]}" if m[2] in ids else m[2]),
                svg,
            )
    return svg
