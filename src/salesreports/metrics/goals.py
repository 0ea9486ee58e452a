"""SMART goals as data: loading, progress (actual, pace, projection, status) and the SMART check.

A goal file (``params/goals.yaml``) holds ``settings`` and a list of ``goals``; each goal has an ``id``,
an ``owner`` (a rep id, a team name or ``company``), a ``metric`` (a KPI name of the registry), an
optional ``scope`` (``{product: Analytics}``), a ``target``, a ``start`` and a ``deadline`` (months,
quarters or years: ``2026-10``, ``2026-Q4``, ``2026``) and the business ``objective`` it serves.

How a goal is measured depends on its KPI (one rule, used by progress and the check alike):

``total`` (additive KPIs such as revenue, deals won, qualified leads; no ``per``)
    The target is the sum over the window. *Actual* is the sum so far; *expected* is the target times
    the share of the window's days gone (linear pace); *seasonal expected* is the target times the
    share of last year's company total (same scope) that fell in the elapsed part of the window, when
    last year has data; *projected* is actual / that share (seasonal if available, linear otherwise).
``per_period`` (additive KPI with ``per: month`` or ``per: quarter``)
    The target applies to every month (quarter) of the window, e.g. 300 qualified leads per month.
    It is tracked like ``total`` against ``target x periods`` and shown per period (actual = run
    rate so far); at the deadline it is achieved only when every period reached the target.
``level`` (ratios and cohort KPIs: conversion, win rate, retention, ...)
    The KPI is measured over a ``per`` period (default ``quarter``: quarter-to-date, so the value
    at the as-of month). The path runs linearly from the *baseline* (``from:``, or the value of the
    ``per`` period just before the start) at the start to the target at the deadline; *expected* is
    the point on that path today and *projected* extends the progress made since the start.

Status: ``not started`` before the start; at (or after) the deadline ``achieved`` or ``missed``;
in between ``achieved`` once a cumulative target is already reached, otherwise ``pace`` decides:
for ``total``/``per_period`` it is projected / target - 1, for ``level`` it is (actual - expected) /
|target - baseline| (both positive when ahead, and flipped for lower-is-better KPIs); ``ahead`` when
pace >= ``settings.ahead``, ``at risk`` when pace < -``settings.at_risk``, else ``on track``.
``not available`` when the KPI has no value (a missing table, an invalid goal).

Targets are absolute (``target: 500000`` or ``{value: 25%, from: 15%}``) or relative to a baseline
(``{change: +20%, baseline: 2025-Q4}`` multiplies, ``{points: 0.05}`` adds). Without ``baseline:`` a
relative target of a ``total`` goal compares with the same window one year earlier; of a ``level``
goal with the value just before the start.

A scope filters every table that has the scope's column (``product`` and ``segment``: deals;
``source``: leads) and the KPI is recomputed by the engine on the filtered data. A KPI can be scoped
only when every table it needs has the column (win rate by product yes; quota attainment by product no:
targets have no product); otherwise the check reports it as not measurable.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesreports.errors import ConfigError, ParamsError, UnknownKpiError, close_matches
from salesreports.metrics.periods import Period, parse_period

if TYPE_CHECKING:
    from salesreports.data.loading import Dataset
    from salesreports.metrics.engine import KpiTable
    from salesreports.metrics.kpis import Kpi

__all__ = [
    "LETTERS",
    "SCOPE_COLUMNS",
    "STATUSES",
    "Finding",
    "Goal",
    "GoalProgress",
    "GoalSet",
    "GoalSettings",
    "Target",
    "check_goals",
    "goal_progress",
    "load_goals",
]

STATUSES = ("achieved", "ahead", "on track", "at risk", "missed", "not started", "not available")
LETTERS = (("S", "Specific"), ("M", "Measurable"), ("A", "Achievable"), ("R", "Relevant"), ("T", "Time-bound"))
# scope column -> the tables it filters (the tables of the canonical model that have the column)
SCOPE_COLUMNS: dict[str, tuple[str, ...]] = {"product": ("deals",), "segment": ("deals",), "source": ("leads",)}
PER_GRAINS = ("month", "quarter", "ytd", "t12m")
_PER_PERIOD_GRAINS = ("month", "quarter")
_GRAIN_NOUN = {"month": "month", "quarter": "quarter", "ytd": "year to date", "t12m": "12 months"}
_COMPANY = "company"
Mode = Literal["total", "per_period", "level"]
Severity = Literal["ok", "warning", "error"]


# --------------------------------------------------------------------------- the file


def _number(value: Any) -> Any:
    """Accept 500000, "500,000", "$500,000", "25%", "+20%" (-> 0.2)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", "").replace("_", "").replace("$", "").replace(" ", "")
    pct = text.endswith("%")
    text = text.rstrip("%")
    try:
        number = float(text)
    except ValueError:
        msg = f"expected a number such as 500000, 25% or +20%, got {value!r}"
        raise ValueError(msg) from None
    return number / 100.0 if pct else number


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float, dt.date)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _TargetModel(_Model):
    value: float | None = None
    change: float | None = None
    points: float | None = None
    baseline: str = ""
    from_: float | None = Field(default=None, alias="from")

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, data: Any) -> Any:
        if isinstance(data, (int, float, str)) and not isinstance(data, bool):
            return {"value": data}
        return data

    @field_validator("value", "change", "points", "from_", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _number(v)

    @field_validator("baseline", mode="before")
    @classmethod
    def _label(cls, v: Any) -> Any:
        return _text(v)


class _GoalModel(_Model):
    id: str
    owner: str = ""
    metric: str = ""
    scope: dict[str, list[str]] = Field(default_factory=dict)
    target: _TargetModel | None = None
    per: str = ""
    start: str = ""
    deadline: str = ""
    objective: str = ""

    @field_validator("id", "owner", "metric", "per", "start", "deadline", "objective", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        return _text(v)

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict):
            return {str(k): [str(x) for x in (x if isinstance(x, list) else [x])] for k, x in v.items()}
        return v


class _SettingsModel(_Model):
    ahead: float = Field(default=0.10, ge=0, description="ahead when the pace beats the target by this share")
    at_risk: float = Field(default=0.10, ge=0, description="at risk when the pace falls short by more than this")
    plausibility: float = Field(default=1.5, gt=1, description="check: flag targets above this x the best period")


class _GoalsFile(_Model):
    settings: _SettingsModel = Field(default_factory=_SettingsModel)
    goals: list[_GoalModel] = Field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """A goal's target: absolute (``value``) or relative to a baseline (``change`` or ``points``).

    Attributes
    ----------
    value : the absolute target (per period for ``per_period`` goals)
    change : relative change vs the baseline (0.2 = +20%)
    points : absolute change vs the baseline (0.05 = +5 percentage points for a rate)
    baseline : the baseline period's label (``2025-Q4``); "" for the default baseline
    start_value : the stated starting value (``from:``) of a ``level`` goal
    """

    value: float | None = None
    change: float | None = None
    points: float | None = None
    baseline: str = ""
    start_value: float | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """Which of value, change and points are given."""
        return tuple(k for k in ("value", "change", "points") if getattr(self, k) is not None)


@dataclass(frozen=True)
class Goal:
    """One SMART goal as written in the goal file (not yet checked)."""

    id: str
    owner: str
    metric: str
    target: Target | None
    start: str
    deadline: str
    objective: str = ""
    scope: tuple[tuple[str, tuple[str, ...]], ...] = ()
    per: str = ""
    file: str = ""
    line: int = 0

    @property
    def scope_text(self) -> str:
        """``product = Analytics`` (or ``product in Core, Analytics``); "" without a scope."""
        parts = []
        for col, vals in self.scope:
            parts.append(f"{col} = {vals[0]}" if len(vals) == 1 else f"{col} in {', '.join(vals)}")
        return "; ".join(parts)

    @property
    def where(self) -> str:
        """``params/goals.yaml:12`` (or the file alone)."""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class GoalSettings:
    """Status thresholds and the plausibility factor of the check."""

    ahead: float = 0.10
    at_risk: float = 0.10
    plausibility: float = 1.5


@dataclass(frozen=True)
class GoalSet:
    """The goals of a file and its settings."""

    goals: tuple[Goal, ...]
    settings: GoalSettings = field(default_factory=GoalSettings)
    file: str = ""

    def __iter__(self) -> Iterator[Goal]:
        return iter(self.goals)

    def __len__(self) -> int:
        return len(self.goals)

    def get(self, goal_id: str) -> Goal:
        """The goal with this id.

        Raises
        ------
        ParamsError
            No such goal (with close matches).
        """
        for g in self.goals:
            if g.id == goal_id:
                return g
        ids = [g.id for g in self.goals]
        msg = f"{self.file}: no goal '{goal_id}'.{close_matches(goal_id, ids)} Known goals: {', '.join(ids)}."
        raise ParamsError(msg, file=self.file, goal=goal_id)


def _goal_lines(path: Path) -> list[int]:
    """Line of each entry under ``goals:`` (1-based), for messages."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):  # pragma: no cover - read_yaml reported it already
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "goals" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def load_goals(path: Path | str) -> GoalSet:
    """Read a goal file.

    Only the structure is checked here (known keys, numbers where numbers belong, unique ids);
    whether each goal is SMART is :func:`check_goals`'s job, so an analyst sees every problem at once.

    Raises
    ------
    ConfigError
        Missing file, invalid YAML, unknown keys (with close matches), values of the wrong type or
        duplicate goal ids.
    """
    from salesreports.yamlio import load_model, read_yaml

    file = Path(path)
    raw = read_yaml(file)
    if raw is None:
        raw = {}
    if isinstance(raw, list):
        raw = {"goals": raw}
    parsed = load_model(file, _GoalsFile, raw)
    lines = _goal_lines(file)
    goals: list[Goal] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for i, g in enumerate(parsed.goals):
        line = lines[i] if i < len(lines) else 0
        if g.id in seen:
            problems.append(f"line {line}: goal id '{g.id}' is used twice (first at line {seen[g.id]})")
        seen.setdefault(g.id, line)
        target = None
        if g.target is not None:
            t = g.target
            target = Target(value=t.value, change=t.change, points=t.points, baseline=t.baseline, start_value=t.from_)
        scope = tuple((col, tuple(vals)) for col, vals in g.scope.items())
        goals.append(
            Goal(
                id=g.id,
                owner=g.owner.strip(),
                metric=g.metric.strip(),
                target=target,
                start=g.start.strip(),
                deadline=g.deadline.strip(),
                objective=g.objective.strip(),
                scope=scope,
                per=g.per.strip().lower(),
                file=str(file),
                line=line,
            )
        )
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        msg = f"{file}: {len(problems)} problem(s):\n{shown}\nFix: give every goal its own id."
        raise ConfigError(msg, file=str(file), problems=problems)
    s = parsed.settings
    return GoalSet(tuple(goals), GoalSettings(s.ahead, s.at_risk, s.plausibility), str(file))


# --------------------------------------------------------------------------- results


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


@dataclass(frozen=True)
class GoalProgress:
    """Where a goal stands at the as-of date. Numbers are None when not available.

    Attributes
    ----------
    goal_id, owner, owner_type (rep, team, company or "" when unknown), metric, label (the KPI's label),
    scope (text), objective
    mode : total, per_period or level (see the module docs)
    per : the period a ``per_period`` target applies to, or a ``level`` KPI is measured over
    start, deadline : first and last month of the window (``2026-10``, ``2026-12``)
    as_of : the date progress is measured at (ISO)
    elapsed : the share of the window's days gone (0..1)
    target : the resolved target (per period for ``per_period``)
    baseline : the baseline value (relative targets, ``level`` paths)
    actual : so far (``total``), run rate per period (``per_period``) or the current value (``level``)
    expected : where a linear pace would be now (same unit as actual)
    expected_seasonal : the same, following last year's monthly shape (``total``/``per_period``)
    projected : the value expected at the deadline at the current pace
    pace : how far ahead (+) or behind (-) as a fraction (see the module docs)
    actual_pct, expected_pct : the share of the target reached, and expected by now (for charts)
    periods_met, periods_done : ``per_period`` goals: complete periods that reached the target, and all
    complete periods of the window so far
    measured_on : the period the actual value covers (``2026-10-QTD``, ``Oct 2026 – 30 Oct 2026``)
    status : one of :data:`STATUSES`
    summary : one sentence for people
    note : caveats (no seasonality, a scoped recomputation, why a value is missing)
    """

    goal_id: str
    owner: str
    owner_type: str
    metric: str
    label: str
    scope: str
    objective: str
    mode: str
    per: str
    start: str
    deadline: str
    as_of: str
    elapsed: float | None
    target: float | None
    baseline: float | None
    actual: float | None
    expected: float | None
    expected_seasonal: float | None
    projected: float | None
    pace: float | None
    actual_pct: float | None
    expected_pct: float | None
    periods_met: int | None
    periods_done: int | None
    measured_on: str
    status: str
    summary: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (None for missing numbers)."""
        return asdict(self)

    def formatted(self, currency: str = "$") -> dict[str, str]:
        """target, baseline, actual, expected, expected_seasonal and projected formatted by the KPI's format."""
        from salesreports.metrics.kpis import format_value, registry

        reg = registry()
        fmt = reg.get(self.metric).format if self.metric in reg else "ratio"
        unit = f"/{self.per}" if self.mode == "per_period" else ""
        out = {}
        for name in ("target", "baseline", "actual", "expected", "expected_seasonal", "projected"):
            value = getattr(self, name)
            text = format_value(value, fmt, currency)
            out[name] = text + unit if value is not None else text
        return out


# --------------------------------------------------------------------------- shared machinery


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
            return None, "", "no data for this period"
        row = rows.loc[period_end]
        return _opt(row["value"]), str(row["period"]), str(row["reason"] or "")


@dataclass
class _Plan:
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

    def fmt(self, value: float | None, currency: str = "$") -> str:
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


def _new_plan(goal: Goal) -> _Plan:
    return _Plan(goal, {k: [] for k, _ in LETTERS}, {k: [] for k, _ in LETTERS})


def _resolve_static(goal: Goal) -> _Plan:
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
            if goal.per and goal.per not in _PER_PERIOD_GRAINS:
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
            p["T"].append(f"the deadline ({_month_title(plan.last)}) is before the start ({_month_title(plan.first)})")
        elif plan.mode == "per_period" and plan.per == "quarter":
            n = len(plan.months)
            if plan.first.month % 3 != 1 or n % 3:
                p["T"].append(
                    f"a per-quarter target needs a window of whole quarters; "
                    f"{_month_title(plan.first)}–{_month_title(plan.last)} is {n} month(s)"
                )
    return plan


def _month_title(m: pd.Period) -> str:
    return str(m.strftime("%b %Y"))


def _entity(owner: str, table: KpiTable) -> tuple[str, str]:
    if owner.lower() == _COMPANY:
        return "company", _COMPANY
    if owner in set(map(str, table.grid.reps)):
        return "rep", owner
    if owner in set(map(str, table.grid.teams)):
        return "team", owner
    return "", owner


class _Tables:
    """The KPI table, and tables recomputed on scoped (filtered) data, computed once per scope."""

    def __init__(self, table: KpiTable, data: Dataset | None) -> None:
        self.table = table
        self.data = data
        self._values: dict[tuple[tuple[str, tuple[str, ...]], ...], _Values] = {(): _Values(table)}

    def values(self, scope: tuple[tuple[str, tuple[str, ...]], ...]) -> _Values | None:
        key = tuple(sorted(scope))
        if key not in self._values:
            if self.data is None:
                return None
            from salesreports.metrics.engine import compute_kpis

            scoped = _filter(self.data, key)
            self._values[key] = _Values(compute_kpis(scoped, as_of=self.table.grid.as_of.date()))
        return self._values[key]


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


def _scope_problems(plan: _Plan, data: Dataset | None) -> None:
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


def _resolve(goal: Goal, tables: _Tables | None) -> _Plan:
    """Resolve a goal fully: static parts, then owner, scope, baseline and target against the data."""
    plan = _resolve_static(goal)
    if not goal.owner:
        plan.problems["S"].append("no owner. Fix: set `owner:` to a rep id, a team name or company")
    if tables is None:
        _scope_problems(plan, None)
        return plan
    table = tables.table
    if goal.owner:
        plan.owner_type, _ = _entity(goal.owner, table)
        if not plan.owner_type:
            names = [*map(str, table.grid.reps), *map(str, table.grid.teams), _COMPANY]
            plan.problems["S"].append(
                f"unknown owner '{goal.owner}'.{close_matches(goal.owner, names)} "
                "The owner is a rep id, a team name or company"
            )
    _scope_problems(plan, tables.data)
    if goal.scope and tables.data is None and plan.ok:
        plan.problems["M"].append("a scoped goal is recomputed from the data set, which was not given")
    if not plan.ok or plan.kpi is None:
        return plan
    plan.values = tables.values(goal.scope)
    plan.company = plan.values
    if plan.kpi.name in table.unavailable:
        plan.problems["M"].append(f"{plan.kpi.name} is not available: {table.unavailable[plan.kpi.name]}")
        return plan
    _resolve_target(plan)
    return plan


def _baseline_point(plan: _Plan, label: str) -> tuple[float | None, str, str, int]:
    """Value of the owner's KPI over the period ``label``: (value, label, reason, months)."""
    assert plan.values is not None
    assert plan.kpi is not None
    period = parse_period(label)
    grain = "ytd" if period.grain == "year" else period.grain
    etype, eid = _entity(plan.goal.owner, plan.values.table)
    value, shown, reason = plan.values.one(etype, eid, plan.kpi.name, grain, str(period.end))
    return value, shown or period.label, reason, len(period.months)


def _resolve_target(plan: _Plan) -> None:
    """The baseline and the absolute target (Measurable problems when they cannot be had)."""
    goal, t = plan.goal, plan.goal.target
    assert t is not None
    assert plan.first is not None
    assert plan.values is not None
    assert plan.kpi is not None
    etype, eid = _entity(goal.owner, plan.values.table)
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
        base_label = f"{_month_title(plan.first - 12)}–{_month_title(plan.months[-1] - 12)}"
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


# --------------------------------------------------------------------------- the SMART check


def _history(plan: _Plan) -> tuple[float, str, str] | None:
    """The owner's best comparable period before the start: (value, label, noun)."""
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.first is not None
    etype, eid = _entity(plan.goal.owner, plan.values.table)
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
    return float(values.iloc[pos]), label, _GRAIN_NOUN.get(grain, grain)


def _span_label(end: pd.Period, months: int) -> str:
    if months == 1:
        return _month_title(end)
    if months == 3 and end.month % 3 == 0:
        return f"Q{end.quarter} {end.year}"
    if months == 12 and end.month == 12:
        return str(end.year)
    return f"{_month_title(end - (months - 1))}–{_month_title(end)}"


def _achievable(plan: _Plan, settings: GoalSettings) -> tuple[Severity, str]:
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


def _ok_message(letter: str, plan: _Plan) -> str:
    g = plan.goal
    if letter == "S":
        who = plan.owner_words()[0] if plan.owner_type else g.owner
        return f"{who}, {g.metric}" + (f", {g.scope_text}" if g.scope else "")
    if letter == "M":
        what = {
            "total": "total over the window",
            "per_period": f"every {plan.per}",
            "level": f"measured per {_GRAIN_NOUN.get(plan.per, plan.per)}",
        }[plan.mode]
        target = plan.fmt(plan.target) if plan.target is not None else "target"
        base = f", baseline {plan.fmt(plan.baseline)} ({plan.baseline_label})" if plan.baseline is not None else ""
        return f"{target} ({what}){base}"
    if letter == "R":
        return g.objective
    assert plan.first is not None
    assert plan.last is not None
    return f"{_month_title(plan.first)} to {_month_title(plan.last)} ({len(plan.months)} months)"


def check_goals(
    goals: GoalSet | Sequence[Goal],
    table: KpiTable | None = None,
    *,
    data: Dataset | None = None,
    settings: GoalSettings | None = None,
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

    Returns
    -------
    list[Finding]
        Five per goal (S, M, A, R, T); severity "error" for S, M and T problems (the goal cannot be
        tracked), "warning" for A and R.
    """
    settings = settings or (goals.settings if isinstance(goals, GoalSet) else GoalSettings())
    tables = _Tables(table, data) if table is not None else None
    findings: list[Finding] = []
    for goal in goals:
        plan = _resolve(goal, tables)
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


# --------------------------------------------------------------------------- progress


def _as_of(table: KpiTable, period: str | Period | None) -> pd.Timestamp:
    as_of = pd.Timestamp(table.grid.as_of).normalize()
    if period is None:
        return as_of
    p = period if isinstance(period, Period) else parse_period(str(period))
    return min(as_of, p.last_day)


def goal_progress(
    goals: GoalSet | Sequence[Goal],
    table: KpiTable,
    *,
    data: Dataset | None = None,
    period: str | Period | None = None,
    settings: GoalSettings | None = None,
) -> list[GoalProgress]:
    """Progress of every goal at the end of ``period`` (default: the data's last day).

    Parameters
    ----------
    goals : a :class:`GoalSet` or goals
    table : the KPI table
    data : the data set, needed for scoped goals
    period : measure as of the last day of this period (capped at the data's last day)
    settings : status thresholds (default: the goal set's)

    Returns
    -------
    list[GoalProgress]
        One per goal, in order. Goals that fail the SMART check's errors get status "not available"
        with the problem in ``note``.
    """
    settings = settings or (goals.settings if isinstance(goals, GoalSet) else GoalSettings())
    tables = _Tables(table, data)
    as_of = _as_of(table, period)
    return [_progress(_resolve(goal, tables), as_of, settings) for goal in goals]


def _blank(plan: _Plan, as_of: pd.Timestamp, status: str, note: str) -> GoalProgress:
    g = plan.goal
    return GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label if plan.kpi else g.metric,
        scope=g.scope_text,
        objective=g.objective,
        mode=plan.mode,
        per=plan.per,
        start=str(plan.first or g.start),
        deadline=str(plan.last or g.deadline),
        as_of=as_of.date().isoformat(),
        elapsed=None,
        target=plan.target,
        baseline=plan.baseline,
        actual=None,
        expected=None,
        expected_seasonal=None,
        projected=None,
        pace=None,
        actual_pct=None,
        expected_pct=None,
        periods_met=None,
        periods_done=None,
        measured_on="",
        status=status,
        summary=note,
        note=note,
    )


def _progress(plan: _Plan, as_of: pd.Timestamp, settings: GoalSettings) -> GoalProgress:
    if not plan.ok or plan.target is None:
        problems = [p for letter in ("S", "M", "T") for p in plan.problems[letter]]
        return _blank(plan, as_of, "not available", "; ".join(problems) or "the target could not be resolved")
    assert plan.first is not None
    assert plan.last is not None
    first_day = plan.first.start_time.normalize()
    last_day = plan.last.end_time.normalize()
    if as_of < first_day:
        return _blank(plan, as_of, "not started", f"starts in {_month_title(plan.first)}")
    total_days = (last_day - first_day).days + 1
    elapsed = min(((as_of - first_day).days + 1) / total_days, 1.0)
    if plan.mode == "level":
        return _level(plan, as_of, elapsed, settings)
    return _cumulative(plan, as_of, elapsed, settings)


def _status_from_pace(pace: float | None, settings: GoalSettings) -> str:
    if pace is None or pace >= -settings.at_risk:
        return "ahead" if pace is not None and pace >= settings.ahead else "on track"
    return "at risk"


def _meets(plan: _Plan, value: float, target: float) -> bool:
    return (value - target) * plan.direction >= 0


def _seasonal_share(plan: _Plan, as_of: pd.Timestamp) -> float | None:
    """Share of last year's company total (same scope) that fell in the elapsed part of the window."""
    assert plan.company is not None
    assert plan.kpi is not None
    months = plan.months
    weights = plan.company.series("company", _COMPANY, plan.kpi.name, "month").reindex([str(m - 12) for m in months])
    w = weights.to_numpy(dtype=np.float64)
    if np.isnan(w).any() or (w < 0).any() or w.sum() <= 0:
        return None
    now = as_of.to_period("M")
    done = np.array([m < now for m in months])
    current = np.array([m == now for m in months])
    fraction = as_of.day / as_of.days_in_month
    share = float((w[done].sum() + fraction * w[current].sum()) / w.sum())
    return share if share > 0 else None  # nothing last year in the elapsed months: no basis for a projection


def _cumulative(plan: _Plan, as_of: pd.Timestamp, elapsed: float, settings: GoalSettings) -> GoalProgress:
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.target is not None
    assert plan.first is not None
    g = plan.goal
    etype, eid = _entity(g.owner, plan.values.table)
    months = plan.months
    now = as_of.to_period("M")
    seen = [str(m) for m in months if m <= now]
    rows = plan.values.rows(etype, eid, plan.kpi.name, "month").reindex(seen)
    values = rows["value"].astype(np.float64)
    if values.isna().all():
        reasons = [str(r) for r in rows["reason"].dropna() if str(r)]
        return _blank(plan, as_of, "not available", reasons[0] if reasons else "no data in the window yet")
    n_periods = len(months) / plan.per_months if plan.mode == "per_period" else 1.0
    total_target = plan.target * n_periods
    actual = float(values.sum())
    expected = total_target * elapsed
    share = _seasonal_share(plan, as_of)
    seasonal = total_target * share if share is not None else None
    basis = share if share is not None else elapsed
    projected = actual / basis if basis > 0 else None
    final = as_of >= plan.last.end_time.normalize() if plan.last is not None else False
    periods_met = periods_done = None
    if plan.mode == "per_period":
        periods_met, periods_done = _periods(plan, values, as_of)
    if final:
        if plan.mode == "per_period":
            status = "achieved" if periods_met == len(months) // plan.per_months else "missed"
        else:
            status = "achieved" if _meets(plan, actual, total_target) else "missed"
        pace = actual / total_target - 1.0 if total_target else None
    else:
        pace = None
        if projected is not None and total_target:
            if plan.direction > 0:
                pace = projected / total_target - 1.0
            elif projected:
                pace = total_target / projected - 1.0
        if plan.mode == "total" and plan.direction > 0 and actual >= total_target:
            status = "achieved"
        else:
            status = _status_from_pace(pace, settings)
    scale = 1.0
    if plan.mode == "per_period":
        scale = 1.0 / max(elapsed * n_periods, 1e-9)  # totals so far -> per period so far
    note = "" if share is not None else "last year's same months give no seasonal shape: linear pace only"
    if g.scope:
        note = "; ".join(x for x in (note, f"recomputed on {g.scope_text}") if x)
    progress = GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label,
        scope=g.scope_text,
        objective=g.objective,
        mode=plan.mode,
        per=plan.per,
        start=str(plan.first),
        deadline=str(plan.last),
        as_of=as_of.date().isoformat(),
        elapsed=elapsed,
        target=plan.target,
        baseline=plan.baseline,
        actual=actual * scale if plan.mode == "per_period" else actual,
        expected=expected * scale if plan.mode == "per_period" else expected,
        expected_seasonal=None if seasonal is None else (seasonal * scale if plan.mode == "per_period" else seasonal),
        projected=None if projected is None else projected / n_periods,
        pace=pace,
        actual_pct=actual / total_target if total_target else None,
        expected_pct=(seasonal if seasonal is not None else expected) / total_target if total_target else None,
        periods_met=periods_met,
        periods_done=periods_done,
        measured_on=f"{plan.first.start_time.strftime('%d %b %Y')} – {as_of.strftime('%d %b %Y')}",
        status=status,
        summary="",
        note=note,
    )
    return _with_summary(plan, progress)


def _periods(plan: _Plan, values: pd.Series, as_of: pd.Timestamp) -> tuple[int, int]:
    """(periods that reached the target, complete periods) of a per_period goal."""
    assert plan.target is not None
    size = plan.per_months
    months = plan.months
    met = done = 0
    for i in range(0, len(months), size):
        chunk = months[i : i + size]
        if chunk[-1].end_time.normalize() > as_of:
            break
        done += 1
        total = values.reindex([str(m) for m in chunk]).sum()
        met += int(_meets(plan, float(total), plan.target))
    return met, done


def _level(plan: _Plan, as_of: pd.Timestamp, elapsed: float, settings: GoalSettings) -> GoalProgress:
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.target is not None
    assert plan.last is not None
    g = plan.goal
    etype, eid = _entity(g.owner, plan.values.table)
    month = min(as_of.to_period("M"), plan.last)
    actual, label, reason = plan.values.one(etype, eid, plan.kpi.name, plan.per, str(month))
    if actual is None:
        return _blank(plan, as_of, "not available", f"no {plan.kpi.name} value for {label or month}: {reason}")
    target, base = plan.target, plan.baseline
    final = as_of >= plan.last.end_time.normalize()
    actual_pct: float | None
    if base is not None:
        expected = base + (target - base) * elapsed
        span = abs(target - base) or abs(target) or 1.0
        projected = base + (actual - base) / elapsed if elapsed > 0 else None
        actual_pct = (
            (actual - base) / (target - base) if target != base else (1.0 if _meets(plan, actual, target) else 0.0)
        )
        expected_pct = elapsed
    else:
        expected, span, projected = target, abs(target) or 1.0, None
        actual_pct, expected_pct = (actual / target if target else None), 1.0
    pace = plan.direction * (actual - expected) / span
    status = ("achieved" if _meets(plan, actual, target) else "missed") if final else _status_from_pace(pace, settings)
    notes = []
    if base is None:
        notes.append("no baseline: the current value is compared with the target directly")
    if plan.kpi.name == "lead_conversion":
        notes.append("recent leads may still convert, so the latest conversion understates the final one")
    if g.scope:
        notes.append(f"recomputed on {g.scope_text}")
    progress = GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label,
        scope=g.scope_text,
        objective=g.objective,
        mode="level",
        per=plan.per,
        start=str(plan.first),
        deadline=str(plan.last),
        as_of=as_of.date().isoformat(),
        elapsed=elapsed,
        target=target,
        baseline=base,
        actual=actual,
        expected=expected,
        expected_seasonal=None,
        projected=projected,
        pace=pace,
        actual_pct=actual_pct,
        expected_pct=expected_pct,
        periods_met=None,
        periods_done=None,
        measured_on=label,
        status=status,
        summary="",
        note="; ".join(notes),
    )
    return _with_summary(plan, progress)


def _period_title(label: str) -> str:
    """A period label for people: ``2026-10-T12M`` -> "Nov 2025 – Oct 2026", ``2026-11-QTD`` -> "Q4 2026 to date"."""
    if label.endswith("-QTD"):
        month = pd.Period(label[:7], freq="M")
        return f"Q{month.quarter} {month.year} to date"
    try:
        return parse_period(label).title
    except ParamsError:
        return label


def _with_summary(plan: _Plan, p: GoalProgress) -> GoalProgress:
    from dataclasses import replace

    f = p.formatted()
    deadline = _month_title(plan.last) if plan.last is not None else p.deadline
    final = p.elapsed is not None and p.elapsed >= 1.0
    if p.mode == "level":
        path = f" on the path from {f['baseline']} to {f['target']}" if p.baseline is not None else f" vs {f['target']}"
        if final:
            text = f"{p.label} {f['actual']} ({_period_title(p.measured_on)}) vs a target of {f['target']}"
        else:
            text = f"{p.label} {f['actual']} ({_period_title(p.measured_on)}), {f['expected']} expected by now{path}"
            if p.projected is not None:
                text += f"; projected {f['projected']} by {deadline}"
    elif p.mode == "per_period":
        text = f"{f['actual']} {'on average' if final else 'so far'} vs {f['target']}"
        if p.periods_done:
            text += f"; {p.periods_met} of {p.periods_done} complete {plan.per}(s) reached it"
        if p.projected is not None and not final:
            text += f"; projected {f['projected']} over the window"
    else:
        share = f" ({p.actual_pct:.0%})" if p.actual_pct is not None else ""
        if final:
            text = f"{f['actual']} of {f['target']}{share} by {deadline}"
        else:
            text = f"{f['actual']} of {f['target']}{share} so far, {f['expected']} expected at a linear pace"
            if p.expected_seasonal is not None:
                text += f" ({f['expected_seasonal']} given last year's seasonality)"
            if p.projected is not None:
                text += f"; projected {f['projected']} by {deadline}"
    return replace(p, summary=f"{text}: {p.status}.")
