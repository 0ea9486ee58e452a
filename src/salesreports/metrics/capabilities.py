"""What a data set can show, known once per run: which KPIs and report sections it supports, and since when.

Real CRM exports rarely hold every table: a pipeline with a team list is common. Pages are built from
these capabilities (see :mod:`salesreports.report.views`): a KPI the data set can never compute gets no
tile, row, column or chart, and is named once in a "Not in your data" note with the reason; a KPI the
data set supports but a rep or month lacks still says "not available" and why.

A KPI cannot be computed from a data set when a table or column it needs is missing (or has no values),
or when it needs more months of history before a period than the data holds (repeat business and new
customers look back 12 months). A section needs its table: the funnel needs leads, activity needs
activities, feedback needs feedback, the ramp needs hire dates, the incentive estimate needs targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from salesreports.data.loading import Dataset
from salesreports.i18n import N_
from salesreports.metrics.engine import KpiTable, event_dates, history_months, missing_reason
from salesreports.metrics.kpis import Kpi, registry
from salesreports.metrics.measures import COHORTS, MEASURES, NO_TABLE, NO_VALUES

__all__ = ["SECTIONS", "Capabilities", "capabilities", "choose_headline", "choose_ranking", "configured_kpis"]

# report sections that need data beyond deals: section -> (table, column or "", what the page calls it). The
# words and the reasons below are stored in English (once per run) and translated where they are shown
# (salesreports.i18n.retranslate).
SECTIONS: dict[str, tuple[str, str, str]] = {
    "funnel": ("leads", "", N_("the lead funnel")),
    "activity": ("activities", "", N_("activity per week")),
    "feedback": ("feedback", "", N_("feedback from clients, managers and peers")),
    "ramp": ("reps", "hire_date", N_("the ramp-up comparison with earlier hires")),
    "incentive": ("targets", "", N_("the incentive estimate")),
}
# the first month of each table's own history (a pipeline's old open deals do not start the revenue history)
_FIRST_DATE = {
    "deals": "close_date",
    "leads": "created_date",
    "activities": "date",
    "feedback": "date",
    "targets": "period",
}
HEADLINE_SIZE = 6


@dataclass(frozen=True)
class Capabilities:
    """What one data set supports (JSON-ready through :meth:`to_dict`, stored in every context).

    Attributes
    ----------
    tables : the tables the data set has
    first_months : each table's first month of data (``YYYY-MM``)
    last_month : the data's last month
    unsupported : KPI name -> why this data set can never compute it
    sections : section name -> why it is left out (absent: the section is shown)
    closed_deal_kpis : KPIs counted only from the deals closed in a period
    """

    tables: tuple[str, ...]
    first_months: Mapping[str, str]
    last_month: str
    unsupported: Mapping[str, str] = field(default_factory=dict)
    sections: Mapping[str, str] = field(default_factory=dict)
    closed_deal_kpis: tuple[str, ...] = ()

    def supports(self, kpi: str) -> bool:
        """Whether this data set can compute the KPI for some period."""
        return kpi not in self.unsupported

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in contexts."""
        return {
            "tables": list(self.tables),
            "first_months": dict(self.first_months),
            "last_month": self.last_month,
            "unsupported": dict(self.unsupported),
            "sections": dict(self.sections),
            "section_labels": {name: SECTIONS[name][2] for name in self.sections if name in SECTIONS},
            "closed_deal_kpis": list(self.closed_deal_kpis),
        }


