"""Vega-Lite specs to pictures with vl-convert: the one place that knows vl-convert's versions and fonts.

:mod:`salesreports.report.display` shows SVG in JupyterLab, :mod:`salesreports.report.render` draws
the pages' SVG and :mod:`salesreports.mail.message` the emails' PNG through these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

__all__ = ["FONT_FALLBACK", "spec_to_svg", "vl_version"]

FONT_FALLBACK: Final = "Liberation Sans, Arial, Helvetica, sans-serif"
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_FONT = re.compile(r'font-family="Liberation Sans"')


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
