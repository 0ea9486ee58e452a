"""Vega-Lite specs to pictures with vl-convert: the one place that knows vl-convert's versions and fonts.

:mod:`salesreports.report.display` shows SVG in JupyterLab, :mod:`salesreports.report.render` draws
the pages' SVG and :mod:`salesreports.mail.message` the emails' PNG through these functions.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from salesreports.text import one_line

__all__ = ["FONT_FALLBACK", "lab_spec", "safe_spec", "spec_to_svg", "vl_version"]

FONT_FALLBACK: Final = "Liberation Sans, Arial, Helvetica, sans-serif"
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_FONT = re.compile(r'font-family="Liberation Sans"')
# the last drawings of this process, by the spec's JSON text (see _drawn): a few pages' worth of charts
DRAWN_KEEP: Final = 64
_DRAWN: OrderedDict[str, str] = OrderedDict()
_DRAWN_LOCK = threading.Lock()


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


def _drawn(spec: Mapping[str, Any]) -> str:
    """vl-convert's SVG of a spec, kept in this process for the spec's exact JSON text.

    The same drawing for the same spec: vl-convert draws with the Vega-Lite version the spec's ``$schema``
    names and the fonts it loaded at its start, both fixed for the life of the process. A page draws each
    chart twice (page and phone), about 60 ms each; a re-render (``preview --watch``, ``check``) mostly
    draws the charts of the last render again. A spec that is not plain JSON is drawn every time.
    """
    import vl_convert as vlc

    try:
        key = json.dumps(spec, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        key = None
    if key is not None:
        with _DRAWN_LOCK:
            svg = _DRAWN.get(key)
            if svg is not None:
                _DRAWN.move_to_end(key)
                return svg
    drawn: str = vlc.vegalite_to_svg(dict(spec), vl_version=vl_version(spec))
    if key is not None:
        with _DRAWN_LOCK:
            _DRAWN[key] = drawn
            while len(_DRAWN) > DRAWN_KEEP:
                _DRAWN.popitem(last=False)
    return drawn


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
    The last :data:`DRAWN_KEEP` drawings are kept in this process (see :func:`_drawn`).
    """
    svg = _drawn(spec)
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
