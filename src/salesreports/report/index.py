"""The index page of one period: every rep and team report, its status, headline KPIs and links.

:func:`write_index` writes one self-contained ``index.html`` (inline CSS, a few lines of
inline JavaScript, no network): a search box, status/kind/team filters, headers that sort
on click and pages of 100 rows. The reports travel as one JSON block; the script builds only
the rows of the visible page, so 5,000 reps stay fast (filtering and sorting are
``O(n)`` and ``O(n log n)`` over plain arrays, never DOM reordering).

The page is in the company's locale (``locale=``, else the manifest's ``locale``; en_US by default): its
words through the gettext catalogs (the script's too: they travel as one JSON block), its counts, dates and
figures by the locale's :class:`~salesreports.metrics.formats.Formatter`.

Manifest contract (paths relative to the index's folder)::

    {"period": "2026-10", "period_title": "October 2026", "generated_at": ISO, "company": str, "locale": str,
     "reports": [{"kind": "rep"|"team", "id": "R001", "name": "Ann Archer", "team": "North",
                  "status": "ok"|"failed"|"skipped", "error": str|None, "reason": str|None,
                  "outputs": {"html": "R001/scorecard.html", "pdf": "R001/scorecard.pdf", "ipynb": ...},
                  "headline": {"revenue": {"value": 12345.0, "text": "$12,345"}, ...}}]}

A headline item without a value may carry its ``reason`` (the engine's, in English): a report whose every shown
figure is missing for one same reason (a rep in the team list who never sold) gets that reason once, in one
cell across the KPI columns, instead of a "not available" in each.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import quote

from salesreports import __version__, i18n
from salesreports.errors import RenderError
from salesreports.i18n import N_, _, ngettext
from salesreports.metrics.kpis import Formatter, format_value, formatter, registry
from salesreports.report.render import atomic_write, format_timestamp, html_lang, json_for_script
from salesreports.text import clean

__all__ = ["STATUSES", "write_index"]

STATUSES: Final = (N_("ok"), N_("failed"), N_("skipped"))  # codes; the page shows each in its language
KINDS: Final = ("rep", "team")
_TEMPLATE_DIR: Final = Path(__file__).with_name("templates") / "index"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def write_index(manifest: Mapping[str, Any], out: Path, *, locale: str | None = None) -> Path:
    """Write the period's ``index.html`` (atomically).

    Parameters
    ----------
    manifest
        The run manifest (see the module docstring). Unknown keys are ignored; a report's ``headline`` maps
        KPI names (labels come from the registry) or free names to ``{"value": float|None, "text": str}``.
    out
        The file to write; report links are made relative to its folder.
    locale
        The company's locale (the settings' ``locale``): the page's language, numbers and dates. Default: the
        manifest's ``locale``, else en_US.

    Returns
    -------
    The path written.

    Raises
    ------
    RenderError
        The manifest has no ``reports`` list, or a report lacks ``id``/``name``, or has an unknown status or
        kind (all problems are listed at once).
    """
    out = Path(out)
    reports = manifest.get("reports")
    if not isinstance(reports, Sequence) or isinstance(reports, (str, bytes)):
        msg = f"{out}: the manifest has no 'reports' list; cannot write the index."
        raise RenderError(msg, stage="index", path=str(out))
    problems: list[str] = []
    kpi_keys: dict[str, None] = {}
    for n, r in enumerate(reports, start=1):
        if not isinstance(r, Mapping):
            problems.append(f"report {n}: expected a mapping, got {type(r).__name__}")
            continue
        where = f"report {n} ({r.get('id', '?')})"
        if not str(r.get("id") or "").strip():
            problems.append(f"{where}: no id")
        if r.get("status", "ok") not in STATUSES:
            problems.append(f"{where}: status {r.get('status')!r}; expected one of {', '.join(STATUSES)}")
        if r.get("kind", "rep") not in KINDS:
            problems.append(f"{where}: kind {r.get('kind')!r}; expected rep or team")
        for key in (r.get("headline") or {}) if isinstance(r.get("headline"), Mapping) else ():
            kpi_keys.setdefault(str(key), None)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        msg = f"{out}: the manifest has {len(problems)} problem(s):\n{shown}{more}"
        raise RenderError(msg, stage="index", path=str(out))
    locale = locale or str(manifest.get("locale") or "") or None
    with i18n.override(locale):
        html = _page(manifest, reports, list(kpi_keys), out, locale)
    atomic_write(out, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return out


def _page(manifest: Mapping[str, Any], reports: Sequence[Any], kpis: list[str], out: Path, locale: str | None) -> str:
    """The index page's HTML, its words in the active language."""
    formats = formatter(locale)
    base = out.parent.resolve()
    rows = [_row(r, kpis, base, formats) for r in reports]
    # a KPI column without a value for anyone says nothing: leave it out
    filled = [i for i in range(len(kpis)) if any(r["v"][i] is not None for r in rows)]
    kpis = [kpis[i] for i in filled]
    for r in rows:
        r["v"], r["x"] = [r["v"][i] for i in filled], [r["x"][i] for i in filled]
        why = {r["w"][i] for i in filled}
        if filled and r["s"] == "ok" and all(v is None for v in r["v"]) and len(why) == 1 and "" not in why:
            note = i18n.retranslate(why.pop())
            r["z"] = _text(note[:1].upper() + note[1:])  # one reason across the KPI columns
        del r["w"]
    reg = registry()
    kpi_labels = [_(reg.get(k).label) if k in reg else k.replace("_", " ").capitalize() for k in kpis]
    counts = dict.fromkeys(STATUSES, 0)
    kinds = dict.fromkeys(KINDS, 0)
    for r in rows:
        counts[r["s"]] += 1
        kinds[r["kind"]] += 1
    teams = sorted({r["t"] for r in rows if r["t"]}, key=str.casefold)
    period_title = str(manifest.get("period_title") or manifest.get("period") or "")
    company = _text(manifest.get("company"))
    columns = [
        {"key": "name", "label": _("Name"), "type": "text"},
        {"key": "kind", "label": _("Kind"), "type": "text"},
        {"key": "team", "label": _("Team"), "type": "text"},
        {"key": "status", "label": _("Status"), "type": "text"},
        *({"key": f"kpi:{i}", "label": label, "type": "num"} for i, label in enumerate(kpi_labels)),
    ]
    for col in columns:
        col["sort"] = _("Sort by {column}").format(column=i18n.in_sentence(col["label"]))
    data = {"rows": rows, "kpis": kpi_labels, "columns": len(columns), "words": _script_words(formats.locale)}
    count = formats.count
    reps = ngettext("{n} rep scorecard", "{n} rep scorecards", kinds["rep"]).format(n=count(kinds["rep"]))
    summaries = ngettext("{n} team summary", "{n} team summaries", kinds["team"]).format(n=count(kinds["team"]))
    return str(
        _template().render(
            lang=html_lang(formats.locale),
            version=__version__,
            title=_("Reports · {period}").format(period=period_title) if period_title else _("Reports"),
            heading=_("Sales reports · {period}").format(period=period_title) if period_title else _("Sales reports"),
            company=company,
            summary=_("{reps} and {teams}").format(reps=reps, teams=summaries),
            generated=format_timestamp(manifest.get("generated_at"), formats if locale else None),
            period_title=period_title,
            counts=[
                {"key": "all", "n": count(len(rows)), "label": _("reports")},
                *({"key": s, "n": count(counts[s]), "label": _(s)} for s in STATUSES),
            ],
            statuses=[{"key": s, "label": _(s)} for s in STATUSES],
            teams=teams,
            columns=columns,
            total=count(len(rows)),
            css=_asset("index.css"),
            js=_asset("index.js"),
            data=json_for_script(data),
        )
    )


