"""How a goal is measured on a data set: its KPI's kind, window, baseline and target, resolved against the KPI tables.

One rule, used by progress and the check alike:

``total`` (additive KPIs such as revenue, deals won, qualified leads; no ``per``)
    The target is the sum over the window.
``per_period`` (additive KPI with ``per: month`` or ``per: quarter``)
    The target applies to every month (quarter) of the window, e.g. 300 qualified leads per month.
``level`` (ratios and cohort KPIs: conversion, win rate, retention, ...)
    The KPI is measured over a ``per`` period (default ``quarter``). The path runs linearly from the
    *baseline* (``from:``, or the value of the ``per`` period just before the start) to the target.

Without ``baseline:`` a relative target of a ``total`` goal compares with the same window one year earlier;
of a ``level`` goal with the value just before the start.

A scope filters every table that has the scope's column (``product`` and ``segment``: deals; ``source``:
leads) and the KPI is recomputed by the engine on the filtered data. A KPI can be scoped only when every
table it needs has the column (win rate by product yes; quota attainment by product no: targets have no
product); otherwise the check reports it as not measurable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from salesreports.errors import ParamsError, UnknownKpiError, close_matches
from salesreports.i18n import N_
from salesreports.metrics.periods import parse_period

if TYPE_CHECKING:
    from salesreports.data.loading import Dataset
    from salesreports.metrics.engine import KpiTable
    from salesreports.metrics.formats import Formatter
    from salesreports.metrics.kpis import Kpi

from salesreports.metrics.goals.declaration import (
    COMPANY,
    LETTERS,
    PER_GRAINS,
    PER_PERIOD_GRAINS,
    SCOPE_COLUMNS,
    Goal,
    Mode,
)

__all__ = ["Plan", "Tables", "entity", "month_title", "resolve"]


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _opt(v: Any) -> float | None:
    return None if _nan(v) else float(v)


class _Values:
    """Fast lookups in one KPI table: (entity type, id, kpi, grain) -> rows by period_end."""

    def __init__(self, table: KpiTable) -> None:
        self.table = table
        cols = ["entity_type", "entity_id", "kpi", "grain"]
        self._frame = table.values.set_index(cols).sort_index()
        self._cache: dict[tuple[str, str, str, str], pd.DataFrame] = {}

    def rows(self, etype: str, eid: str, kpi: str, grain: str) -> pd.DataFrame:
        key = (etype, eid, kpi, grain)
        if key not in self._cache:
            try:
                hit = cast(Any, self._frame.loc)[key]
            except KeyError:
                hit = pd.DataFrame(columns=["period", "period_end", "value", "reason"])
            self._cache[key] = pd.DataFrame(hit).reset_index(drop=True).set_index("period_end", drop=False)
        return self._cache[key]

    def series(self, etype: str, eid: str, kpi: str, grain: str) -> pd.Series:
        return self.rows(etype, eid, kpi, grain)["value"].astype(np.float64)

    def one(self, etype: str, eid: str, kpi: str, grain: str, period_end: str) -> tuple[float | None, str, str]:
        """(value, period label, reason) at one period end."""
        rows = self.rows(etype, eid, kpi, grain)
        if period_end not in rows.index:
            return None, "", N_("no data for this period")  # stored in English, shown through retranslate
        row = rows.loc[period_end]
        return _opt(row["value"]), str(row["period"]), str(row["reason"] or "")


@dataclass
class Plan:
    """A goal resolved against the registry, the calendar and (optionally) the data."""

    goal: Goal
    problems: dict[str, list[str]]
    warnings: dict[str, list[str]]
    kpi: Kpi | None = None
    mode: Mode = "total"
    per: str = ""
    first: pd.Period | None = None
    last: pd.Period | None = None
    owner_type: str = ""
    values: _Values | None = None
    company: _Values | None = None
    baseline: float | None = None
    baseline_label: str = ""
    target: float | None = None

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    @property
    def months(self) -> list[pd.Period]:
        assert self.first is not None
        assert self.last is not None
        return list(pd.period_range(self.first, self.last, freq="M"))

    @property
    def per_months(self) -> int:
        return 3 if self.per == "quarter" else 1

    @property
    def direction(self) -> float:
        return 1.0 if self.kpi is None or self.kpi.higher_is_better else -1.0

    def fmt(self, value: float | None, currency: str | Formatter = "$") -> str:
        from salesreports.metrics.kpis import format_value

        return format_value(value, self.kpi.format if self.kpi else "ratio", currency)

    def owner_words(self) -> tuple[str, str]:
        """(name, possessive): ("R015", "R015's"), ("team North", "team North's"), ("the company", ...)."""
        owner = self.goal.owner
        if self.owner_type == "team":
            return f"team {owner}", f"team {owner}'s"
        if self.owner_type == "company":
            return "the company", "the company's"
        return owner, f"{owner}'s"


def _new_plan(goal: Goal) -> Plan:
    return Plan(goal, {k: [] for k, _ in LETTERS}, {k: [] for k, _ in LETTERS})


def _resolve_static(goal: Goal) -> Plan:
    """Metric, window, mode and target shape: everything that does not need data."""
    from salesreports.metrics.kpis import registry

    plan = _new_plan(goal)
    p, w = plan.problems, plan.warnings
    if not goal.metric:
        p["M"].append("no metric. Fix: set `metric:` to a KPI name (see `salesreports kpis`)")
    else:
        try:
            plan.kpi = registry().get(goal.metric)
        except UnknownKpiError:
            hint = close_matches(goal.metric, registry().names())
            p["M"].append(f"unknown metric '{goal.metric}'.{hint} Known KPIs: see `salesreports kpis`")
    kpi = plan.kpi
    if kpi is not None:
        if kpi.type == "simple":
            plan.mode = "per_period" if goal.per else "total"
            if goal.per and goal.per not in PER_PERIOD_GRAINS:
                p["M"].append(
                    f"per: '{goal.per}' is not a period a {kpi.name} target can repeat over; "
                    f"use month or quarter, or leave it out for a total over the window"
                )
        else:
            plan.mode = "level"
            if goal.per and goal.per not in PER_GRAINS:
                p["M"].append(
                    f"per: '{goal.per}' is not known.{close_matches(goal.per, PER_GRAINS)} "
                    f"Use one of {', '.join(PER_GRAINS)}"
                )
        plan.per = goal.per or ("quarter" if plan.mode == "level" else "")
    # the target's shape
    t = goal.target
    if t is None:
        p["M"].append("no target. Fix: write e.g. `target: 500000`, `target: 25%` or `target: {change: +20%}`")
    elif len(t.kinds) != 1:
        given = " and ".join(t.kinds) if t.kinds else "none of value, change, points"
        p["M"].append(f"the target has {given}; give exactly one of value, change (relative) or points (absolute)")
    elif t.baseline:
        try:
            parse_period(t.baseline)
        except ParamsError:
            p["M"].append(f"target baseline '{t.baseline}' is not a period (write e.g. 2025-Q4, 2025-10 or 2025)")
    if t is not None and t.start_value is not None and plan.mode != "level" and kpi is not None:
        w["M"].append(f"`from:` is only used by rate goals; {kpi.name} goals add up over the window")
    # the window
    if not goal.start:
        p["T"].append("no start. Fix: set `start:` to the first month, e.g. 2026-10 or 2026-Q4")
    else:
        try:
            plan.first = parse_period(goal.start).start
        except ParamsError:
            p["T"].append(f"start '{goal.start}' is not a month, quarter or year (write e.g. 2026-10 or 2026-Q4)")
    if not goal.deadline:
        p["T"].append("no deadline. Fix: set `deadline:` to the last month, e.g. 2026-12 or 2026-Q4")
    else:
        try:
            plan.last = parse_period(goal.deadline).end
        except ParamsError:
            p["T"].append(f"deadline '{goal.deadline}' is not a month, quarter or year (write e.g. 2026-12)")
    if plan.first is not None and plan.last is not None:
        if plan.last < plan.first:
            p["T"].append(f"the deadline ({month_title(plan.last)}) is before the start ({month_title(plan.first)})")
        elif plan.mode == "per_period" and plan.per == "quarter":
            n = len(plan.months)
            if plan.first.month % 3 != 1 or n % 3:
                p["T"].append(
                    f"a per-quarter target needs a window of whole quarters; "
                    f"{month_title(plan.first)}–{month_title(plan.last)} is {n} month(s)"
                )
    return plan


def month_title(m: pd.Period) -> str:
    return str(m.strftime("%b %Y"))


def entity(owner: str, table: KpiTable) -> tuple[str, str]:
    if owner.lower() == COMPANY:
        return "company", COMPANY
    if owner in set(map(str, table.grid.reps)):
        return "rep", owner
    if owner in set(map(str, table.grid.teams)):
        return "team", owner
    return "", owner


Scope = tuple[tuple[str, tuple[str, ...]], ...]


class Tables:
    """The KPI table, and a scoped goal's KPI recomputed on its filtered data, once per scope and KPI."""

    def __init__(self, table: KpiTable, data: Dataset | None) -> None:
        self.table = table
        self.data = data
        self._whole = _Values(table)
        self._values: dict[tuple[Scope, str], _Values] = {}
        self._filtered: dict[Scope, Dataset] = {}

    @classmethod
    def of(cls, table: KpiTable, data: Dataset | None, given: Tables | None = None) -> Tables:
        """``given`` when it holds the same ``table`` and ``data`` (its computations are shared), else new tables."""
        if given is not None and given.table is table and given.data is data:
            return given
        return cls(table, data)

    def values(self, scope: Scope, kpi: str) -> _Values | None:
        """The values of ``kpi`` on the data within ``scope`` (every KPI's, without a scope); None without data."""
        key = tuple(sorted(scope))
        if not key:
            return self._whole
        if (key, kpi) not in self._values:
            if self.data is None:
                return None
            from salesreports.metrics.engine import compute_kpis

            if key not in self._filtered:
                self._filtered[key] = _filter(self.data, key)
            scoped = compute_kpis(self._filtered[key], as_of=self.table.grid.as_of.date(), kpis=[kpi])
            self._values[key, kpi] = _Values(scoped)
        return self._values[key, kpi]


