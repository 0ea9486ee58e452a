"""The canonical data model: every table, column and data rule declared once.

Real CRM exports are mapped onto these tables (see :mod:`salesreports.data.mapping`).
The declarations drive the loaders (types), the validator (rules) and the demo
generator (column order). Tables may be absent from a data set; KPIs that need
an absent table are "not available". Optional columns (``required=False``) may
be absent too, e.g. ``deals.amount`` in a funnel export that records no deal
values: KPIs that need such a column are "not available", never 0.

Every data check has a name in :data:`RULES` with a default severity: errors stop
a report run, warnings are shown and the run goes on. A source file may change
a rule's severity (``severity: {close_before_create: warning}``) when the data
is known to break it and reports must still run; the issue is still shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from salesreports.errors import Issue

__all__ = [
    "ACTIVITY_TYPES",
    "EVENT_DATES",
    "FEEDBACK_SOURCES",
    "MAX_AMOUNT",
    "MAX_AMOUNT_CEILING",
    "RULES",
    "STAGES",
    "SUMMED",
    "TABLES",
    "Column",
    "Rule",
    "Table",
    "rule_issue",
]

Kind = Literal["str", "date", "float", "int", "bool"]
Severity = Literal["error", "warning"]

STAGES = ("open", "won", "lost")
# The largest amount (deal amount, cost, target) a data set may hold, unless its source file sets
# `max_amount`: beyond it validation fails (rule `amount_too_large`) and the engine shows the periods
# holding such a value as not available, never as inf or NaN. A source may raise it up to the ceiling,
# above which a float64 total no longer holds whole cents.
MAX_AMOUNT = 1e12
MAX_AMOUNT_CEILING = 1e15
SUMMED = (("deals", "amount"), ("deals", "cost"), ("targets", "target"))
"""The (table, column) money values the engine adds up, bounded by ``max_amount``."""
EVENT_DATES: dict[str, tuple[str, ...]] = {
    "deals": ("created_date", "close_date"),
    "leads": ("created_date",),
    "activities": ("date",),
    "feedback": ("date",),
}
"""The dates of the event tables: when their records happened (a source's ``since`` filters on them)."""
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
    # text columns with few distinct values in a large table, held dictionary-encoded (a pandas category):
    # a code and one copy of each value per row instead of the text, a fraction of the memory
    codes: tuple[str, ...] = ()

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
                Column("region", "str", required=False, nullable=True, description="sales region or country"),
                Column(
                    "manager_id", "str", required=False, nullable=True, description="the rep id of the rep's manager"
                ),
                Column(
                    "manager_email",
                    "str",
                    required=False,
                    nullable=True,
                    description="where a copy goes with `mail.cc_manager`",
                ),
                Column(
                    "hire_date",
                    "date",
                    required=False,
                    nullable=True,
                    description="first day in the job; without it the rep counts from their first deal, lead or "
                    "activity",
                ),
                Column("leave_date", "date", required=False, nullable=True, description="last day, if left"),
                Column(
                    "locale",
                    "str",
                    required=False,
                    nullable=True,
                    description="how the rep's scorecard and email write numbers and dates (a CLDR locale such as "
                    "`de_DE`); empty: the settings' `locale`",
                ),
            ),
            "the sales reps",
            key=("rep_id",),
        ),
        Table(
            "deals",
            (
                Column("deal_id", "str", unique=True, description="the deal's id, unique"),
                _REP,
                Column("account_id", "str", description="the customer account"),
                Column("product", "str", required=False, nullable=True, description="what was sold (goal scopes)"),
                Column(
                    "segment",
                    "str",
                    required=False,
                    nullable=True,
                    description="customer segment or industry (revenue from new segments, goal scopes)",
                ),
                Column(
                    "created_date",
                    "date",
                    nullable=True,
                    description="when the deal was opened; may be empty (kept: an open deal counts in the pipeline "
                    "from the data's latest month; left out of the sales cycle, with a count)",
                ),
                Column(
                    "close_date",
                    "date",
                    nullable=True,
                    description="when the deal was won or lost; empty (or the expected date) while open",
                ),
                Column(
                    "stage", "str", allowed=STAGES, description="open, won or lost: map the CRM's stages with `values:`"
                ),
                Column(
                    "amount",
                    "float",
                    required=False,
                    nullable=True,
                    min=0.0,
                    description="deal value; absent when the CRM export has none (revenue KPIs not available)",
                ),
                Column(
                    "cost",
                    "float",
                    required=False,
                    nullable=True,
                    min=0.0,
                    description="cost of a won deal (profit margin)",
                ),
                Column("units", "float", required=False, nullable=True, min=0.0, description="units sold (volume)"),
            ),
            "opportunities: open, won or lost",
            key=("deal_id",),
            codes=("rep_id", "product", "segment", "stage"),
        ),
        Table(
            "leads",
            (
                Column("lead_id", "str", unique=True, description="the lead's id, unique"),
                _REP,
                Column("created_date", "date", description="when the lead came in"),
                Column("source", "str", required=False, nullable=True, description="where it came from, e.g. web"),
                Column("qualified", "bool", description="qualified (yes/no)"),
                Column(
                    "converted_deal_id",
                    "str",
                    required=False,
                    nullable=True,
                    references="deals.deal_id",
                    description="the deal it became, if any (lead-to-sale conversion)",
                ),
            ),
            "leads and their qualification",
            key=("lead_id",),
            codes=("rep_id", "source"),
        ),
        Table(
            "activities",
            (
                _REP,
                Column("date", "date", description="when it happened"),
                Column("type", "str", allowed=ACTIVITY_TYPES, description="call, email, meeting or demo"),
            ),
            "calls, emails, meetings, demos",
            codes=("rep_id", "type"),
        ),
        Table(
            "targets",
            (
                Column(
                    "rep_id", "str", required=False, nullable=True, references="reps.rep_id", description="whose target"
                ),
                Column("team", "str", required=False, nullable=True, description="or the team's, when rep_id is empty"),
                Column("period", "str", description="month as YYYY-MM"),
                Column("metric", "str", description="a KPI name, e.g. revenue"),
                Column("target", "float", min=0.0, description="the target value (quota)"),
            ),
            "quotas per rep (or team) per month",
        ),
        Table(
            "feedback",
            (
                _REP,
                Column("date", "date", description="when it was given"),
                Column("source", "str", allowed=FEEDBACK_SOURCES, description="client, manager or peer"),
                Column("score", "float", min=1.0, max=5.0, nullable=True, description="1 (poor) to 5 (excellent)"),
                Column("tags", "str", required=False, nullable=True, description="';'-separated themes"),
                Column("text", "str", required=False, nullable=True, description="the feedback in words"),
            ),
            "qualitative feedback from clients, managers and peers",
        ),
    )
}


