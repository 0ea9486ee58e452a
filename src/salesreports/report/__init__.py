"""The report layer: from computed KPIs to one report's page.

The privacy boundary first: ``scope`` builds one report's context (a rep's own rows and team aggregates
only), ``redact`` removes colleagues' names from feedback, ``contexts`` writes and reads it on disk.
Then presentation, which only formats what a context holds: ``views`` (what a template calls),
``display`` (HTML fragments), ``charts`` and ``theme`` (altair), ``vega`` (specs to SVG/PNG),
``render`` (executed notebook to HTML and PDF) and ``index`` (the period's index page), with the nbconvert,
index and email templates in ``templates/``.

``scope`` may import ``data`` and ``metrics``; presentation may import only the KPI registry and
periods of ``metrics``, never ``data``, the engine, ``run`` or ``mail``.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "rep_view": "salesreports.report.views",
        "team_view": "salesreports.report.views",
        "render_html": "salesreports.report.render",
        "render_pdf": "salesreports.report.render",
        "read_context": "salesreports.report.contexts",
        "write_context": "salesreports.report.contexts",
    },
)
