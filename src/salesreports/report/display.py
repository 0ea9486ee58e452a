"""What notebook cells display: charts and small, escaped HTML fragments.

Every builder escapes every data string (rep names, goal names, feedback text may hold
``<script>``, ``$``, Markdown, right-to-left or zero-width characters, very long words) and
returns an :class:`Html` object: ``text/html`` for the page, a readable ``text/plain``
fallback (used by the plain-text email part and by ``repr``).

:func:`chart` wraps an altair chart as the project's chart mimebundle::

    {"application/vnd.salesreports.chart+json": {"spec": ..., "alt": ..., "name": ...}, "text/plain": alt}

Notebooks never hold rendered images in batch runs (``SALESREPORTS_BATCH`` set): the
renderer converts the spec once per process with a warm vl-convert. Outside batch runs an
``image/svg+xml`` rendering is added so an analyst sees the chart in JupyterLab, and the
fragments carry their own ``<style>`` so they look as they will on the page.
"""

from __future__ import annotations

import html as _html
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from salesreports.errors import TemplateError, close_matches
from salesreports.i18n import _, in_sentence, retranslate
from salesreports.metrics.kpis import FORMATS, Formatter, as_formatter, format_value, registry
from salesreports.report import theme
from salesreports.text import clean

__all__ = [
    "BATCH_ENV",
    "CHART_MIME",
    "Chart",
    "Charts",
    "GoalItem",
    "Html",
    "Tile",
    "badge",
    "callout",
    "change_text",
    "chart",
    "component_css",
    "goal_list",
    "in_batch",
    "lead",
    "notes_area",
    "ordinal",
    "section_note",
    "table",
    "tiles",
]

CHART_MIME: Final = "application/vnd.salesreports.chart+json"
BATCH_ENV: Final = "SALESREPORTS_BATCH"
_IGNORE_MATH: Final = "tex2jax_ignore mathjax_ignore"  # JupyterLab typesets $...$ in HTML outputs otherwise

Direction = Literal["good", "bad", "neutral"]
CalloutKind = Literal["info", "good", "warn"]
Status = Literal["achieved", "ahead", "on track", "at risk", "missed"]
BADGE_KINDS: Final = ("good", "bad", "neutral", "info", "warn", *theme.STATUSES)


def in_batch() -> bool:
    """Whether this process runs a batch (``SALESREPORTS_BATCH`` set to anything but ``""``/``0``/``false``)."""
    return os.environ.get(BATCH_ENV, "").strip().lower() not in ("", "0", "false", "no")


@cache
def component_css(*, browser: bool = True) -> str:
    """The CSS of the fragments built here (tiles, tables, callouts, goals, badges).

    The page template includes it; the email module can inline it. ``browser=False`` leaves out the rules only
    browsers understand (phone media queries, print colours), which WeasyPrint would warn about.
    """
    static = resources.files("salesreports.report").joinpath("templates/salesreports/static")
    css = static.joinpath("components.css").read_text("utf-8")
    if browser:
        css += "\n" + static.joinpath("components-screen.css").read_text("utf-8")
    return css


class Html:
    """An HTML fragment with a plain-text twin.

    ``_repr_html_`` gives the HTML (IPython/nbconvert), ``repr()`` the text; ``__html__``
    lets Jinja templates embed it unescaped. Fragments concatenate with ``+``.
    """

    __slots__ = ("html", "text")

    def __init__(self, html: str, text: str) -> None:
        self.html = html
        self.text = text

    def _repr_html_(self) -> str:
        if in_batch():
            return self.html
        return f"<style>{component_css()}</style>{self.html}"

    def __html__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __add__(self, other: Html) -> Html:
        if not isinstance(other, Html):
            return NotImplemented
        return Html(self.html + other.html, f"{self.text}\n\n{other.text}".strip())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Html) and (self.html, self.text) == (other.html, other.text)

    def __hash__(self) -> int:
        return hash((self.html, self.text))


