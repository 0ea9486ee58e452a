"""SMART goals as data: the goal file, how a goal is measured, the SMART check and progress.

``declaration`` reads and checks ``params/goals.yaml``; ``plan`` resolves a goal against the KPI tables (how it is
measured, its baseline and target); ``smart`` is the SMART check (``salesreports goals check``); ``pace``
computes actual, expected pace, projection and status as of a month. See ``declaration`` for the file format and
``plan`` for how each kind of goal is measured.
"""

from __future__ import annotations

from salesreports.lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "Finding": "salesreports.metrics.goals.smart",
        "Goal": "salesreports.metrics.goals.declaration",
        "GoalProgress": "salesreports.metrics.goals.pace",
        "GoalSet": "salesreports.metrics.goals.declaration",
        "GoalSettings": "salesreports.metrics.goals.declaration",
        "LETTERS": "salesreports.metrics.goals.declaration",
        "SCOPE_COLUMNS": "salesreports.metrics.goals.declaration",
        "STATUSES": "salesreports.metrics.goals.declaration",
        "Target": "salesreports.metrics.goals.declaration",
        "check_goals": "salesreports.metrics.goals.smart",
        "goal_progress": "salesreports.metrics.goals.pace",
        "load_goals": "salesreports.metrics.goals.declaration",
    },
)
