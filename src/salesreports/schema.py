"""The canonical data model: every table and column declared once.

Real CRM exports are mapped onto these tables (see :mod:`salesreports.mapping`).
The declarations drive the loaders (types), the validator (rules) and the demo
generator (column order). Tables may be absent from a data set; KPIs that need
an absent table are "not available".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ACTIVITY_TYPES",
    "FEEDBACK_SOURCES",
    "STAGES",
    "TABLES",
    "Column",
    "Table",
]

Kind = Literal["str", "date", "float", "int", "bool"]

STAGES = ("open", "won", "lost")
ACTIVITY_TYPES = ("call", "email", "meeting", "demo")
FEEDBACK_SOURCES = ("client", "manager", "peer")


@dataclass(frozen=True)
class Column:
    """One canonical column.

    Attributes
    ----------
    name : canonical name
    kind : value type after loading
    required : the column must exist in the table
    nullable : missing values are allowed
    allowed : the only values allowed (after value maps)
    min, max : bounds for numbers
    unique : values must be unique
    references : ``"table.column"`` the values must exist in
    description : what it means, shown in docs and errors
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    unique: bool = False
    references: str = ""
    description: str = ""


@dataclass(frozen=True)
class Table:
    """One canonical table: its columns and the KPIs that need it."""

    name: str
    columns: tuple[Column, ...]
    description: str = ""
    key: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """All column names in canonical order."""
        return tuple(c.name for c in self.columns)


_REP = Column("rep_id", "str", references="reps.rep_id", description="the rep who owns the row")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "reps",
            (
                Column("rep_id", "str", unique=True, description="stable rep identifier"),
                Column("name", "str", required=False, nullable=True, description="display name"),
                Column("email", "str", required=False, nullable=True, description="where the scorecard goes"),
                Column("team", "str", required=False, nullable=True, description="team name"),
                Column("region", "str", required=False, nullable=True),
                Column("manager_id", "str", required=False, nullable=True),
                Column("manager_email", "str", required=False, nullable=True),
                Column("hire_date", "date", required=False, nullable=True),
                Column("leave_date", "date", required=False, nullable=True, description="last day, if left"),
            ),
            "the sales reps",
            key=("rep_id",),
        ),
        Table(
            "deals",
            (
                Column("deal_id", "str", unique=True),
                _REP,
                Column("account_id", "str", description="the customer account"),
                Column("product", "str", required=False, nullable=True),
                Column("segment", "str", required=False, nullable=True),
                Column("created_date", "date"),
                Column("close_date", "date", nullable=True, description="empty while open"),
                Column("stage", "str", allowed=STAGES),
                Column("amount", "float", nullable=True, min=0.0),
                Column("cost", "float", required=False, nullable=True, min=0.0),
                Column("units", "float", required=False, nullable=True, min=0.0),
            ),
            "opportunities: open, won or lost",
            key=("deal_id",),
        ),
        Table(
            "leads",
            (
                Column("lead_id", "str", unique=True),
                _REP,
                Column("created_date", "date"),
                Column("source", "str", required=False, nullable=True),
                Column("qualified", "bool"),
                Column("converted_deal_id", "str", required=False, nullable=True, references="deals.deal_id"),
            ),
            "leads and their qualification",
            key=("lead_id",),
        ),
        Table(
            "activities",
            (
                _REP,
                Column("date", "date"),
                Column("type", "str", allowed=ACTIVITY_TYPES),
            ),
            "calls, emails, meetings, demos",
        ),
        Table(
            "targets",
            (
                Column("rep_id", "str", required=False, nullable=True, references="reps.rep_id"),
                Column("team", "str", required=False, nullable=True),
                Column("period", "str", description="month as YYYY-MM"),
                Column("metric", "str", description="a KPI name, e.g. revenue"),
                Column("target", "float", min=0.0),
            ),
            "quotas per rep (or team) per month",
        ),
        Table(
            "feedback",
            (
                _REP,
                Column("date", "date"),
                Column("source", "str", allowed=FEEDBACK_SOURCES),
                Column("score", "float", min=1.0, max=5.0, nullable=True),
                Column("tags", "str", required=False, nullable=True, description="';'-separated themes"),
                Column("text", "str", required=False, nullable=True),
            ),
            "qualitative feedback from clients, managers and peers",
        ),
    )
}