# -- charts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """A chart as the notebook stores it: a Vega-Lite spec, its alt text and a slug name."""

    spec: Mapping[str, Any]
    alt: str
    name: str
    table: Html | None = None

    def bundle(self) -> dict[str, Any]:
        """The project's chart mimebundle (without any rendered image)."""
        payload: dict[str, Any] = {"spec": dict(self.spec), "alt": self.alt, "name": self.name}
        if self.table is not None:
            payload["table"] = {"html": self.table.html, "text": self.table.text}
        return {CHART_MIME: payload, "text/plain": self.alt}

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, Any]:
        data = self.bundle()
        if not in_batch():
            from salesreports.report.vega import lab_spec, spec_to_svg

            data["image/svg+xml"] = spec_to_svg(self.spec)  # what the page shows; the fallback elsewhere
            data[LAB_MIME] = lab_spec(self.spec)  # JupyterLab draws it live: tooltips, hover
        return data

    def __repr__(self) -> str:
        return f"Chart {self.name}: {self.alt}"


LAB_MIME: Final = "application/vnd.vegalite.v5+json"  # the newest Vega-Lite JupyterLab 4 renders


class Charts(tuple[Chart, ...]):
    """Several charts from one cell: each becomes an output of its own (as if displayed one by one)."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for one in self:
            display(one)  # type: ignore[no-untyped-call]


def chart(chart: Any, alt: str, name: str = "", *, table: Html | None = None) -> Chart:
    """Wrap an altair chart (or a Vega-Lite dict) for display in a report notebook.

    Parameters
    ----------
    chart
        An altair chart (``alt.TopLevelMixin``), e.g. from :mod:`salesreports.report.charts`, or a Vega-Lite spec dict.
        Its spec is taken with the house theme enabled, so it carries the report's fonts and colours.
    alt
        A short summary of the data for readers who cannot see the chart (screen readers, mail clients that
        block images), e.g. "Revenue rose from $31k in May to $44k in October; team median $38k".
    name
        A slug for file names and email Content-IDs; derived from ``alt`` when empty.
    table
        The chart's numbers as a table (:func:`table`), when the alt text cannot give them all: the page
        offers it under the chart ("The numbers as a table"), for screen readers and anyone who wants them.

    Raises
    ------
    TemplateError
        ``alt`` is empty, or ``chart`` is neither an altair chart nor a dict.
    """
    text = _clean(alt).strip()
    if not text:
        msg = "display.chart(): every chart needs an alt text that summarises its data (alt='...')."
        raise TemplateError(msg, chart=name)
    if isinstance(chart, Mapping):
        spec = dict(chart)
    elif hasattr(chart, "to_dict"):
        with theme.enable():
            spec = chart.to_dict()
    else:
        msg = f"display.chart(): expected an altair chart or a Vega-Lite dict, got {type(chart).__name__}."
        raise TemplateError(msg, chart=name)
    from salesreports.report.vega import safe_spec  # the one rule for text in a spec: page, live chart, PNG

    return Chart(spec=safe_spec(spec), alt=text, name=_slug(name or text), table=table)


# -- tiles ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One KPI tile.

    Attributes
    ----------
    label : what the number is ("Revenue")
    value : the formatted value ("$12,345")
    sub : small lines under the value ("target $50,000 · 92% attained")
    change : the change text ("+12% vs September"); its leading sign picks the arrow
    direction : whether the change is good, bad or neutral (its colour; lower can be better)
    unavailable_reason : set when the KPI cannot be computed; the tile then says "not available" and why
    """

    label: str
    value: str = ""
    sub: Sequence[str] = ()
    change: str = ""
    direction: Direction = "neutral"
    unavailable_reason: str | None = None

    @classmethod
    def for_kpi(
        cls,
        kpi: str,
        value: float | None,
        *,
        target: float | None = None,
        attainment: float | None = None,
        previous: float | None = None,
        previous_label: str | None = None,
        reason: str | None = None,
        currency: str | Formatter = "$",
    ) -> Tile:
        """A tile for a registry KPI: label and formats from the registry, direction from ``higher_is_better``.

        Parameters
        ----------
        kpi
            The KPI's name.
        value
            Its value; ``None``/NaN makes the tile "not available" (with ``reason``).
        target, attainment
            Shown as "target $50,000 · 92% attained" when given (attainment as a fraction).
        previous, previous_label
            The value of the comparison period: the tile shows the change, e.g. "+$1,200 vs last month"
            (``previous_label`` default: "last month" in the active language).
        reason
            Why the value is missing: an English reason of the engine, shown in the active language.
        currency
            The report's :class:`~salesreports.metrics.formats.Formatter` (locale and currency), or a currency
            symbol written in US English.
        """
        k = registry().get(kpi)
        label = _(k.label)
        if _missing(value):
            if not reason:
                return cls(label=label, unavailable_reason=_("not enough data"))
            shown = currency.reason(reason) if isinstance(currency, Formatter) else retranslate(reason)
            return cls(label=label, unavailable_reason=shown)
        assert value is not None
        sub: list[str] = []
        parts = []
        if not _missing(target):
            parts.append(_("target {amount}").format(amount=format_value(target, k.format, currency)))
        if not _missing(attainment):
            parts.append(_("{percent} attained").format(percent=format_value(attainment, "percent", currency)))
        if parts:
            sub.append(" · ".join(parts))
        change, direction = "", "neutral"
        if not _missing(previous):
            assert previous is not None
            delta, direction = change_text(kpi, float(value), float(previous), currency)
            before = _("last month") if previous_label is None else previous_label
            change = _("{change} vs {period}").format(change=delta, period=before)
        return cls(
            label=label,
            value=format_value(value, k.format, currency),
            sub=tuple(sub),
            change=change,
            direction=direction,  # type: ignore[arg-type]
        )


