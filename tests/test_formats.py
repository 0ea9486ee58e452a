"""salesreports.metrics.formats: every figure in a locale, against hand-written expectations (CLDR via Babel).

Spaces: German and French put a no-break space (U+00A0) between number and € or %; French groups thousands
with a narrow no-break space (U+202F). They are written as escapes below so that the expectations show them.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesreports.metrics.formats import DEFAULT, Formatter, formatter
from salesreports.metrics.kpis import format_value, get
from salesreports.metrics.periods import parse_period

NB = "\u00a0"  # no-break space
NNB = "\u202f"  # narrow no-break space (French thousands)

DE = formatter("de_DE", "EUR")
FR = formatter("fr_FR", "EUR")
US = formatter("en_US", "USD")
JA = formatter("ja_JP", "JPY")


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (US, 12345.4, "$12,345"),
        (US, -5.0, "-$5"),
        (US, 12_500_000, "$12.5M"),
        (US, 10_000_000, "$10.0M"),
        (DE, 12345.4, f"12.345{NB}€"),
        (DE, -1234.5, f"-1.234{NB}€"),  # whole euros; 1234.5 rounds to even like Python's f"{v:.0f}"
        (DE, 12_500_000, f"12,5{NB}Mio.{NB}€"),
        (FR, 12345.4, f"12{NNB}345{NB}€"),
        (FR, -5.0, f"-5{NB}€"),
        (FR, 12_500_000, f"12,5{NB}M{NB}€"),
        (JA, 12345.6, "￥12,346"),
        (JA, -12345.0, "-￥12,345"),
        (JA, 12_500_000, "￥1,250万"),
    ],
)
def test_amounts(f: Formatter, value: float, expected: str) -> None:
    assert f.value(value, "currency") == expected


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (US, 12345.6, "$12,345.60"),
        (DE, 12345.6, f"12.345,60{NB}€"),
        (FR, -12345.6, f"-12{NNB}345,60{NB}€"),
        (JA, 12345.6, "￥12,346"),  # the yen has no decimals (CLDR)
        (formatter("en_GB", "GBP"), 12345.6, "£12,345.60"),
    ],
)
def test_money_has_the_currencys_decimals(f: Formatter, value: float, expected: str) -> None:
    assert f.money(value) == expected


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (DE, f"1,2{NB}Mio.{NB}€"),
        (FR, f"1,2{NB}M{NB}€"),
        (US, "$1.2M"),
        (JA, "￥120万"),
        (formatter("es_ES", "EUR"), f"1,2{NB}M{NB}€"),
    ],
)
def test_compact_amounts(f: Formatter, expected: str) -> None:
    assert f.compact_amount(1_200_000) == expected


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (US, 0.345, "34.5%"),
        (US, 12.345, "1234.5%"),  # no grouping, as before
        (DE, 0.345, f"34,5{NB}%"),
        (FR, 0.345, f"34,5{NB}%"),
        (JA, 0.345, "34.5%"),
        (DE, -0.05, f"-5,0{NB}%"),
    ],
)
def test_percentages(f: Formatter, value: float, expected: str) -> None:
    assert f.value(value, "percent") == expected


@pytest.mark.parametrize(
    ("f", "delta", "expected"),
    [
        (US, 0.03, "+3.0 pts"),
        (US, -0.03, "−3.0 pts"),
        (US, 0.0, "±0.0 pts"),
        (Formatter("de_DE", "EUR", translate=lambda t: {"pts": "Pp."}.get(t, t)), 0.031, "+3,1 Pp."),
        (FR, -0.031, "−3,1 pts"),
        (JA, 0.03, "+3.0 pts"),  # a language without a catalog: the English abbreviation
    ],
)
def test_percentage_points(f: Formatter, delta: float, expected: str) -> None:
    assert f.points(delta) == expected
    assert f.delta(delta, "percent") == expected


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (US, ["1,234,567", "45 days", "1 day", "1.25×", "12.5/wk"]),
        (DE, ["1.234.567", "45 Tage", "1 Tag", "1,25×", "12,5/W"]),
        (FR, [f"1{NNB}234{NNB}567", f"45{NB}jours", f"1{NB}jour", "1,25×", "12,5/sem."]),
        (JA, ["1,234,567", "45 日", "1 日", "1.25×", "12.5/週"]),
    ],
)
def test_counts_days_ratios_rates(f: Formatter, expected: list[str]) -> None:
    got = [f.value(1234567, "count"), f.value(45.2, "days"), f.value(1, "days"), f.value(1.25, "ratio")]
    assert [*got, f.value(12.5, "per_week")] == expected


@pytest.mark.parametrize(
    ("f", "weeks"),
    [
        (US, ["1 week", "2 weeks"]),
        (DE, ["1 Woche", "2 Wochen"]),
        (FR, [f"1{NB}semaine", f"2{NB}semaines"]),
        (JA, ["1 週間", "2 週間"]),
    ],
)
def test_weeks_have_plurals(f: Formatter, weeks: list[str]) -> None:
    assert [f.weeks(1), f.weeks(2)] == weeks


@pytest.mark.parametrize(
    ("f", "date", "month", "short", "quarter", "ytd"),
    [
        (US, "5 Oct 2026", "October 2026", "Oct 2026", "Q3 2026", "Jan 2026 – Oct 2026"),
        (DE, "5. Okt. 2026", "Oktober 2026", "Okt. 2026", "Q3 2026", "Jan. 2026 – Okt. 2026"),
        (FR, "5 oct. 2026", "octobre 2026", "oct. 2026", "T3 2026", "janv. 2026 – oct. 2026"),
        (JA, "2026年10月5日", "2026年10月", "2026年10月", "2026/Q3", "2026年1月 – 2026年10月"),
    ],
)
def test_dates_months_and_period_titles(
    f: Formatter, date: str, month: str, short: str, quarter: str, ytd: str
) -> None:
    assert f.date(dt.date(2026, 10, 5)) == date
    assert f.month(pd.Period("2026-10", "M")) == month
    assert f.month_short("2026-10") == short
    assert f.period_title(parse_period("2026-10")) == month
    assert f.period_title(parse_period("2026-Q3")) == quarter
    assert f.period_title(parse_period("2026")) == "2026"
    assert f.period_title(parse_period("2026-10-YTD")) == ytd


def test_german_quarter_to_date_names_its_months() -> None:
    assert DE.period_title(parse_period("2026-11-QTD")) == "Q4 2026 bis heute (Okt–Nov)"  # the German catalog


@pytest.mark.parametrize("f", [DE, FR, US, JA])
def test_not_available_is_never_a_formatted_zero(f: Formatter) -> None:
    """A missing value reads "not available" in the formatter's language (the shipped catalogs), never 0."""
    said = {"de_DE": "nicht verfügbar", "fr_FR": "non disponible"}.get(f.locale, "not available")
    for fmt in ("currency", "percent", "count", "days", "per_week", "ratio"):
        assert f.value(None, fmt) == said
        assert f.value(float("nan"), fmt) == said