def _filter(data: Dataset, scope: tuple[tuple[str, tuple[str, ...]], ...]) -> Dataset:
    import dataclasses

    tables = {}
    for name, frame in data.tables.items():
        keep = np.ones(len(frame), dtype=bool)
        for col, vals in scope:
            if name in SCOPE_COLUMNS.get(col, ()) and col in frame.columns:
                keep &= frame[col].astype(str).isin(vals).to_numpy() & frame[col].notna().to_numpy()
        tables[name] = frame[keep] if not keep.all() else frame
    return dataclasses.replace(data, tables=tables)


def _scope_problems(plan: Plan, data: Dataset | None) -> None:
    """Specific: known scope columns and values; Measurable: the KPI can be computed on the scope."""
    for col, vals in plan.goal.scope:
        if col not in SCOPE_COLUMNS:
            plan.problems["S"].append(
                f"scope on '{col}' is not supported.{close_matches(col, SCOPE_COLUMNS)} "
                f"Scopes can filter on {', '.join(SCOPE_COLUMNS)}"
            )
            continue
        if plan.kpi is not None:
            lacking = [t for t in plan.kpi.tables if t not in SCOPE_COLUMNS[col]]
            if lacking:
                plan.problems["M"].append(
                    f"{plan.kpi.name} cannot be scoped by {col}: the {', '.join(lacking)} table(s) it needs have no "
                    f"{col} column, so the scoped value would not be honest"
                )
                continue
        if data is None:
            continue
        known: set[str] = set()
        has_column = False
        for name in SCOPE_COLUMNS[col]:
            frame = data.get(name)
            if frame is not None and col in frame.columns:
                has_column = True
                known |= set(frame[col].dropna().astype(str).unique())
        if not has_column:
            plan.problems["S"].append(f"the data has no {col} column to scope by")
            continue
        for v in vals:
            if v not in known:
                shown = ", ".join(sorted(known)[:8]) + (", …" if len(known) > 8 else "")
                plan.problems["S"].append(f"unknown {col} '{v}' in the scope.{close_matches(v, known)} Known: {shown}")