def change_text(kpi: str, value: float, previous: float, currency: str | Formatter = "$") -> tuple[str, Direction]:
    """The change of a registry KPI from ``previous`` to ``value`` ("+$1,200", "−3.0 pts", "±$0") and whether
    it is good, bad or neutral (lower can be better)."""
    k = registry().get(kpi)
    delta = value - previous
    direction: Direction = "neutral"
    if delta != 0:
        direction = "good" if k.is_better(value, previous) else "bad"
    return _format_delta(delta, k.format, currency), direction


def tiles(items: Sequence[Tile]) -> Html:
    """A responsive grid of KPI tiles (3-4 per row on a page, 2 on a phone; never split across PDF pages).

    Raises
    ------
    TemplateError
        A tile has an unknown ``direction``.
    """
    cells: list[str] = []
    texts: list[str] = []
    for t in items:
        if t.direction not in ("good", "bad", "neutral"):
            msg = f"display.tiles(): tile '{t.label}' has direction {t.direction!r}; use good, bad or neutral."
            raise TemplateError(msg, tile=t.label)
        label = _esc(t.label)
        if t.unavailable_reason is not None or not t.value.strip():
            reason = _clean(t.unavailable_reason or "").strip()
            na = _("not available")
            cells.append(
                f'<div class="sr-tile sr-tile--na" role="listitem"><div class="sr-tile__label">{label}</div>'
                f'<div class="sr-tile__value">{_esc(na)}</div>'
                + (f'<div class="sr-tile__sub" dir="auto">{_esc(reason)}</div>' if reason else "")
                + "</div>"
            )
            texts.append(f"{_clean(t.label)}: {na}" + (f" ({reason})" if reason else ""))
            continue
        subs = "".join(f'<div class="sr-tile__sub" dir="auto">{_esc(s)}</div>' for s in t.sub if _clean(s).strip())
        change = ""
        if t.change.strip():
            arrow = _arrow(t.change)
            word = {"good": _("better"), "bad": _("worse"), "neutral": _("no better or worse")}[t.direction]
            change = (
                f'<div class="sr-tile__change sr-change--{t.direction}">'
                + (f'<span class="sr-arrow" aria-hidden="true">{arrow}</span> ' if arrow else "")
                + f'{_esc(t.change)}<span class="sr-visually-hidden"> ({word})</span></div>'
            )
        cells.append(
            f'<div class="sr-tile sr-tile--{t.direction}" role="listitem"><div class="sr-tile__label">{label}</div>'
            f'<div class="sr-tile__value" dir="auto">{_esc(t.value)}</div>{subs}{change}</div>'
        )
        extra = [_clean(s) for s in t.sub if _clean(s).strip()]
        if t.change.strip():
            extra.append(_clean(t.change))
        texts.append(f"{_clean(t.label)}: {_clean(t.value)}" + (f" ({'; '.join(extra)})" if extra else ""))
    body = "".join(cells)
    return Html(f'<div class="sr sr-tiles {_IGNORE_MATH}" role="list">{body}</div>', "\n".join(texts))


# -- tables --------------------------------------------------------------------------------------------------