def _script_words(locale: str | None) -> dict[str, Any]:
    """The words the page's script writes, in the active language (``{name}`` fields filled by the script)."""
    return {
        "lang": html_lang(locale),
        "kind": _("Kind"),
        "team": _("Team"),
        "status": _("Status"),
        "kinds": {"rep": _("rep"), "team": _("team")},
        "statuses": {s: _(s) for s in STATUSES},
        "html": _("HTML"),
        "pdf": _("PDF"),
        "notebook": _("notebook"),
        "none": _("No report matches."),
        "showing": _("Showing {first}–{last} of {shown}"),
        "filtered": _("Showing {first}–{last} of {shown} (filtered from {total})"),
        "nothing": _("0 of {total}"),
    }


def _row(report: Mapping[str, Any], kpis: list[str], base: Path, formats: Formatter) -> dict[str, Any]:
    status = str(report.get("status") or "ok")
    outputs = report.get("outputs") or {}
    headline = report.get("headline") or {}
    values: list[float | None] = []
    texts: list[str] = []
    reasons: list[str] = []
    for key in kpis:
        item = headline.get(key)
        value, text = _headline(key, item, formats)
        values.append(value)
        texts.append(text)
        reasons.append(str(item.get("reason") or "") if isinstance(item, Mapping) and value is None else "")
    # a skipped rep's reason is stored in English (scope.employment): shown in the page's language
    message = report.get("error") if status == "failed" else report.get("reason") if status == "skipped" else None
    if status == "skipped" and message:
        message = i18n.retranslate(str(message))
    kind = str(report.get("kind") or "rep")
    company = _is_company(report, kind)
    return {
        **({"o": True} if company else {}),  # its id ("company") is its name in English: not shown beside it
        "kind": kind,
        "i": _text(report.get("id")),
        "n": _company(_text(report.get("name") or report.get("id")), kind),
        "t": "" if company else _text(report.get("team")),
        "s": status,
        "m": _text(message),
        "h": _href(outputs.get("html"), base),
        "p": _href(outputs.get("pdf"), base),
        "b": _href(outputs.get("ipynb"), base),
        "v": values,
        "x": texts,
        "w": reasons,
    }