def resolve(goal: Goal, tables: Tables | None) -> Plan:
    """Resolve a goal fully: static parts, then owner, scope, baseline and target against the data."""
    plan = _resolve_static(goal)
    if not goal.owner:
        plan.problems["S"].append("no owner. Fix: set `owner:` to a rep id, a team name or company")
    if tables is None:
        _scope_problems(plan, None)
        return plan
    table = tables.table
    if goal.owner:
        plan.owner_type, _ = entity(goal.owner, table)
        if not plan.owner_type:
            names = [*map(str, table.grid.reps), *map(str, table.grid.teams), COMPANY]
            plan.problems["S"].append(
                f"unknown owner '{goal.owner}'.{close_matches(goal.owner, names)} "
                "The owner is a rep id, a team name or company"
            )
    _scope_problems(plan, tables.data)
    if goal.scope and tables.data is None and plan.ok:
        plan.problems["M"].append("a scoped goal is recomputed from the data set, which was not given")
    if not plan.ok or plan.kpi is None:
        return plan
    plan.values = tables.values(goal.scope, plan.kpi.name)
    plan.company = plan.values
    if plan.kpi.name in table.unavailable:
        plan.problems["M"].append(f"{plan.kpi.name} is not available: {table.unavailable[plan.kpi.name]}")
        return plan
    _resolve_target(plan)
    return plan