def table(
    frame: Any,
    *,
    formats: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    caption: str = "",
    currency: str | Formatter = "$",
    figures: Sequence[str] = (),
    row_headers: bool = True,
    phone_columns: int | None = None,
) -> Html:
    """An HTML table of a data frame (without its index), every cell escaped.

    Each row's first cell is its header (``<th scope="row">``: the rep's or KPI's name). On a phone every row
    becomes a card: the name, then one "column: value" line per cell (each cell carries its column's label),
    unless ``phone_columns`` is given.

    Parameters
    ----------
    frame
        A pandas DataFrame.
    formats
        Column -> KPI format name (currency, percent, count, days, per_week, ratio). Columns named after a
        registry KPI get the KPI's format unless given here. Missing values read "not available" (in the active
        language).
    labels
        Column -> header text. Columns named after a KPI default to the KPI's label (in the active language).
    caption
        The table's caption.
    figures
        Text columns holding figures already formatted ("$33,320", "40.5% – 104.1%"): they break only between
        words, never inside a number.
    row_headers
        Make each row's first cell its header (default); ``False`` for a table without a name column.
    phone_columns
        For a long ranking: on a phone the table stays a table of its first column and the next
        ``phone_columns`` columns, one line a row, instead of a card per row; a note under it names the columns
        left out there (a wider screen and paper show every column).

    Raises
    ------
    TemplateError
        An unknown format name, or a format for a column the frame lacks.
    """
    formats = dict(formats or {})
    labels = dict(labels or {})
    columns = [str(c) for c in frame.columns]
    for col, fmt in formats.items():
        if fmt not in FORMATS:
            msg = f"display.table(): column '{col}' has format '{fmt}'.{close_matches(fmt, FORMATS)} Use one of: "
            msg += ", ".join(FORMATS) + "."
            raise TemplateError(msg, column=col, format=fmt)
        if col not in columns:
            msg = f"display.table(): a format is given for column '{col}' but the frame has no such column."
            msg += close_matches(col, columns)
            raise TemplateError(msg, column=col)
    reg = registry()
    fmts: dict[str, str | None] = {}
    heads: dict[str, str] = {}
    for col in columns:
        kpi = reg.get(col) if col in reg else None
        fmts[col] = formats.get(col) or (kpi.format if kpi else None)
        heads[col] = _clean(labels.get(col) or (_(kpi.label) if kpi else col))
    kinds = {c: _column_kind(frame[c], fmts[c]) for c in columns}
    numeric = {c: kinds[c] == "num" for c in columns}
    css = {"num": "sr-num", "date": "sr-date", "text": ""}
    keep = set(map(str, figures))
    # on a phone: the columns a compact table leaves out
    wide = set(columns[1 + max(phone_columns, 0) :]) if phone_columns is not None else set()

    cells_text: list[list[str]] = []
    body: list[str] = []
    values = [frame.iloc[:, i].tolist() for i in range(len(columns))]
    for r in range(len(frame)):
        row_text: list[str] = []
        tds: list[str] = []
        for i, col in enumerate(columns):
            text, missing = _cell(values[i][r], fmts[col], currency)
            row_text.append(text)
            cls = " ".join(
                c
                for c in (
                    css[kinds[col]],
                    "sr-fig" if col in keep else "",
                    "sr-na" if missing else "",
                    "sr-wide" if col in wide else "",
                )
                if c
            )
            attr = f' class="{cls}"' if cls else ""
            direction = ' dir="auto"' if kinds[col] == "text" else ""
            if i == 0 and row_headers:
                tds.append(f'<th scope="row"{attr}{direction}>{_esc(text)}</th>')
            else:
                tds.append(f'<td{attr}{direction} data-label="{_esc(heads[col])}">{_esc(text)}</td>')
        body.append(f"<tr>{''.join(tds)}</tr>")
        cells_text.append(row_text)

    def head_class(col: str) -> str:
        cls = " ".join(c for c in ("sr-num" if numeric[col] else "", "sr-wide" if col in wide else "") if c)
        return f' class="{cls}"' if cls else ""

    ths = "".join(f'<th scope="col"{head_class(c)}>{_esc(heads[c])}</th>' for c in columns)
    cap = _clean(caption).strip()
    cap_html = f"<caption>{_esc(cap)}</caption>" if cap else ""
    empty = "" if body else f'<tr><td colspan="{max(len(columns), 1)}" class="sr-na">{_esc(_("No rows."))}</td></tr>'
    # focusable and named: a table wider than the screen scrolls inside its box, by keyboard too
    name = _esc(cap or _("Table"))
    compact = " sr-table--compact" if phone_columns is not None else ""
    left_out = ", ".join(in_sentence(heads[c]) for c in columns if c in wide)
    more = _("More columns on a wider screen or on paper: {columns}.").format(columns=left_out)
    note = f'<p class="sr-note sr-phone-only" dir="auto">{_esc(more)}</p>' if left_out else ""
    html = (
        f'<div class="sr sr-table-wrap {_IGNORE_MATH}" role="region" tabindex="0" aria-label="{name}">'
        f'<table class="sr-table{compact}">{cap_html}'
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(body)}{empty}</tbody></table>{note}</div>"
    )
    return Html(
        html, _text_table([heads[c] for c in columns], cells_text, numeric=[numeric[c] for c in columns], caption=cap)
    )


