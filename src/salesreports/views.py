"""The import path templates written before the layer subpackages use: ``from salesreports.views import rep_view``.

The views live in :mod:`salesreports.report.views`; this alias keeps analysts' own templates working.
"""

from salesreports.report.views import RepView, TeamView, rep_view, team_view

__all__ = ["RepView", "TeamView", "rep_view", "team_view"]
