"""Whether a goal file fits the data set: owners, metrics and scope values the data does not have.

A goals file copied from another project (or the demo's ``params/goals.yaml`` left in a company's own settings)
names reps, teams, products and segments that are not in the company's data. ``salesreports validate`` and
``salesreports run`` show each such goal as a warning, with its line, so that nobody reads the demo's goals
in their own reports. This is a cheap check on the data set itself; the full SMART check, which needs the
KPI table, is :func:`salesreports.metrics.goals.smart.check_goals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from salesreports.data.loading import Dataset
from salesreports.errors import Issue, close_matches
from salesreports.metrics.goals.declaration import SCOPE_COLUMNS, Goal, GoalSet

__all__ = ["goals_fit", "goals_fit_file"]

_COMPANY = "company"


def _values(data: Dataset, table: str, column: str) -> set[str]:
    frame = data.get(table)
    if frame is None or column not in frame.columns:
        return set()
    return {str(v).strip() for v in frame[column].dropna().unique()}


def _names(found: set[str], limit: int = 8) -> str:
    shown = sorted(found)[:limit]
    more = f", … ({len(found)} in all)" if len(found) > limit else ""
    return ", ".join(shown) + more


def goals_fit(goals: GoalSet | Sequence[Goal], data: Dataset) -> list[Issue]:
    """Warnings for goals that name an owner, a metric or scope values absent from the data set.

    Parameters
    ----------
    goals : the goals (from :func:`~salesreports.metrics.goals.declaration.load_goals`)
    data : the loaded data set

    Returns
    -------
    list[Issue]
        One warning per goal and problem (table ``goals``, the goal's file and line), in file order.
    """
    from salesreports.metrics.kpis import registry

    reps = _values(data, "reps", "rep_id") | {
        v for t in ("deals", "leads", "activities") for v in _values(data, t, "rep_id")
    }
    teams = _values(data, "reps", "team")
    kpis = set(registry().names())
    out: list[Issue] = []
    for goal in goals:
        problems: list[str] = []
        owner = goal.owner.strip()
        if owner and owner.lower() != _COMPANY and owner not in reps and owner not in teams:
            hint = close_matches(owner, reps | teams)
            have = f"reps {_names(reps)}" if reps else "no reps"
            have += f"; teams {_names(teams)}" if teams else ""
            problems.append(f"the owner '{owner}' is neither a rep nor a team of the data ({have}).{hint}")
        if goal.metric and goal.metric not in kpis:
            problems.append(f"the metric '{goal.metric}' is not a KPI.{close_matches(goal.metric, kpis)}")
        for column, wanted in goal.scope:
            tables = SCOPE_COLUMNS.get(column, ())
            present = set().union(*(_values(data, t, column) for t in tables)) if tables else set()
            if not present:
                where = " or ".join(tables) or "any table"
                problems.append(f"the scope names {column} values, but the data's {where} have no {column} column")
                continue
            absent = [v for v in wanted if str(v) not in present]
            if absent:
                hint = close_matches(str(absent[0]), present)
                problems.append(
                    f"the scope's {column} {', '.join(map(repr, absent))} is not in the data "
                    f"(its {column} values: {_names(present)}).{hint}"
                )
        for problem in problems:
            out.append(
                Issue(
                    "warning",
                    "goals",
                    f"goal '{goal.id}': {problem}",
                    file=goal.file,
                    rows=(goal.line,) if goal.line else (),
                    count=1,
                    fix="write this company's own goals (owners from the reps table, KPIs from `salesreports "
                    "kpis`), or delete the goal; goals copied from the demo do not apply",
                )
            )
    return out


def goals_fit_file(path: Path, data: Dataset) -> list[Issue]:
    """:func:`goals_fit` for a goal file.

    Raises
    ------
    ConfigError
        The file cannot be read (see :func:`~salesreports.metrics.goals.declaration.load_goals`).
    """
    from salesreports.metrics.goals.declaration import load_goals

    return goals_fit(load_goals(path), data)