# -- callouts, badges, notes ---------------------------------------------------------------------------------


def callout(kind: CalloutKind, title: str, body_lines: Sequence[str] | str = (), *, compact: bool = False) -> Html:
    """A highlighted box: ``info`` (neutral), ``good`` (well done) or ``warn`` (needs attention). ``compact``:
    reference text printed small and tight (the "Not in your data" note), so that it rarely needs a page of
    its own.

    Raises
    ------
    TemplateError
        An unknown ``kind``.
    """
    if kind not in ("info", "good", "warn"):
        msg = f"display.callout(): kind {kind!r} is unknown; use info, good or warn."
        raise TemplateError(msg, kind=str(kind))
    lines = [body_lines] if isinstance(body_lines, str) else list(body_lines)
    lines = [_clean(x).strip() for x in lines if _clean(x).strip()]
    label = {"info": _("Note"), "good": _("Well done"), "warn": _("Needs attention")}[kind]
    if len(lines) == 1:
        body = f'<p dir="auto">{_esc(lines[0])}</p>'
    elif lines:
        body = "<ul>" + "".join(f'<li dir="auto">{_esc(x)}</li>' for x in lines) + "</ul>"
    else:
        body = ""
    long = " sr-callout--long" if len(lines) > 4 else ""  # a long list may break across PDF pages (whole lines)
    long += " sr-callout--compact" if compact else ""
    html = (
        f'<aside class="sr sr-callout sr-callout--{kind}{long} {_IGNORE_MATH}" role="note" aria-label="{label}">'
        f'<p class="sr-callout__title" dir="auto">{_esc(title)}</p>{body}</aside>'
    )
    text = f"[{label}] {_clean(title)}" + "".join(f"\n  - {x}" for x in lines)
    return Html(html, text)


def badge(text: str, kind: str = "neutral") -> Html:
    """A small coloured label; ``kind`` is good, bad, neutral, info, warn or a goal status (e.g. "at risk").

    Raises
    ------
    TemplateError
        An unknown ``kind``.
    """
    k = _kind(kind)
    return Html(
        f'<span class="sr sr-badge sr-badge--{k.replace(" ", "-")}" dir="auto">{_esc(text)}</span>', f"[{_clean(text)}]"
    )


def lead(text: str) -> Html:
    """A section's lead-in paragraph written by a view (what a template's narrative says, when it depends on the
    data): the narrative's style, kept with what follows in the PDF."""
    return Html(f'<p class="sr sr-lead {_IGNORE_MATH}" dir="auto">{_esc(text)}</p>', _clean(text))


def section_note(text: str) -> Html:
    """A small, muted paragraph: data caveats, definitions, "as of" dates."""
    return Html(f'<p class="sr sr-note {_IGNORE_MATH}" dir="auto">{_esc(text)}</p>', _clean(text))


def notes_area(title: str, subtitle: str = "", lines: int = 16) -> Html:
    """A ruled area to write on: ``lines`` ruled lines under a title, kept on one PDF page (a light ruled box
    on screen). The review template ends with one for the manager's notes."""
    rules = '<div class="sr-notes-area__line"></div>' * max(lines, 1)
    sub = f'<p class="sr-notes-area__meta" dir="auto">{_esc(subtitle)}</p>' if _clean(subtitle).strip() else ""
    html = (
        f'<section class="sr sr-notes-area {_IGNORE_MATH}" aria-label="{_esc(title)}">'
        f'<p class="sr-notes-area__title" dir="auto">{_esc(title)}</p>{sub}{rules}</section>'
    )
    text = "\n".join([_clean(title), *([_clean(subtitle)] if sub else []), *["_" * 60] * max(lines, 1)])
    return Html(html, text)


