"""A goal's progress as of a month: actual, expected at pace (linear and seasonal), projection and status.

*Actual* is the sum so far (``total``), the run rate (``per_period``) or the KPI's value (``level``);
*expected* is the target times the share of the window gone (linear pace), or of last year's company total
that fell in the elapsed part of the window (*seasonal*, when last year has data); *projected* extends
actual to the deadline. Status: ``not started`` before the start; at (or after) the deadline ``achieved``
or ``missed``; in between ``achieved`` once a cumulative target is already reached, otherwise ``pace``
decides: ``ahead`` when pace >= ``settings.ahead``, ``at risk`` when pace < -``settings.at_risk``, else
``on track``. ``not available`` when the KPI has no value (a missing table, an invalid goal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesreports import i18n
from salesreports.errors import ParamsError
from salesreports.i18n import N_, _, ngettext
from salesreports.metrics.formats import TO_DATE
from salesreports.metrics.periods import Period, parse_period

if TYPE_CHECKING:
    from salesreports.data.loading import Dataset
    from salesreports.metrics.engine import KpiTable
    from salesreports.metrics.formats import Formatter

from salesreports.metrics.goals.declaration import COMPANY, Goal, GoalSet, GoalSettings
from salesreports.metrics.goals.plan import Plan, Tables, entity, month_title, resolve

__all__ = ["STATUSES", "GoalProgress", "goal_progress", "note_text", "summary_text"]

STATUSES = (
    N_("not started"),
    N_("on track"),
    N_("ahead"),
    N_("at risk"),
    N_("achieved"),
    N_("missed"),
    N_("not available"),
)
"""Every status of a goal: stored in English (pages compare them and colour by them), translated where shown
(``_(status)``; :func:`summary_text` does)."""
# Notes, computed once for every reader, stored in English and translated where shown (:func:`note_text`)
_NO_SEASON = N_("last year's same months give no seasonal shape: linear pace only")
_RECOMPUTED = N_("recomputed on {scope}")
_NO_BASELINE = N_("no baseline: the current value is compared with the target directly")
_STILL_CONVERTING = N_("recent leads may still convert, so the latest conversion understates the final one")
_STARTS = N_("starts in {month}")


@dataclass(frozen=True)
class GoalProgress:
    """Where a goal stands at the as-of date. Numbers are None when not available.

    Attributes
    ----------
    goal_id, owner, owner_type (rep, team, company or "" when unknown), metric, label (the KPI's label),
    scope (text), objective
    mode : total, per_period or level (see the module docs)
    per : the period a ``per_period`` target applies to, or a ``level`` KPI is measured over
    start, deadline : first and last month of the window (``2026-10``, ``2026-12``)
    as_of : the date progress is measured at (ISO)
    elapsed : the share of the window's days gone (0..1)
    target : the resolved target (per period for ``per_period``)
    baseline : the baseline value (relative targets, ``level`` paths)
    actual : so far (``total``), run rate per period (``per_period``) or the current value (``level``)
    expected : where a linear pace would be now (same unit as actual)
    expected_seasonal : the same, following last year's monthly shape (``total``/``per_period``)
    projected : the value expected at the deadline at the current pace
    pace : how far ahead (+) or behind (-) as a fraction (see the module docs)
    actual_pct, expected_pct : the share of the target reached, and expected by now (for charts)
    periods_met, periods_done : ``per_period`` goals: complete periods that reached the target, and all
    complete periods of the window so far
    measured_on : the period the actual value covers (``2026-10-QTD``, ``Oct 2026 – 30 Oct 2026``)
    status : one of :data:`STATUSES`
    summary : one sentence for people
    note : caveats (no seasonality, a scoped recomputation, why a value is missing)
    """

    goal_id: str
    owner: str
    owner_type: str
    metric: str
    label: str
    scope: str
    objective: str
    mode: str
    per: str
    start: str
    deadline: str
    as_of: str
    elapsed: float | None
    target: float | None
    baseline: float | None
    actual: float | None
    expected: float | None
    expected_seasonal: float | None
    projected: float | None
    pace: float | None
    actual_pct: float | None
    expected_pct: float | None
    periods_met: int | None
    periods_done: int | None
    measured_on: str
    status: str
    summary: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (None for missing numbers)."""
        return asdict(self)

    def formatted(self, currency: str | Formatter = "$") -> dict[str, str]:
        """target, baseline, actual, expected, expected_seasonal and projected formatted by the KPI's format
        (``currency``: a :class:`~salesreports.metrics.formats.Formatter`, or a currency symbol in US English)."""
        from salesreports.metrics.kpis import format_value, registry

        reg = registry()
        fmt = reg.get(self.metric).format if self.metric in reg else "ratio"
        # TRANSLATORS: a goal's figure per period of its target: "$5,000/month"
        unit = {"month": _("{value}/month"), "quarter": _("{value}/quarter")}.get(self.per, "{value}/" + self.per)
        out = {}
        for name in ("target", "baseline", "actual", "expected", "expected_seasonal", "projected"):
            value = getattr(self, name)
            text = format_value(value, fmt, currency)
            out[name] = unit.format(value=text) if value is not None and self.mode == "per_period" else text
        return out


def _as_of(table: KpiTable, period: str | Period | None) -> pd.Timestamp:
    as_of = pd.Timestamp(table.grid.as_of).normalize()
    if period is None:
        return as_of
    p = period if isinstance(period, Period) else parse_period(str(period))
    return min(as_of, p.last_day)


def goal_progress(
    goals: GoalSet | Sequence[Goal],
    table: KpiTable,
    *,
    data: Dataset | None = None,
    period: str | Period | None = None,
    settings: GoalSettings | None = None,
    tables: Tables | None = None,
) -> list[GoalProgress]:
    """Progress of every goal at the end of ``period`` (default: the data's last day).

    Parameters
    ----------
    goals : a :class:`GoalSet` or goals
    table : the KPI table
    data : the data set, needed for scoped goals
    period : measure as of the last day of this period (capped at the data's last day)
    settings : status thresholds (default: the goal set's)
    tables : the goals' tables of the same ``table`` and ``data`` (:class:`~salesreports.metrics.goals.plan.Tables`),
        to share the scoped goals' computation with :func:`~salesreports.metrics.goals.smart.check_goals`

    Returns
    -------
    list[GoalProgress]
        One per goal, in order. Goals that fail the SMART check's errors get status "not available"
        with the problem in ``note``.
    """
    settings = settings or (goals.settings if isinstance(goals, GoalSet) else GoalSettings())
    tables = Tables.of(table, data, tables)
    as_of = _as_of(table, period)
    return [_progress(resolve(goal, tables), as_of, settings) for goal in goals]


def _blank(plan: Plan, as_of: pd.Timestamp, status: str, note: str) -> GoalProgress:
    g = plan.goal
    return GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label if plan.kpi else g.metric,
        scope=g.scope_text,
        objective=g.objective,
        mode=plan.mode,
        per=plan.per,
        start=str(plan.first or g.start),
        deadline=str(plan.last or g.deadline),
        as_of=as_of.date().isoformat(),
        elapsed=None,
        target=plan.target,
        baseline=plan.baseline,
        actual=None,
        expected=None,
        expected_seasonal=None,
        projected=None,
        pace=None,
        actual_pct=None,
        expected_pct=None,
        periods_met=None,
        periods_done=None,
        measured_on="",
        status=status,
        summary=note,
        note=note,
    )