def _month(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(pd.Timestamp(value).to_period("M")) if not isinstance(value, str) else value[:7]


def _first_months(data: Dataset) -> dict[str, str]:
    out: dict[str, str] = {}
    for table, column in _FIRST_DATE.items():
        frame = data.get(table)
        if frame is None or column not in frame.columns:
            continue
        values = frame[column].dropna()
        if table == "targets":
            month = min((str(v)[:7] for v in values), default=None)
        else:
            month = _month(pd.to_datetime(values, errors="coerce").min()) if len(values) else None
        if month:
            out[table] = month
    return out


def _months_between(first: str, last: str) -> int:
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def _closed(kpi: Kpi) -> bool:
    if kpi.type == "cohort":
        return COHORTS[kpi.function].closed
    return bool(kpi.inputs) and all(MEASURES[m].closed for m in kpi.inputs)


def _last_month(data: Dataset) -> str:
    last = ""
    for table, column in _FIRST_DATE.items():
        frame = data.get(table)
        if frame is None or column not in frame.columns or table == "targets":
            continue
        month = _month(pd.to_datetime(event_dates(frame, table, column), errors="coerce").max())
        last = max(last, month or "")
    return last


def capabilities(data: Dataset, table: KpiTable | None = None) -> Capabilities:
    """What ``data`` supports, from its tables and columns and its months of history.

    Parameters
    ----------
    data : the loaded data set
    table : its KPI table (:func:`salesreports.metrics.engine.compute_kpis`), when computed: its grid's last
        month is the data's last month (otherwise the last month with an event)

    Returns
    -------
    Capabilities
    """
    first = _first_months(data)
    if table is not None:
        last, grid_first = str(table.grid.months[-1]), str(table.grid.months[0])
        unsupported = dict(table.unavailable)
    else:
        last = _last_month(data) or max(first.values(), default="")
        grid_first = min(first.values(), default=last)
        unsupported = {k.name: why for k in registry() if (why := missing_reason(k, data))}
    for kpi in registry():
        need = history_months(kpi)
        if kpi.name in unsupported or not need:
            continue
        start = max((first[t] for t in kpi.tables if t in first), default=grid_first)
        span = _months_between(start, last)
        if span <= need:
            title = pd.Period(start, "M").strftime("%B %Y")
            why = N_("needs {need} months of history before a month; the data starts in {month}")
            unsupported[kpi.name] = why.format(need=need, month=title)
    unsupported.update({k: why for k, why in _degenerate(data).items() if k not in unsupported})
    sections: dict[str, str] = {}
    for name, (tname, column, _) in SECTIONS.items():
        frame = data.get(tname)
        if frame is None:
            sections[name] = NO_TABLE.format(table=tname)  # the engine's words for a missing table
        elif column and (column not in frame.columns or not frame[column].notna().any()):
            sections[name] = NO_VALUES.format(table=tname, column=column)
    closed = tuple(k.name for k in registry() if "deals" in k.tables and _closed(k))
    return Capabilities(
        tables=tuple(sorted(data.tables)),
        first_months=first,
        last_month=last,
        unsupported=unsupported,
        sections=sections,
        closed_deal_kpis=closed,
    )


def _degenerate(data: Dataset) -> dict[str, str]:
    """KPIs whose value the data fixes in advance, so that showing them would say nothing true.

    An export of won deals only (orders, closed deals) has a win rate of 100% everywhere and a pipeline of $0;
    one whose deals are created and closed on the same day has a sales cycle of 0 days everywhere, and one
    whose won deals have no created date has no sales cycle at all; one whose leads reach a rep only by
    converting (a marketing funnel joined to closed deals) has a lead conversion of 100% for every rep.
    """
    out: dict[str, str] = {}
    leads = data.get("leads")
    if leads is not None and {"rep_id", "converted_deal_id"} <= set(leads.columns):
        rep = leads["rep_id"].astype("string")
        assigned = (rep.notna() & (rep != (data.unassigned_rep or ""))).fillna(False).to_numpy(dtype=bool)
        with_rep = leads[assigned]
        if len(with_rep) and with_rep["converted_deal_id"].notna().all() and not assigned.all():
            out["lead_conversion"] = N_(
                "the leads table names a rep only for leads that became deals: every rep would convert 100%"
            )
    deals = data.get("deals")
    if deals is None or "stage" not in deals.columns:
        return out
    stage = deals["stage"].astype("string")
    if not (stage == "lost").any():
        out["win_rate"] = N_("the deals table has no lost deals: every closed deal is won")
    if not (stage == "open").any():  # orders or closed deals only: a pipeline of $0 every month
        why = N_("the deals table has no open deals: the pipeline is empty in every month")
        out.update(open_pipeline=why, pipeline_coverage=why)
    won = deals[(stage == "won").fillna(False).to_numpy(dtype=bool)]
    if {"created_date", "close_date"} <= set(won.columns) and len(won):
        created = pd.to_datetime(won["created_date"], errors="coerce")
        closed = pd.to_datetime(won["close_date"], errors="coerce")
        known = created.notna() & closed.notna()
        if not known.any():
            out["sales_cycle_days"] = N_("the won deals have no created date")
        elif (created[known].dt.normalize() == closed[known].dt.normalize()).all():
            out["sales_cycle_days"] = N_("the deals are created and won on the same day")
    return out


def configured_kpis(names: Sequence[str], key: str, settings: str | None = None) -> list[str]:
    """``scorecard.<key>`` of the settings (``headline`` or ``ranking``), every name checked against the KPI
    registry; ``settings`` is the settings file, for the message.

    Raises
    ------
    ConfigError
        A name that is no KPI of the registry (with close matches).
    """
    from salesreports.errors import ConfigError, close_matches

    known = registry().names()
    for name in names:
        if name not in known:
            msg = (
                f"{settings or 'the settings'}: scorecard.{key} names an unknown KPI {name!r}."
                f"{close_matches(name, known)} Fix: use names from `salesreports kpis`."
            )
            raise ConfigError(msg, file=settings, key=f"scorecard.{key}")
    return list(names)


def choose_headline(caps: Capabilities, configured: Sequence[str] = ()) -> list[str]:
    """The headline tiles: the configured KPIs this data set supports, or by default the registry's headline
    KPIs it supports topped up (in registry order) with other KPIs it supports, to :data:`HEADLINE_SIZE`."""
    if configured:
        return [k for k in configured if caps.supports(k)]
    reg = list(registry())
    chosen = [k.name for k in reg if k.headline and caps.supports(k.name)]
    size = max(HEADLINE_SIZE, len(chosen))
    for k in reg:
        if len(chosen) >= size:
            break
        if not k.headline and caps.supports(k.name):
            chosen.append(k.name)
    return chosen


def choose_ranking(caps: Capabilities, configured: Sequence[str]) -> list[str]:
    """The ranking KPIs of team summaries that this data set supports, in the configured order."""
    return [k for k in configured if caps.supports(k)]