# -- goals ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalItem:
    """One goal as a scorecard shows it (all values already formatted as text).

    Attributes
    ----------
    name : the goal ("$500,000 revenue by end of Q1")
    status : achieved, ahead, on track, at risk or missed
    actual, expected, projected : actual to date, expected to date at pace, projected at the deadline
    target : the target text
    progress : actual as a fraction of the target (drives the bar; may exceed 1)
    expected_progress : where the goal should be by now, as a fraction of the target (the bar's marker)
    deadline : the deadline text ("31 Mar 2027")
    note : one more line (the objective it serves, a coaching hint)
    """

    name: str
    status: str
    actual: str = ""
    expected: str = ""
    projected: str = ""
    target: str = ""
    progress: float | None = None
    expected_progress: float | None = None
    deadline: str = ""
    note: str = ""

    @classmethod
    def coerce(cls, goal: Any) -> GoalItem:
        """A GoalItem from a GoalItem, a mapping or any object with the same attribute names."""
        if isinstance(goal, GoalItem):
            return goal
        names = [f.name for f in fields(cls)]
        if isinstance(goal, Mapping):
            data = {n: goal[n] for n in names if n in goal}
        else:
            data = {n: getattr(goal, n) for n in names if hasattr(goal, n)}
        if "name" not in data or "status" not in data:
            msg = "display.goal_list(): every goal needs at least a name and a status."
            raise TemplateError(msg)
        for key in ("progress", "expected_progress"):
            value = data.get(key)
            data[key] = None if value is None or _missing(value) else float(value)
        for key in ("name", "actual", "expected", "projected", "target", "deadline", "note"):
            if key in data:
                data[key] = "" if data[key] is None else str(data[key])
        data["status"] = _status(data["status"])
        return cls(**data)


def goal_list(goals: Sequence[Any], *, formats: Formatter | None = None) -> Html:
    """Goals with a status badge, a small progress bar (pure HTML/CSS) and actual / expected / projected.

    Parameters
    ----------
    goals
        :class:`GoalItem` objects, mappings or objects with the same attribute names.
    formats
        The report's formatter (percentages of the progress bars); default en_US.

    Raises
    ------
    TemplateError
        A goal without a name or status, or with an unknown status.
    """
    items = [GoalItem.coerce(g) for g in goals]
    fmt = as_formatter(formats or "$")
    pct = fmt.percent
    if not items:
        none = _("No goals for this period.")
        return Html(f'<p class="sr sr-note {_IGNORE_MATH}">{_esc(none)}</p>', none)
    lis: list[str] = []
    texts: list[str] = []
    for g in items:
        cls = g.status.replace(" ", "-")
        bar = ""
        if g.progress is not None:
            width = max(0.0, min(g.progress, 1.0)) * 100
            shown = pct(g.progress)
            aria = _("{percent} of target reached").format(percent=shown)
            if g.progress < 0:  # moved away from the target since the baseline: no "-92.0% reached"
                shown = _("moved away")
                away = pct(-g.progress)
                aria = _(
                    "no progress towards the target: moved away from it by {percent} of the distance to go"
                ).format(percent=away)
            mark = ""
            if g.expected_progress is not None:
                left = max(0.0, min(g.expected_progress, 1.0)) * 100
                aria += "; " + _("{percent} expected by now").format(percent=pct(g.expected_progress))
                mark = f'<span class="sr-bar__mark" style="left:{left:.1f}%"></span>'
            bar = (
                f'<div class="sr-goal__progress"><div class="sr-bar" role="img" aria-label="{_esc(aria)}">'
                f'<span class="sr-bar__fill sr-bar__fill--{cls}" style="width:{width:.1f}%"></span>{mark}</div>'
                f'<span class="sr-bar__pct">{_esc(shown)}</span></div>'
            )
        facts = [
            (_("Actual"), g.actual),
            (_("Expected by now"), g.expected),
            (
                _("Projected by {deadline}").format(deadline=fmt.month_iso_or_short(g.deadline))
                if g.deadline
                else _("Projected"),
                g.projected,
            ),
            (_("Target"), g.target),
        ]
        dl = "".join(
            f'<div><dt>{_esc(k)}</dt><dd dir="auto">{_esc(v)}</dd></div>' for k, v in facts if _clean(v).strip()
        )
        note = f'<p class="sr-goal__note" dir="auto">{_esc(g.note)}</p>' if g.note.strip() else ""
        lis.append(
            f'<li class="sr-goal sr-goal--{cls}"><div class="sr-goal__head">'
            f'<span class="sr-goal__name" dir="auto">{_esc(g.name)}</span>'
            f'<span class="sr-badge sr-badge--{cls}">{_esc(_(g.status))}</span></div>{bar}'
            + (f'<dl class="sr-goal__facts">{dl}</dl>' if dl else "")
            + f"{note}</li>"
        )
        facts_text = "; ".join(f"{k.lower()} {_clean(v)}" for k, v in facts if _clean(v).strip())
        texts.append(f"- {_clean(g.name)} [{_(g.status)}]" + (f": {facts_text}" if facts_text else ""))
    html = f'<ul class="sr sr-goals {_IGNORE_MATH}">{"".join(lis)}</ul>'
    return Html(html, "\n".join(texts))