def _progress(plan: Plan, as_of: pd.Timestamp, settings: GoalSettings) -> GoalProgress:
    if not plan.ok or plan.target is None:
        problems = [p for letter in ("S", "M", "T") for p in plan.problems[letter]]
        # the SMART check's problems: for analysts (such a goal is never shown on a page)
        return _blank(plan, as_of, "not available", "; ".join(problems) or "the target could not be resolved")
    assert plan.first is not None
    assert plan.last is not None
    first_day = plan.first.start_time.normalize()
    last_day = plan.last.end_time.normalize()
    if as_of < first_day:
        return _blank(plan, as_of, "not started", _STARTS.format(month=month_title(plan.first)))
    total_days = (last_day - first_day).days + 1
    elapsed = min(((as_of - first_day).days + 1) / total_days, 1.0)
    if plan.mode == "level":
        return _level(plan, as_of, elapsed, settings)
    return _cumulative(plan, as_of, elapsed, settings)


def _status_from_pace(pace: float | None, settings: GoalSettings) -> str:
    if pace is None or pace >= -settings.at_risk:
        return "ahead" if pace is not None and pace >= settings.ahead else "on track"
    return "at risk"


def _meets(plan: Plan, value: float, target: float) -> bool:
    return (value - target) * plan.direction >= 0