@pytest.mark.parametrize(
    "label",
    ["2026-10", "2026-01", "2025-09", "2026-Q1", "2026-Q4", "2026-11-QTD", "2026", "2026-10-YTD", "2026-03-T12M"],
)
def test_en_us_period_titles_are_the_periods_own(label: str) -> None:
    period = parse_period(label)
    assert DEFAULT.period_title(period) == period.title
    assert DEFAULT.span(period) == period.span


@pytest.mark.parametrize(
    "value", [0.0, -0.4, 0.5, 1.0, 1.5, 2.5, 2.675, 999.5, 12_345.4, 9_999_999.6, 10_000_000.0, 123_456_789.0, -3e9]
)
@pytest.mark.parametrize("fmt", ["currency", "percent", "count", "days", "per_week", "ratio"])
def test_en_us_reproduces_the_formats_before_locales(value: float, fmt: str) -> None:
    """The hand-written formatter that the locale-aware one replaced, kept here as the reference."""

    def before(v: float, fmt: str, currency: str = "$") -> str:
        if fmt == "currency":
            sign = "-" if v < 0 else ""
            v = abs(v)
            if v >= 10_000_000:
                return f"{sign}{currency}{v / 1_000_000:,.1f}M"
            return f"{sign}{currency}{v:,.0f}"
        if fmt == "percent":
            return f"{v * 100:.1f}%"
        if fmt == "count":
            return f"{v:,.0f}"
        if fmt == "days":
            return f"{v:,.0f} days" if abs(v) != 1 else "1 day"
        if fmt == "per_week":
            return f"{v:,.1f}/wk"
        return f"{v:,.2f}×"

    assert format_value(value, fmt) == before(value, fmt)
    assert format_value(value, fmt, "€") == before(value, fmt, "€")
    assert DEFAULT.value(value, fmt) == before(value, fmt)


def test_a_kpi_formats_with_a_formatter_or_a_symbol() -> None:
    assert get("revenue").format_value(1500, currency="€") == "€1,500"  # the call from before locales
    assert get("revenue").format_value(1500, currency=DE) == f"1.500{NB}€"
    assert format_value(1500, "currency", "kr") == "kr1,500"  # an old symbol that is no ISO code: as written


def test_a_formatter_carries_a_translation_hook_for_the_words_around_figures() -> None:
    german = Formatter("de_DE", "EUR", translate=lambda t: {" to date ({span})": " bis heute ({span})"}.get(t, t))
    assert german.period_title(parse_period("2026-11-QTD")) == "Q4 2026 bis heute (Okt–Nov)"
    assert german == DE  # the hook is not part of its identity


@pytest.mark.parametrize(
    ("given", "locale"), [("de-DE", "de_DE"), ("de_de", "de_DE"), ("fr", "fr"), ("ja_JP", "ja_JP")]
)
def test_locale_ids_are_normalised(given: str, locale: str) -> None:
    assert Formatter(given, "EUR").locale == locale


def test_an_unknown_locale_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown locale 'de_DF'\. Did you mean 'de_DE'"):
        Formatter("de_DF", "EUR")


def test_d3_locales_for_charts() -> None:
    number = DE.d3_number_locale()
    assert (number["decimal"], number["thousands"], number["currency"]) == (",", ".", ["", f"{NB}€"])
    assert US.d3_number_locale()["currency"] == ["$", ""]
    time = DE.d3_time_locale()
    assert time["months"][9] == "Oktober" and time["shortMonths"][9] == "Okt"
    assert time["days"][0] == "Sonntag"  # d3 starts the week on Sunday


@pytest.mark.parametrize("value", [0.5, 1.0, 1.5, 2.0, 1.25, 0.125])
def test_multiples_read_as_before_in_en_us_and_with_a_comma_in_german(value: float) -> None:
    assert US.multiple(value) == f"{value:g}"
    assert DE.multiple(value) == f"{value:g}".replace(".", ",")