# -- helpers -------------------------------------------------------------------------------------------------


def ordinal(value: float) -> str:
    """A rank for people: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 41st, 92nd (in the active language: the
    English form's message, e.g. "{n}." in German)."""
    n = round(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    # TRANSLATORS: an ordinal number (a percentile rank: 1st, 21st); the English suffix follows the number
    forms = {"st": _("{n}st"), "nd": _("{n}nd"), "rd": _("{n}rd"), "th": _("{n}th")}
    return forms[suffix].format(n=n)


def _clean(value: Any) -> str:
    """Text safe for HTML, XML and PDF (:func:`salesreports.text.clean`: no control characters, no lone
    surrogates)."""
    return clean(value)


def _esc(value: Any) -> str:
    return _html.escape(_clean(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _arrow(change: str) -> str:
    head = change.strip()[:1]
    if head == "+":
        return "▲"
    if head in ("-", "−"):
        return "▼"
    return ""


def _format_delta(delta: float, fmt: str, currency: str | Formatter) -> str:
    return as_formatter(currency).delta(delta, fmt)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", _clean(text).lower()).strip("-")[:40].strip("-")
    return slug or "chart"


def _kind(kind: str) -> str:
    k = str(kind).strip().lower().replace("_", " ").replace("-", " ")
    if k not in BADGE_KINDS:
        msg = f"display.badge(): kind {kind!r} is unknown.{close_matches(k, BADGE_KINDS)} Use one of: "
        msg += ", ".join(BADGE_KINDS) + "."
        raise TemplateError(msg, kind=str(kind))
    return k


def _status(value: Any) -> str:
    text = str(getattr(value, "value", value)).strip().lower().replace("_", " ").replace("-", " ")
    if text not in theme.STATUSES:
        msg = f"display.goal_list(): unknown goal status {value!r}.{close_matches(text, theme.STATUSES)} "
        msg += "Use one of: " + ", ".join(theme.STATUSES) + "."
        raise TemplateError(msg, status=str(value))
    return text


def _column_kind(series: Any, fmt: str | None) -> str:
    """num (right-aligned), date (kept on one line) or text."""
    kind = getattr(getattr(series, "dtype", None), "kind", "O")
    if fmt is not None or kind in "iuf":
        return "num"
    return "date" if kind == "M" else "text"


def _cell(value: Any, fmt: str | None, currency: str | Formatter) -> tuple[str, bool]:
    """(text, is_missing) of one table cell."""
    if value is None or _missing_scalar(value):
        return _("not available"), True
    if fmt is not None:
        try:
            return format_value(float(value), fmt, currency), False
        except (TypeError, ValueError):
            return _clean(value), False
    if isinstance(value, bool):
        return (_("yes") if value else _("no")), False
    if isinstance(value, int) or (hasattr(value, "is_integer") and isinstance(value, float) and value.is_integer()):
        return as_formatter(currency).count(value), False
    if isinstance(value, float):
        return as_formatter(currency).number(value, 2), False
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return (text[:10] if text.endswith("T00:00:00") else text), False
    if hasattr(value, "item"):
        return _cell(value.item(), fmt, currency)
    return _clean(value), False


def _missing_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _text_table(heads: list[str], rows: list[list[str]], *, numeric: list[bool], caption: str) -> str:
    widths = [min(max([len(h), *(len(r[i]) for r in rows)]), 40) for i, h in enumerate(heads)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            c = c if len(c) <= 40 else c[:39] + "…"
            out.append(c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    parts = [caption] if caption else []
    parts.append(line(heads))
    parts.append("  ".join("-" * w for w in widths))
    parts.extend(line(r) for r in rows)
    return "\n".join(parts)
