"""SMART goals as data: the goal file (``params/goals.yaml``), its models and loading.

A goal file holds ``settings`` and a list of ``goals``; each goal has an ``id``, an ``owner`` (a rep id, a team
name or ``company``), a ``metric`` (a KPI name of the registry), an optional ``scope`` (``{product: Analytics}``),
a ``target``, a ``start`` and a ``deadline`` (months, quarters or years: ``2026-10``, ``2026-Q4``, ``2026``) and
the business ``objective`` it serves.

Targets are absolute (``target: 500000`` or ``{value: 25%, from: 15%}``) or relative to a baseline
(``{change: +20%, baseline: 2025-Q4}`` multiplies, ``{points: 0.05}`` adds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesreports.errors import ConfigError, ParamsError, close_matches

if TYPE_CHECKING:
    pass


__all__ = [
    "COMPANY",
    "GRAIN_NOUN",
    "LETTERS",
    "PER_PERIOD_GRAINS",
    "SCOPE_COLUMNS",
    "STATUSES",
    "Goal",
    "GoalSet",
    "GoalSettings",
    "Target",
    "load_goals",
]


STATUSES = ("achieved", "ahead", "on track", "at risk", "missed", "not started", "not available")


LETTERS = (("S", "Specific"), ("M", "Measurable"), ("A", "Achievable"), ("R", "Relevant"), ("T", "Time-bound"))


# scope column -> the tables it filters (the tables of the canonical model that have the column)
SCOPE_COLUMNS: dict[str, tuple[str, ...]] = {"product": ("deals",), "segment": ("deals",), "source": ("leads",)}


PER_GRAINS = ("month", "quarter", "ytd", "t12m")


PER_PERIOD_GRAINS = ("month", "quarter")


GRAIN_NOUN = {"month": "month", "quarter": "quarter", "ytd": "year to date", "t12m": "12 months"}


COMPANY = "company"


Mode = Literal["total", "per_period", "level"]


Severity = Literal["ok", "warning", "error"]


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
    from salesreports.yamlio import load_model, read_mapping, read_yaml

    file = Path(path)
    raw = read_yaml(file)
    # a bare list is the goals; an empty file is an error (`goals: []` declares none), as is a file of another kind
    raw = {"goals": raw} if isinstance(raw, list) else read_mapping(file, "goals")
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
