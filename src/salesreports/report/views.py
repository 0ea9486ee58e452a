"""What a template sees: a read-only view over one report's context.

Templates stay thin: each cell is one call on a view (``view.tiles()``,
``view.trend("revenue")``, ...) that returns a displayable object from
:mod:`salesreports.report.display` or a chart from :mod:`salesreports.report.charts`.

In a batch run the view reads the context files the runner wrote (``context.json``
and its KPI tables as Parquet, see :mod:`salesreports.report.contexts`; the notebook
never sees the data set). In JupyterLab, with the template's default parameters
(``context = ""``), the view has that same context built from the settings file
by a child process (``python -m salesreports.report.scope``) and reads back only its
files: the template's kernel never loads the data set, in a preview either.

A view also checks that its context is the one asked for (kind, rep or team,
period), so that a mixed-up context path cannot show one rep another's report.

Pages show what the data set supports (the context's ``capabilities``, see
:mod:`salesreports.metrics.capabilities`): a KPI the data set can never compute gets no tile, row,
column or chart, and a section without its data returns ``None`` (nothing is shown, and the renderer
leaves out the section's heading with it). What is missing is named once, by :meth:`not_in_data`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from salesreports import i18n
from salesreports.errors import ParamsError
from salesreports.i18n import N_, _, in_sentence, ngettext, retranslate
from salesreports.metrics.kpis import DEFAULT_FORMATS, Formatter, format_value, formatter, get, registry
from salesreports.metrics.measures import NO_SIGN, NOT_EMPLOYED, data_ends
from salesreports.metrics.periods import FEEDBACK_MONTHS, feedback_months, of_grain, parse_period
from salesreports.text import clean, isolate

__all__ = ["RepView", "TeamView", "evidence_text", "rep_view", "team_view"]

KPI_COLUMNS = ["grain", "period", "period_end", "kpi", "value", "reason"]
ATTENTION_KPIS = ("quota_attainment", "win_rate", "lead_conversion", "calls_per_week")
SPAN = {
    "month": N_("this month"),
    "quarter": N_("quarter to date"),
    "ytd": N_("year to date"),
    "t12m": N_("last 12 months"),
}
ADD_TABLE = "README.md#your-crm-data"
NA = N_("not available")  # shown as _(NA); the formatter writes a missing figure so too
# the funnel's stages (scope writes them in English) and feedback sources: shown in the page's language
WORDS = (N_("client"), N_("manager"), N_("peer"))
_TAG_SPLIT = re.compile(r"[;,|]")  # feedback tags, split as the coaching rules split them
NO_FIGURE = "—"  # a team figure withheld (too few reps) or a comparison without a value


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _num(v: Any) -> float | None:
    return None if _nan(v) else float(v)


def _table(rows: Any, columns: list[str]) -> pd.DataFrame:
    """A context table as a DataFrame (read from Parquet, an Arrow table, or row dicts); empty with ``columns``."""
    if hasattr(rows, "to_pandas"):
        rows = rows.to_pandas()
    if isinstance(rows, pd.DataFrame):
        return rows if len(rows.columns) else pd.DataFrame(columns=columns)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def since(grain: str, period_end: str, first_month: str, formats: Formatter = DEFAULT_FORMATS) -> str:
    """ "March 2026" when the span of ``grain`` ending in ``period_end`` begins before the data's first month
    (its figure covers only the months the data has), else ""; the month in the locale of ``formats``."""
    if grain not in SPAN or grain == "month" or not first_month or not period_end:
        return ""
    start = of_grain(grain, pd.Period(period_end, "M")).start  # type: ignore[arg-type]
    first = pd.Period(first_month, "M")
    return formats.month(first) if start < first <= pd.Period(period_end, "M") else ""


def span_text(grain: str, period_end: str, first_month: str) -> str:
    """The span of a figure for people: "quarter to date", or "since March 2026" when the data starts later
    (in the active language)."""
    start = since(grain, period_end, first_month)
    return _("since {month}").format(month=start) if start else _(SPAN[grain]) if grain in SPAN else ""


def first_month_of(kpi: str, first_months: dict[str, str]) -> str:
    """The first month of data of the KPI's tables (``YYYY-MM``, "" when unknown): the latest table to start."""
    if kpi not in registry().names():
        return min(first_months.values(), default="")
    return max((first_months[t] for t in get(kpi).tables if t in first_months), default="")


