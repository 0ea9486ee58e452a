"""The privacy boundary: build each report's *context*, the only data its notebook sees.

A rep's scorecard notebook never gets the data set. It gets one context
holding that rep's own KPI values, own feedback, own activity and funnel, plus
team figures that are **aggregates only** (medians, quartiles, counts) and are
suppressed when fewer than ``privacy.min_group_size`` reps contribute, so a team
of two never reveals the other person's number. Names, ids, deals and accounts
of other reps are never copied into a rep's context. Team summaries (for
managers) get per-rep figures of their own team.

Contexts are built for all reps of a period at once from the precomputed KPI
table (grouped once, no per-rep scans of raw data) and written by
:mod:`salesreports.report.contexts` as a small JSON file with the report's slice of the
KPI table beside it as Parquet; the batch runner passes only the JSON file's path.

What a rep's context may hold of other people, and nothing more:

* team and company median, percentile rank and counts, when at least
  ``min_group_size`` reps have a value; the interquartile band (p25, p75) only
  when at least :data:`QUARTILE_MIN_GROUP` do (with 3 or 4 reps, the median,
  both quartiles and one's own value give away every other value);
* team and company goals with their numbers only when at least
  ``min_group_size`` reps of the group contributed in the goal's window (and
  scope): otherwise the goal is listed without numbers or status, since a team
  total minus one's own value is the colleague's value;
* ramp medians of at least ``min_group_size`` earlier hires;
* the rep's own feedback, in which other reps' names and email addresses
  (free text written by managers and peers: the text, the tags and any other
  free-text column) are replaced by ``[a colleague]``.

A JupyterLab preview (a template run with an empty ``context``) gets its
context from :func:`context_for` run in a child process (``python -m
salesreports.report.scope``), so a template's kernel never holds the data set.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesreports import i18n
from salesreports.data.loading import Dataset
from salesreports.i18n import N_, _, ngettext
from salesreports.metrics.capabilities import (
    Capabilities,
    capabilities,
    choose_headline,
    choose_ranking,
    configured_kpis,
)
from salesreports.metrics.engine import KpiTable
from salesreports.metrics.formats import DEFAULT, Formatter, formatter
from salesreports.metrics.periods import FEEDBACK_MONTHS, Period, activity_weeks_start, feedback_months
from salesreports.params import Config
from salesreports.paths import atomic_write_text
from salesreports.report.redact import Redactor
from salesreports.text import isolate

__all__ = ["CONTEXT_VERSION", "QUARTILE_MIN_GROUP", "Scope", "build_scope", "context_for"]

CONTEXT_VERSION = 2  # 2: KPI tables as Parquet beside context.json (salesreports.report.contexts)
TREND_MONTHS = 12
QUARTILE_MIN_GROUP = 5
GOAL_NUMBERS = (
    "elapsed",
    "target",
    "baseline",
    "actual",
    "expected",
    "expected_seasonal",
    "projected",
    "pace",
    "actual_pct",
    "expected_pct",
    "periods_met",
    "periods_done",
)


def _clean(value: Any) -> Any:
    """JSON-safe values: NaN -> None, numpy scalars -> Python, timestamps -> ISO dates."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, dt.date)):
        return None if pd.isna(value) else value.isoformat()[:10]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _column(series: pd.Series) -> list[Any]:
    """A column as JSON-safe Python values, converted a column at a time (not value by value)."""
    kind = series.dtype.kind
    if kind == "M":
        return [v[:10] if isinstance(v, str) else None for v in series.dt.strftime("%Y-%m-%d").astype(object).tolist()]
    if kind in "iub" and series.hasnans:  # nullable integers and booleans: pd.NA -> None
        return [None if pd.isna(v) else v for v in series.astype(object).tolist()]
    if kind == "f":
        values = series.to_numpy(dtype="float64")
        good = np.isfinite(values)
        if good.all():
            return values.tolist()
        return [v if ok else None for v, ok in zip(values.tolist(), good.tolist(), strict=True)]
    if kind in "iub":
        return series.tolist()
    return [v if isinstance(v, str) else _clean(v) for v in series.tolist()]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts."""
    columns = [str(c) for c in frame.columns]
    values = [_column(frame[c]) for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)] if columns else []


REP_COLUMNS = [
    "grain",
    "period",
    "period_end",
    "kpi",
    "value",
    "reason",
    "prev_value",
    "change_prev",
    "change_prev_pct",
    "ly_value",
    "change_ly",
    "review_period",
    "review_value",
    "change_review",
    "team_n_reps",
    "team_median",
    "team_p25",
    "team_p75",
    "team_reason",
    "company_median",
    "percentile",
    "vs_team",
]


@dataclass
class Scope:
    """Everything shared by the contexts of one period, computed once for all reps.

    Each rep's pieces (own KPI rows, coaching inputs, feedback, activity, ramp, incentive) are cut
    from whole tables in one pass when the scope is built, so that a context is a handful of
    dictionary lookups: 5,000 contexts cost 5,000 lookups, not 5,000 scans of the tables.
    """

    data: Dataset
    table: KpiTable
    config: Config
    period: Period
    bench: InitVar[pd.DataFrame]  # every rep's benchmark rows in the report's window (see _in_window), by rep
    entity_rows: dict[tuple[str, str], pd.DataFrame]  # team and company rows in the window
    ramp: pd.DataFrame  # ramp_benchmarks rows up to the period
    goals: list[dict[str, Any]]
    coaching: Any
    reps: pd.DataFrame
    colleagues: Redactor | None = None  # every rep's name and email, to keep them out of others' feedback
    caps: Capabilities | None = None  # what the data set can show (KPIs, sections, first months)
    headline: list[str] = field(default_factory=list)  # the headline tiles' KPIs
    ranking: list[str] = field(default_factory=list)  # team summaries rank by the first of these with values
    goal_notes: dict[str, str] = field(default_factory=dict)  # goal id -> why this data set cannot measure it
    goal_progress: dict[str, Any] = field(default_factory=dict)  # goal id -> its GoalProgress (a rep's own locale)
    _team: dict[str, str] = field(init=False, repr=False)
    _members: dict[str, list[str]] = field(init=False, repr=False)
    _info: dict[str, dict[str, Any]] = field(init=False, repr=False)
    _notes: dict[str, list[tuple[bool, dict[str, Any]]]] = field(init=False, repr=False)
    _weekly: dict[str, list[dict[str, Any]]] = field(init=False, repr=False)
    _activity_since: str | None = field(init=False, repr=False)  # the activity data's first day (no rep's)
    _ramp: dict[str, list[dict[str, Any]]] = field(init=False, repr=False)
    _rows: Any = field(init=False, repr=False)  # the benchmark rows as one Arrow table (their only copy), by rep
    _kpis: Any = field(init=False, repr=False)  # _rows' REP_COLUMNS (no copy), sliced per rep
    _slices: dict[str, tuple[int, int]] = field(init=False, repr=False)
    _now: np.ndarray[Any, Any] = field(init=False, repr=False)  # positions of the rows ending in the report's month
    _at_end: np.ndarray[Any, Any] = field(init=False, repr=False)  # _now's rows of the grains coaching and funnel read
    _attainment: dict[str, float | None] = field(init=False, repr=False)
    _period_dicts: dict[Any, dict[str, Any]] = field(init=False, repr=False, default_factory=dict)  # by formatter

    def __post_init__(self, bench: pd.DataFrame) -> None:
        grid = self.table.grid
        end = str(self.period.end)
        self._team = {str(r): str(grid.teams[t]) for r, t in zip(grid.reps, grid.rep_team, strict=True)}
        self._members = {}
        pseudo = self.data.unassigned_rep  # rows without a rep: in the team's totals, not one of its people
        for rep, team in self._team.items():
            if rep != pseudo:
                self._members.setdefault(team, []).append(rep)
        self._info = {str(k): {str(c): v for c, v in row.items()} for k, row in self.reps.to_dict("index").items()}
        self._notes = self._feedback_notes()
        self._weekly = self._weekly_counts()
        self._activity_since = _first_day(self.data.get("activities"))
        self._ramp = _bucket(self.ramp[list(RAMP_COLUMNS)], self.ramp["rep_id"]) if len(self.ramp) else {}
        # the rows are kept once, in Arrow (a frame beside it, or a row dict per row, is gigabytes at 5,000 reps):
        # a rep's context takes its slice, its coaching and funnel read their few rows as dicts when it is built
        ids = bench["rep_id"].astype(str).to_numpy()
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=np.int64)
        lengths = np.diff(np.r_[starts, len(ids)])
        self._slices = {str(ids[a]): (int(a), int(n)) for a, n in zip(starts, lengths, strict=True)}
        # rows at the period end: team summaries (every grain); coaching (its grain) and the funnel (the report's)
        now = np.asarray(bench["period_end"] == end, dtype=bool)
        grains = {self.period.kpi_grain, *([self._coaching_grain()] if self.coaching is not None else [])}
        self._now = np.flatnonzero(now)
        self._at_end = np.flatnonzero(now & np.asarray(bench["grain"].isin(sorted(grains)), dtype=bool))
        del ids, starts, lengths, now
        # the labels stay codes, and so does other text repeated from row to row (periods, trends, reasons): a
        # copy of each value and a small code per row (a quarter of the rows' memory at 5,000 reps); each
        # context's rows are decoded alone
        self._rows = _encoded(_arrow(bench, decode=False))
        self._kpis = self._rows.select(REP_COLUMNS)
        self._attainment = {}
        plan = None if self.coaching is None else self.coaching.incentives
        if plan is not None:
            v = self.table.values
            hit = v[
                (v["entity_type"] == "rep")
                & (v["kpi"] == plan.metric)
                & (v["grain"] == plan.grain)
                & (v["period_end"] == end)
            ]
            self._attainment = dict(zip(hit["entity_id"].astype(str), _column(hit["value"]), strict=True))

    @property
    def rep_table(self) -> pd.DataFrame:
        """Every rep's benchmark rows in the report's window (see :func:`_in_window`), by rep (a new frame)."""
        frame: pd.DataFrame = self._rows.to_pandas()
        return frame

    def _positions(self, rep_id: str, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Which of ``rows`` (sorted positions in :attr:`_rows`) are the rep's."""
        start, length = self._slices.get(rep_id, (0, 0))
        first, last = np.searchsorted(rows, [start, start + length])
        return rows[first:last]

    def _rows_at_end(self, rep_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """The rep's rows ending in the report's month, grain -> KPI -> the row's benchmark figures (JSON-safe;
        the grains of coaching and the funnel)."""
        columns = [c for c in AT_END_COLUMNS if c in self._rows.column_names]
        picked = self._rows.select(columns).take(self._positions(rep_id, self._at_end))  # copies those columns only
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for row in picked.to_pylist():
            out.setdefault(str(row["grain"]), {})[str(row["kpi"])] = row
        return out

    def _feedback_notes(self) -> dict[str, list[tuple[bool, dict[str, Any]]]]:
        """Each rep's feedback of the months a context shows (coaching window; the page's feedback window,
        :func:`~salesreports.metrics.periods.feedback_months`: the last six months, a year's review its whole
        year), colleagues' names and emails replaced by ``[a colleague]`` in every free-text field (text, tags,
        any other string column but the codes of :data:`FEEDBACK_CODES`); flagged True when in the page's
        window."""
        feedback = self.data.get("feedback")
        if feedback is None:
            return {}
        months = FEEDBACK_MONTHS if self.coaching is None else max(FEEDBACK_MONTHS, self.coaching.feedback.months)
        end = pd.Period(str(self.period.end), freq="M")
        since = self.period.last_day - pd.DateOffset(months=feedback_months(self.period))
        first = min((end - (months - 1)).start_time, since)
        dates = feedback["date"]
        keep = (dates >= first) & (dates <= end.end_time)
        frame = feedback[keep]
        recent = ((frame["date"] <= self.period.last_day) & (frame["date"] > since)).tolist()
        out: dict[str, list[tuple[bool, dict[str, Any]]]] = {}
        for flag, row, rep in zip(recent, _records(frame), frame["rep_id"].astype(str).tolist(), strict=True):
            out.setdefault(rep, []).append((flag, row))
        if self.colleagues:
            for rep, notes in out.items():
                own = [v for k in ("name", "email") if isinstance(v := self._info.get(rep, {}).get(k), str)]
                for _recent, row in notes:
                    for key, value in row.items():
                        if key not in FEEDBACK_CODES and isinstance(value, str):
                            row[key] = self.colleagues.redact(value, keep=own)
        return out

    def _weekly_counts(self) -> dict[str, list[dict[str, Any]]]:
        acts = self.data.get("activities")
        if acts is None:
            return {}
        start = activity_weeks_start(self.period.last_day)  # 12 weeks by their Mondays
        recent = acts[(acts["date"] >= start) & (acts["date"] <= self.period.last_day)]
        week = recent["date"].dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d").rename("week")
        counts = recent.groupby([recent["rep_id"], week, recent["type"]]).size().rename("count").reset_index()
        return _bucket(counts.drop(columns="rep_id"), counts["rep_id"])

    def rep_ids(self) -> list[str]:
        """Every rep on the grid."""
        return [str(r) for r in self.table.grid.reps]

    def teams(self) -> list[str]:
        """Every team on the grid."""
        return [str(t) for t in self.table.grid.teams]

    def team_size(self, team: str) -> int:
        """How many people the team has (the source's ``unassigned_rep`` is not one)."""
        return len(self._members.get(team, []))

    def team_of(self, rep_id: str) -> str:
        """The rep's team."""
        return self._team[rep_id]

    def employment(self, rep_id: str) -> str:
        """Why a rep has no report for the period ("" when they have one)."""
        row = self._info.get(rep_id)
        if row is None:
            return ""
        hire, leave = row.get("hire_date"), row.get("leave_date")
        # stored in English in the run's manifest: the index page shows it in the company's language (retranslate)
        if hire is not None and not pd.isna(hire) and hire > self.period.last_day:
            return N_("joined on {date}, after {period}").format(date=hire.date(), period=self.period.title)
        if leave is not None and not pd.isna(leave) and leave < self.period.first_day:
            return N_("left on {date}, before {period}").format(date=leave.date(), period=self.period.title)
        return ""

    @property
    def formats(self) -> Formatter:
        """The company's formatter: the settings' `locale` and `currency` (team summaries, index, manifest)."""
        return config_formatter(self.config)

    def rep_formats(self, rep_id: str) -> Formatter:
        """The formatter of a rep's scorecard and email: the rep's `locale` (reps table) if set, else the
        company's. An unknown locale there is an error of `validate`; a report then uses the company's."""
        value = self._info.get(rep_id, {}).get("locale")
        if not isinstance(value, str) or not value.strip():
            return self.formats
        try:
            return formatter(value, self.config.currency_code)
        except ValueError:
            return self.formats

    def _common(self, kind: str, formats: Formatter | None = None) -> dict[str, Any]:
        """The fields every context starts with. ``locale`` is written only when it is not en_US (the pages as
        they were before locales, whose contexts stay the same)."""
        formats = formats or self.formats
        locale = {"locale": formats.locale} if formats.locale != DEFAULT.locale else {}
        return {
            "version": CONTEXT_VERSION,
            "kind": kind,
            "company": self.config.company,
            "currency": self.config.currency,
            **locale,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "as_of": self.table.grid.as_of.date().isoformat(),
            "period": self._period_dict(formats),
            "capabilities": None if self.caps is None else self.caps.to_dict(),
            "headline": list(self.headline),
            # KPIs whose latest months are still maturing (lead conversion): the months and days so far
            "maturing": self.table.maturing,
        }

    def _period_dict(self, formats: Formatter) -> dict[str, Any]:
        """:func:`_period_dict` of the scope's period, made once per formatter (the same for every report in its
        locale); each context gets its own copy."""
        key = (formats.locale, formats.currency, formats.translate)
        made = self._period_dicts.get(key)
        if made is None:
            made = self._period_dicts[key] = _period_dict(self.period, formats, self.config.review_cycle_months)
        # its values are text, lists of text and dicts of text: a copy two levels deep shares nothing
        return {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v for k, v in made.items()}

    # -- rep contexts -------------------------------------------------------------------------
    def rep_context(self, rep_id: str) -> dict[str, Any]:
        """The context of one rep's scorecard: own rows plus team aggregates only."""
        info = self._rep_info(rep_id)
        team = info["team"]
        start, length = self._slices.get(rep_id, (0, 0))
        notes = self._notes.get(rep_id, [])
        formats = self.rep_formats(rep_id)
        with i18n.override(formats.locale):  # its texts (goals, coaching, incentive) in the rep's language
            return self._rep_context(rep_id, info, team, start, length, notes, formats)

    def _rep_context(
        self,
        rep_id: str,
        info: dict[str, Any],
        team: str,
        start: int,
        length: int,
        notes: list[tuple[bool, dict[str, Any]]],
        formats: Formatter,
    ) -> dict[str, Any]:
        at_end = self._rows_at_end(rep_id)
        return {
            **self._common("rep", formats),
            "rep": info,
            # a copy of the rep's rows: a zero-copy slice would carry every rep's rows along when pickled
            "kpis": _decoded(self._kpis.take(np.arange(start, start + length))),
            "team": {
                "name": team,
                "min_group_size": self.config.privacy.min_group_size,
                "n_reps": len(self._members.get(team, [])),
            },
            "ramp": self._ramp.get(rep_id, []),
            "goals": self._rep_goals(rep_id, team, formats),
            "coaching": self._coaching(rep_id, notes, formats, at_end),
            "incentive": self._incentive(rep_id, formats),
            "feedback": self._recent(notes),
            "activity_weekly": self._weekly.get(rep_id, []),
            "activity_since": self._activity_since,
            "funnel": self._funnel(at_end),
        }

    def _rep_goals(self, rep_id: str, team: str, formats: Formatter | None = None) -> list[dict[str, Any]]:
        """The rep's own goals plus their team's and the company's; group goals lose their numbers
        when fewer than ``min_group_size`` reps contributed (a team total minus one's own value is
        the colleague's value). Other reps' goals are never included. Figures in the rep's locale."""
        n_min = self.config.privacy.min_group_size
        out = []
        for g in self._goals_in(formats or self.formats):
            kind = g.get("owner_type", "")
            if kind == "rep":
                if g["owner"] == rep_id:
                    out.append(g)
            elif (kind == "team" and g["owner"] == team) or kind == COMPANY:
                out.append(g if int(g.get("contributors") or 0) >= n_min else _redacted_goal(g, n_min))
        return out

    def _rep_info(self, rep_id: str) -> dict[str, Any]:
        row = self._info.get(rep_id, {})
        hire = row.get("hire_date")
        tenure = None
        if hire is not None and not pd.isna(hire):
            tenure = (self.period.end.year - hire.year) * 12 + (self.period.end.month - hire.month) + 1
        return dict(
            _clean(
                {
                    "rep_id": rep_id,
                    "name": name if isinstance(name := row.get("name"), str) and name.strip() else rep_id,
                    "email": row.get("email"),
                    "team": self.team_of(rep_id),
                    "region": row.get("region"),
                    "manager_email": row.get("manager_email"),
                    "hire_date": hire,
                    "tenure_months": tenure,
                }
            )
        )

    def _goals_in(self, formats: Formatter) -> list[dict[str, Any]]:
        """The goals with their figures written by ``formats`` (the company's as built)."""
        if formats == self.formats:
            return self.goals
        out = []
        from salesreports.metrics.goals.pace import summary_text

        for g in self.goals:
            progress = self.goal_progress.get(str(g.get("goal_id")))
            if progress is None or "text" not in g:  # a group goal without its figures (privacy)
                out.append(g)
                continue
            # in the active language (the rep's: rep_context's override)
            out.append({**g, "text": progress.formatted(formats), "summary": summary_text(progress, formats)})
        return out

    def _coaching(
        self,
        rep_id: str,
        notes: list[tuple[bool, dict[str, Any]]],
        formats: Formatter,
        at_end: dict[str, dict[str, dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        if self.coaching is None:
            return []
        from salesreports.metrics.coaching import needs_from_rows

        grain = self._coaching_grain()
        needs = needs_from_rows(
            at_end.get(grain, {}),
            self.coaching,
            period_end=str(self.period.end),
            notes=[row for _recent, row in notes],
            ramp_rows={r["kpi"]: r for r in self._ramp.get(rep_id, []) if r["period"] == str(self.period.end)},
            currency=formats,
        )
        return [_clean({**n.to_dict(), "grain": grain}) for n in needs]

    def _coaching_grain(self) -> str:
        """A review coaches on the quarter or year under review; a month on the coaching settings' grain."""
        return str(self.period.kpi_grain if self.period.is_review else self.coaching.grain)

    def _incentive(self, rep_id: str, formats: Formatter | None = None) -> dict[str, Any] | None:
        if self.coaching is None or self.coaching.incentives is None:
            return None
        if self.caps is not None and "incentive" in self.caps.sections:
            return None
        from salesreports.metrics.coaching import estimate_incentive

        plan = self.coaching.incentives
        est = estimate_incentive(self._attainment.get(rep_id), plan, currency=formats or self.formats)
        return dict(_clean({**est.to_dict(), "grain": plan.grain}))

    def _recent(self, notes: list[tuple[bool, dict[str, Any]]]) -> list[dict[str, Any]]:
        """A rep's own feedback of the page's window (the last six months; a year's review: the year), newest
        first."""
        rows = [{k: row[k] for k in FEEDBACK_COLUMNS if k in row} for recent, row in notes if recent]
        return sorted(rows, key=lambda r: str(r["date"]), reverse=True)

    def _funnel(self, at_end: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        rows = at_end.get(self.period.kpi_grain, {})
        # the stages in English (a view shows them in its page's language)
        stages = [(N_("Leads"), "leads"), (N_("Qualified"), "qualified_leads"), (N_("Won deals"), "deals_won")]
        return [{"stage": s, "count": rows[k]["value"]} for s, k in stages if k in rows]

    # -- team contexts ------------------------------------------------------------------------
    def team_context(self, team: str) -> dict[str, Any]:
        """The context of a team summary (for its manager): per-rep figures of that team only, its texts in the
        company's language."""
        with i18n.override(self.formats.locale):
            return self._team_context(team)

    def _team_context(self, team: str) -> dict[str, Any]:
        people = {r for m in self._members.values() for r in m} if team == COMPANY else set(self._members.get(team, []))
        members = [r for r in self.rep_ids() if r in people]  # in the grid's order
        entity = (COMPANY, COMPANY) if team == COMPANY else ("team", team)
        reps = [{**self._rep_info(r), "skipped": self.employment(r)} for r in members]
        # the members' rows at the period end, in members' order
        now = np.concatenate([self._positions(r, self._now) for r in members] or [np.zeros(0, dtype=np.int64)])
        owners = {*members, team, COMPANY}
        goals = [g for g in self.goals if g["owner"] in owners]
        own = self.entity_rows.get(entity, _EMPTY).drop(columns=["entity_type", "entity_id", "team"], errors="ignore")
        return {
            **self._common("team"),
            "team": {"name": team, "members": reps},
            "kpis": _arrow(own),
            "rep_kpis": _decoded(self._rows.select(["rep_id", *REP_COLUMNS]).take(now)),
            "goals": goals,
            "ranking": list(self.ranking),
        }


FEEDBACK_COLUMNS = ("date", "source", "score", "tags", "text")
# feedback columns that are codes, not free text: every other string of a note is redacted
FEEDBACK_CODES = frozenset({"rep_id", "date", "source", "score"})
RAMP_COLUMNS = ("kpi", "period", "tenure_month", "value", "ramp_median", "ramp_reason", "position")
# what coaching (its rules' benchmarks) and the funnel read of a rep's rows at the period end
AT_END_COLUMNS = (
    "grain",
    "kpi",
    "value",
    "team_median",
    "team_p25",
    "team_p75",
    "company_median",
    "company_p25",
    "company_p75",
)


def _arrow(frame: pd.DataFrame, *, decode: bool = True) -> Any:
    """A frame as an Arrow table (the form a context's tables take): missing and infinite values become null;
    a categorical column (the KPI table's labels) is plain text, or with ``decode=False`` dictionary-encoded
    (:func:`_decoded` makes it text)."""
    import pyarrow as pa

    frame = frame.reset_index(drop=True)
    labels = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if labels and decode:
        frame = frame.assign(**{c: frame[c].astype("str") for c in labels})
    # only columns holding an infinite value are copied (NaN is null already)
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f" and np.isinf(frame[c].to_numpy()).any()]
    if floats:
        frame = frame.assign(**{c: frame[c].where(np.isfinite(frame[c])) for c in floats})
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


def _encoded(table: Any) -> Any:
    """An Arrow table with its text columns dictionary-encoded (:func:`_decoded` makes them text again)."""
    import pyarrow as pa

    for i, column in enumerate(table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            table = table.set_column(i, table.field(i).name, column.dictionary_encode())
    return table


def _decoded(table: Any) -> Any:
    """An Arrow table with its dictionary-encoded columns as plain text (what :func:`_arrow` makes of text)."""
    import pyarrow as pa

    for i, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            plain = column.cast(column.type.value_type)
            table = table.set_column(i, pa.field(table.field(i).name, plain.type), plain)
    return table


def _first_day(activities: pd.DataFrame | None) -> str | None:
    """The day the activity data starts (the whole table's first date, no rep's): a page counts no week
    before it."""
    first = activities["date"].min() if activities is not None and len(activities) else None
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date().isoformat()


def _bucket(frame: pd.DataFrame, keys: pd.Series) -> dict[str, list[dict[str, Any]]]:
    """A frame's rows as JSON-safe dicts, grouped by ``keys`` (one pass, order kept)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, row in zip(keys.astype(str).tolist(), _records(frame), strict=True):
        out.setdefault(key, []).append(row)
    return out


def _first_month(period: Period) -> pd.Period:
    """The first month a context holds: 12 months before the report's month, and for a quarter or year
    also the same months a year before it (its trend against last year)."""
    return min(period.end - TREND_MONTHS, period.last_year().start)


def _window_ends(period: Period) -> list[str]:
    """Every month from :func:`_first_month` to the report's month, newest first."""
    first = _first_month(period)
    return [str(period.end - n) for n in range(period.end.ordinal - first.ordinal + 1)]


def _window_by_grain(period: Period) -> dict[str, list[str]]:
    """The months whose rows :func:`_in_window` keeps, per grain (the grains of the engine and the report's)."""
    from salesreports.metrics.periods import GRAINS

    end = str(period.end)
    out: dict[str, list[str]] = {str(g): [end] for g in (*GRAINS, period.kpi_grain)}
    out["month"] = _window_ends(period)
    if period.is_review:
        out[period.kpi_grain] = [end, str(period.previous().end)]
    return out


def _in_window(frame: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Month rows of the trend window plus every grain ending in the report's month; for a quarter or year
    also its own grain at the end of the previous one (the tile's "since the last review")."""
    end = str(period.end)
    first = str(_first_month(period))
    ends = frame["period_end"]
    keep = (ends <= end) & (((frame["grain"] == "month") & (ends >= first)) | (ends == end))
    if period.is_review:
        keep |= (frame["grain"] == period.kpi_grain) & (ends == str(period.previous().end))
    return frame.loc[keep]


def _redacted_goal(goal: Mapping[str, Any], n_min: int) -> dict[str, Any]:
    """A group goal as a rep may see it when too few reps contributed: what it is, without numbers or status.

    The note gives the real reason: privacy when some but fewer than ``n_min`` reps contributed; when nobody
    did (no rep of the group has data in the goal's scope and window), that, not privacy."""
    out = {k: v for k, v in goal.items() if k not in GOAL_NUMBERS}
    out.update(dict.fromkeys(GOAL_NUMBERS))
    # a rep's context is built in the rep's language (Scope.rep_context); the status stays the code "not available"
    nobody = not int(goal.get("contributors") or 0)
    if goal.get("owner_type") == COMPANY:
        note = (
            _("no rep of the company has data for this goal in its window yet")
            if nobody
            else _("figures hidden: fewer than {n} reps of the company contributed, so they would reveal a colleague's")
        )
    else:
        note = (
            _("no rep of team {team} has data for this goal in its window yet")
            if nobody
            else _("figures hidden: fewer than {n} reps of team {team} contributed, so they would reveal a colleague's")
        )
    out.update(
        status="not available",
        summary="",
        measured_on="",
        note=note.format(n=n_min, team=goal.get("owner")),
        text=dict.fromkeys(goal.get("text") or {}, "not available"),
    )
    return out


def _suppress_quartiles(bench: pd.DataFrame, min_group_size: int) -> pd.DataFrame:
    """Blank team and company quartiles of groups smaller than :data:`QUARTILE_MIN_GROUP`.

    With 3 reps, the median, both quartiles (linear interpolation) and one's own value give
    the other two values exactly; with 4 reps they give all three. The median and percentile
    rank stay (they need ``min_group_size``, at least 3).
    """
    need = max(min_group_size, QUARTILE_MIN_GROUP)
    for level in ("team", "company"):
        count = f"{level}_n_reps"
        if count not in bench.columns:
            continue
        few = (bench[count].fillna(0) < need).to_numpy()
        if few.any():
            for q in ("p25", "p75"):
                if f"{level}_{q}" in bench.columns:
                    bench[f"{level}_{q}"] = bench[f"{level}_{q}"].where(~few)
    return bench


_EMPTY = pd.DataFrame(
    columns=["entity_type", "entity_id", "team", "grain", "period", "period_end", "kpi", "value", "reason"]
)
COMPANY = "company"


def config_formatter(config: Config) -> Formatter:
    """The formatter of the settings' `locale` and `currency`."""
    return formatter(config.locale, config.currency_code)


def _period_dict(period: Period, formats: Formatter = DEFAULT, review_cycle_months: int = 0) -> dict[str, Any]:
    """The report's period as a context holds it; a quarter or year also names the periods it is compared with,
    a month (with ``review_cycle_months``) the month of the last review ("vs last review"). Titles in the
    report's locale (en_US: :attr:`Period.title`)."""
    previous, last_year, following = period.previous(), period.last_year(), period.next()
    title = formats.period_title
    review = {}
    if review_cycle_months and not period.is_review:
        month = period.end - review_cycle_months
        review = {"last_review": {"end": str(month), "title": formats.month(month)}}
    return {
        "label": period.label,
        "title": title(period),
        "grain": period.grain,
        "kpi_grain": period.kpi_grain,
        "end": str(period.end),
        "start": str(period.start),
        "first_day": period.first_day.date().isoformat(),
        "last_day": period.last_day.date().isoformat(),
        "months": [str(m) for m in period.months],
        "previous": {"label": previous.label, "title": title(previous), "end": str(previous.end)},
        "last_year": {"label": last_year.label, "title": title(last_year), "start": str(last_year.start)},
        # the period after: a review sets the goals that start then
        "next": {
            "label": following.label,
            "title": title(following),
            "start": str(following.start),
            "end": str(following.end),
        },
        **review,
    }


def build_scope(data: Dataset, table: KpiTable, config: Config, period: Period, *, rep: str | None = None) -> Scope:
    """Prepare everything shared by one period's contexts, once for all reps (grouped, no per-rep scans).

    ``rep``: the scope serves this rep's context only (a preview): of the goals, only those a rep's context
    shows (the rep's own, their team's, the company's) are checked and measured, with the same figures.
    """
    from salesreports.metrics.benchmarks import ramp_benchmarks, rep_benchmarks

    values = table.values
    privacy = config.privacy.min_group_size
    months = _window_ends(period)
    bench = rep_benchmarks(
        values,
        min_group_size=privacy,
        review_cycle_months=config.review_cycle_months,
        period_ends=_window_by_grain(period),  # only the rows a context shows (whole groups: the same figures)
        exclude=[data.unassigned_rep] if data.unassigned_rep else [],
    )
    bench = _in_window(_suppress_quartiles(bench, privacy), period)
    bench = bench.iloc[np.argsort(bench["rep_id"].astype(str).to_numpy(), kind="stable")]  # each rep's rows together
    groups = _in_window(values[(values["entity_type"] != "rep") & values["period_end"].isin(months)], period)
    entity_rows = {(str(a), str(b)): f for (a, b), f in groups.groupby(["entity_type", "entity_id"], sort=False)}
    reps = data.get("reps")
    reps_idx = reps.drop_duplicates("rep_id").set_index("rep_id") if reps is not None else pd.DataFrame()
    ramp = pd.DataFrame(columns=["rep_id", *RAMP_COLUMNS])
    if "hire_date" in reps_idx.columns and reps_idx["hire_date"].notna().any():
        ramp = ramp_benchmarks(
            values, reps_idx["hire_date"].dropna(), kpis=["revenue", "deals_won"], min_group_size=privacy
        )
        ramp = ramp[ramp["period"] <= str(period.end)]
    caps = capabilities(data, table)
    with i18n.override(config.locale):  # shared by the team pages and every rep in the company's locale: its language
        goals, goal_notes, progress = _goals(data, table, config, period, owners=_owners_of(table, rep))
    return Scope(
        data,
        table,
        config,
        period,
        bench,
        entity_rows,
        ramp,
        goals,
        _coaching(config),
        reps_idx,
        _colleagues(reps_idx),
        caps,
        choose_headline(caps, _known_kpis(config, "headline")),
        choose_ranking(caps, _known_kpis(config, "ranking")),
        goal_notes,
        progress,
    )


def _known_kpis(config: Config, key: str) -> list[str]:
    """``scorecard.<key>`` of the settings, every name checked against the KPI registry."""
    return configured_kpis(getattr(config.scorecard, key), key, str(config.path) if config.path else None)


def _colleagues(reps: pd.DataFrame) -> Redactor | None:
    """Every rep's full name and email address, to find in other reps' feedback."""
    names = [v for c in ("name", "email") if c in reps.columns for v in reps[c].dropna().astype(str)]
    return Redactor(names) or None


def _owners_of(table: KpiTable, rep: str | None) -> set[tuple[str, str]] | None:
    """The goal owners a rep's context shows (the rep, their team, the company), as the goals' own
    :func:`~salesreports.metrics.goals.plan.entity` names them; None for every owner (no rep, or an unknown one)."""
    grid = table.grid
    at = int(grid.rep_index(pd.Series([rep], dtype=object))[0]) if rep is not None else -1
    return {("rep", str(rep)), ("team", str(grid.teams[grid.rep_team[at]])), (COMPANY, COMPANY)} if at >= 0 else None


def _goals(
    data: Dataset, table: KpiTable, config: Config, period: Period, *, owners: set[tuple[str, str]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, Any]]:
    """The goals this data set can measure, with progress as of the period; a note per goal it cannot; and
    each shown goal's progress by id (to write its figures in a rep's own locale).

    A goal whose SMART check finds it cannot be tracked on this data (unknown owner, metric, product or
    segment, a KPI the data cannot compute, no start or deadline) or whose window lies outside the data is
    never shown on a page (it would show a made-up reason); the run prints it once with the check's reasons.
    """
    if not config.goals:
        return [], {}, {}
    path = config.resolve(config.goals)
    from salesreports.metrics.goals import check_goals, goal_progress, load_goals
    from salesreports.metrics.goals.pace import summary_text
    from salesreports.metrics.goals.plan import Tables, entity
    from salesreports.metrics.periods import parse_period

    goals = load_goals(path)
    if owners is not None:  # one rep's context: the goals it can show, their owners resolved as the goals do
        goals = replace(goals, goals=tuple(g for g in goals if entity(g.owner, table) in owners))
    tables = Tables(table, data)  # a scoped goal's KPIs are computed once, for its check and its progress
    problems: dict[str, list[str]] = {}
    for f in check_goals(goals, table, data=data, tables=tables):
        if f.severity == "error":
            problems.setdefault(f.goal_id, []).append(f"{f.criterion}: {f.message}")
    first, last = table.grid.months[0], table.grid.months[-1]
    for goal in goals:
        try:
            start, deadline = parse_period(goal.start), parse_period(goal.deadline)
        except Exception:  # noqa: S112 - an unparsable window is a Time-bound error of the check already
            continue
        # a review shows the goals of the next period, also when that period starts after the data
        upcoming = period.is_review and period.end < start.start <= period.next().end
        if deadline.end < first or (start.start > last and not upcoming):
            window = f"{start.label} to {deadline.label}"
            problems.setdefault(goal.id, []).append(f"its window ({window}) lies outside the data ({first} to {last})")
    out = []
    progress: dict[str, Any] = {}
    notes = {gid: f"goal '{gid}' ({path.name}) is not shown: {'; '.join(reasons)}" for gid, reasons in problems.items()}
    for goal, g in zip(goals, goal_progress(goals, table, data=data, period=period, tables=tables), strict=True):
        if goal.id in problems:
            continue
        item = dict(_clean(g.to_dict()))
        formats = config_formatter(config)
        with i18n.override(formats.locale):  # figures and sentence in the company's language, locale and currency
            item["text"] = g.formatted(formats)
            item["summary"] = summary_text(g, formats)
        progress[g.goal_id] = g
        if g.owner_type in ("team", COMPANY):
            item["contributors"] = _contributors(data, table, goal, g.owner_type, period)
        out.append(item)
    return out, notes, progress


def _contributors(data: Dataset, table: KpiTable, goal: Any, owner_type: str, period: Period) -> int:
    """How many reps of a goal's group have rows in the goal's tables, scope and window (start to period end)."""
    from salesreports.errors import SalesReportsError
    from salesreports.metrics.goals import SCOPE_COLUMNS
    from salesreports.metrics.kpis import registry
    from salesreports.metrics.periods import parse_period

    grid = table.grid
    teams = pd.Series([str(grid.teams[i]) for i in grid.rep_team], index=[str(r) for r in grid.reps], dtype=object)
    members = set(teams.index if owner_type == COMPANY else teams.index[teams == goal.owner])
    members.discard(data.unassigned_rep or "")
    reg = registry()
    names = reg.get(goal.metric).tables if goal.metric in reg else ("deals",)
    try:
        first = parse_period(goal.start).first_day
    except (SalesReportsError, ValueError):
        first = period.first_day
    found: set[str] = set()
    for name in names:
        frame = data.get(name)
        if frame is None or "rep_id" not in frame.columns:
            continue
        keep = np.array(frame["rep_id"].isin(members), dtype=bool)
        for col, vals in goal.scope:
            if name in SCOPE_COLUMNS.get(col, ()) and col in frame.columns:
                keep &= frame[col].astype(str).isin(vals).to_numpy() & frame[col].notna().to_numpy()
        dates = [c for c in ("close_date", "created_date", "date") if c in frame.columns]
        if dates:
            window = np.zeros(len(frame), dtype=bool)
            for c in dates:
                window |= ((frame[c] >= first) & (frame[c] <= period.last_day)).to_numpy()
            keep &= window
        found |= set(frame.loc[keep, "rep_id"].astype(str))
    return len(found)


def _coaching(config: Config) -> Any:
    if not config.coaching:
        return None
    path = config.resolve(config.coaching)
    from salesreports.metrics.coaching import load_coaching

    return load_coaching(path)


def context_for(kind: str, ident: str, period: str, params_file: Path) -> dict[str, Any]:
    """Build one report's context from the settings file (JupyterLab previews with default parameters).

    Templates never call this in their own kernel: :mod:`salesreports.report.views` runs it in a child
    process (:func:`main`) and reads back only the context's files, like a batch run does.

    Raises
    ------
    ParamsError
        Unknown rep or team (with close matches).
    DataValidationError, DataLoadError, ConfigError
        The data or settings are broken.
    """
    from salesreports.data.loading import load_dataset
    from salesreports.data.validate import validate
    from salesreports.metrics.engine import compute_kpis
    from salesreports.metrics.periods import parse_period
    from salesreports.params import load_config

    config = load_config(params_file)
    data = load_dataset(config.source_path)
    validate(data)
    scope = build_scope(data, compute_kpis(data), config, parse_period(period))
    if kind == "rep":
        if ident not in scope.rep_ids():
            from salesreports.errors import ParamsError, close_matches

            msg = f"unknown rep '{ident}'.{close_matches(ident, scope.rep_ids())} Fix: set rep_id to a rep of the data."
            raise ParamsError(msg, rep=ident)
        return scope.rep_context(ident)
    if ident != COMPANY and ident not in scope.teams():
        from salesreports.errors import ParamsError, close_matches

        known = [*scope.teams(), COMPANY]
        msg = f"unknown team '{ident}'.{close_matches(ident, known)} Fix: set team to one of {', '.join(known)}."
        raise ParamsError(msg, team=ident)
    return scope.team_context(ident)


def main(argv: list[str] | None = None) -> int:
    """``python -m salesreports.report.scope KIND ID PERIOD PARAMS_FILE OUT``: write one report's context to OUT.

    Used by :mod:`salesreports.report.views` for previews, so that the data set is loaded in this child
    process and never in a template's kernel. A :class:`~salesreports.errors.SalesReportsError` is
    written to OUT as ``{"error": class name, "message": text}`` (exit code 1).
    """
    import sys

    from salesreports.errors import SalesReportsError
    from salesreports.report.contexts import write_context

    kind, ident, period, params_file, out = sys.argv[1:] if argv is None else argv
    try:
        from salesreports.params import load_config
        from salesreports.report import cache

        config = load_config(Path(params_file))
        key = cache.context_key(config, kind, ident, period, use="lab")
        kept = cache.lookup(config, key)
        if kept is not None:
            context = kept[0]
        else:
            context = context_for(kind, ident, period, Path(params_file))
            cache.keep(config, key, context, {"period": period, "folder": ""})
        write_context(context, Path(out))
    except SalesReportsError as err:
        atomic_write_text(Path(out), json.dumps({"error": type(err).__name__, "message": str(err)}, ensure_ascii=False))
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - run by salesreports.report.views in a child process
    raise SystemExit(main())


def header(context: Mapping[str, Any]) -> dict[str, Any]:
    """The page header of a report (notebook metadata ``salesreports``), from its context.

    Names in the title and subtitle are isolated (:func:`salesreports.text.isolate`): a right-to-left name, or
    an override in it, never reorders "— scorecard" or the period beside it; ``rep_name`` and ``team`` stay
    plain (each fills an element of its own).
    """
    with i18n.override(context.get("locale")):  # the page's header in the report's language
        return _header(context)


def _header(context: Mapping[str, Any]) -> dict[str, Any]:
    period = context["period"]
    common = {
        "period": period["label"],
        "period_title": period["title"],
        "company": context.get("company", ""),
        "generated_at": context.get("generated_at", ""),
        **({"locale": context["locale"]} if context.get("locale") else {}),  # not en_US: the page's dates
    }
    if context["kind"] == "rep":
        rep = context["rep"]
        # a quarter's or year's page is the rep's performance review (templates.review)
        monthly = period.get("kpi_grain", "month") == "month"
        title = _("{name} — scorecard") if monthly else _("{name} — review")
        return {
            **common,
            "kind": "rep",
            "title": title.format(name=isolate(rep["name"])),
            "rep_id": rep["rep_id"],
            "rep_name": rep["name"],
            "team": rep["team"],
            "subtitle": _("Team {team} · {period}").format(team=isolate(rep["team"]), period=period["title"]),
        }
    team = context["team"]["name"]
    title = _("Company summary") if team == COMPANY else _("Team {team} — summary").format(team=isolate(team))
    n = len(context["team"]["members"])
    subtitle = ngettext("{n} rep · {period} · for managers", "{n} reps · {period} · for managers", n)
    return {
        **common,
        "kind": "team",
        "title": title,
        "rep_id": "",
        "rep_name": "",
        "team": team,
        "subtitle": subtitle.format(n=n, period=period["title"]),
    }
