"""The SMART check of a goal file (``salesreports goals check``): one finding per letter and goal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesreports.metrics.periods import parse_period

if TYPE_CHECKING:
    from salesreports.data.loading import Dataset
    from salesreports.metrics.engine import KpiTable

from salesreports.metrics.goals.declaration import GRAIN_NOUN, LETTERS, Goal, GoalSet, GoalSettings, Severity
from salesreports.metrics.goals.plan import Plan, Tables, entity, month_title, resolve

__all__ = ["Finding", "check_goals"]


@dataclass(frozen=True)
class Finding:
    """The verdict on one SMART letter of one goal.

    Attributes
    ----------
    goal_id : the goal
    letter : S, M, A, R or T
    criterion : Specific, Measurable, Achievable, Relevant or Time-bound
    severity : "ok", "warning" (the goal works but should be reconsidered) or "error" (it cannot be tracked)
    message : what was found (every problem, joined), or what makes the letter hold
    problems : the individual problems (empty when ok)
    file, line : where the goal is written
    """

    goal_id: str
    letter: str
    criterion: str
    severity: Severity
    message: str
    problems: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.line else (f"{self.file}: " if self.file else "")
        return f"{where}goal '{self.goal_id}' {self.criterion} ({self.severity}): {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = asdict(self)
        d["problems"] = list(self.problems)
        return d


def _history(plan: Plan) -> tuple[float, str, str] | None:
    """The owner's best comparable period before the start: (value, label, noun)."""
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.first is not None
    etype, eid = entity(plan.goal.owner, plan.values.table)
    before = str(plan.first)
    better_max = plan.direction > 0
    if plan.mode == "total":
        n = len(plan.months)
        monthly = plan.values.series(etype, eid, plan.kpi.name, "month")
        monthly = monthly[monthly.index < before]
        if monthly.empty:
            return None
        idx = pd.period_range(min(monthly.index), max(monthly.index), freq="M")
        monthly = monthly.reindex([str(m) for m in idx])
        sums = monthly.rolling(n, min_periods=n).sum().dropna()
        if sums.empty:
            return None
        end = str(sums.idxmax() if better_max else sums.idxmin())
        noun = {1: "month", 3: "quarter", 12: "year"}.get(n, f"{n} months")
        return float(sums[end]), _span_label(pd.Period(end, freq="M"), n), noun
    grain = plan.per or "quarter"
    rows = plan.values.rows(etype, eid, plan.kpi.name, grain)
    rows = rows[(rows["period_end"] < before) & rows["value"].notna()]
    if grain == "quarter":
        rows = rows[rows["period"].astype(str).str.contains("Q")]
    elif grain == "ytd":
        rows = rows[rows["period_end"].astype(str).str.endswith("-12")]
    if rows.empty:
        return None
    values = rows["value"].astype(np.float64)
    pos = int(np.argmax(values.to_numpy()) if better_max else np.argmin(values.to_numpy()))
    label = parse_period(str(rows["period"].iloc[pos])).title
    return float(values.iloc[pos]), label, GRAIN_NOUN.get(grain, grain)


def _span_label(end: pd.Period, months: int) -> str:
    if months == 1:
        return month_title(end)
    if months == 3 and end.month % 3 == 0:
        return f"Q{end.quarter} {end.year}"
    if months == 12 and end.month == 12:
        return str(end.year)
    return f"{month_title(end - (months - 1))}–{month_title(end)}"


def _achievable(plan: Plan, settings: GoalSettings) -> tuple[Severity, str]:
    if plan.target is None or plan.values is None:
        return "ok", "not judged: the target could not be resolved"
    best = _history(plan)
    _, possessive = plan.owner_words()
    target_text = plan.fmt(plan.target) + (f" per {plan.per}" if plan.mode == "per_period" else "")
    if best is None:
        return "ok", f"no comparable history before the start to judge {target_text} against"
    value, label, noun = best
    if plan.direction > 0:
        if value <= 0:
            return "ok", f"{possessive} best {noun} so far is {plan.fmt(value)}: nothing to compare {target_text} with"
        ratio = plan.target / value
        verb = "needs" if ratio > 1 else "is"
        text = f"{target_text} {verb} {ratio:.1f}x {possessive} best {noun} ({label}: {plan.fmt(value)})"
    else:
        if plan.target <= 0:
            return "warning", f"{target_text} is not reachable for a KPI where lower is better and 0 is the floor"
        ratio = value / plan.target
        text = f"{target_text} is {ratio:.1f}x better than {possessive} best {noun} ({label}: {plan.fmt(value)})"
    if ratio > settings.plausibility:
        return "warning", f"{text}; more than {settings.plausibility:g}x is rarely achievable"
    return "ok", text