def either(labels: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c`` (in the active language)."""
    if len(labels) < 2:
        return "".join(labels)
    return _("{items} or {last}").format(items=", ".join(labels[:-1]), last=labels[-1])


def both(labels: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (in the active language)."""
    if len(labels) < 2:
        return "".join(labels)
    return _("{items} and {last}").format(items=", ".join(labels[:-1]), last=labels[-1])


def kpi_label(kpi: str) -> str:
    """A registry KPI's label in the active language (kpis.yaml's labels are in the catalog)."""
    return _(get(kpi).label)


def owner_name(owner: Any) -> str:
    """A goal's owner as a page names it: a rep's or team's id as it is, the whole company in the active
    language."""
    return _("company") if str(owner) == "company" else str(owner)


def quoted(text: Any) -> str:
    """Feedback text as a page quotes it: a colleague's name, redacted in English (:mod:`redact`), in the
    active language."""
    from salesreports.report.redact import COLLEAGUE

    return str(text).replace(COLLEAGUE, _(COLLEAGUE))


def word(text: str, formats: Formatter | None = None) -> str:
    """A stored English word or reason (an engine's reason, a funnel stage, a feedback source) in the active
    language; anything else as it is. With the page's ``formats``, the English months a reason names ("the
    leads data ends in May 2018") are written in its locale too (:meth:`Formatter.reason`)."""
    return formats.reason(str(text)) if formats is not None else retranslate(str(text))


def evidence_text(need: dict[str, Any], evidence: dict[str, Any], context: dict[str, Any] | None = None) -> str:
    """One line of coaching evidence; a KPI figure of another period than the month says which period
    ("since <month>" when that period began before the KPI's data; a review's own quarter or year by its title)."""
    grain = str(need.get("grain") or "month")
    if evidence.get("kind") == "kpi" and grain in SPAN and grain != "month":
        ctx = context or {}
        period = ctx.get("period") or {}
        firsts = dict((ctx.get("capabilities") or {}).get("first_months") or {})
        first = first_month_of(str(evidence.get("kpi") or ""), firsts)
        end = str(period.get("end") or "")
        if grain == period.get("kpi_grain") and not since(grain, end, first):
            return f"{period.get('title')}: {evidence['text']}"  # a review's own quarter or year, whole in the data
        span = span_text(grain, end, first)
        return f"{span[:1].upper()}{span[1:]}: {evidence['text']}"
    return str(evidence["text"])


def _load(context: str, kind: str, ident: str, period: str, params_file: str) -> dict[str, Any]:
    from salesreports.report.contexts import read_context

    if context:
        path = Path(context)
        if not path.exists():
            msg = f"context file {path} not found. Fix: run the report with `salesreports run` or leave context empty."
            raise ParamsError(msg, file=str(path))
        data: dict[str, Any] = read_context(path)
    else:
        data = _preview_context(kind, ident, period, params_file)
        _guard_kernel()
    _check_context(data, kind, ident, period, context or "the preview context")
    return data


def _guard_kernel() -> None:
    """In a Jupyter kernel (JupyterLab), guard the kernel once its preview context is built.

    From then on the kernel reads nothing but what a batch report may (:mod:`salesreports.guard`), so a
    cell that reads data fails in Lab as it would in a run. Batch reports are guarded by their runner.
    """
    import os
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell" or os.environ.get("SALESREPORTS_BATCH"):
        return
    from salesreports import guard
    from salesreports.metrics.kpis import kpi_file

    guard.install(allow=[kpi_file()])  # kpis.yaml is read again when it changes, also from SALESREPORTS_KPI_FILE
    guard.watch(shell)


def _preview_context(kind: str, ident: str, period: str, params_file: str) -> dict[str, Any]:
    """The context of a preview, built by a child process so that this kernel never holds the data set."""
    import subprocess
    import sys
    import tempfile

    from salesreports import errors, guard

    with guard.exempt(), tempfile.TemporaryDirectory(prefix="salesreports-preview-") as tmp:
        out = Path(tmp) / "context.json"
        args = [
            sys.executable,
            "-m",
            "salesreports.report.scope",
            kind,
            ident,
            period,
            str(Path(params_file).resolve()),
            str(out),
        ]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
            msg = f"building the preview context of {kind} '{ident}' failed (exit {proc.returncode}):\n{tail}"
            raise errors.InternalError(msg)
        from salesreports.report.contexts import read_context

        data: dict[str, Any] = read_context(out)
    if "error" in data and "kind" not in data:
        cls = getattr(errors, str(data["error"]), errors.SalesReportsError)
        if not (isinstance(cls, type) and issubclass(cls, errors.SalesReportsError)):
            cls = errors.SalesReportsError
        err = cls.__new__(cls)
        errors.SalesReportsError.__init__(err, str(data.get("message", "")))
        raise err
    return data


def _check_context(data: dict[str, Any], kind: str, ident: str, period: str, where: str) -> None:
    """Refuse a context that is not the report asked for (another rep's, another period's).

    A context's strings are cleaned when it is written (:func:`salesreports.text.clean`), so the id asked for
    is compared cleaned too: a team named with a form feed is still its own team.
    """
    got_kind = data.get("kind")
    got_id = (data.get("rep") or {}).get("rep_id") if got_kind == "rep" else (data.get("team") or {}).get("name")
    got_period = (data.get("period") or {}).get("label")
    try:
        wanted = parse_period(period).label  # 2026-q3 in a notebook's parameters is 2026-Q3
    except ParamsError:
        wanted = period
    if (got_kind, got_id, got_period) != (kind, clean(ident), clean(wanted)):
        msg = (
            f"{where} is the {got_kind} report of '{got_id}' for {got_period}, but the notebook asks for the "
            f"{kind} report of '{ident}' for {period}. Fix: pass the context file written for this report "
            "(`salesreports run` does), or leave context empty for a preview."
        )
        raise ParamsError(msg, file=where, kind=kind, id=ident, period=period)


class _View:
    def __init__(self, context: dict[str, Any]) -> None:
        self.ctx = context
        self.currency = str(context.get("currency", "$"))
        # every figure and date of the page: the context's locale (absent: en_US) and currency
        self.formats = formatter(str(context.get("locale") or "") or None, self.currency)
        i18n.activate(self.formats.locale)  # the page's words: this report's kernel or process speaks its language
        period = context["period"]
        self.period_end = str(period["end"])
        # a quarter's or year's page shows every KPI over the whole period (the engine's quarter or year-to-date
        # row at its last month) and compares it with the previous quarter or year; a month's page as before
        self.grain = str(period.get("kpi_grain") or "month")
        self.review = self.grain != "month"
        before = period.get("previous") or {}
        self.previous_end = str(before.get("end") or pd.Period(self.period_end, "M") - 1)
        self.previous_title = str(before.get("title") or "") if self.review else _("last month")
        self._kpis = _table(context.get("kpis"), KPI_COLUMNS)
        self._row_index: dict[tuple[str, str, str], int] | Literal[False] | None = None  # see _row_at
        caps = context.get("capabilities") or {}
        self._unsupported: dict[str, str] = dict(caps.get("unsupported") or {})
        self._missing_sections: dict[str, str] = dict(caps.get("sections") or {})
        self._section_labels: dict[str, str] = dict(caps.get("section_labels") or {})
        self._first_months: dict[str, str] = dict(caps.get("first_months") or {})
        self._closed = frozenset(caps.get("closed_deal_kpis") or ())
        self._maturing: dict[str, dict[str, Any]] = dict(context.get("maturing") or {})
        self.headline: list[str] = list(context.get("headline") or [k.name for k in registry().headline()])

    def day(self, value: Any) -> str:
        """A stored day (``2026-09-24``, a feedback note's) as the page writes dates (``24 Sep 2026`` in en_US,
        ``24. Sept. 2026`` in de_DE): a date never breaks across lines at its hyphens. Anything else as it is."""
        try:
            return self.formats.date(dt.date.fromisoformat(str(value)[:10]))
        except ValueError:
            return str(value)

    def _quote(self, quote: dict[str, Any]) -> str:
        """A coaching need's feedback quote: “text” (source, day)."""
        return f"“{quoted(quote['text'])}” ({word(quote['source'])}, {self.day(quote['date'])})"

    def supports(self, kpi: str) -> bool:
        """Whether the data set can compute this KPI at all (a data set without targets never has attainment)."""
        return kpi not in self._unsupported

    def shows(self, section: str) -> bool:
        """Whether the data set has what a section needs (``funnel``, ``activity``, ``feedback``, ``ramp``, ...)."""
        return section not in self._missing_sections

    def first_month(self, kpi: str) -> str:
        """The first month of data of the KPI's tables ("" when unknown): no chart starts before it."""
        return first_month_of(kpi, self._first_months)

    def maturing(self, kpi: str, grain: str = "month", period_end: str | None = None) -> str:
        """ "still maturing: leads from June 2026 have had 0 to 29 days to convert (…)" when the KPI's span
        ending in the period holds months whose leads have had less than the typical time to convert, else "".

        The value is shown (it is what happened so far) with this note: it can only grow as leads convert.
        """
        info = self._maturing.get(kpi)
        if not info:
            return ""
        end = pd.Period(period_end or self.period_end, "M")
        start = of_grain(grain, end).start if grain in SPAN and grain != "month" else end  # type: ignore[arg-type]
        months = sorted(m for m in info["months"] if start <= pd.Period(m, "M") <= end)
        if not months:
            return ""
        fewest = min(int(info["months"][m][0]) for m in months)
        most = max(int(info["months"][m][1]) for m in months)
        periods = [pd.Period(m, "M") for m in months]
        names = [self.formats.month(m) for m in periods]
        if len(names) > 1 and len({m.year for m in periods}) == 1:
            names = [self.formats.month_wide(m) for m in periods[:-1]] + names[-1:]  # "May and June 2026"
        return _(
            "still maturing: leads from {months} have had {fewest} to {most} days to convert "
            "(half of the leads that convert take {days} days or more)"
        ).format(months=both(names), fewest=fewest, most=most, days=info["days"])

    def since(self, kpi: str, grain: str, period_end: str | None = None) -> str:
        """ "March 2026" when the KPI's span ending in the period begins before its data does, else ""."""
        return since(grain, period_end or self.period_end, self.first_month(kpi), self.formats)

    def not_in_data(self) -> Any:
        """One short note naming what this data set cannot show, grouped by why (``None`` when it shows all)."""
        from salesreports.report.display import callout

        reg = registry()
        missing: dict[str, list[str]] = {}
        for name, why in self._unsupported.items():
            if name in reg.names():
                missing.setdefault(word(why, self.formats), []).append(in_sentence(kpi_label(name)))
        for section, why in self._missing_sections.items():
            missing.setdefault(word(why, self.formats), []).append(word(self._section_labels.get(section, section)))
        if not missing:
            return None
        lines = [f"{why[:1].upper()}{why[1:]}: {', '.join(labels)}." for why, labels in missing.items()]
        lines.append(
            _("Add the missing tables or columns to your source file to see them ({link}).").format(link=ADD_TABLE)
        )
        return callout("info", _("These figures need data your source does not have"), lines, compact=True)

    def tile_grain(self, kpi: str) -> str:
        """The grain of a KPI's tile, table row and chart point on this page (a review: the period's own)."""
        return get(kpi).shown_grain(self.grain)

    @property
    def this_period(self) -> str:
        """ "this month", or the quarter or year of a review ("Q3 2026")."""
        return self.period_title if self.review else _("this month")

    @property
    def in_period(self) -> str:
        """ "this month", or "in Q3 2026" on a review."""
        return _("in {period}").format(period=self.period_title) if self.review else _("this month")

    @property
    def period_title(self) -> str:
        """The period, for people: October 2026."""
        return str(self.ctx["period"]["title"])

    def row(self, kpi: str, grain: str | None = None, period_end: str | None = None) -> dict[str, Any]:
        """The context row of a KPI (value, reason, team figures, trends); {} when absent.
        ``grain`` defaults to the page's: the month, or a review's quarter or year."""
        k = self._kpis
        grain = grain or self.grain
        end = period_end or self.period_end
        at = self._row_at(kpi, grain, end)
        if at is not None:
            return {} if at < 0 else {str(k): v for k, v in k.iloc[at].to_dict().items()}
        hit = k[(k["kpi"] == kpi) & (k["grain"] == grain) & (k["period_end"] == end)]
        return {} if hit.empty else {str(k): v for k, v in hit.iloc[0].to_dict().items()}

    def _row_at(self, kpi: Any, grain: Any, period_end: Any) -> int | None:
        """The position of the first KPI row of ``(kpi, grain, period_end)`` (-1: none), from an index of the
        rows built once (a page asks for dozens of rows: each a scan of the whole table before); ``None``
        when the index cannot answer (a key or a row that is not text), and the rows are then scanned."""
        if self._row_index is None:
            k = self._kpis
            index: dict[tuple[str, str, str], int] = {}
            for i, key in enumerate(zip(k["kpi"], k["grain"], k["period_end"], strict=True)):
                if not all(isinstance(part, str) for part in key):
                    index = {}
                    self._row_index = False
                    break
                index.setdefault(key, i)
            else:
                self._row_index = index
        if self._row_index is False or not all(isinstance(part, str) for part in (kpi, grain, period_end)):
            return None
        return self._row_index.get((kpi, grain, period_end), -1)

    def value(self, kpi: str, grain: str | None = None, period_end: str | None = None) -> tuple[float | None, str]:
        """(value, reason) of a KPI; value None when not available."""
        r = self.row(kpi, grain, period_end)
        if not r:
            return None, N_("no data for this period")  # English like the engine's reasons (shown retranslated)
        return _num(r.get("value")), str(r.get("reason") or "")

    def text(self, kpi: str, grain: str | None = None) -> str:
        """A KPI's value formatted by the registry ("not available" when missing)."""
        v, _why = self.value(kpi, grain)
        return format_value(v, get(kpi).format, self.formats)

    def series(self, kpi: str) -> pd.DataFrame:
        """The KPI's monthly rows over the last 12 months, never before the data's first month."""
        k = self._kpis
        s = k[(k["kpi"] == kpi) & (k["grain"] == "month") & (k["period_end"] <= self.period_end)]
        first = self.first_month(kpi)
        if first:
            s = s[s["period_end"] >= first]
        return s.sort_values("period_end").tail(12).reset_index(drop=True)

    def review_series(self, kpi: str) -> pd.DataFrame:
        """A review's months: ``month`` ('Jul'), ``period_end``, ``value`` and ``last_year`` (the same month a
        year earlier); a month before the KPI's data has no value (never zero)."""
        months = [pd.Period(m, "M") for m in self.ctx["period"].get("months") or [self.period_end]]
        k = self._kpis
        rows = k[(k["kpi"] == kpi) & (k["grain"] == "month")]
        values = {str(e): _num(v) for e, v in zip(rows["period_end"], rows["value"], strict=True)}
        first = self.first_month(kpi)

        def at(month: pd.Period) -> float | None:
            return None if first and str(month) < first else values.get(str(month))

        return pd.DataFrame(
            {
                "month": [self.formats.month_name(m) for m in months],
                "period_end": [str(m) for m in months],
                "value": pd.Series([at(m) for m in months], dtype="float64"),
                "last_year": pd.Series([at(m - 12) for m in months], dtype="float64"),
            }
        )

    def tile(self, name: str) -> Any:
        """One headline tile (also used by the email, so mail and page agree)."""
        from salesreports.report.display import Tile

        grain = self.tile_grain(name)
        v, reason = self.value(name, grain)
        prev, _why = self.value(name, grain, period_end=self.previous_end)
        start = self.since(name, grain)
        if start or self.since(name, grain, self.previous_end):
            prev = None  # a span cut short by the data's start: no change against a span of another length
        target = attainment = None
        if name == "revenue":
            attainment, _why = self.value("quota_attainment")
            target = v / attainment if v is not None and attainment else None
        tile = Tile.for_kpi(
            name,
            v,
            target=target,
            attainment=attainment,
            previous=prev,
            previous_label=self.previous_title,
            reason=reason,
            currency=self.formats,
        )
        median = _num(self.row(name, grain).get("team_median"))
        note = get(name).shown_note(self.grain)
        extra = [_(note)] if note else []
        if start:
            extra.append(_("the data starts in {month}").format(month=start))
        if maturing := self.maturing(name, grain):
            extra.append(maturing)
        if median is not None and tile.unavailable_reason is None:
            extra.append(_("team median {value}").format(value=format_value(median, get(name).format, self.formats)))
        if extra and tile.unavailable_reason is None:
            tile = Tile(tile.label, tile.value, (*tile.sub, *extra), tile.change, tile.direction, None)
        return tile

    def tile_names(self, kpis: Sequence[str] | None = None) -> list[str]:
        """The KPIs of the headline tiles that this data set supports (default: the context's headline),
        without those whose table ends before the period (:meth:`ended` says so once)."""
        ended = self.ended(kpis)
        return [n for n in (kpis or self.headline) if self.supports(n) and n not in ended]

    def ended(self, kpis: Sequence[str] | None = None) -> dict[str, str]:
        """Headline KPIs with no value because their table's rows stop before the period -> that reason."""
        out = {}
        for name in kpis or self.headline:
            _value, reason = self.value(name, self.tile_grain(name))
            if data_ends("", "") in reason:
                out[name] = reason
        return out

    def ended_note(self, kpis: Sequence[str] | None = None) -> Any:
        """One note for the tiles left out because their data stops before the period (``None`` when none)."""
        from salesreports.report.display import callout

        by_reason: dict[str, list[str]] = {}
        for name, reason in self.ended(kpis).items():
            by_reason.setdefault(word(reason, self.formats), []).append(in_sentence(kpi_label(name)))
        if not by_reason:
            return None
        lines = []
        for why, labels in by_reason.items():
            reason = f"{why[:1].upper()}{why[1:]}"
            lines.append(
                _("{reason}: no {kpis} for {period}.").format(
                    reason=reason, kpis=either(labels), period=self.period_title
                )
            )
        return callout("info", _("Not in the data for {period}").format(period=self.this_period), lines)

    def tiles(self, kpis: Sequence[str] | None = None) -> Any:
        """Headline KPI tiles: value, target and attainment, change vs last month, team median."""
        from salesreports.report.display import tiles

        shown = tiles([self.tile(n) for n in self.tile_names(kpis)])
        note = self.ended_note(kpis)
        return shown if note is None else shown + note

    def goals(self) -> Any:
        """Goal progress: actual, expected at pace, projected to the deadline, status (``None`` without goals)."""
        return self._goal_html(self.ctx.get("goals") or [])

    def _goal_html(self, goals: Sequence[dict[str, Any]]) -> Any:
        """Goals as the page shows them: measured ones with progress, the others in one note (``None``: none)."""
        from salesreports.report.display import callout, goal_list

        if not goals:
            return None
        items = []
        later = [g for g in goals if g["status"] in (N_("not started"), N_("not available"))]
        for g in goals:
            if g in later:
                continue
            text = g.get("text") or {}
            owner = "" if g["owner"] in (self.ctx.get("rep", {}).get("rep_id"),) else f" ({owner_name(g['owner'])})"
            items.append(
                {
                    "name": f"{_(g['label'])}{owner}: {g['summary']}" if g.get("summary") else g["goal_id"],
                    "status": g["status"],
                    "actual": text.get("actual", ""),
                    "expected": text.get("expected", ""),
                    "projected": text.get("projected", ""),
                    "target": text.get("target", ""),
                    "progress": g.get("actual_pct"),
                    "expected_progress": g.get("expected_pct"),
                    "deadline": g.get("deadline", ""),
                    "note": g.get("objective", ""),
                }
            )
        shown = goal_list(items, formats=self.formats) if items else None
        if later:
            notes = callout(
                "info",
                _("Goals not measured yet"),
                [
                    f"{_(g['label'])} ({owner_name(g['owner'])}): {_(g['status'])}"
                    + (f" — {word(g['note'], self.formats)}" if g.get("note") else "")
                    for g in later
                ],
            )
            return notes if shown is None else shown + notes
        return shown


class RepView(_View):
    """One rep's scorecard context."""

    @property
    def name(self) -> str:
        """The rep's display name."""
        return str(self.ctx["rep"]["name"])

    @property
    def team(self) -> str:
        """The rep's team."""
        return str(self.ctx["rep"]["team"])

    @property
    def no_sign(self) -> bool:
        """True for a rep in the team list with no deal, lead or activity in the data by this period."""
        k = self._kpis
        return bool(((k["period_end"] == self.period_end) & (k["reason"] == NO_SIGN)).any())

    def closed_nothing(self) -> str:
        """Why the rep has no closed-deal figures this month ("" when they closed deals)."""
        won, why = self.value("deals_won")
        rate, _why = self.value("win_rate")
        if not self.supports("deals_won") or rate is not None:
            return ""
        if won is None and why == NO_SIGN:
            return _("No deals, leads or activity of {name} in the data up to {period}.").format(
                name=isolate(self.name), period=self.period_title
            )
        if won is None:
            return ""
        return _("No deals closed in {period}.").format(period=self.period_title)

    def tile_list(self, kpis: Sequence[str] | None = None) -> tuple[list[Any], str]:
        """The headline tiles, and a notice replacing the closed-deal tiles when the rep closed no deal.

        A rep who closed no deal this month gets "No deals closed in October 2026" instead of $0 tiles
        with arrows; tiles of other KPIs (open pipeline, leads, activity) stay.
        """
        names = self.tile_names(kpis)
        notice = self.closed_nothing()
        if self.no_sign:
            names = []
        elif notice:
            names = [n for n in names if n not in self._closed]
        return [self.tile(n) for n in names], notice

    def headline_intro(self) -> Any:
        """The headline section's lead-in, true of this page: its period, and "against target" only when the tiles
        show a target (a data set without targets has none)."""
        from salesreports.report.display import lead

        target = self.supports("quota_attainment") and "revenue" in self.tile_names()
        if not self.review:
            text = (
                _("This month's figures against target, the change since last month, and the team median.")
                if target
                else _("This month's figures, the change since last month, and the team median.")
            )
            return lead(text)
        text = (
            _("The figures of {period} against target, the change since {previous}, and the team median.")
            if target
            else _("The figures of {period}, the change since {previous}, and the team median.")
        )
        return lead(text.format(period=self.period_title, previous=self.previous_title))

    def tiles(self, kpis: Sequence[str] | None = None) -> Any:
        """Headline KPI tiles; a rep who closed no deal this month gets one notice instead of the deal tiles."""
        from salesreports.report.display import callout, tiles

        items, notice = self.tile_list(kpis)
        box = callout("info", notice, []) if notice else None
        out = box if not items else tiles(items) if box is None else box + tiles(items)
        note = self.ended_note(kpis)
        if note is None:
            return out
        return note if out is None else out + note

    def trend(self, kpi: str) -> Any:
        """A 12-month trend of a KPI with the team's median and interquartile band (``None`` if unsupported)."""
        from salesreports.report.charts import trend
        from salesreports.report.display import chart

        if not self.supports(kpi) or self.no_sign:
            return None
        if self.review:
            return self._review_trend(kpi)
        s = self.series(kpi)
        cols = ["period_end", "value", "team_median", "team_p25", "team_p75"]
        frame = s.reindex(columns=cols).astype(dict.fromkeys(cols[1:], "float64"))
        notes = [self.maturing(kpi, "month", str(p)) for p in frame["period_end"]]
        if any(notes):
            frame["note"] = notes  # drawn as hollow points, the note in their tooltip
        k = get(kpi)
        shown = frame.dropna(subset=["value"])
        if shown.empty:
            return None  # no chart without the rep's own values
        last = shown.iloc[-1]
        alt_text = _("{kpi} by month, {first} to {last}: latest {latest}, 12-month high {high}, low {low}.").format(
            kpi=_(k.label),
            first=self.formats.month_iso_or_short(str(shown["period_end"].iloc[0])),
            last=self.formats.month_iso_or_short(str(last["period_end"])),
            latest=format_value(last["value"], k.format, self.formats),
            high=format_value(shown["value"].max(), k.format, self.formats),
            low=format_value(shown["value"].min(), k.format, self.formats),
        )
        if not _nan(last["team_median"]):
            median = format_value(last["team_median"], k.format, self.formats)
            alt_text += " " + _("Team median {value}.").format(value=median)
        if maturing := self.maturing(kpi, "t12m", str(last["period_end"])):  # every month the chart shows
            note = f"{maturing[:1].upper()}{maturing[1:]}"
            alt_text += " " + _("{note}; drawn as hollow points.").format(note=note)
        return chart(trend(frame, kpi, label=self.name, formats=self.formats), alt_text, name=f"trend-{kpi}")

    def _review_trend(self, kpi: str) -> Any:
        """A review's months of a KPI against the same months a year earlier (``None`` without own values)."""
        from salesreports.report.charts import review_trend
        from salesreports.report.display import chart

        frame = self.review_series(kpi)
        if frame["value"].isna().all():
            return None
        k = get(kpi)
        before = str((self.ctx["period"].get("last_year") or {}).get("title") or _("a year earlier"))

        def listed(column: str) -> str:
            return ", ".join(
                f"{m} {format_value(_num(v), k.format, self.formats)}"
                for m, v in zip(frame["month"], frame[column], strict=True)
            )

        alt_text = _("{kpi} by month in {period}: {values}.").format(
            kpi=_(k.label), period=self.period_title, values=listed("value")
        )
        if frame["last_year"].isna().all():
            alt_text += " " + _("The data has no figures for {period} to compare with.").format(period=before)
        else:
            alt_text += " " + _("In {period}: {values}.").format(period=before, values=listed("last_year"))
        chart_ = review_trend(frame, kpi, now=self.period_title, before=before, formats=self.formats)
        return chart(chart_, alt_text, name=f"trend-{kpi}")

    def trends(self, kpis: Sequence[str] = ("revenue", "win_rate"), count: int = 2) -> Any:
        """Trend charts of ``kpis`` that have values for this rep, topped up to ``count`` charts from the
        headline KPIs (a data set without amounts still gets its deals won); ``None`` when none has any."""
        from salesreports.report.display import Charts

        charts: list[Any] = []
        for kpi in dict.fromkeys([*kpis, *self.tile_names()]):
            if len(charts) >= count:
                break
            shown = self.trend(kpi)
            if shown is not None:
                charts.append(shown)
        return Charts(charts) if charts else None

    def funnel(self) -> Any:
        """Leads -> qualified -> won for the month."""
        from salesreports.report.charts import funnel
        from salesreports.report.display import callout, chart

        if not self.shows("funnel"):
            return None
        rows = [{**r, "stage": word(r["stage"])} for r in self.ctx.get("funnel", []) if r.get("count") is not None]
        if not rows:
            return callout("info", _("Funnel not available"), [_("The data has no leads for this period.")])
        stages = ", ".join(f"{r['stage']} {self.formats.count(r['count'])}" for r in rows)
        alt_text = _("Funnel {period}: {stages}.").format(period=self.in_period, stages=stages)
        return chart(funnel(pd.DataFrame(rows), formats=self.formats), alt_text, name="funnel")

    def activity(self) -> Any:
        """Calls, emails, meetings and demos per week over the last 12 weeks, with each week as a table."""
        from salesreports.report.charts import ACTIVITY_PLURALS, ACTIVITY_TYPES, activity, activity_label
        from salesreports.report.display import callout, chart, table

        if not self.shows("activity"):
            return None
        rows = self.ctx.get("activity_weekly") or []
        window, span = self._activity_window()
        frame = pd.DataFrame(rows)
        if window and len(frame):  # the rep's weeks only (not before the hire or the data's first week)
            frame = frame[frame["week"].astype(str) >= window[0]]
        if not len(frame):
            return callout(
                "info", _("No activity logged"), [_("No calls, emails, meetings or demos in the last 12 weeks.")]
            )
        per_type = frame.groupby("type")["count"].sum()
        missing = sorted(set(window) - set(frame["week"].astype(str)))  # weeks without any activity count as 0
        if missing:
            filler = pd.DataFrame({"week": missing, "type": str(frame["type"].iloc[0]), "count": 0})
            frame = pd.concat([frame, filler], ignore_index=True)
        weeks = len(window) if len(window) == 12 else max(1, round(span)) if span else frame["week"].nunique()
        per = max(span, 1.0) if span else weeks  # a rep of two days: what they did, not seven days' worth
        average = ", ".join(f"{activity_label(str(t))} {self.formats.number(c / per, 1)}" for t, c in per_type.items())
        alt_text = ngettext(
            "Activity per week over the last {weeks} week: {types} on average.",
            "Activity per week over the last {weeks} weeks: {types} on average.",
            weeks,
        ).format(weeks=weeks, types=average)
        # the text alternative of the stacked bars: every week's count of each type (none logged is 0)
        wide = frame.pivot_table(index="week", columns="type", values="count", aggfunc="sum", fill_value=0)
        order = [t for t in ACTIVITY_TYPES if t in wide.columns] + [t for t in wide.columns if t not in ACTIVITY_TYPES]
        wide = wide[order].astype("int64")
        wide["Total"] = wide.sum(axis=1)
        wide = wide.sort_index().reset_index()
        wide["week"] = [self.formats.date(d.date()) for d in pd.to_datetime(wide["week"])]
        plural = {t: _(ACTIVITY_PLURALS[t]) if t in ACTIVITY_PLURALS else f"{t.capitalize()}s" for t in order}
        labels = {"week": _("Week starting"), "Total": _("Total"), **plural}
        caption = ngettext("Activity per week, last {weeks} week", "Activity per week, last {weeks} weeks", weeks)
        weekly = table(wide, labels=labels, caption=caption.format(weeks=weeks))
        return chart(activity(frame, formats=self.formats), alt_text, name="activity", table=weekly)

    def _activity_window(self) -> tuple[list[str], float]:
        """The weeks (their Mondays, as the context's ``activity_weekly`` names them) of the 12 weeks up to the
        period's last day, from the hire date when the rep joined within them, and how many weeks that is
        (the divisor of an average: a week without activity counts as none, not as no week). The weeks start
        no earlier than the rep's hire date and the first day of the activity data."""
        from salesreports.metrics.periods import activity_weeks_start

        period = self.ctx.get("period") or {}
        if not period.get("last_day"):
            return [], 0.0
        last = pd.Timestamp(period["last_day"])
        first = activity_weeks_start(last)  # the first day the scope counts
        hire = (self.ctx.get("rep") or {}).get("hire_date")
        for start in (hire, self.ctx.get("activity_since")):  # no week before the rep or the data started
            if start and not pd.isna(pd.Timestamp(start)):
                first = max(first, pd.Timestamp(start).normalize())
        if first > last:
            return [], 0.0
        mondays = pd.period_range(first, last, freq="W-SUN").start_time.strftime("%Y-%m-%d")
        return list(mondays), ((last - first).days + 1) / 7

    def ramp(self, kpi: str = "revenue") -> Any:
        """For reps in their first year: each month of tenure against earlier hires' median."""
        from salesreports.report.charts import ramp
        from salesreports.report.display import chart

        tenure = self.ctx["rep"].get("tenure_months")
        if not self.shows("ramp") or tenure is None:
            return None  # no hire date: nothing to say about ramp-up
        rows = [r for r in self.ctx.get("ramp", []) if r["kpi"] == kpi and r["tenure_month"] <= 12]
        if tenure > 12 or not rows:
            return None  # the ramp comparison covers the first 12 months in the role: nothing to show after them
        frame = pd.DataFrame(rows).rename(columns={"ramp_median": "benchmark"})
        frame = frame[["tenure_month", "value", "benchmark"]].astype("float64")
        k = get(kpi)
        last = rows[-1]
        position = word(last.get("position") or N_("not comparable"))
        alt_text = _(
            "{kpi} by month of tenure, months 1 to {month}: latest {latest} against earlier hires' median "
            "{median} ({position})."
        ).format(
            kpi=_(k.label),
            month=int(last["tenure_month"]),
            latest=format_value(last["value"], k.format, self.formats),
            median=format_value(last["ramp_median"], k.format, self.formats),
            position=position,
        )
        if _nan(last.get("ramp_median")) and last.get("ramp_reason"):
            alt_text += " " + _("Benchmark not available: {reason}.").format(
                reason=word(last["ramp_reason"], self.formats)
            )
        return chart(ramp(frame, kpi, label=self.name, formats=self.formats), alt_text, name=f"ramp-{kpi}")

    def position(self, kpis: Sequence[str] | None = None) -> Any:
        """Percentile position in the team per KPI (team aggregates only), over the same period as its tile.

        Only KPIs the data supports; a row without any figure, a closed-deal KPI without the rep's own value
        (no deal won: no average deal size; its tile says why) and a column without a figure for any row are
        left out, and the table with them when nothing is left (``None``).
        """
        from salesreports.report.display import ordinal, table

        if self.no_sign:
            return None
        names = self.tile_names(kpis)
        if self.closed_nothing():  # no deal closed: no rank on $0 of closed deals (the tiles say why)
            names = [n for n in names if n not in self._closed]
        rows = []
        kpi_col, na = _("KPI"), _(NA)
        for name in names:
            k = get(name)
            grain = self.tile_grain(name)
            r = self.row(name, grain)
            if name in self._closed and _nan(r.get("value")):
                continue  # no won deal, no average deal size or cycle: no position (the tile says why)
            pct = _num(r.get("percentile"))
            note = k.shown_note(self.grain)
            notes = [_(note)] if note else []
            start = self.since(name, grain)
            notes += [_("data from {month}").format(month=start)] if start else []
            row = {
                kpi_col: f"{_(k.label)} ({', '.join(notes)})" if notes else _(k.label),
                _("You"): format_value(_num(r.get("value")), k.format, self.formats),
                _("Team median"): format_value(_num(r.get("team_median")), k.format, self.formats)
                if not _nan(r.get("team_median"))
                else NO_FIGURE,
                _("Team middle half"): (
                    f"{format_value(_num(r.get('team_p25')), k.format, self.formats)} – "
                    f"{format_value(_num(r.get('team_p75')), k.format, self.formats)}"
                    if not _nan(r.get("team_p25"))
                    else NO_FIGURE
                ),
                _("Percentile in team"): NO_FIGURE if pct is None else ordinal(pct),
                self._review_column: self._review_text(name, r),
            }
            if any(v not in (na, NO_FIGURE) for c, v in row.items() if c != kpi_col):
                rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            return None
        frame = frame[[c for c in frame.columns if c == kpi_col or (~frame[c].isin([na, NO_FIGURE])).any()]]
        n = self.ctx["team"].get("n_reps")
        need = self.ctx["team"]["min_group_size"]
        caption = ngettext(
            "Team {team}: {n} rep. Team figures need at least {need} reps with a value, the middle half at least "
            "{quartile}, so that no colleague's own number can be worked out ({dash} where fewer have one).",
            "Team {team}: {n} reps. Team figures need at least {need} reps with a value, the middle half at least "
            "{quartile}, so that no colleague's own number can be worked out ({dash} where fewer have one).",
            int(n or 0),
        ).format(team=isolate(self.team), n=n, need=need, quartile=max(need, 5), dash=NO_FIGURE)
        return table(frame, caption=caption, figures=[c for c in frame.columns if c != kpi_col])

    @property
    def _review_column(self) -> str:
        """The position table's comparison column: the quarter or year before on a review; on a month's page
        the month of the last review, named ("vs last review (July 2026)")."""
        if self.review:
            return _("vs {period}").format(period=self.previous_title)
        last = str((self.ctx["period"].get("last_review") or {}).get("title") or "")
        return _("vs last review ({period})").format(period=last) if last else _("vs last review")

    def _review_text(self, name: str, r: dict[str, Any]) -> str:
        k = get(name)
        # a review's last review is the previous quarter or year: the row's previous period of its own grain
        before, now = _num(r.get("prev_value" if self.review else "review_value")), _num(r.get("value"))
        if before is None or now is None:
            return NO_FIGURE
        return f"{format_value(before, k.format, self.formats)} → {format_value(now, k.format, self.formats)}"

    @property
    def _feedback_period(self) -> str:
        """ "" when the page's feedback is the last six months, else the review period it covers ("2025": a
        year's review shows the whole year's feedback; :func:`~salesreports.metrics.periods.feedback_months`)."""
        try:
            period = parse_period(str(self.ctx["period"].get("label") or ""))
        except ParamsError:
            return ""
        return self.period_title if feedback_months(period) > FEEDBACK_MONTHS else ""

    def _no_feedback(self) -> Any:
        from salesreports.report.display import callout

        where = self._feedback_period
        text = (
            _("No client, manager or peer feedback in {period}.").format(period=where)
            if where
            else _("No client, manager or peer feedback in the last six months.")
        )
        return callout("info", _("No feedback"), [text])

    def feedback(self) -> Any:
        """The rep's own recent feedback (client, manager, peer), as quotes."""
        from salesreports.report.display import callout

        if not self.shows("feedback"):
            return None
        rows = self.ctx.get("feedback") or []
        if not rows:
            return self._no_feedback()
        lines = []
        for r in rows[:6]:
            score = "" if r.get("score") is None else f" ({r['score']:.0f}/5)"
            lines.append(f"{self.day(r['date'])} · {word(r['source'])}{score}: “{quoted(r.get('text') or '')}”")
        where = self._feedback_period
        title = (
            ngettext("Feedback ({n} note in {period})", "Feedback ({n} notes in {period})", len(rows))
            if where
            else ngettext(
                "Recent feedback ({n} note in six months)", "Recent feedback ({n} notes in six months)", len(rows)
            )
        )
        return callout("info", title.format(n=len(rows), period=where), lines)

    def bottom_quarter(self) -> list[str]:
        """The shown KPIs (:meth:`tile_names`) on which the rep is in the bottom quarter of the team this period
        (:meth:`Kpi.in_bottom_quarter`, as the team summary flags reps; a KPI without the team's quartiles,
        withheld for privacy, is not one)."""
        low = []
        for name in self.tile_names():
            row = self.row(name, self.tile_grain(name))
            value, p25, median, p75 = (_num(row.get(c)) for c in ("value", "team_p25", "team_median", "team_p75"))
            known = value is not None and p25 is not None and median is not None and p75 is not None
            if known and get(name).in_bottom_quarter(value, p25, median, p75):  # type: ignore[arg-type]
                low.append(name)
        return low

    def won_nothing(self) -> bool:
        """True when the data has won deals but the rep won none in the period (lost ones only, or none)."""
        if not self.supports("deals_won"):
            return False
        won, _why = self.value("deals_won", self.tile_grain("deals_won"))
        return not won

    def coaching(self) -> Any:
        """Training topics with their evidence (numbers and quotes), each number with its period.

        "No training needs flagged" (praise) is said only of a rep who won deals and is in the bottom quarter
        of the team on none of the page's KPIs. A rep who closed no deal gets no claim either way (``None``);
        one who won none or sits in the bottom quarter gets a neutral note that says so.
        """
        from salesreports.report.display import Html, callout

        needs = self.ctx.get("coaching") or []
        if not needs:
            if self.closed_nothing():
                return None
            low = self.bottom_quarter()
            if low or self.won_nothing():
                labels = both([in_sentence(kpi_label(k)) for k in low])
                line = (
                    _(
                        "The coaching rules suggest no topic, but {period} you are in the bottom quarter of the team "
                        "on {kpis}."
                    ).format(period=self.in_period, kpis=labels)
                    if low
                    else _("The coaching rules suggest no topic, but you won no deals {period}.").format(
                        period=self.in_period
                    )
                )
                return callout("info", _("No training topic from the rules"), [line])
            line = (
                _("Every KPI the coaching rules compare is at or above its benchmark and no feedback theme recurs.")
                if self.shows("feedback")
                else _("Every KPI the coaching rules compare is at or above its benchmark.")
            )
            return callout("good", _("No training needs flagged"), [line])
        out: Html | None = None
        for need in needs[:4]:
            lines = [evidence_text(need, e, self.ctx) for e in need.get("evidence", [])]
            lines += [self._quote(q) for q in need.get("quotes", [])[:2]]
            topic = f"{word(need['topic'])}: {word(need.get('description') or '')}".strip(": ")
            box = callout("warn", topic, lines)
            out = box if out is None else out + box
        return out

    def incentive(self) -> Any:
        """The bonus estimate from this month's attainment."""
        from salesreports.report.display import callout

        est = self.ctx.get("incentive")
        if not est or not self.shows("incentive"):
            return None
        good = (est.get("attainment") or 0) >= 1
        grain = str(est.get("grain"))
        span = span_text(grain, self.period_end, self.first_month("revenue")) or _("this period")
        title = _("Estimated bonus — {span}").format(span=span)
        return callout(
            "good" if good else "info",
            title,
            [est["summary"], _("An estimate from the attainment tiers, not a payslip.")],
        )

    # -- the review (quarter or year) --------------------------------------------------------------------------
    def _goal_start(self, goal: dict[str, Any]) -> pd.Period | None:
        try:
            return parse_period(str(goal.get("start") or "")).start
        except ParamsError:
            return None

    def _measured_goals(self) -> list[dict[str, Any]]:
        """The goals measured over the period (started by its end): those :meth:`achievements` shows."""
        end = pd.Period(self.period_end, "M")
        return [g for g in self.ctx.get("goals") or [] if (start := self._goal_start(g)) is not None and start <= end]

    def _shows_quota(self) -> bool:
        """Whether :meth:`achievements` shows the quota (attained, or why it is not available)."""
        return self.supports("quota_attainment") and not self.no_sign

    def achievements_intro(self) -> Any:
        """The achievements section's lead-in, true of this page: the revenue against its target only when the
        page shows the quota, the goals only when it shows some; ``None`` when it shows neither (the section,
        heading included, is then left out)."""
        from salesreports.report.display import lead

        quota = self._shows_quota()
        goals = bool(self._measured_goals())
        if quota and goals:
            text = _(
                "The period's revenue against its target, and each goal measured over the period with the "
                "business objective it serves: where it stands, where the pace says it should be and where it "
                "is heading by its deadline."
            )
        elif quota:
            text = _("The period's revenue against its target.")
        elif goals:
            text = _(
                "Each goal measured over the period with the business objective it serves: where it stands, where "
                "the pace says it should be and where it is heading by its deadline."
            )
        else:
            return None
        return lead(text)

    def achievements(self) -> Any:
        """The period's results against its objectives: quota attainment (revenue against the period's target)
        and the goals measured over the period, each with the objective it serves. Goals that start after the
        period are :meth:`next_goals`. ``None`` when the rep has neither a target figure nor a goal."""
        from salesreports.report.display import Html, callout

        parts: list[Html] = []
        if self._shows_quota():
            att, why = self.value("quota_attainment")
            rev, _why = self.value("revenue")
            title = _("Quota {period}").format(period=self.period_title)
            if att is None:
                reason = word(why, self.formats) if why else _("no target for this period")
                parts.append(callout("info", f"{title}: {_(NA)}", [reason]))
            else:
                pct = format_value(att, get("quota_attainment").format, self.formats)
                fmt = get("revenue").format
                line = _("{percent} of the target attained.").format(percent=pct)
                if rev is not None and att:
                    line = _(
                        "Revenue {revenue} against a target of {target}: {percent} of the target attained."
                    ).format(
                        revenue=format_value(rev, fmt, self.formats),
                        target=format_value(rev / att, fmt, self.formats),
                        percent=pct,
                    )
                attained = _("{title}: {percent} attained").format(title=title, percent=pct)
                parts.append(callout("good" if att >= 1 else "warn", attained, [line]))
        goals = self._goal_html(self._measured_goals())
        if goals is not None:
            parts.append(goals)
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out

    def since_last_review(self) -> Any:
        """Each headline KPI in the last review's period and in this one, with the change (``None`` for a rep
        without figures); a KPI without a figure in the last review shows "—", never a change from zero."""
        from salesreports.report.display import change_text, table

        if self.no_sign:
            return None
        names = self.tile_names()
        if self.closed_nothing():
            names = [n for n in names if n not in self._closed]
        before = self.previous_title or _("Last month")
        now = self.period_title if self.review else _("This month")
        kpi_col, change_col = _("KPI"), _("Change")
        rows = []
        for name in names:
            k = get(name)
            grain = self.tile_grain(name)
            value, _why = self.value(name, grain)
            prev, _why = self.value(name, grain, period_end=self.previous_end)
            if self.since(name, grain) or self.since(name, grain, self.previous_end):
                prev = None  # a span cut short by the data's start: not comparable
            if value is None and prev is None:
                continue
            change = NO_FIGURE
            if value is not None and prev is not None:
                delta, direction = change_text(name, value, prev, self.formats)
                better = {"good": _("better"), "bad": _("worse"), "neutral": _("same")}[direction]
                change = f"{delta} ({better})"
            rows.append(
                {
                    kpi_col: _(k.label),
                    before: NO_FIGURE if prev is None else format_value(prev, k.format, self.formats),
                    now: _(NA) if value is None else format_value(value, k.format, self.formats),
                    change_col: change,
                }
            )
        if not rows:
            return None
        caption = (
            _("{period} against the last review ({previous})").format(period=self.period_title, previous=before)
            if self.review
            else _("Since last month")
        )
        return table(pd.DataFrame(rows), caption=caption, figures=[before, now, change_col])

    def feedback_themes(self, top: int = 5, quotes: int = 2) -> Any:
        """Tags that recur in the rep's own feedback of the last six months, or of the whole year in a year's
        review (:attr:`_feedback_period`), in two notes or more, most frequent first, each with its notes'
        scores and sources and up to ``quotes`` quotes (already redacted: colleagues' names read
        "[a colleague]"). ``None`` when the data has no feedback."""
        from salesreports.report.display import Html, callout

        if not self.shows("feedback"):
            return None
        rows = self.ctx.get("feedback") or []
        if not rows:
            return self._no_feedback()
        by_tag: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            for tag in dict.fromkeys(t.strip().lower() for t in _TAG_SPLIT.split(str(r.get("tags") or ""))):
                if tag:
                    by_tag.setdefault(tag, []).append(r)
        themes = sorted(((t, n) for t, n in by_tag.items() if len(n) >= 2), key=lambda x: (-len(x[1]), x[0]))
        if not themes:
            count = len(rows)
            where = self._feedback_period
            if where:
                why = (
                    ngettext(
                        "{n} feedback note in {period}; no tag appears in more than one.",
                        "{n} feedback notes in {period}; no tag appears in more than one.",
                        count,
                    )
                    if by_tag
                    else ngettext(
                        "{n} feedback note in {period}; it is not tagged.",
                        "{n} feedback notes in {period}; none of them is tagged.",
                        count,
                    )
                )
                return callout("info", _("No recurring theme"), [why.format(n=count, period=where)])
            why = (
                ngettext(
                    "{n} feedback note(s) in six months; no tag appears in more than one.",
                    "{n} feedback note(s) in six months; no tag appears in more than one.",
                    count,
                )
                if by_tag
                else ngettext(
                    "{n} feedback note(s) in six months; none of them is tagged.",
                    "{n} feedback note(s) in six months; none of them is tagged.",
                    count,
                )
            )
            return callout("info", _("No recurring theme"), [why.format(n=count)])
        out: Html | None = None
        for tag, notes in themes[:top]:
            scores = [float(n["score"]) for n in notes if not _nan(n.get("score"))]
            sources = sorted({word(str(n.get("source") or "")) for n in notes} - {""})
            title = (
                _("{tag}: {n} notes from {sources}").format(tag=quoted(tag), n=len(notes), sources=either(sources))
                if sources
                else _("{tag}: {n} notes").format(tag=quoted(tag), n=len(notes))
            )
            mean = sum(scores) / len(scores) if scores else None
            listed = ", ".join(f"{v:g}" for v in sorted(scores))
            lines = [_("Scores {scores} of 5").format(scores=listed)] if scores else []
            # the lowest-scored notes first (what to work on), then the newest
            picked = sorted(notes, key=lambda n: str(n.get("date") or ""), reverse=True)
            picked = sorted(picked, key=lambda n: 6.0 if _nan(n.get("score")) else float(n["score"]))
            for n in picked[:quotes]:
                text = quoted(n.get("text") or "").strip()
                if text:
                    short = text if len(text) <= 220 else text[:219].rstrip() + "…"
                    lines.append(f"“{short}” ({word(str(n.get('source')))}, {self.day(n.get('date'))})")
            box = (
                callout("info", title, lines) if mean is None else callout("good" if mean > 3 else "warn", title, lines)
            )
            out = box if out is None else out + box
        return out

    def training_plan(self) -> Any:
        """The coaching topics as a plan until the next review: each topic, what it covers and its evidence
        (numbers with their period, quotes). Without needs, what :meth:`coaching` says (or ``None``)."""
        from salesreports.report.display import table

        needs = self.ctx.get("coaching") or []
        if not needs:
            return self.coaching()
        rows = []
        for need in needs[:4]:
            evidence = [evidence_text(need, e, self.ctx) for e in need.get("evidence", [])]
            evidence += [self._quote(q) for q in need.get("quotes", [])[:1]]
            rows.append(
                {
                    _("Topic"): word(need["topic"]),
                    _("What it covers"): word(need.get("description") or ""),
                    _("Evidence"): "; ".join(evidence),
                }
            )
        nxt = str((self.ctx["period"].get("next") or {}).get("title") or "")
        caption = _("Training plan for {period}").format(period=nxt) if self.review and nxt else _("Training plan")
        return table(pd.DataFrame(rows), caption=caption)

    def next_goals(self) -> Any:
        """The goals whose window starts in the next period (Q4 2026 after a Q3 2026 review): the rep's own,
        the team's and the company's, with target, window and objective. A note when none starts then;
        ``None`` on a month's page."""
        from salesreports.report.display import callout, table

        nxt = self.ctx["period"].get("next") or {}
        if not self.review or not nxt:
            return None
        first, last = pd.Period(str(nxt["start"]), "M"), pd.Period(str(nxt["end"]), "M")
        title = str(nxt["title"])
        rep_id = self.ctx.get("rep", {}).get("rep_id")
        rows = []
        for g in self.ctx.get("goals") or []:
            start = self._goal_start(g)
            if start is None or not first <= start <= last:
                continue
            owner = "" if g["owner"] == rep_id else f" ({g['owner']})"
            scope = f", {g['scope']}" if g.get("scope") else ""
            try:
                deadline = self.formats.period_title(parse_period(str(g.get("deadline") or "")))
            except ParamsError:
                deadline = str(g.get("deadline") or "")
            target = str((g.get("text") or {}).get("target") or NA)
            if target == NA:  # a stored code (scope's hidden figures) or no target text
                target = (
                    f"{_(NA)}: {word(g['note'], self.formats)}" if g.get("note") else _(NA)
                )  # e.g. a group goal's (privacy)
            rows.append(
                {
                    _("Goal"): f"{g['label']}{scope}{owner}",
                    _("Target"): target,
                    _("From"): self.formats.month(start),
                    _("Deadline"): deadline,
                    _("Objective"): g.get("objective") or "",
                }
            )
        if not rows:
            return callout(
                "info",
                _("No goals start in {period} yet").format(period=title),
                [
                    _("None of the goals file's goals for you, your team or the company starts in {period}.").format(
                        period=title
                    )
                ],
            )
        return table(pd.DataFrame(rows), caption=_("Goals for {period}").format(period=title))

    def notes_area(self, lines: int = 20) -> Any:
        """A ruled area for the manager's handwritten notes (the PDF's last page)."""
        from salesreports.report.display import notes_area

        meta = _("{name} · review of {period} · date:") if self.review else _("{name} · scorecard of {period} · date:")
        return notes_area(
            _("Notes from the review"), meta.format(name=isolate(self.name), period=self.period_title), lines
        )


class TeamView(_View):
    """A team (or company) summary context, for managers."""

    def __init__(self, context: dict[str, Any]) -> None:
        super().__init__(context)
        self._reps = _table(context.get("rep_kpis"), ["rep_id", *KPI_COLUMNS])
        self._names = {m["rep_id"]: m["name"] for m in context["team"]["members"]}

    @property
    def name(self) -> str:
        """The team's name."""
        return str(self.ctx["team"]["name"])

    def rep_frame(self, kpi: str, grain: str | None = None) -> pd.DataFrame:
        """Each member's row of a KPI for the period (default: the grain of the KPI's tile), name as ``entity``."""
        grain = grain or self.tile_grain(kpi)
        r = self._reps
        frame = r[(r["kpi"] == kpi) & (r["grain"] == grain)].copy()
        frame["entity"] = frame["rep_id"].map(self._names)
        frame["value"] = frame["value"].astype("float64")
        return frame

    @property
    def ranking(self) -> str:
        """The KPI reps are ranked by: the first of ``scorecard.ranking`` with a value for any member."""
        for kpi in [*(self.ctx.get("ranking") or ["quota_attainment", "revenue"]), *self.headline]:
            if self.supports(kpi) and self.rep_frame(kpi)["value"].notna().any():
                return str(kpi)
        return ""

    def leaderboard(self, kpis: Sequence[str] | None = None) -> Any:
        """Members ranked by the ranking KPI, with the headline KPIs that have a value for anyone (on a phone:
        the name, the ranking KPI and the next column)."""
        from salesreports.report.display import table

        rank = self.ranking
        if not rank:
            return None
        names = list(dict.fromkeys([rank, *(kpis or self.tile_names())]))
        frame = pd.DataFrame({"rep_id": list(self._names)})
        for kpi in names:
            f = self.rep_frame(kpi)[["rep_id", "value"]].rename(columns={"value": kpi})
            frame = frame.merge(f, on="rep_id", how="left")
        frame = frame[["rep_id", *[k for k in names if frame[k].notna().any()]]]
        # a rep with no value at all (no deal, lead or activity yet) is named under "Reps needing attention"
        frame = frame[frame.drop(columns="rep_id").notna().any(axis=1)]
        frame = frame.sort_values(rank, ascending=not get(rank).higher_is_better, na_position="last")
        frame.insert(0, _("Rep"), frame.pop("rep_id").map(self._names))
        caption = _("Leaderboard — {period}, ranked by {kpi}").format(
            period=self.period_title, kpi=in_sentence(kpi_label(rank))
        )
        # on a phone: one line a rep (name, the ranking KPI and the next one), not a card of every column
        return table(frame.reset_index(drop=True), caption=caption, currency=self.formats, phone_columns=2)

    def most_improved(self, kpi: str | None = None, top: int = 5) -> Any:
        """The largest gains of the ranking KPI since last month (``None`` when nobody has two months)."""
        from salesreports.report.display import callout, table

        kpi = kpi or self.ranking
        if not kpi or not self.supports(kpi):
            return None
        k = get(kpi)
        frame = self.rep_frame(kpi)
        frame = frame.assign(change=frame["change_prev"].astype("float64")).dropna(subset=["change"])
        if frame.empty:
            return None
        better = frame["change"] > 0 if k.higher_is_better else frame["change"] < 0
        frame = frame[better].sort_values("change", ascending=not k.higher_is_better).head(top)
        if frame.empty:
            line = _("No rep improved {kpi} {period}.").format(kpi=in_sentence(_(k.label)), period=self.in_period)
            return callout("info", _("No improvement to show"), [line])
        before, now = (self.previous_title, self.period_title) if self.review else (_("Last month"), _("This month"))
        change = _("Change")
        out = pd.DataFrame(
            {
                _("Rep"): frame["entity"],
                before: frame["prev_value"].astype("float64"),
                now: frame["value"],
                change: frame["change"],
            }
        )
        fmt = {before: k.format, now: k.format, change: k.format}
        caption = _("Most improved: {kpi}").format(kpi=_(k.label))
        return table(out.reset_index(drop=True), formats=fmt, caption=caption, currency=self.formats)

    def distribution(self, kpi: str | None = None) -> Any:
        """Each member's value of a KPI (default: the ranking KPI) as a strip plot; ``None`` without values."""
        from salesreports.report.charts import distribution
        from salesreports.report.display import chart

        kpi = kpi or self.ranking
        if not kpi or not self.supports(kpi):
            return None
        frame = self.rep_frame(kpi).dropna(subset=["value"])
        if frame.empty:
            return None
        k = get(kpi)
        values = frame["value"]
        fmt, cur = k.format, self.formats
        alt_text = ngettext(
            "{kpi} across {n} rep: median {median}, from {low} to {high}.",
            "{kpi} across {n} reps: median {median}, from {low} to {high}.",
            len(frame),
        ).format(
            kpi=_(k.label),
            n=len(frame),
            median=format_value(values.median(), fmt, cur),
            low=format_value(values.min(), fmt, cur),
            high=format_value(values.max(), fmt, cur),
        )
        return chart(distribution(frame[["entity", "value"]], kpi, formats=self.formats), alt_text, name=f"dist-{kpi}")

    def attention(self) -> Any:
        """Reps below the team's lower quartile on a key KPI, with a goal at risk or missed, or with no deal
        closed this month (each listed with the reason, none silently left out)."""
        from salesreports.report.display import callout

        flags: dict[str, list[str]] = {}
        # the key KPIs the data has; without any of them, the KPI the team is ranked by
        checked = [k for k in ATTENTION_KPIS if self.supports(k)] or ([self.ranking] if self.ranking else [])
        for kpi in checked:
            k = get(kpi)
            f = self.rep_frame(kpi)
            v = f["value"]
            p25, median, p75 = float(v.quantile(0.25)), float(v.median()), float(v.quantile(0.75))
            low = f[[pd.notna(x) and k.in_bottom_quarter(float(x), p25, median, p75) for x in v]]
            for _i, r in low.iterrows():
                flags.setdefault(str(r["entity"]), []).append(
                    f"{_(k.label)} {format_value(r['value'], k.format, self.formats)}"
                )
        if self.supports("deals_won"):
            # no deal closed: no win rate (a data set of won deals only has no win rate: no deal won)
            closed = self.rep_frame("win_rate" if self.supports("win_rate") else "deals_won", self.grain)
            nothing = closed["value"].isna() if self.supports("win_rate") else ~(closed["value"] > 0)
            won = self.rep_frame("deals_won", self.grain).set_index("rep_id")["reason"]
            skipped = {m["rep_id"] for m in self.ctx["team"]["members"] if m.get("skipped")}
            for _i, r in closed[nothing].iterrows():
                reason = won.get(r["rep_id"])
                if r["rep_id"] in skipped or reason == NOT_EMPLOYED:
                    continue
                why = (
                    _("no deal, lead or activity in the data yet")
                    if reason == NO_SIGN
                    else _("no deals closed in {period}").format(period=self.period_title)
                )
                flags.setdefault(str(r["entity"]), []).append(why)
        for g in self.ctx.get("goals") or []:
            if g["status"] in ("at risk", "missed") and g["owner"] in self._names:
                flag = _("goal {goal} {status}").format(goal=g["goal_id"], status=_(g["status"]))
                flags.setdefault(self._names[g["owner"]], []).append(flag)
        if not flags:
            if not checked:
                return None
            labels = [in_sentence(kpi_label(k)) for k in checked]
            line = _("No rep is in the bottom quarter on {kpis}.").format(kpis=either(labels))
            return callout("good", _("Nobody stands out"), [line])
        lines = [
            f"{isolate(name)}: {'; '.join(items)}" for name, items in sorted(flags.items(), key=lambda x: -len(x[1]))
        ]
        title = ngettext("{n} rep(s) to talk to", "{n} rep(s) to talk to", len(flags)).format(n=len(flags))
        return callout("warn", title, lines)


def rep_view(rep_id: str, period: str, context: str = "", params_file: str = "../params/config.yaml") -> RepView:
    """The view a rep scorecard template works on (see the module docstring)."""
    return RepView(_load(context, "rep", rep_id, period, params_file))


def team_view(team: str, period: str, context: str = "", params_file: str = "../params/config.yaml") -> TeamView:
    """The view a team summary template works on."""
    return TeamView(_load(context, "team", team, period, params_file))
