"""Numbers, amounts, percentages, dates, months and period titles for people, in a locale (Babel, CLDR).

One :class:`Formatter` carries a locale and an ISO 4217 currency and writes every figure a report shows:
the KPI formats of ``kpis.yaml`` (:meth:`Formatter.value`), amounts, compact amounts, percentages and
percentage points, counts, days and weeks (CLDR plural rules), dates, months and period titles. It is passed
down (never a module global), so that a rep's scorecard can use the rep's locale while the company's index
uses the company's, and so that a later translation layer (gettext) can hang off the same object.

The house style is the same in every locale; CLDR decides everything a locale decides:

- amounts are whole currency units (``$12,345``, ``12.345 €``, ``￥12,345``); :meth:`Formatter.money` has the
  currency's own decimals (``12.345,60 €``, JPY none). From 10 million on, an amount is written in millions
  with one decimal (``$12.5M``, ``12,5 Mio. €``), the locale's compact pattern placing unit and currency;
- percentages have one decimal (``34.5%``, ``34,5 %``), differences of percentages are percentage points;
- ``en_US`` reproduces the pages written before locales existed exactly: where CLDR's default differs
  (``$12,345.00``, ``$12M``, ``12.5/w``), an explicit pattern says so below.

Numbers are rounded by Python's float formatting first (``f"{v:.1f}"``) and only then laid out by Babel, so a
figure rounds the same in every locale and as it did before (Babel alone would round ``2.675`` up).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any, Final, Protocol

from babel import Locale, UnknownLocaleError, dates, numbers, units

from salesreports import i18n
from salesreports.errors import InternalError
from salesreports.i18n import N_, translations
from salesreports.params import DEFAULT_CURRENCY, DEFAULT_LOCALE, LEGACY_CURRENCY_SYMBOLS, check_locale

__all__ = ["DEFAULT", "NOT_AVAILABLE", "TO_DATE", "Formatter", "PeriodLike", "formatter"]

NOT_AVAILABLE: Final = N_("not available")
COMPACT_FROM: Final = 10_000_000
"""Amounts from this size on are written in millions (``$12.5M``)."""

# en_US: the texts of the pages written before locales (CLDR's own en_US default differs where noted)
_EN_US: Final = "en_US"
_PER_WEEK_EN_US: Final = "{0}/wk"  # CLDR en short: "{0}/w"
_DATE_EN_US: Final = "d MMM y"  # "5 Oct 2026"; CLDR en_US medium: "Oct 5, 2026"
# TRANSLATORS: the abbreviation of "percentage points" after a signed difference ("+3.0 pts", German "Pp.")
_POINTS: Final = N_("pts")
"""Percentage points after a signed difference; CLDR has no unit for them: the catalog of the locale's language
abbreviates them (a language without a catalog reads the English abbreviation)."""
# TRANSLATORS: after a quarter's title when the quarter is not over ("Q4 2026 to date (Oct–Nov)")
_TO_DATE_SPAN: Final = N_(" to date ({span})")
# TRANSLATORS: after a quarter's title when the quarter is not over ("Q4 2026 to date")
TO_DATE: Final = N_(" to date")


_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ENGLISH_MONTH: Final = re.compile(rf"\b({'|'.join(_MONTHS)}) (\d{{4}})\b")
"""A month title as the engine writes it into a reason (``strftime("%B %Y")``: "May 2018")."""


class PeriodLike(Protocol):
    """What a period title needs (:class:`salesreports.metrics.periods.Period` is one)."""

    @property
    def start(self) -> Any: ...  # a pandas monthly Period

    @property
    def end(self) -> Any: ...

    @property
    def grain(self) -> str: ...


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Formatter:
    """Everything a report writes as a number or date, in one locale and currency.

    Parameters
    ----------
    locale
        A CLDR locale id, ``de_DE`` (``de-DE`` and ``de`` are accepted too).
    currency
        An ISO 4217 code, ``EUR``; one of the old symbols (``$``, ``€``, ``£``, ``¥``) stands for its code.
        Any other text is written as it is before the number (the old ``currency:`` behaviour).
    translate
        The translation of the words around figures ("to date", "not available"): by default the gettext
        catalog of the locale's language (:func:`salesreports.i18n.translations`), English as written.

    Raises
    ------
    ValueError
        An unknown locale, with close matches (the settings check the same way, naming the setting).
    """

    locale: str = DEFAULT_LOCALE
    currency: str = DEFAULT_CURRENCY
    translate: Callable[[str], str] = field(default=_identity, compare=False, repr=False)  # _identity: the catalog

    def __post_init__(self) -> None:
        object.__setattr__(self, "locale", check_locale(self.locale))
        if self.translate is _identity:
            object.__setattr__(self, "translate", translations(self.locale).gettext)
        code = LEGACY_CURRENCY_SYMBOLS.get(self.currency.strip(), self.currency.strip().upper())
        object.__setattr__(self, "currency", code if code in _codes() else self.currency)

    # -- the KPI formats --------------------------------------------------------------------------------------

    def value(self, value: float | None, fmt: str) -> str:
        """A value in a KPI format (currency, percent, count, days, per_week, ratio); missing: "not available"."""
        if _missing(value):
            return self.translate(NOT_AVAILABLE)
        assert value is not None
        v = float(value)
        if fmt == "currency":
            return self.amount(v)
        if fmt == "percent":
            return self.percent(v)
        if fmt == "count":
            return self.count(v)
        if fmt == "days":
            return self.days(v)
        if fmt == "per_week":
            return self.per_week(v)
        return self.ratio(v)

    def amount(self, value: float) -> str:
        """Whole currency units, ``$12,345`` / ``12.345 €`` / ``-$5``; from 10 million on in millions."""
        if abs(value) >= COMPACT_FROM:
            return self.compact_amount(value)
        return self._currency(_round(value, 0), self._standard_pattern(0))

    def money(self, value: float) -> str:
        """An amount with the currency's own decimals (CLDR): ``$12,345.60``, ``12.345,60 €``, ``￥12,346``."""
        digits = numbers.get_currency_precision(self.currency) if self.currency in _codes() else 2
        return self._currency(_round(value, digits), self._standard_pattern(digits))

    def compact_amount(self, value: float) -> str:
        """An amount in millions with one decimal: ``$12.5M``, ``12,5 Mio. €``, ``1,2 M €`` (Japanese: 万)."""
        pattern = self._locale.compact_currency_formats["short"]["other"]["1000000"].pattern
        head, zeros, tail = re.match(r"^([^0]*)(0+)(.*)$", pattern).groups()  # type: ignore[union-attr]
        divisor = 1_000_000 // 10 ** (len(zeros) - 1)  # "000万": the number counts ten-thousands
        decimals = 1 if divisor == 1_000_000 else 0
        number = "#,##0" + ("." + "0" * decimals if decimals else "")
        if "¤" not in pattern:  # a locale without a compact currency pattern: currency after the number
            tail += "\xa0¤"
        return self._currency(_round(value / divisor, decimals), head + number + tail)

    def percent(self, value: float, decimals: int = 1) -> str:
        """A fraction as a percentage, one decimal by default: ``34.5%``, ``34,5 %``; no thousands grouping (as
        the pages wrote them before locales)."""
        pattern = _with_decimals(self._locale.percent_formats[None].pattern, decimals)
        number = _round(value * 100, decimals) / 100
        return numbers.format_percent(number, _pattern(pattern), locale=self._locale, group_separator=False)

    def points(self, delta: float) -> str:
        """A signed difference of two percentages in percentage points: ``+3.0 pts``, ``−3,0 Pp.``, ``±0.0 pts``."""
        number = numbers.format_decimal(
            _round(abs(delta) * 100, 1), _pattern("0.0"), locale=self._locale
        )  # no grouping, as before: "+1234.5 pts"
        return f"{_sign(delta)}{number} {self.translate(_POINTS)}"

    def count(self, value: float) -> str:
        """A whole number with the locale's grouping: ``1,234``, ``1.234``, ``1 234``."""
        return self.number(value, 0)

    def number(self, value: float, decimals: int) -> str:
        """A number with ``decimals`` decimals and the locale's separators."""
        pattern = _pattern(_decimal_pattern(decimals))
        return numbers.format_decimal(_round(value, decimals), pattern, locale=self._locale)

    def multiple(self, value: float) -> str:
        """A short multiple as Python's ``:g`` writes it, in the locale: ``1.5`` / ``1,5``, ``2`` (rates)."""
        return numbers.format_decimal(Decimal(f"{float(value):g}"), _pattern("0.######"), locale=self._locale)

    def days(self, value: float) -> str:
        """Whole days with the locale's plural: ``45 days``, ``1 day``, ``45 Tage``, ``1 jour``."""
        return self._unit(value, "duration-day")

    def weeks(self, value: float) -> str:
        """Whole weeks with the locale's plural: ``3 weeks``, ``1 Woche``."""
        return self._unit(value, "duration-week")

    def per_week(self, value: float) -> str:
        """A rate per week with one decimal: ``12.5/wk``, ``12,5/W``."""
        if self.locale == _EN_US:
            return _PER_WEEK_EN_US.format(self.number(value, 1))
        text = units.format_compound_unit(
            _round(value, 1),
            denominator_unit="duration-week",
            length="short",
            format=_decimal_pattern(1),
            locale=self._locale,
        )
        return text or f"{self.number(value, 1)}/wk"

    def ratio(self, value: float) -> str:
        """A multiple with two decimals: ``1.25×``, ``1,25×``."""
        return self.number(value, 2) + "×"

    def delta(self, delta: float, fmt: str) -> str:
        """A signed change in a KPI format: ``+$1,200``, ``−6 days``, ``±$0``; percentages in points."""
        if fmt == "percent":
            return self.points(delta)
        return _sign(delta) + self.value(abs(delta), fmt)

    # -- dates and periods -----------------------------------------------------------------------------------

    def date(self, day: dt.date) -> str:
        """A day: ``5 Oct 2026``, ``5. Okt. 2026``, ``5 oct. 2026``, ``2026年10月5日``."""
        if self.locale == _EN_US:
            return dates.format_date(day, _DATE_EN_US, locale=self._locale)
        return dates.format_skeleton("yMMMd", day, locale=self._locale)

    def day_month(self, day: dt.date) -> str:
        """A day without its year (week labels): ``5 Oct``, ``5. Okt.``, ``5 oct.``, ``10月5日``."""
        if self.locale == _EN_US:
            return dates.format_date(day, "d MMM", locale=self._locale)
        return dates.format_skeleton("MMMd", day, locale=self._locale)

    def month(self, month: Any) -> str:
        """A month with its year: ``October 2026``, ``Oktober 2026``, ``octobre 2026``, ``2026年10月``."""
        return dates.format_skeleton("yMMMM", _first_day(month), locale=self._locale)

    def month_short(self, month: Any) -> str:
        """A month, abbreviated, with its year: ``Oct 2026``, ``Okt. 2026``, ``oct. 2026``."""
        return dates.format_skeleton("yMMM", _first_day(month), locale=self._locale)

    def month_iso_or_short(self, month: str) -> str:
        """A ``YYYY-MM`` month named in a page's text (a goal's deadline, a chart's alt text): as it is on an
        en_US page (the pages before locales), else the locale's short month (``Okt. 2026``). Other text is
        returned as it is."""
        if self.locale == DEFAULT_LOCALE or not re.fullmatch(r"\d{4}-\d{2}", month.strip()):
            return month
        return self.month_short(month.strip())

    def month_wide(self, month: Any) -> str:
        """A month's full name on its own: ``October``, ``Oktober``, ``octobre``, ``10月``."""
        return dates.format_skeleton("MMMM", _first_day(month), locale=self._locale)

    def month_name(self, month: Any) -> str:
        """A month's abbreviated name on its own (axis labels): ``Oct``, ``Okt``, ``oct.``, ``10月``."""
        return dates.format_skeleton("MMM", _first_day(month), locale=self._locale)

    def quarter(self, month: Any) -> str:
        """The quarter holding a month, with its year, as CLDR writes it: ``Q3 2026``, ``T3 2026``, ``2026/Q3``."""
        return dates.format_skeleton("yQQQ", _first_day(month), locale=self._locale)

    def span(self, period: PeriodLike) -> str:
        """A period's months, short: ``Oct–Nov``, ``Oct`` (one month)."""
        first, last = self.month_name(period.start), self.month_name(period.end)
        return first if period.start == period.end else f"{first}–{last}"

    def period_title(self, period: PeriodLike) -> str:
        """A period's title: ``October 2026``, ``Q4 2026``, ``2026``, ``Jan 2026 – Oct 2026``; en_US reads exactly
        as :attr:`salesreports.metrics.periods.Period.title`."""
        if period.grain == "month":
            return self.month(period.end)
        if period.grain == "quarter":
            to_date = period.end.month % 3
            return self.quarter(period.end) + (
                self.translate(_TO_DATE_SPAN).format(span=self.span(period)) if to_date else ""
            )
        if period.grain == "year":
            return str(period.end.year)
        return f"{self.month_short(period.start)} – {self.month_short(period.end)}"

    # -- stored texts ----------------------------------------------------------------------------------------

    def reason(self, text: str) -> str:
        """A text stored in English once for every reader (the engine's and the capabilities' reasons, a goal's
        note) in the active language (:func:`salesreports.i18n.retranslate`), the English month titles it names
        ("the leads data ends in May 2018") then written in this locale ("Mai 2018"). A text without a
        translation (English, a language without a catalog) stays as stored, months too."""
        translated = i18n.retranslate(text)
        if translated == text:
            return text
        return _ENGLISH_MONTH.sub(
            lambda m: self.month(dt.date(int(m.group(2)), _MONTHS.index(m.group(1)) + 1, 1)), translated
        )

    # -- charts ----------------------------------------------------------------------------------------------

    def d3_number_locale(self) -> dict[str, Any]:
        """The locale of d3-format (Vega's ``config.locale.number``): separators and the currency's place."""
        symbols = self._locale.number_symbols["latn"]
        pattern = self._standard_pattern(0)
        symbol = self._symbol()
        before, _, after = pattern.partition("#,##0")
        return {
            "decimal": symbols["decimal"],
            "thousands": symbols["group"],
            "grouping": [3],
            "currency": [before.replace("¤", symbol), after.replace("¤", symbol)],
            "minus": symbols["minusSign"],
            "percent": pattern_percent(self._locale),
        }

    def d3_time_locale(self) -> dict[str, Any]:
        """The locale of d3-time-format (Vega's ``config.locale.time``): month and day names."""
        loc = self._locale
        days = [loc.days["format"]["wide"][(i - 1) % 7] for i in range(7)]  # d3: Sunday first; CLDR: Monday = 0
        short_days = [loc.days["format"]["abbreviated"][(i - 1) % 7] for i in range(7)]
        return {
            "dateTime": "%x, %X",
            "date": _d3_date(loc.date_formats["short"].pattern),
            "time": "%H:%M:%S",
            "periods": [_period_name(loc, p) for p in ("am", "pm")],
            "days": days,
            "shortDays": short_days,
            "months": [loc.months["format"]["wide"][m] for m in range(1, 13)],
            "shortMonths": [loc.months["stand-alone"]["abbreviated"][m] for m in range(1, 13)],
        }

    @property
    def is_default(self) -> bool:
        """True for en_US and US dollars: the pages as they were before locales."""
        return self.locale == DEFAULT_LOCALE and self.currency == DEFAULT_CURRENCY

    # -- helpers ---------------------------------------------------------------------------------------------

    @property
    def _locale(self) -> Locale:
        return _babel_locale(self.locale)

    def _standard_pattern(self, decimals: int) -> str:
        """The locale's currency pattern with ``decimals`` decimals (en_US whole dollars: ``¤#,##0``)."""
        return _with_decimals(self._locale.currency_formats["standard"].pattern.split(";")[0], decimals)

    def _symbol(self) -> str:
        if self.currency in _codes():
            return numbers.get_currency_symbol(self.currency, locale=self._locale)
        return self.currency

    def _currency(self, number: Decimal, pattern: str) -> str:
        if self.currency not in _codes():  # an old symbol that is no ISO code ("kr"): written as it is
            pattern = pattern.replace("¤", "'" + self.currency.replace("'", "''") + "'")
            return numbers.format_decimal(number, _pattern(pattern), locale=self._locale, decimal_quantization=False)
        return numbers.format_currency(
            number,
            self.currency,
            _pattern(pattern),
            locale=self._locale,
            currency_digits=False,
            decimal_quantization=False,
        )

    def _unit(self, value: float, unit: str) -> str:
        rounded = _round(value, 0)
        if self.locale == _EN_US:  # as before: "1 day" for exactly one, else "days" (also "1 days" for 1.4)
            text = numbers.format_decimal(rounded, _pattern("#,##0"), locale=self._locale)
            name = unit.split("-")[1]
            return f"1 {name}" if abs(value) == 1 else f"{text} {name}s"
        return units.format_unit(rounded, unit, length="long", format="#,##0", locale=self._locale)