def _seasonal_share(plan: Plan, as_of: pd.Timestamp) -> float | None:
    """Share of last year's company total (same scope) that fell in the elapsed part of the window."""
    assert plan.company is not None
    assert plan.kpi is not None
    months = plan.months
    weights = plan.company.series("company", COMPANY, plan.kpi.name, "month").reindex([str(m - 12) for m in months])
    w = weights.to_numpy(dtype=np.float64)
    if np.isnan(w).any() or (w < 0).any() or w.sum() <= 0:
        return None
    now = as_of.to_period("M")
    done = np.array([m < now for m in months])
    current = np.array([m == now for m in months])
    fraction = as_of.day / as_of.days_in_month
    share = float((w[done].sum() + fraction * w[current].sum()) / w.sum())
    return share if share > 0 else None  # nothing last year in the elapsed months: no basis for a projection


def _cumulative(plan: Plan, as_of: pd.Timestamp, elapsed: float, settings: GoalSettings) -> GoalProgress:
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.target is not None
    assert plan.first is not None
    g = plan.goal
    etype, eid = entity(g.owner, plan.values.table)
    months = plan.months
    now = as_of.to_period("M")
    seen = [str(m) for m in months if m <= now]
    rows = plan.values.rows(etype, eid, plan.kpi.name, "month").reindex(seen)
    values = rows["value"].astype(np.float64)
    if values.isna().all():
        reasons = [str(r) for r in rows["reason"].dropna() if str(r)]
        return _blank(plan, as_of, "not available", reasons[0] if reasons else N_("no data in the window yet"))
    n_periods = len(months) / plan.per_months if plan.mode == "per_period" else 1.0
    total_target = plan.target * n_periods
    actual = float(values.sum())
    expected = total_target * elapsed
    share = _seasonal_share(plan, as_of)
    seasonal = total_target * share if share is not None else None
    basis = share if share is not None else elapsed
    projected = actual / basis if basis > 0 else None
    final = as_of >= plan.last.end_time.normalize() if plan.last is not None else False
    periods_met = periods_done = None
    if plan.mode == "per_period":
        periods_met, periods_done = _periods(plan, values, as_of)
    if final:
        if plan.mode == "per_period":
            status = "achieved" if periods_met == len(months) // plan.per_months else "missed"
        else:
            status = "achieved" if _meets(plan, actual, total_target) else "missed"
        pace = actual / total_target - 1.0 if total_target else None
    else:
        pace = None
        if projected is not None and total_target:
            if plan.direction > 0:
                pace = projected / total_target - 1.0
            elif projected:
                pace = total_target / projected - 1.0
        if plan.mode == "total" and plan.direction > 0 and actual >= total_target:
            status = "achieved"
        else:
            status = _status_from_pace(pace, settings)
    scale = 1.0
    if plan.mode == "per_period":
        scale = 1.0 / max(elapsed * n_periods, 1e-9)  # totals so far -> per period so far
    note = "" if share is not None else _NO_SEASON
    if g.scope:
        note = "; ".join(x for x in (note, _RECOMPUTED.format(scope=g.scope_text)) if x)
    progress = GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label,
        scope=g.scope_text,
        objective=g.objective,
        mode=plan.mode,
        per=plan.per,
        start=str(plan.first),
        deadline=str(plan.last),
        as_of=as_of.date().isoformat(),
        elapsed=elapsed,
        target=plan.target,
        baseline=plan.baseline,
        actual=actual * scale if plan.mode == "per_period" else actual,
        expected=expected * scale if plan.mode == "per_period" else expected,
        expected_seasonal=None if seasonal is None else (seasonal * scale if plan.mode == "per_period" else seasonal),
        projected=None if projected is None else projected / n_periods,
        pace=pace,
        actual_pct=actual / total_target if total_target else None,
        expected_pct=(seasonal if seasonal is not None else expected) / total_target if total_target else None,
        periods_met=periods_met,
        periods_done=periods_done,
        measured_on=f"{plan.first.start_time.strftime('%d %b %Y')} – {as_of.strftime('%d %b %Y')}",
        status=status,
        summary="",
        note=note,
    )
    return _with_summary(plan, progress)


