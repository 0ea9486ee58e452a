"""The privacy boundary: build each report's *context*, the only data its notebook sees.

A rep's scorecard notebook never gets the data set. It gets one JSON context
holding that rep's own KPI values, own feedback, own activity and funnel, plus
team figures that are **aggregates only** (medians, quartiles, counts) and are
suppressed when fewer than ``privacy.min_group_size`` reps contribute, so a team
of two never reveals the other person's number. Names, ids, deals and accounts
of other reps are never copied into a rep's context. Team summaries (for
managers) get per-rep figures of their own team.

Contexts are built for all reps of a period at once from the precomputed KPI
table (grouped once, no per-rep scans of raw data) and written as small JSON
files that the notebooks read; the batch runner passes only the file's path.

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
  (free text written by managers and peers) are replaced by ``[a colleague]``.

A JupyterLab preview (a template run with an empty ``context``) gets its
context from :func:`context_for` run in a child process (``python -m
salesreports.scope``), so a template's kernel never holds the data set.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesreports.data import Dataset
from salesreports.engine import KpiTable
from salesreports.params import Config
from salesreports.paths import atomic_write_text
from salesreports.periods import Period

__all__ = ["CONTEXT_VERSION", "QUARTILE_MIN_GROUP", "Scope", "build_scope", "context_for", "write_context"]

CONTEXT_VERSION = 1
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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in frame.to_dict(orient="records")]


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
    """Everything shared by the contexts of one period, computed once for all reps."""

    data: Dataset
    table: KpiTable
    config: Config
    period: Period
    rep_rows: dict[str, pd.DataFrame]
    entity_rows: dict[tuple[str, str], pd.DataFrame]
    team_stats: pd.DataFrame
    ramp: dict[str, pd.DataFrame]
    goals: list[dict[str, Any]]
    coaching: Any
    reps: pd.DataFrame
    colleagues: re.Pattern[str] | None = None  # every rep's name and email, to keep them out of others' feedback
    # lookups built once per period, so that a context costs the same with 40 reps or 5,000
    _team: dict[str, str] = field(init=False, repr=False)
    _members: dict[str, list[str]] = field(init=False, repr=False)
    _feedback_rows: dict[str, pd.DataFrame] = field(init=False, repr=False)
    _weekly: dict[str, pd.DataFrame] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        grid = self.table.grid
        self._team = {str(r): str(grid.teams[t]) for r, t in zip(grid.reps, grid.rep_team, strict=True)}
        self._members = {}
        for rep, team in self._team.items():
            self._members.setdefault(team, []).append(rep)
        feedback = self.data.get("feedback")
        self._feedback_rows = {} if feedback is None else {str(k): f for k, f in feedback.groupby("rep_id")}
        self._weekly = {}
        acts = self.data.get("activities")
        if acts is not None:
            start = self.period.last_day - pd.Timedelta(weeks=12)
            recent = acts[(acts["date"] > start) & (acts["date"] <= self.period.last_day)]
            week = recent["date"].dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d").rename("week")
            counts = recent.groupby([recent["rep_id"], week, recent["type"]]).size().rename("count").reset_index()
            self._weekly = {str(k): f.drop(columns="rep_id") for k, f in counts.groupby("rep_id")}

    def rep_ids(self) -> list[str]:
        """Every rep on the grid."""
        return [str(r) for r in self.table.grid.reps]

    def teams(self) -> list[str]:
        """Every team on the grid."""
        return [str(t) for t in self.table.grid.teams]

    def team_of(self, rep_id: str) -> str:
        """The rep's team."""
        return self._team[rep_id]

    def employment(self, rep_id: str) -> str:
        """Why a rep has no report for the period ("" when they have one)."""
        if rep_id not in self.reps.index:
            return ""
        row = self.reps.loc[rep_id]
        hire, leave = row.get("hire_date"), row.get("leave_date")
        if hire is not None and not pd.isna(hire) and hire > self.period.last_day:
            return f"joined on {hire.date()}, after {self.period.title}"
        if leave is not None and not pd.isna(leave) and leave < self.period.first_day:
            return f"left on {leave.date()}, before {self.period.title}"
        return ""

    def _common(self, kind: str) -> dict[str, Any]:
        """The fields every context starts with."""
        return {
            "version": CONTEXT_VERSION,
            "kind": kind,
            "company": self.config.company,
            "currency": self.config.currency,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "as_of": self.table.grid.as_of.date().isoformat(),
            "period": _period_dict(self.period),
        }

    # -- rep contexts -------------------------------------------------------------------------
    def rep_context(self, rep_id: str) -> dict[str, Any]:
        """The context of one rep's scorecard: own rows plus team aggregates only."""
        info = self._rep_info(rep_id)
        team = info["team"]
        own = self._window(self.rep_rows.get(rep_id, _EMPTY_REP))
        goals = self._rep_goals(rep_id, team)
        return {
            **self._common("rep"),
            "rep": info,
            "kpis": _records(own[[c for c in REP_COLUMNS if c in own.columns]]),
            "team": {
                "name": team,
                "min_group_size": self.config.privacy.min_group_size,
                "n_reps": len(self._members.get(team, [])),
            },
            "ramp": _records(self._ramp(rep_id)),
            "goals": goals,
            "coaching": self._coaching(rep_id, own),
            "incentive": self._incentive(rep_id),
            "feedback": self._recent(self._feedback(rep_id), ["date", "source", "score", "tags", "text"]),
            "activity_weekly": self._activity_weekly(rep_id),
            "funnel": self._funnel(own),
        }

    def _rep_goals(self, rep_id: str, team: str) -> list[dict[str, Any]]:
        """The rep's own goals plus their team's and the company's; group goals lose their numbers
        when fewer than ``min_group_size`` reps contributed (a team total minus one's own value is
        the colleague's value). Other reps' goals are never included."""
        n_min = self.config.privacy.min_group_size
        out = []
        for g in self.goals:
            kind = g.get("owner_type", "")
            if kind == "rep":
                if g["owner"] == rep_id:
                    out.append(g)
            elif (kind == "team" and g["owner"] == team) or kind == COMPANY:
                out.append(g if int(g.get("contributors") or 0) >= n_min else _redacted_goal(g, n_min))
        return out

    def _rep_info(self, rep_id: str) -> dict[str, Any]:
        row: Mapping[str, Any] = (
            {str(k): v for k, v in self.reps.loc[rep_id].to_dict().items()} if rep_id in self.reps.index else {}
        )
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

    def _window(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Month rows for the trend window plus every grain ending in the report's month."""
        if frame.empty:
            return frame
        end = str(self.period.end)
        first = str(self.period.end - TREND_MONTHS)
        keep = (frame["period_end"] <= end) & (
            ((frame["grain"] == "month") & (frame["period_end"] >= first)) | (frame["period_end"] == end)
        )
        return frame.loc[keep]

    def _ramp(self, rep_id: str) -> pd.DataFrame:
        frame = self.ramp.get(rep_id)
        if frame is None or frame.empty:
            return pd.DataFrame(
                columns=["kpi", "period", "tenure_month", "value", "ramp_median", "ramp_reason", "position"]
            )
        frame = frame[frame["period"] <= str(self.period.end)]
        return frame[["kpi", "period", "tenure_month", "value", "ramp_median", "ramp_reason", "position"]]

    def _coaching(self, rep_id: str, own: pd.DataFrame) -> list[dict[str, Any]]:
        if self.coaching is None:
            return []
        from salesreports.coaching import training_needs

        mine = self._feedback(rep_id)
        ramp = self.ramp.get(rep_id)
        rows = own.assign(rep_id=rep_id, team=self.team_of(rep_id)) if not own.empty else own
        needs = training_needs(
            rep_id,
            rows,
            self.coaching,
            period_end=str(self.period.end),
            feedback=mine,
            ramp=ramp,
            currency=self.config.currency,
        )
        return [_clean(n.to_dict()) for n in needs]

    def _incentive(self, rep_id: str) -> dict[str, Any] | None:
        if self.coaching is None or self.coaching.incentives is None:
            return None
        from salesreports.coaching import incentive_for

        est = incentive_for(
            self.entity_rows.get(("rep", rep_id), _EMPTY),
            rep_id,
            str(self.period.end),
            self.coaching.incentives,
            currency=self.config.currency,
        )
        return dict(_clean({**est.to_dict(), "grain": self.coaching.incentives.grain}))

    def _feedback(self, rep_id: str) -> pd.DataFrame | None:
        """The rep's own feedback, other reps' names and emails in its text replaced by ``[a colleague]``."""
        if self.data.get("feedback") is None:
            return None
        mine = self._feedback_rows.get(rep_id, self.data.tables["feedback"].iloc[:0])
        pattern = self.colleagues
        if pattern is None or mine.empty or "text" not in mine.columns:
            return mine
        row: Mapping[Any, Any] = self.reps.loc[rep_id].to_dict() if rep_id in self.reps.index else {}
        own = {str(row.get(k)).strip().casefold() for k in ("name", "email") if isinstance(row.get(k), str)}

        def hide(match: re.Match[str]) -> str:
            return match.group(0) if match.group(0).casefold() in own else COLLEAGUE

        text = [pattern.sub(hide, t) if isinstance(t, str) else t for t in mine["text"]]
        return mine.assign(text=pd.Series(text, index=mine.index, dtype=mine["text"].dtype))

    def _recent(self, mine: pd.DataFrame | None, columns: list[str]) -> list[dict[str, Any]]:
        """The last six months of a rep's own rows, newest first."""
        if mine is None:
            return []
        mine = mine[
            (mine["date"] <= self.period.last_day) & (mine["date"] > self.period.last_day - pd.DateOffset(months=6))
        ]
        return _records(mine[[c for c in columns if c in mine.columns]].sort_values("date", ascending=False))

    def _activity_weekly(self, rep_id: str) -> list[dict[str, Any]]:
        counts = self._weekly.get(rep_id)
        return [] if counts is None else _records(counts)

    def _funnel(self, own: pd.DataFrame) -> list[dict[str, Any]]:
        if own.empty:
            return []
        rows = own[(own["grain"] == "month") & (own["period_end"] == str(self.period.end))].set_index("kpi")["value"]
        stages = [("Leads", "leads"), ("Qualified", "qualified_leads"), ("Won deals", "deals_won")]
        return [dict(_clean({"stage": s, "count": rows.get(k)})) for s, k in stages if k in rows.index]

    # -- team contexts ------------------------------------------------------------------------
    def team_context(self, team: str) -> dict[str, Any]:
        """The context of a team summary (for its manager): per-rep figures of that team only."""
        members = self.rep_ids() if team == COMPANY else list(self._members.get(team, []))
        entity = (COMPANY, COMPANY) if team == COMPANY else ("team", team)
        reps = [{**self._rep_info(r), "skipped": self.employment(r)} for r in members]
        end = str(self.period.end)
        rows = [f[f["period_end"] == end] for r in members if not (f := self.rep_rows.get(r, _EMPTY_REP)).empty]
        rep_rows = pd.concat(rows, ignore_index=True) if rows else _EMPTY_REP
        keep = ["rep_id", *[c for c in REP_COLUMNS if c in rep_rows.columns]]
        owners = {*members, team, COMPANY}
        goals = [g for g in self.goals if g["owner"] in owners]
        own = self._window(self.entity_rows.get(entity, _EMPTY))
        return {
            **self._common("team"),
            "team": {"name": team, "members": reps},
            "kpis": _records(own.drop(columns=["entity_type", "entity_id", "team"], errors="ignore")),
            "rep_kpis": _records(rep_rows[keep]),
            "goals": goals,
        }


def _redacted_goal(goal: Mapping[str, Any], n_min: int) -> dict[str, Any]:
    """A group goal as a rep may see it when too few reps contributed: what it is, without numbers or status."""
    out = {k: v for k, v in goal.items() if k not in GOAL_NUMBERS}
    out.update(dict.fromkeys(GOAL_NUMBERS))
    who = "the company" if goal.get("owner_type") == COMPANY else f"team {goal.get('owner')}"
    out.update(
        status="not available",
        summary="",
        measured_on="",
        note=f"figures hidden: fewer than {n_min} reps of {who} contributed, so they would reveal a colleague's",
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
_EMPTY_REP = pd.DataFrame(columns=["rep_id", *REP_COLUMNS])
COMPANY = "company"


def _period_dict(period: Period) -> dict[str, Any]:
    return {
        "label": period.label,
        "title": period.title,
        "grain": period.grain,
        "end": str(period.end),
        "start": str(period.start),
        "first_day": period.first_day.date().isoformat(),
        "last_day": period.last_day.date().isoformat(),
    }


def build_scope(data: Dataset, table: KpiTable, config: Config, period: Period) -> Scope:
    """Prepare everything shared by one period's contexts, once for all reps (grouped, no per-rep scans)."""
    from salesreports.benchmarks import ramp_benchmarks, rep_benchmarks, team_benchmarks

    values = table.values
    privacy = config.privacy.min_group_size
    bench = rep_benchmarks(values, min_group_size=privacy, review_cycle_months=config.review_cycle_months)
    bench = _suppress_quartiles(bench, privacy)
    rep_rows = {str(k): f for k, f in bench.groupby("rep_id", sort=False)}
    entity_rows = {(str(a), str(b)): f for (a, b), f in values.groupby(["entity_type", "entity_id"], sort=False)}
    reps = data.get("reps")
    reps_idx = reps.drop_duplicates("rep_id").set_index("rep_id") if reps is not None else pd.DataFrame()
    ramp: dict[str, pd.DataFrame] = {}
    if "hire_date" in reps_idx.columns and reps_idx["hire_date"].notna().any():
        ramp_frame = ramp_benchmarks(
            values, reps_idx["hire_date"].dropna(), kpis=["revenue", "deals_won"], min_group_size=privacy
        )
        ramp = {str(k): f for k, f in ramp_frame.groupby("rep_id", sort=False)}
    return Scope(
        data,
        table,
        config,
        period,
        rep_rows,
        entity_rows,
        team_benchmarks(values, min_group_size=privacy),
        ramp,
        _goals(data, table, config, period),
        _coaching(config),
        reps_idx,
        _colleague_pattern(reps_idx),
    )


COLLEAGUE = "[a colleague]"


def _colleague_pattern(reps: pd.DataFrame) -> re.Pattern[str] | None:
    """One pattern matching every rep's full name and email address as whole words (any case and spacing)."""
    words: set[str] = set()
    for column in ("name", "email"):
        if column in reps.columns:
            words |= {v.strip() for v in reps[column].dropna().astype(str) if len(v.strip()) >= 3}
    if not words:
        return None
    ordered = sorted(words, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _goals(data: Dataset, table: KpiTable, config: Config, period: Period) -> list[dict[str, Any]]:
    if not config.goals:
        return []
    path = config.resolve(config.goals)
    from salesreports.goals import goal_progress, load_goals

    goals = load_goals(path)
    out = []
    for goal, g in zip(goals, goal_progress(goals, table, data=data, period=period), strict=True):
        item = dict(_clean(g.to_dict()))
        item["text"] = g.formatted(config.currency)
        if g.owner_type in ("team", COMPANY):
            item["contributors"] = _contributors(data, table, goal, g.owner_type, period)
        out.append(item)
    return out


def _contributors(data: Dataset, table: KpiTable, goal: Any, owner_type: str, period: Period) -> int:
    """How many reps of a goal's group have rows in the goal's tables, scope and window (start to period end)."""
    from salesreports.errors import SalesReportsError
    from salesreports.goals import SCOPE_COLUMNS
    from salesreports.kpis import registry
    from salesreports.periods import parse_period

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
    from salesreports.coaching import load_coaching

    return load_coaching(path)


def write_context(context: Mapping[str, Any], path: Path) -> bool:
    """Write a context atomically; returns False when the file already holds the same content."""
    body = dict(context)
    stamp = body.pop("generated_at", None)
    text = json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=False)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            old.pop("generated_at", None)
            if json.dumps(old, sort_keys=True, allow_nan=False, ensure_ascii=False) == text:
                return False  # same content as last time: keep the file (and its time stamp) as it is
        except ValueError:
            pass
    body["generated_at"] = stamp
    atomic_write_text(path, json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=False))
    return True


def context_for(kind: str, ident: str, period: str, params_file: Path) -> dict[str, Any]:
    """Build one report's context from the settings file (JupyterLab previews with default parameters).

    Templates never call this in their own kernel: :mod:`salesreports.views` runs it in a child
    process (:func:`main`) and reads back only the JSON context, like a batch run does.

    Raises
    ------
    ParamsError
        Unknown rep or team (with close matches).
    DataValidationError, DataLoadError, ConfigError
        The data or settings are broken.
    """
    from salesreports.data import load_dataset
    from salesreports.engine import compute_kpis
    from salesreports.params import load_config
    from salesreports.periods import parse_period
    from salesreports.validate import validate

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
    """``python -m salesreports.scope KIND ID PERIOD PARAMS_FILE OUT``: write one report's context to OUT.

    Used by :mod:`salesreports.views` for previews, so that the data set is loaded in this child
    process and never in a template's kernel. A :class:`~salesreports.errors.SalesReportsError` is
    written to OUT as ``{"error": class name, "message": text}`` (exit code 1).
    """
    import sys

    from salesreports.errors import SalesReportsError

    kind, ident, period, params_file, out = sys.argv[1:] if argv is None else argv
    try:
        context: dict[str, Any] = context_for(kind, ident, period, Path(params_file))
        code = 0
    except SalesReportsError as err:
        context, code = {"error": type(err).__name__, "message": str(err)}, 1
    atomic_write_text(Path(out), json.dumps(context, allow_nan=False, ensure_ascii=False))
    return code


if __name__ == "__main__":  # pragma: no cover - run by salesreports.views in a child process
    raise SystemExit(main())


def header(context: Mapping[str, Any]) -> dict[str, Any]:
    """The page header of a report (notebook metadata ``salesreports``), from its context."""
    period = context["period"]
    common = {
        "period": period["label"],
        "period_title": period["title"],
        "company": context.get("company", ""),
        "generated_at": context.get("generated_at", ""),
    }
    if context["kind"] == "rep":
        rep = context["rep"]
        return {
            **common,
            "kind": "rep",
            "title": f"{rep['name']} — scorecard",
            "rep_id": rep["rep_id"],
            "rep_name": rep["name"],
            "team": rep["team"],
            "subtitle": f"Team {rep['team']} · {period['title']}",
        }
    team = context["team"]["name"]
    title = "Company summary" if team == COMPANY else f"Team {team} — summary"
    return {
        **common,
        "kind": "team",
        "title": title,
        "rep_id": "",
        "rep_name": "",
        "team": team,
        "subtitle": f"{len(context['team']['members'])} reps · {period['title']} · for managers",
    }