def pattern_percent(locale: Locale) -> str:
    """The percent sign of d3's locale: the sign with the locale's space before it (``"\\u00a0%"`` in German)."""
    pattern = locale.percent_formats[None].pattern
    return pattern[pattern.rindex("0") + 1 :] or "%"


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError) as exc:  # check_locale has accepted it: our own bug
        msg = f"Babel cannot load the locale {locale!r} that the settings check accepted: {exc}"
        raise InternalError(msg) from exc


@cache
def _codes() -> frozenset[str]:
    return frozenset(numbers.list_currencies())


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _round(value: float, decimals: int) -> Decimal:
    """``value`` rounded as Python's float formatting rounds it (``f"{v:.2f}"``), as a Decimal."""
    return Decimal(f"{float(value):.{decimals}f}")


def _decimal_pattern(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


@cache
def _pattern(pattern: str) -> numbers.NumberPattern:
    """A CLDR number pattern parsed once: Babel parses a pattern given as text on every call (a tenth of the time
    of formatting a number), and uses a parsed one as it is."""
    return numbers.parse_pattern(pattern)


@cache
def _with_decimals(pattern: str, decimals: int) -> str:
    """A CLDR number pattern with exactly ``decimals`` decimals (``#,##0.00 ¤`` -> ``#,##0 ¤`` for 0)."""
    number = re.search(r"[#,0]+(\.[0#]+)?", pattern)
    assert number, pattern
    integer = number.group(0).split(".")[0]
    replaced = integer + ("." + "0" * decimals if decimals else "")
    return pattern[: number.start()] + replaced + pattern[number.end() :]


def _d3_date(pattern: str) -> str:
    """A CLDR date pattern (``dd.MM.yy``) as a d3-time-format one (``%d.%m.%y``); other letters kept."""
    fields = {"yyyy": "%Y", "yy": "%y", "y": "%Y", "MM": "%m", "M": "%-m", "dd": "%d", "d": "%-d"}
    return re.sub(r"y+|M+|d+", lambda m: fields.get(m.group(0), m.group(0)), pattern)


def _sign(delta: float) -> str:
    """``+``, ``−`` (U+2212, as the pages always wrote) or ``±`` for no change."""
    return "+" if delta > 0 else "−" if delta < 0 else "±"


def _first_day(month: Any) -> dt.date:
    """The first day of a month given as a pandas Period, a date or ``YYYY-MM`` text."""
    if isinstance(month, dt.date):
        return month.replace(day=1)
    if hasattr(month, "year") and hasattr(month, "month"):
        return dt.date(int(month.year), int(month.month), 1)
    year, mon = str(month)[:7].split("-")
    return dt.date(int(year), int(mon), 1)


DEFAULT: Final = Formatter()
"""en_US and US dollars: the pages as they were before locales."""


def formatter(locale: str | None = None, currency: str | None = None) -> Formatter:
    """The formatter of a locale and currency (the defaults for ``None`` or empty); cached."""
    return _formatter(locale or DEFAULT_LOCALE, currency or DEFAULT_CURRENCY)


@cache
def _formatter(locale: str, currency: str) -> Formatter:
    return Formatter(locale, currency)


def _period_name(locale: Locale, period: str) -> str:
    """AM or PM in a locale ("vorm." in German), or the English abbreviation where CLDR has none."""
    for width in ("abbreviated", "wide", "narrow"):
        try:
            return str(dates.get_period_names(width, locale=locale)[period])
        except KeyError:
            continue
    return period.upper()
