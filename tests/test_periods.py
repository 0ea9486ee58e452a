from __future__ import annotations

import pandas as pd
import pytest

from salesreports.errors import ParamsError
from salesreports.metrics.periods import parse_period, parse_periods, report_period


@pytest.mark.parametrize(
    ("text", "label", "title", "days", "months"),
    [
        ("2026-10", "2026-10", "October 2026", 31, 1),
        ("2026-Q4", "2026-Q4", "Q4 2026", 92, 3),
        ("2026-q1", "2026-Q1", "Q1 2026", 90, 3),
        ("2024", "2024", "2024", 366, 12),
        ("2026-10-YTD", "2026-10-YTD", "Jan 2026 – Oct 2026", 304, 10),
        ("2026-02-T12M", "2026-02-T12M", "Mar 2025 – Feb 2026", 365, 12),
    ],
)
def test_parse(text: str, label: str, title: str, days: int, months: int) -> None:
    p = parse_period(text)
    assert (p.label, p.title, p.days, len(p.months)) == (label, title, days, months)


def test_previous_and_last_year() -> None:
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026-03").last_year().label == "2025-03"


def test_ranges_and_lists() -> None:
    assert [p.label for p in parse_periods("2026-08..2026-10, 2026-Q1")] == ["2026-08", "2026-09", "2026-10", "2026-Q1"]


@pytest.mark.parametrize("bad", ["2026-13", "Oct 2026", "2026-10..2026-08", "", "2026-Q5"])
def test_bad_periods_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(ParamsError, match=r"2026-10|range of months|no period"):
        parse_periods(bad)


@pytest.mark.parametrize(
    ("label", "months", "title"),
    [
        ("2024-04-QTD", ["2024-04"], "Q2 2024 to date (Apr)"),
        ("2026-11-QTD", ["2026-10", "2026-11"], "Q4 2026 to date (Oct–Nov)"),
    ],
)
def test_quarter_to_date_labels_parse_back(label: str, months: list[str], title: str) -> None:
    """The engine labels a quarter's rows before its last month YYYY-MM-QTD: every label it writes parses."""
    period = parse_period(label)
    assert period.label == label
    assert [str(m) for m in period.months] == months
    assert period.title == title
    assert parse_period("2026-12-qtd").label == "2026-Q4"  # the quarter's last month is the whole quarter


@pytest.mark.parametrize(
    ("text", "kpi_grain", "previous", "last_year", "review"),
    [
        ("2026-10", "month", "2026-09", "2025-10", False),
        ("2026-Q3", "quarter", "2026-Q2", "2025-Q3", True),
        ("2026-Q1", "quarter", "2025-Q4", "2025-Q1", True),
        ("2026", "ytd", "2025", "2025", True),  # a year's figures are the engine's year to date at December
        ("2026-11-QTD", "quarter", "2026-08-QTD", "2025-11-QTD", True),  # the same months, not a whole quarter
        ("2026-10-YTD", "ytd", "2025-10-YTD", "2025-10-YTD", True),
    ],
)
def test_review_periods_know_their_grain_and_the_last_review(
    text: str, kpi_grain: str, previous: str, last_year: str, review: bool
) -> None:
    period = parse_period(text)
    assert (period.kpi_grain, period.previous().label, period.last_year().label) == (kpi_grain, previous, last_year)
    assert period.is_review is review
    for label in (period.label, period.previous().label, period.last_year().label):  # every label written parses
        assert parse_period(label) == parse_period(label.lower())


def test_report_periods_cover_the_data_or_are_refused_with_the_period_to_date() -> None:
    first, last = pd.Period("2025-01", "M"), pd.Period("2026-11", "M")
    for text in ("2026-10", "2026-Q3", "2025", "2026-11-QTD", "2026-11-YTD"):
        assert report_period(parse_period(text), first, last).label == text
    with pytest.raises(ParamsError, match=r"Q4 2026 is not over in the data: it ends in November 2026") as err:
        report_period(parse_period("2026-Q4"), first, last)
    assert "--period 2026-11-QTD for Q4 2026 to date (Oct–Nov)" in str(err.value)
    with pytest.raises(ParamsError, match=r"--period 2026-11-YTD for 2026 to date \(Jan–Nov\)"):
        report_period(parse_period("2026"), first, last)
    with pytest.raises(ParamsError, match="not a report period"):
        report_period(parse_period("2026-10-T12M"), first, last)
    with pytest.raises(ParamsError, match="no data for Q1 2027"):
        report_period(parse_period("2027-Q1"), first, last)


@pytest.mark.parametrize(
    ("label", "following"),
    [
        ("2026-Q3", "2026-Q4"),
        ("2026-Q4", "2027-Q1"),
        ("2026-11-QTD", "2027-Q1"),  # a quarter to date: the whole quarter after its quarter
        ("2025", "2026"),
        ("2026-11-YTD", "2027"),
        ("2026-12", "2027-01"),
    ],
)
def test_next_is_the_whole_period_after(label: str, following: str) -> None:
    nxt = parse_period(label).next()
    assert nxt.label == following
    assert parse_period(nxt.label) == nxt  # its label parses back