def _periods(plan: Plan, values: pd.Series, as_of: pd.Timestamp) -> tuple[int, int]:
    """(periods that reached the target, complete periods) of a per_period goal."""
    assert plan.target is not None
    size = plan.per_months
    months = plan.months
    met = done = 0
    for i in range(0, len(months), size):
        chunk = months[i : i + size]
        if chunk[-1].end_time.normalize() > as_of:
            break
        done += 1
        total = values.reindex([str(m) for m in chunk]).sum()
        met += int(_meets(plan, float(total), plan.target))
    return met, done


def _level(plan: Plan, as_of: pd.Timestamp, elapsed: float, settings: GoalSettings) -> GoalProgress:
    assert plan.values is not None
    assert plan.kpi is not None
    assert plan.target is not None
    assert plan.last is not None
    g = plan.goal
    etype, eid = entity(g.owner, plan.values.table)
    month = min(as_of.to_period("M"), plan.last)
    actual, label, reason = plan.values.one(etype, eid, plan.kpi.name, plan.per, str(month))
    if actual is None:
        why = N_("no {kpi} value for {period}: {reason}")
        return _blank(plan, as_of, "not available", why.format(kpi=plan.kpi.name, period=label or month, reason=reason))
    target, base = plan.target, plan.baseline
    final = as_of >= plan.last.end_time.normalize()
    actual_pct: float | None
    if base is not None:
        expected = base + (target - base) * elapsed
        span = abs(target - base) or abs(target) or 1.0
        projected = base + (actual - base) / elapsed if elapsed > 0 else None
        actual_pct = (
            (actual - base) / (target - base) if target != base else (1.0 if _meets(plan, actual, target) else 0.0)
        )
        expected_pct = elapsed
    else:
        expected, span, projected = target, abs(target) or 1.0, None
        actual_pct, expected_pct = (actual / target if target else None), 1.0
    pace = plan.direction * (actual - expected) / span
    status = ("achieved" if _meets(plan, actual, target) else "missed") if final else _status_from_pace(pace, settings)
    notes = []
    if base is None:
        notes.append(_NO_BASELINE)
    if plan.kpi.name == "lead_conversion":
        notes.append(_STILL_CONVERTING)
    if g.scope:
        notes.append(_RECOMPUTED.format(scope=g.scope_text))
    progress = GoalProgress(
        goal_id=g.id,
        owner=g.owner,
        owner_type=plan.owner_type,
        metric=g.metric,
        label=plan.kpi.label,
        scope=g.scope_text,
        objective=g.objective,
        mode="level",
        per=plan.per,
        start=str(plan.first),
        deadline=str(plan.last),
        as_of=as_of.date().isoformat(),
        elapsed=elapsed,
        target=target,
        baseline=base,
        actual=actual,
        expected=expected,
        expected_seasonal=None,
        projected=projected,
        pace=pace,
        actual_pct=actual_pct,
        expected_pct=expected_pct,
        periods_met=None,
        periods_done=None,
        measured_on=label,
        status=status,
        summary="",
        note="; ".join(notes),
    )
    return _with_summary(plan, progress)