def _ok_message(letter: str, plan: Plan) -> str:
    g = plan.goal
    if letter == "S":
        who = plan.owner_words()[0] if plan.owner_type else g.owner
        return f"{who}, {g.metric}" + (f", {g.scope_text}" if g.scope else "")
    if letter == "M":
        what = {
            "total": "total over the window",
            "per_period": f"every {plan.per}",
            "level": f"measured per {GRAIN_NOUN.get(plan.per, plan.per)}",
        }[plan.mode]
        target = plan.fmt(plan.target) if plan.target is not None else "target"
        base = f", baseline {plan.fmt(plan.baseline)} ({plan.baseline_label})" if plan.baseline is not None else ""
        return f"{target} ({what}){base}"
    if letter == "R":
        return g.objective
    assert plan.first is not None
    assert plan.last is not None
    return f"{month_title(plan.first)} to {month_title(plan.last)} ({len(plan.months)} months)"


def check_goals(
    goals: GoalSet | Sequence[Goal],
    table: KpiTable | None = None,
    *,
    data: Dataset | None = None,
    settings: GoalSettings | None = None,
    tables: Tables | None = None,
) -> list[Finding]:
    """Check that every goal is SMART: one finding per goal and letter, in file order.

    Specific: a known owner (rep, team or company) and scope. Measurable: a known metric that the
    data can compute (with the scope), a target of one kind, a baseline for relative targets.
    Achievable: the target against the owner's best comparable period before the start (a warning
    above ``settings.plausibility`` x, saying by how much). Relevant: an objective (a warning when
    missing or a word or two). Time-bound: a start and a deadline, in order.

    Parameters
    ----------
    goals : a :class:`GoalSet` or goals
    table : the KPI table; without it owner, scope, baseline and history are not checked
    data : the data set, needed for scoped goals (they are recomputed on filtered data)
    settings : thresholds (default: the goal set's, or the defaults)
    tables : the goals' tables of the same ``table`` and ``data`` (:class:`~salesreports.metrics.goals.plan.Tables`),
        to share the scoped goals' computation with :func:`~salesreports.metrics.goals.pace.goal_progress`

    Returns
    -------
    list[Finding]
        Five per goal (S, M, A, R, T); severity "error" for S, M and T problems (the goal cannot be
        tracked), "warning" for A and R.
    """
    settings = settings or (goals.settings if isinstance(goals, GoalSet) else GoalSettings())
    tables = Tables.of(table, data, tables) if table is not None else None
    findings: list[Finding] = []
    for goal in goals:
        plan = resolve(goal, tables)
        relevant = _relevant(goal)
        for letter, criterion in LETTERS:
            problems = plan.problems[letter]
            warnings = plan.warnings[letter]
            severity: Severity = "error" if problems else ("warning" if warnings else "ok")
            message = "; ".join([*problems, *warnings])
            if letter == "A":
                if table is None:
                    severity, message = "ok", "not judged: no data given"
                elif plan.ok:
                    severity, message = _achievable(plan, settings)
                else:
                    severity, message = "ok", "not judged until the goal is specific, measurable and time-bound"
                problems = [message] if severity != "ok" else []
            elif letter == "R":
                severity, message = relevant
                problems = [message] if severity != "ok" else []
            elif letter == "S" and severity == "ok" and table is None:
                message = "owner and scope not checked: no data given"
            elif severity == "ok":
                message = _ok_message(letter, plan)
            findings.append(
                Finding(
                    goal.id,
                    letter,
                    criterion,
                    severity,
                    message,
                    (*problems, *warnings) if severity != "ok" else (),
                    goal.file,
                    goal.line,
                )
            )
    return findings


def _relevant(goal: Goal) -> tuple[Severity, str]:
    text = goal.objective.strip()
    if not text:
        return "warning", (
            "no objective. Fix: add `objective:` saying which business objective the goal serves "
            "(e.g. 'grow the customer base in the public sector')"
        )
    if len(re.findall(r"\w+", text)) < 3:
        return "warning", f"objective '{text}' is too short to say which business objective the goal serves"
    return "ok", text