def _baseline_point(plan: Plan, label: str) -> tuple[float | None, str, str, int]:
    """Value of the owner's KPI over the period ``label``: (value, label, reason, months)."""
    assert plan.values is not None
    assert plan.kpi is not None
    period = parse_period(label)
    grain = period.kpi_grain  # a year is the engine's year to date at December
    etype, eid = entity(plan.goal.owner, plan.values.table)
    value, shown, reason = plan.values.one(etype, eid, plan.kpi.name, grain, str(period.end))
    return value, shown or period.label, reason, len(period.months)


def _resolve_target(plan: Plan) -> None:
    """The baseline and the absolute target (Measurable problems when they cannot be had)."""
    goal, t = plan.goal, plan.goal.target
    assert t is not None
    assert plan.first is not None
    assert plan.values is not None
    assert plan.kpi is not None
    etype, eid = entity(goal.owner, plan.values.table)
    kpi = plan.kpi
    relative = t.change is not None or t.points is not None
    base: float | None = None
    base_label = ""
    base_reason = ""
    if t.baseline:
        value, base_label, base_reason, months = _baseline_point(plan, t.baseline)
        if value is not None and plan.mode == "per_period":
            value = value / max(months / plan.per_months, 1.0)
        base = value
    elif plan.mode == "level":
        if t.start_value is not None:
            base, base_label = t.start_value, "stated"
        else:
            base, base_label, base_reason = plan.values.one(etype, eid, kpi.name, plan.per, str(plan.first - 1))
    elif relative:
        last_year = [str(m - 12) for m in plan.months]
        series = plan.values.series(etype, eid, kpi.name, "month").reindex(last_year)
        base = None if series.isna().any() else float(series.sum())
        base_label = f"{month_title(plan.first - 12)}–{month_title(plan.months[-1] - 12)}"
        base_reason = "no complete data for the same window last year"
        if base is not None and plan.mode == "per_period":
            base = base / (len(plan.months) / plan.per_months)
    if plan.mode == "level" and t.start_value is not None and t.baseline:
        base_label = f"{base_label} (stated {plan.fmt(t.start_value)})"
    plan.baseline, plan.baseline_label = base, base_label
    if t.value is not None:
        plan.target = t.value
    elif base is None:
        where = f" for {base_label}" if base_label else ""
        plan.problems["M"].append(
            f"the relative target needs a baseline, but {goal.owner} has no {kpi.name} "
            f"value{where} ({base_reason or 'no data'})"
        )
    elif t.change is not None:
        if base == 0:
            plan.problems["M"].append(
                f"the baseline ({base_label}) is 0, so a relative change gives no target; use `value:` or `points:`"
            )
        else:
            plan.target = base * (1.0 + t.change)
    elif t.points is not None:
        plan.target = base + t.points
    # the stated starting point of a rate goal vs the data
    if plan.mode == "level" and t.start_value is not None:
        actual_base, label, _ = plan.values.one(etype, eid, kpi.name, plan.per, str(plan.first - 1))
        if t.baseline:
            actual_base, label, _, _ = _baseline_point(plan, t.baseline)
        if actual_base is not None and abs(actual_base - t.start_value) > 0.1 * max(abs(t.start_value), 1e-9):
            plan.warnings["M"].append(
                f"the stated starting value {plan.fmt(t.start_value)} differs from the data: "
                f"{plan.fmt(actual_base)} in {label}"
            )