def _period_title(label: str, formats: Formatter) -> str:
    """A period label for people: ``2026-10-T12M`` -> "Nov 2025 – Oct 2026", ``2026-11-QTD`` -> "Q4 2026 to date"."""
    if label.endswith("-QTD"):
        month = pd.Period(label[:7], freq="M")
        return formats.quarter(month) + formats.translate(TO_DATE)
    try:
        return formats.period_title(parse_period(label))
    except ParamsError:
        return label


def _with_summary(plan: Plan, p: GoalProgress) -> GoalProgress:
    from dataclasses import replace

    return replace(p, summary=summary_text(p))


def note_text(note: str) -> str:
    """A goal's note (or the summary of a goal that could not be measured) in the active language: each of its
    parts ("; ") translated from the English it is stored in (:func:`salesreports.i18n.retranslate`)."""
    whole = i18n.retranslate(note)
    if whole != note or "; " not in note:
        return whole
    return "; ".join(i18n.retranslate(part) for part in note.split("; "))


def summary_text(p: GoalProgress, formats: Formatter | None = None) -> str:
    """The one sentence of a goal for people in the active language, its figures, months and periods written by
    ``formats`` (default: en_US and dollars). A goal that could not be measured keeps its note as its summary
    (translated; a goal not started yet names its first month)."""
    from salesreports.metrics.kpis import as_formatter

    fm = as_formatter(formats or "$")
    if not p.measured_on:
        if p.status == "not started" and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", p.start):
            return _(_STARTS).format(month=fm.month_short(pd.Period(p.start, freq="M")))
        return note_text(p.summary)
    f = p.formatted(fm)
    month = re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", p.deadline)  # the deadline's month, as the plan resolved it
    deadline = fm.month_short(pd.Period(p.deadline, freq="M")) if month else p.deadline
    final = p.elapsed is not None and p.elapsed >= 1.0
    projected = _("projected {projected} by {deadline}").format(projected=f["projected"], deadline=deadline)
    if p.mode == "level":
        words = {"kpi": _(p.label), "actual": f["actual"], "measured": _period_title(p.measured_on, fm), **f}
        if final:
            text = _("{kpi} {actual} ({measured}) vs a target of {target}").format(**words)
        elif p.baseline is not None:
            text = _(
                "{kpi} {actual} ({measured}), {expected} expected by now on the path from {baseline} to {target}"
            ).format(**words)
        else:
            text = _("{kpi} {actual} ({measured}), {expected} expected by now vs {target}").format(**words)
        if not final and p.projected is not None:
            text += "; " + projected
    elif p.mode == "per_period":
        text = (_("{actual} on average vs {target}") if final else _("{actual} so far vs {target}")).format(**f)
        if p.periods_done:
            # the English form is the same for one and more: "1 of 1 complete month(s) reached it"
            reached = (
                ngettext(
                    "{met} of {done} complete quarter(s) reached it",
                    "{met} of {done} complete quarter(s) reached it",
                    p.periods_done,
                )
                if p.per == "quarter"
                else ngettext(
                    "{met} of {done} complete month(s) reached it",
                    "{met} of {done} complete month(s) reached it",
                    p.periods_done,
                )
            )
            text += "; " + reached.format(met=p.periods_met, done=p.periods_done)
        if p.projected is not None and not final:
            text += "; " + _("projected {projected} over the window").format(projected=f["projected"])
    else:
        share = fm.percent(p.actual_pct, 0) if p.actual_pct is not None else ""
        words = {**f, "share": share, "deadline": deadline}
        if final:
            message = (
                _("{actual} of {target} ({share}) by {deadline}") if share else _("{actual} of {target} by {deadline}")
            )
            text = message.format(**words)
        else:
            message = (
                _("{actual} of {target} ({share}) so far, {expected} expected at a linear pace")
                if share
                else _("{actual} of {target} so far, {expected} expected at a linear pace")
            )
            text = message.format(**words)
            if p.expected_seasonal is not None:
                text += " " + _("({expected_seasonal} given last year's seasonality)").format(**f)
            if p.projected is not None:
                text += "; " + projected
    return f"{text}: {_(p.status)}."
