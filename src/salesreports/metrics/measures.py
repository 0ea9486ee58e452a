"""What the engine can measure, declared once: base measures and cohort functions by name.

The KPI registry (:mod:`salesreports.metrics.kpis`) checks every declaration of ``kpis.yaml`` against
these names and the tables and columns they need; the engine (:mod:`salesreports.metrics.engine`)
computes them. Both import this module, neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from salesreports.i18n import N_

__all__ = [
    "COHORTS",
    "HISTORY_MONTHS",
    "MEASURES",
    "NOT_EMPLOYED",
    "NO_SIGN",
    "NO_TABLE",
    "NO_VALUES",
    "OUTSIZED",
    "Cohort",
    "Measure",
    "data_ends",
]

HISTORY_MONTHS = 12  # "active" customer = a won deal in the trailing 12 months; "new" = none in the 12 before
# why a rep's month has no values: outside the hire/leave dates, or (no hire date) before the rep's first deal,
# lead or activity. The engine writes these reasons; pages read them to tell the two apart.
# Stored in English in the KPI table (computed once for every reader); shown by i18n.retranslate.
NOT_EMPLOYED: Final = N_("not employed in this period")
NO_SIGN: Final = N_("no deal, lead or activity of this rep by this period")
# why a period holding an amount, cost or target beyond the source's `max_amount` has no value (never inf/NaN)
OUTSIZED: Final = N_(
    "an amount, cost or target in this period is beyond the data's limit (`max_amount`), so no total is "
    "shown; `salesreports validate` lists it"
)
# why a KPI or a section cannot be computed at all from a data set (the engine's and the capabilities' words)
NO_TABLE: Final = N_("the data source has no {table} table")
NO_VALUES: Final = N_("the {table} table has no {column} values")
# TRANSLATORS: {table} is the name of a table of the data (deals, leads, activities, targets), {month} a month
_DATA_ENDS: Final = N_("the {table} data ends in {month}")


def data_ends(table: str, month: str) -> str:
    """Why a period after a table's last row has no value: ``the leads data ends in May 2018``.

    With ``month=""`` the words every such reason contains (pages find these KPIs by them)."""
    return _DATA_ENDS.format(table=table, month=month) if month else " data ends in "


@dataclass(frozen=True)
class Measure:
    """An additive base measure on the (rep x month) grid.

    Attributes
    ----------
    table : the table it is counted from ("" when it comes from the calendar and the reps table)
    columns : optional columns of that table it needs
    rollup : how months add up to a longer period: ``sum``, or ``last`` (a month-end stock)
    history : months of data needed before a period for the value to be known
    also : other tables it reads
    closed : counted from the deals closed in the period (no deal closed: nothing to show)
    matures : an outcome of the period's cohort counted as of the data's last day (leads converted so far):
        the latest months' values are still growing; the engine says which months are still maturing
    """

    table: str
    columns: tuple[str, ...] = ()
    rollup: Literal["sum", "last"] = "sum"
    history: int = 0
    also: tuple[str, ...] = ()
    closed: bool = False
    matures: bool = False

    @property
    def needs(self) -> tuple[str, ...]:
        """``table`` and ``table.column`` entries a KPI reading this measure must declare."""
        if not self.table:
            return self.also
        return (self.table, *(f"{self.table}.{c}" for c in self.columns), *self.also)


MEASURES: dict[str, Measure] = {
    "revenue": Measure("deals", ("amount",), closed=True),
    "revenue_costed": Measure("deals", ("amount", "cost"), closed=True),
    "deals_won": Measure("deals", closed=True),
    "deals_lost": Measure("deals", closed=True),
    "cost_won": Measure("deals", ("amount", "cost"), closed=True),
    "units_won": Measure("deals", ("units",), closed=True),
    "new_customers": Measure("deals", history=HISTORY_MONTHS, closed=True),
    "repeat_revenue": Measure("deals", ("amount",), history=HISTORY_MONTHS, closed=True),
    "new_segment_revenue": Measure("deals", ("amount", "segment"), history=HISTORY_MONTHS, closed=True),
    "pipeline_open": Measure("deals", ("amount",), rollup="last"),
    "leads_created": Measure("leads"),
    "leads_qualified": Measure("leads"),
    "leads_converted": Measure("leads", ("converted_deal_id",), also=("deals",), matures=True),
    "calls": Measure("activities"),
    "meetings": Measure("activities"),
    "emails": Measure("activities"),
    "demos": Measure("activities"),
    "active_days": Measure(""),
    "target_revenue": Measure("targets"),
}
"""Every base measure by name; KPI formulas in ``kpis.yaml`` are written over these names."""


@dataclass(frozen=True)
class Cohort:
    """A registered non-additive KPI function, declared (the engine implements it under the same name).

    NaN values get the KPI's ``when_zero`` reason. ``needs`` lists the tables and columns it reads;
    ``history`` the months of data it needs before a period; ``closed`` says it reads only the deals closed
    in the period.
    """

    needs: tuple[str, ...]
    history: int = 0
    closed: bool = False


COHORTS: dict[str, Cohort] = {
    "sales_cycle": Cohort(("deals",), closed=True),
    "retention": Cohort(("deals",), history=HISTORY_MONTHS),
}
"""Registered cohort functions by name (``function:`` of a cohort KPI in ``kpis.yaml``)."""