def _is_company(report: Mapping[str, Any], kind: str) -> bool:
    """Whether a report is the company summary (the team report of id ``company``, the whole company)."""
    return kind == "team" and "company" in (str(report.get("id") or ""), str(report.get("name") or ""))


def _company(name: str, kind: str) -> str:
    """The company summary's name as its page calls it ("Company summary", in the page's language); the whole
    company is no team, so its row has none (:func:`_row`)."""
    return _("Company summary") if kind == "team" and name == "company" else name


def _headline(key: str, item: Any, formats: Formatter) -> tuple[float | None, str]:
    """(sortable value, display text) of one headline KPI; missing values sort last and read "not available"."""
    if item is None:
        return None, ""  # not reported (a failed or skipped report): the page shows a dash
    if isinstance(item, Mapping):
        raw, text = item.get("value"), item.get("text")
    else:
        raw, text = item, None
    value: float | None
    try:
        value = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        value = None
    if value is not None and not math.isfinite(value):
        value = None
    if text is None or str(text).strip() == "":
        reg = registry()
        fmt = reg.get(key).format if key in reg else "ratio"
        text = (
            format_value(value, fmt, formats)
            if key in reg
            else (_("not available") if value is None else formats.number(value, 2))
        )
    return value, _text(text)


def _href(path: Any, base: Path) -> str | None:
    """A safe relative URL for a report file, or None (no scheme, no absolute paths, percent-encoded)."""
    if path is None or str(path).strip() == "":
        return None
    text = str(path).strip().replace("\\", "/")
    if _SCHEME.match(text) and not re.match(r"^[A-Za-z]:/", text):
        return None  # javascript:, http:, file: ... never; links stay next to the index
    candidate = Path(text)
    if candidate.is_absolute() or re.match(r"^[A-Za-z]:/", text):
        try:
            text = os.path.relpath(candidate, base).replace(os.sep, "/")
        except ValueError:
            return None
    clean = PurePosixPath(text).as_posix()
    return quote(clean, safe="/-._~")


def _text(value: Any) -> str:
    """A manifest string as the page shows it: the one rule for data strings (:func:`salesreports.text.clean`)."""
    return clean(value)


@cache
def _asset(name: str) -> str:
    return (_TEMPLATE_DIR / name).read_text(encoding="utf-8")


@cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=False,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # _() and ngettext() in the active language (write_index renders in the company's)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=False)  # type: ignore[attr-defined]
    return env.get_template("index.html.j2")