@dataclass(frozen=True)
class Rule:
    """One named data check.

    Attributes
    ----------
    name : how issues and source files refer to it
    severity : the default: "error" stops a report run, "warning" does not
    description : what it checks
    adjustable : a source file may change its severity
    """

    name: str
    severity: Severity
    description: str
    adjustable: bool = True


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("missing_column", "error", "a required column is neither in the data nor mapped", adjustable=False),
        Rule("bad_value", "error", "a value cannot be read as a number, date or yes/no (it becomes missing)"),
        Rule("not_allowed", "error", "a value is not one of the allowed ones, e.g. an unknown deal stage"),
        Rule("missing_value", "error", "a value that is required is empty"),
        Rule("duplicate_id", "error", "an id that must be unique appears more than once"),
        Rule("out_of_range", "error", "a number is below its minimum (e.g. a negative amount) or above its maximum"),
        Rule("unknown_rep", "error", "a row names a rep that is not in the reps table"),
        Rule("future_date", "error", "a date of a past event (deal created or closed, lead, activity) is after today"),
        Rule("close_before_create", "error", "a closed deal's close_date is before its created_date"),
        Rule("closed_without_date", "error", "a won or lost deal has no close_date"),
        Rule(
            "missing_created_date",
            "warning",
            "a deal has no created_date: it is kept (open: in the pipeline) and left out of the sales cycle",
        ),
        Rule("won_without_amount", "error", "a won deal has no amount"),
        Rule("large_amount", "warning", "an amount is implausibly large (unit or decimal separator?)"),
        Rule(
            "amount_too_large",
            "error",
            "an amount, cost or target is beyond the source's `max_amount` (1e12 unless set) or not a finite "
            "number: totals would overflow",
            adjustable=False,
        ),
        Rule("unknown_conversion", "error", "a lead's converted_deal_id is not in the deals table"),
        Rule("bad_email", "error", "a rep's email is not one plain address"),
        Rule("bad_locale", "warning", "a rep's locale is not a CLDR locale id: the settings' `locale` is used"),
        Rule("missing_email", "warning", "a rep has no email address: the scorecard cannot be sent"),
        Rule("leave_before_hire", "error", "a rep's leave_date is before the hire_date"),
        Rule("reserved_team", "error", "a team is called 'company', the name of the company-wide summary"),
        Rule("rep_without_deals", "warning", "a rep has no deals at all"),
        Rule("unassigned_rows", "warning", "rows without a rep were attributed to the source's `unassigned_rep`"),
        Rule("no_amount", "warning", "the deals have no amount column: revenue KPIs are not available"),
        Rule("null_marker", "warning", "a text column holds a missing-value marker such as the string NULL"),
        Rule("null_values", "warning", "texts listed in `null_values` (e.g. NULL) were read as missing"),
        Rule("empty_table", "warning", "a table has a header but no rows"),
        Rule("no_rows", "error", "the reps or the deals table has a header but no rows: nothing to report on"),
        Rule("rows_filtered", "warning", "the mapping's `where:` left rows out"),
        Rule("bad_period", "error", "a target's period is not a month written YYYY-MM"),
        Rule("unknown_metric", "error", "a target names a KPI that does not exist"),
        Rule("target_without_owner", "error", "a target has neither a rep_id nor a team"),
    )
}


def rule_issue(
    rule: str,
    table: str,
    message: str,
    *,
    severity: dict[str, str] | None = None,
    file: str = "",
    column: str = "",
    rows: tuple[int, ...] = (),
    count: int = 0,
    fix: str = "",
) -> Issue:
    """Build the :class:`~salesreports.errors.Issue` of a named rule, at its (possibly overridden) severity.

    An error of an adjustable rule says how to accept the data anyway, naming the rule.
    """
    spec = RULES[rule]
    level = (severity or {}).get(rule, spec.severity)
    if level != spec.severity:
        message += f" (rule {rule}: set to {level} by the source file's `severity`; default {spec.severity})"
    elif level == "error" and spec.adjustable:
        accept = f"or, to run reports anyway, set `severity: {{{rule}: warning}}` in the source file"
        fix = f"{fix}; {accept}" if fix else accept
    return Issue(level, table, message, file=file, column=column, rows=rows, count=count, fix=fix)
