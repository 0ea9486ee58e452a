"""Reporting periods: months, quarters, years, year-to-date and trailing 12 months.

Periods are written ``2026-10`` (month), ``2026-Q4`` (quarter), ``2026`` (year),
``2026-10-YTD`` and ``2026-10-T12M``. The CLI also takes a range of months,
``2026-08..2026-10``. Internally a month is a :class:`pandas.Period` with
frequency ``M``; every period is a contiguous span of months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import pandas as pd

from salesreports.errors import ParamsError

__all__ = [
    "FEEDBACK_MONTHS",
    "GRAINS",
    "REPORT_GRAINS",
    "Period",
    "feedback_months",
    "month_range",
    "parse_period",
    "parse_periods",
    "report_period",
]

Grain = Literal["month", "quarter", "year", "ytd", "t12m"]
GRAINS: tuple[Grain, ...] = ("month", "quarter", "ytd", "t12m")
REPORT_GRAINS: tuple[Grain, ...] = ("month", "quarter", "year", "ytd")
"""The grains a scorecard can be run for: a month, a quarter (or one to date), a year (or one to date)."""
# the engine grain whose row at a period's last month holds the figure over the whole period: a quarter is
# the engine's quarter (to date) at its last month, a year its year to date at December
_KPI_GRAIN: dict[str, str] = {"month": "month", "quarter": "quarter", "year": "ytd", "ytd": "ytd", "t12m": "t12m"}
# months back to the previous period of each grain (the quarter before, the year before)
_STEP: dict[str, int] = {"month": 1, "quarter": 3, "year": 12, "ytd": 12, "t12m": 12}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_ROLL = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])-(YTD|T12M)$", re.IGNORECASE)
_QTD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])-QTD$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Period:
    """A contiguous span of months with a grain and a label."""

    start: pd.Period
    end: pd.Period
    grain: Grain

    @property
    def label(self) -> str:
        """The canonical label: 2026-10, 2026-Q4, 2026-11-QTD (a quarter to date), 2026, 2026-10-YTD, 2026-10-T12M."""
        if self.grain == "month":
            return str(self.end)
        if self.grain == "quarter":
            return f"{self.end}-QTD" if self.end.month % 3 else f"{self.end.year}-Q{self.end.quarter}"
        if self.grain == "year":
            return str(self.end.year)
        return f"{self.end}-{self.grain.upper()}"

    @property
    def title(self) -> str:
        """A human title: October 2026, Q4 2026, 2026, Jan–Oct 2026, Nov 2025 – Oct 2026."""
        end = self.end.to_timestamp()
        if self.grain == "month":
            return end.strftime("%B %Y")
        if self.grain == "quarter":
            return f"Q{self.end.quarter} {self.end.year}" + (f" to date ({self.span})" if self.end.month % 3 else "")
        if self.grain == "year":
            return str(self.end.year)
        start = self.start.to_timestamp()
        return f"{start.strftime('%b %Y')} – {end.strftime('%b %Y')}"

    @property
    def span(self) -> str:
        """Its months, short: Oct–Nov, Oct (one month), Jan–Dec."""
        first, last = self.start.strftime("%b"), self.end.strftime("%b")
        return first if self.start == self.end else f"{first}–{last}"

    @property
    def kpi_grain(self) -> str:
        """The engine grain whose row at :attr:`end` is the figure over the whole period (a year: ``ytd``)."""
        return _KPI_GRAIN[self.grain]

    @property
    def is_review(self) -> bool:
        """True for a quarter or a year (to date or whole): a review scorecard rather than a monthly one."""
        return self.grain in ("quarter", "year", "ytd")

    @property
    def months(self) -> list[pd.Period]:
        """Every month in the span, in order."""
        return list(pd.period_range(self.start, self.end, freq="M"))

    @cached_property  # pandas' end_time is slow (0.3 ms) and a plan asks for it per rep
    def first_day(self) -> pd.Timestamp:
        """Midnight of the first day."""
        return self.start.start_time.normalize()

    @cached_property  # pandas' end_time is slow (0.3 ms) and a plan asks for it per rep
    def last_day(self) -> pd.Timestamp:
        """Midnight of the last day."""
        return self.end.end_time.normalize()

    @property
    def days(self) -> int:
        """Number of days in the span."""
        return int((self.last_day - self.first_day).days) + 1

    def shifted(self, months: int) -> Period:
        """The same span ``months`` earlier (a quarter to date stays one: 2026-11-QTD -> 2026-08-QTD)."""
        return Period(self.start - months, self.end - months, self.grain)

    def previous(self) -> Period:
        """The period just before, "the last review": the month, quarter (the same months of it when to date)
        or year before; a year to date or trailing 12 months -> the same months a year earlier."""
        return self.shifted(_STEP[self.grain])

    def next(self) -> Period:
        """The whole period after this one, "the next review": the next month, the quarter after this quarter
        (to date or whole), the year after this year; a trailing 12 months -> the 12 months after it."""
        first = self.end + 1
        if self.grain == "quarter":
            start = pd.Period(f"{self.end.year}-{3 * self.end.quarter - 2:02d}", "M") + 3
            return Period(start, start + 2, "quarter")
        if self.grain in ("year", "ytd"):
            start = pd.Period(f"{self.end.year + 1}-01", "M")
            return Period(start, start + 11, "year")
        return Period(first, first + (_STEP[self.grain] - 1), self.grain)

    def last_year(self) -> Period:
        """The same period one year earlier."""
        return self.shifted(12)

    def __str__(self) -> str:
        return self.label


FEEDBACK_MONTHS = 6
"""The months of feedback a month's or a quarter's page looks back on."""


def feedback_months(period: Period) -> int:
    """The months of feedback a page of ``period`` shows (up to its last day): the last six, or the whole review
    period when it is longer (a year's review covers its twelve months, a year to date its months so far)."""
    return max(FEEDBACK_MONTHS, len(period.months)) if period.is_review else FEEDBACK_MONTHS


def of_grain(grain: Grain, end: pd.Period) -> Period:
    """The period of ``grain`` that ends in (or contains) month ``end``."""
    if grain == "month":
        return Period(end, end, "month")
    if grain == "quarter":
        q_end = pd.Period(year=end.year, month=end.quarter * 3, freq="M")
        return Period(q_end - 2, q_end, "quarter")
    if grain == "year":
        return Period(pd.Period(year=end.year, month=1, freq="M"), pd.Period(year=end.year, month=12, freq="M"), "year")
    if grain == "ytd":
        return Period(pd.Period(year=end.year, month=1, freq="M"), end, "ytd")
    return Period(end - 11, end, "t12m")


def parse_period(text: str) -> Period:
    """Parse one period label.

    Raises
    ------
    ParamsError
        The text is not a period; the message shows the accepted forms.
    """
    t = str(text).strip()
    if m := _MONTH.match(t):
        month = pd.Period(year=int(m.group(1)), month=int(m.group(2)), freq="M")
        return Period(month, month, "month")
    if m := _QUARTER.match(t):
        return of_grain("quarter", pd.Period(year=int(m.group(1)), month=int(m.group(2)) * 3, freq="M"))
    if m := _YEAR.match(t):
        return of_grain("year", pd.Period(year=int(m.group(1)), month=12, freq="M"))
    if m := _QTD.match(t):
        end = pd.Period(year=int(m.group(1)), month=int(m.group(2)), freq="M")
        return Period(of_grain("quarter", end).start, end, "quarter")
    if m := _ROLL.match(t):
        end = pd.Period(year=int(m.group(1)), month=int(m.group(2)), freq="M")
        return of_grain("ytd" if m.group(3).upper() == "YTD" else "t12m", end)
    msg = (
        f"'{text}' is not a period. Write a month 2026-10, a quarter 2026-Q4, a year 2026, "
        "2026-10-YTD, 2026-10-T12M, a quarter to date 2026-11-QTD, or a range of months 2026-08..2026-10."
    )
    raise ParamsError(msg, value=text)


def report_period(period: Period, first: pd.Period, last: pd.Period) -> Period:
    """Check that a scorecard can be made for ``period`` from data covering months ``first`` to ``last``.

    A quarter or year the data has not finished is refused, never shown as if whole: the message names the
    period to date to pass instead (2026-11-QTD, "Q4 2026 to date (Oct–Nov)").

    Raises
    ------
    ParamsError
        A trailing 12 months, a period ending after the data or before it starts.
    """
    if period.grain not in REPORT_GRAINS:
        msg = (
            f"'{period.label}' ({period.title}) is not a report period. Fix: pass a month 2026-10, a quarter "
            "2026-Q4, a year 2026, or a quarter or year to date 2026-11-QTD, 2026-11-YTD."
        )
        raise ParamsError(msg, period=period.label)
    if period.end > last and period.start <= last and period.grain in ("quarter", "year"):
        to_date = Period(period.start, last, "quarter" if period.grain == "quarter" else "ytd")
        msg = (
            f"{period.title} is not over in the data: it ends in {last.strftime('%B %Y')}. A partial "
            f"{period.grain} is not shown as a whole one. Fix: pass --period {to_date.label} for "
            f"{to_date.title if period.grain == 'quarter' else f'{period.end.year} to date ({to_date.span})'}, "
            f"or a {period.grain} the data covers."
        )
        raise ParamsError(msg, period=period.label)
    if not first <= period.end <= last:
        msg = (
            f"there is no data for {period.title}: the data covers {first} to {last}. "
            f"Fix: pass a period in that range, e.g. --period {last}."
        )
        raise ParamsError(msg, period=period.label)
    return period


def month_range(first: str, last: str) -> list[Period]:
    """Every month from ``first`` to ``last`` as month periods."""
    a, b = parse_period(first), parse_period(last)
    if a.grain != "month" or b.grain != "month" or b.end < a.end:
        msg = f"'{first}..{last}' is not a range of months in order. Fix: write e.g. 2026-08..2026-10."
        raise ParamsError(msg, value=f"{first}..{last}")
    return [Period(m, m, "month") for m in pd.period_range(a.end, b.end, freq="M")]


def parse_periods(text: str) -> list[Period]:
    """Parse a comma-separated list of periods and month ranges."""
    out: list[Period] = []
    for part in str(text).split(","):
        part = part.strip()
        if ".." in part:
            first, last = part.split("..", 1)
            out.extend(month_range(first, last))
        elif part:
            out.append(parse_period(part))
    if not out:
        raise ParamsError("no period given. Fix: pass e.g. --period 2026-10.", value=text)
    return out


def activity_weeks_start(last_day: pd.Timestamp) -> pd.Timestamp:
    """The first day of a page's activity weeks: the Monday 11 weeks before the week of ``last_day`` (12 weeks
    by their Mondays, the last one ending on the period's last day; never a first week with a day or two in it)."""
    return last_day.normalize() - pd.Timedelta(days=last_day.weekday()) - pd.Timedelta(weeks=11)
