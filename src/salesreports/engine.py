"""Compute every KPI for every rep, team and the company, for every period, in one pass.

The engine first turns the raw tables into additive **base measures** on a
(rep x month) grid with ``numpy.bincount`` (no per-rep loops), then rolls the
grid up to each grain (month, quarter-to-date, year-to-date, trailing 12
months) with cumulative sums, sums reps into teams and the company, and finally
evaluates each KPI of the registry on those totals. Ratios are computed *after*
aggregation, so a team's win rate is its won deals over its closed deals.

Non-additive KPIs (the median sales cycle, customer retention) are registered
cohort functions: the cycle median comes from exact per-day histograms that
add up like any measure; retention from account presence arrays.

The result is one tidy table: ``entity_type, entity_id, team, grain, period,
period_end, kpi, value, reason``. A value that cannot be computed is NaN with
a reason (missing table or column, zero denominator, not employed, too little
history), never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesreports.data import Dataset
from salesreports.periods import GRAINS, Period, of_grain

__all__ = ["COHORT_FUNCTIONS", "MEASURES", "Grid", "KpiTable", "compute_kpis"]

Array = np.ndarray[Any, Any]

# base measure -> (table it comes from, optional column it needs, how it rolls up over months)
MEASURES: dict[str, tuple[str, str, str]] = {
    "revenue": ("deals", "", "sum"),
    "deals_won": ("deals", "", "sum"),
    "deals_lost": ("deals", "", "sum"),
    "cost_won": ("deals", "cost", "sum"),
    "units_won": ("deals", "units", "sum"),
    "new_customers": ("deals", "", "sum"),
    "repeat_revenue": ("deals", "", "sum"),
    "new_segment_revenue": ("deals", "segment", "sum"),
    "pipeline_open": ("deals", "", "last"),
    "leads_created": ("leads", "", "sum"),
    "leads_qualified": ("leads", "", "sum"),
    "leads_converted": ("leads", "converted_deal_id", "sum"),
    "calls": ("activities", "", "sum"),
    "meetings": ("activities", "", "sum"),
    "emails": ("activities", "", "sum"),
    "demos": ("activities", "", "sum"),
    "active_days": ("", "", "sum"),
    "target_revenue": ("targets", "", "sum"),
}

COHORT_FUNCTIONS: dict[str, Callable[..., tuple[Array, Array]]] = {}

UNASSIGNED = "Unassigned"
COMPANY = "company"


@dataclass
class Grid:
    """Months x reps axes shared by every measure."""

    months: pd.PeriodIndex
    reps: pd.Index
    teams: pd.Index
    rep_team: Array  # team index of each rep
    as_of: pd.Timestamp
    employed: Array = field(default_factory=lambda: np.zeros((0, 0)))  # (R, M) active days

    @property
    def shape(self) -> tuple[int, int]:
        """(number of reps, number of months)."""
        return len(self.reps), len(self.months)

    def month_index(self, dates: pd.Series) -> Array:
        """Index of each date's month on the grid (-1 when off the grid)."""
        values = dates.to_numpy(dtype="datetime64[M]").astype("int64")
        idx = values - self._base
        idx = np.where(dates.isna().to_numpy() | (idx < 0) | (idx >= len(self.months)), -1, idx)
        return idx.astype(np.int64)

    @property
    def _base(self) -> int:
        first = self.months[0]
        return int((first.year - 1970) * 12 + first.month - 1)

    def rep_index(self, ids: pd.Series) -> Array:
        """Index of each rep id on the grid (-1 when unknown)."""
        return np.asarray(self.reps.get_indexer(ids), dtype=np.int64)


@dataclass
class KpiTable:
    """The computed KPIs (tidy) plus the grid they were computed on."""

    values: pd.DataFrame
    grid: Grid
    unavailable: dict[str, str]  # KPI -> reason it is not available at all

    def get(self, entity_id: str, kpi: str, period: str | Period, entity_type: str = "rep") -> float:
        """One value (NaN when not available)."""
        label = period.label if isinstance(period, Period) else period
        v = self.values
        hit = v[(v["entity_type"] == entity_type) & (v["entity_id"] == entity_id) & (v["kpi"] == kpi) & (v["period"] == label)]
        return float(hit["value"].iloc[0]) if len(hit) else float("nan")


def _bincount(grid: Grid, rep_idx: Array, month_idx: Array, weights: Array | None = None) -> Array:
    r, m = grid.shape
    ok = (rep_idx >= 0) & (month_idx >= 0)
    flat = rep_idx[ok] * m + month_idx[ok]
    w = None if weights is None else np.nan_to_num(np.asarray(weights, dtype=np.float64)[ok])
    return np.bincount(flat, weights=w, minlength=r * m).reshape(r, m).astype(np.float64)


def _grid(data: Dataset, as_of: dt.date | None) -> Grid:
    dates: list[pd.Series] = []
    for name, cols in (("deals", ("created_date", "close_date")), ("leads", ("created_date",)),
                       ("activities", ("date",)), ("feedback", ("date",))):
        frame = data.get(name)
        if frame is not None:
            dates.extend(frame[c] for c in cols if c in frame.columns)
    targets = data.get("targets")
    if targets is not None:
        dates.append(pd.to_datetime(targets["period"], format="%Y-%m", errors="coerce"))
    known = [d.dropna() for d in dates if d.notna().any()]
    if not known:
        first = last = pd.Timestamp(as_of or dt.date.today())
    else:
        first = min(d.min() for d in known)
        last = max(d.max() for d in known)
    stamp = pd.Timestamp(as_of) if as_of else last
    months = pd.period_range(first.to_period("M"), max(stamp, first).to_period("M"), freq="M")
    reps_frame = data.get("reps")
    if reps_frame is not None:
        rep_ids = pd.Index(reps_frame["rep_id"].dropna().astype(str).unique())
        team_of = reps_frame.set_index("rep_id")["team"] if "team" in reps_frame else pd.Series(dtype=object)
    else:
        ids: set[str] = set()
        for name in ("deals", "leads", "activities"):
            frame = data.get(name)
            if frame is not None:
                ids |= set(frame["rep_id"].dropna().astype(str))
        rep_ids = pd.Index(sorted(ids))
        team_of = pd.Series(dtype=object)
    teams_of_reps = pd.Series([team_of.get(r) if r in team_of.index else None for r in rep_ids], dtype=object)
    teams_of_reps = teams_of_reps.where(teams_of_reps.notna(), UNASSIGNED).astype(str)
    teams = pd.Index(sorted(teams_of_reps.unique()))
    grid = Grid(months, rep_ids, teams, np.asarray(teams.get_indexer(teams_of_reps), dtype=np.int64), stamp)
    grid.employed = _active_days(grid, reps_frame)
    return grid


def _active_days(grid: Grid, reps: pd.DataFrame | None) -> Array:
    starts = grid.months.start_time.normalize().to_numpy(dtype="datetime64[us]")
    ends = grid.months.end_time.normalize().to_numpy(dtype="datetime64[us]")
    ends = np.minimum(ends, np.datetime64(grid.as_of.normalize(), "us"))
    r = len(grid.reps)
    hire = np.full(r, np.datetime64("1900-01-01", "us"))
    leave = np.full(r, np.datetime64("2999-12-31", "us"))
    if reps is not None:
        by_id = reps.drop_duplicates("rep_id").set_index("rep_id").reindex(grid.reps)
        if "hire_date" in by_id:
            h = by_id["hire_date"].to_numpy(dtype="datetime64[us]")
            hire = np.where(np.isnat(h), hire, h)
        if "leave_date" in by_id:
            lv = by_id["leave_date"].to_numpy(dtype="datetime64[us]")
            leave = np.where(np.isnat(lv), leave, lv)
    lo = np.maximum(starts[None, :], hire[:, None])
    hi = np.minimum(ends[None, :], leave[:, None])
    days = (hi - lo).astype("timedelta64[D]").astype(np.int64) + 1
    return np.clip(days, 0, None).astype(np.float64)


def _deal_measures(grid: Grid, deals: pd.DataFrame, out: dict[str, Array], extra: dict[str, Any]) -> None:
    rep = grid.rep_index(deals["rep_id"])
    close_m = grid.month_index(deals["close_date"])
    won = (deals["stage"] == "won").to_numpy()
    lost = (deals["stage"] == "lost").to_numpy()
    amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan) if "amount" in deals else np.zeros(len(deals))
    out["revenue"] = _bincount(grid, rep[won], close_m[won], amount[won])
    out["deals_won"] = _bincount(grid, rep[won], close_m[won])
    out["deals_lost"] = _bincount(grid, rep[lost], close_m[lost])
    if "cost" in deals.columns:
        out["cost_won"] = _bincount(grid, rep[won], close_m[won], deals["cost"].to_numpy(dtype=np.float64, na_value=np.nan)[won])
    if "units" in deals.columns:
        out["units_won"] = _bincount(grid, rep[won], close_m[won], deals["units"].to_numpy(dtype=np.float64, na_value=np.nan)[won])
    # first won deal of each account (company-wide) is a new customer; later ones are repeat business
    wd = pd.DataFrame({"account": deals["account_id"].to_numpy()[won], "close": deals["close_date"].to_numpy()[won],
                       "pos": np.flatnonzero(won)})
    wd = wd.sort_values(["account", "close", "pos"], kind="stable")
    first = ~wd["account"].duplicated().to_numpy()
    is_new = np.zeros(len(deals), dtype=bool)
    is_new[wd["pos"].to_numpy()[first]] = True
    is_repeat = won & ~is_new
    out["new_customers"] = _bincount(grid, rep[is_new], close_m[is_new])
    out["repeat_revenue"] = _bincount(grid, rep[is_repeat], close_m[is_repeat], amount[is_repeat])
    if "segment" in deals.columns:
        seg = deals["segment"].to_numpy()[won]
        seg_first = pd.Series(close_m[won]).groupby(seg).min()
        first_m = pd.Series(seg).map(seg_first).to_numpy(dtype=np.float64)
        newseg = (first_m >= 12) & (close_m[won] - first_m <= 11)
        idx = np.flatnonzero(won)[newseg]
        out["new_segment_revenue"] = _bincount(grid, rep[idx], close_m[idx], amount[idx])
    # open pipeline at each month end: +amount when created, -amount when closed
    created_m = grid.month_index(deals["created_date"])
    closed = won | lost
    plus = _bincount(grid, rep, created_m, amount)
    minus = _bincount(grid, rep[closed], close_m[closed], amount[closed])
    out["pipeline_open"] = np.cumsum(plus - minus, axis=1)
    # won deals' cycle lengths, as an exact per-day histogram per rep-month
    cyc = (deals["close_date"] - deals["created_date"]).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = won & ~np.isnan(cyc) & (cyc >= 0) & (rep >= 0) & (close_m >= 0)
    days = cyc[ok].astype(np.int64)
    bins = int(days.max()) + 1 if len(days) else 1
    r, m = grid.shape
    hist = np.bincount((rep[ok] * m + close_m[ok]) * bins + days, minlength=r * m * bins)
    extra["cycle_hist"] = hist.reshape(r, m, bins).astype(np.int32)
    extra["won_pairs"] = (rep[won], deals["account_id"].to_numpy()[won], close_m[won])
    extra["won_ids"] = set(deals["deal_id"].to_numpy()[won & (deals["close_date"] <= grid.as_of).to_numpy()])


def _lead_measures(grid: Grid, leads: pd.DataFrame, out: dict[str, Array], extra: dict[str, Any]) -> None:
    rep = grid.rep_index(leads["rep_id"])
    m = grid.month_index(leads["created_date"])
    out["leads_created"] = _bincount(grid, rep, m)
    qualified = leads["qualified"].fillna(False).to_numpy(dtype=bool)
    out["leads_qualified"] = _bincount(grid, rep[qualified], m[qualified])
    if "converted_deal_id" in leads.columns and "won_ids" in extra:
        conv = leads["converted_deal_id"].isin(extra["won_ids"]).to_numpy()
        out["leads_converted"] = _bincount(grid, rep[conv], m[conv])


def _activity_measures(grid: Grid, acts: pd.DataFrame, out: dict[str, Array]) -> None:
    rep = grid.rep_index(acts["rep_id"])
    m = grid.month_index(acts["date"])
    kind = acts["type"].to_numpy()
    for name, label in (("calls", "call"), ("meetings", "meeting"), ("emails", "email"), ("demos", "demo")):
        sel = kind == label
        out[name] = _bincount(grid, rep[sel], m[sel])


def _target_measures(grid: Grid, targets: pd.DataFrame, out: dict[str, Array], team_targets: dict[str, Array]) -> None:
    months = pd.to_datetime(targets["period"], format="%Y-%m", errors="coerce")
    sel = (targets["metric"] == "revenue").to_numpy()
    t = targets[sel]
    m = grid.month_index(months[sel])
    value = t["target"].to_numpy(dtype=np.float64, na_value=np.nan)
    rep_rows = t["rep_id"].notna().to_numpy() if "rep_id" in t else np.zeros(len(t), dtype=bool)
    rep = grid.rep_index(t["rep_id"].fillna("")) if "rep_id" in t else np.full(len(t), -1)
    arr = np.full(grid.shape, np.nan)
    ok = rep_rows & (rep >= 0) & (m >= 0)
    arr[rep[ok], m[ok]] = value[ok]
    out["target_revenue"] = arr
    if "team" in t.columns:
        team_rows = t["team"].notna().to_numpy() & ~rep_rows
        tidx = np.asarray(grid.teams.get_indexer(t["team"].fillna("")), dtype=np.int64)
        tarr = np.full((len(grid.teams), grid.shape[1]), np.nan)
        ok = team_rows & (tidx >= 0) & (m >= 0)
        tarr[tidx[ok], m[ok]] = value[ok]
        if ok.any():
            team_targets["target_revenue"] = tarr


def _roll(arr: Array, grain: str, how: str, months: pd.PeriodIndex) -> Array:
    """Roll a (..., M) monthly array up to ``grain``: column m = the span of that grain ending in month m."""
    if grain == "month" or how == "last":
        return arr
    nan = np.isnan(arr)
    filled = np.where(nan, 0.0, arr) if arr.dtype.kind == "f" else arr
    csum = np.cumsum(filled, axis=-1)
    cnt = np.cumsum(~nan, axis=-1)
    zero = np.zeros(arr.shape[:-1] + (1,), dtype=csum.dtype)
    csum0 = np.concatenate([zero, csum], axis=-1)
    cnt0 = np.concatenate([zero.astype(cnt.dtype), cnt], axis=-1)
    start = _span_start(grain, months)
    end = np.arange(len(months)) + 1
    lo = np.clip(start, 0, None)
    total = csum0[..., end] - csum0[..., lo]
    count = cnt0[..., end] - cnt0[..., lo]
    if arr.dtype.kind == "f":
        total = np.where(count > 0, total, np.nan)
    return total


def _span_start(grain: str, months: pd.PeriodIndex) -> Array:
    """Grid index of the first month of each grain span (may be negative: before the data)."""
    idx = np.arange(len(months))
    month_no = np.asarray(months.month, dtype=np.int64)
    if grain == "quarter":
        return idx - (month_no - 1) % 3
    if grain == "ytd":
        return idx - (month_no - 1)
    if grain == "t12m":
        return idx - 11
    return idx


def _median_from_hist(hist: Array) -> Array:
    """Exact median of integer days from histograms (..., bins); NaN where empty."""
    cum = np.cumsum(hist, axis=-1)
    n = cum[..., -1]
    k1 = (n - 1) // 2
    k2 = n // 2
    v1 = np.argmax(cum > k1[..., None], axis=-1)
    v2 = np.argmax(cum > k2[..., None], axis=-1)
    return np.where(n > 0, (v1 + v2) / 2.0, np.nan)


def _sales_cycle(grid: Grid, extra: dict[str, Any], grain: str, groups: list[Array]) -> list[Array]:
    hist = extra["cycle_hist"].astype(np.int64)
    out = []
    for g in groups:
        summed = np.stack([hist[g == i].sum(axis=0) for i in range(int(g.max()) + 1)]) if len(g) else hist[:0]
        rolled = np.moveaxis(_roll(np.moveaxis(summed, -1, 0), grain, "sum", grid.months), 0, -1)
        out.append(_median_from_hist(rolled))
    return out


def _retention(grid: Grid, extra: dict[str, Any], grain: str, groups: list[Array]) -> list[tuple[Array, Array]]:
    rep, account, month = extra["won_pairs"]
    ok = (rep >= 0) & (month >= 0)
    m_count = len(grid.months)
    start = _span_start(grain, grid.months)
    prev = start - 1  # S is measured at the end of the month before the span
    out = []
    for g in groups:
        entity = g[rep[ok]]
        frame = pd.DataFrame({"e": entity, "a": account[ok], "m": month[ok]}).drop_duplicates()
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame[["e", "a"]]))
        presence = np.zeros((len(uniques), m_count), dtype=np.int32)
        presence[codes, frame["m"].to_numpy()] = 1
        c = np.concatenate([np.zeros((len(uniques), 1), dtype=np.int64), np.cumsum(presence, axis=1)], axis=1)
        idx = np.arange(m_count)
        active = (c[:, idx + 1] - c[:, np.clip(idx - 11, 0, None)]) > 0  # won deal in trailing 12 months
        ent = np.asarray([u[0] for u in uniques], dtype=np.int64) if len(uniques) else np.zeros(0, dtype=np.int64)
        n_ent = int(g.max()) + 1 if len(g) else 0
        safe_prev = np.clip(prev, 0, None)
        at_start = active[:, safe_prev]
        kept = at_start & active[:, idx]
        s = np.zeros((n_ent, m_count))
        k = np.zeros((n_ent, m_count))
        np.add.at(s, ent, at_start)
        np.add.at(k, ent, kept)
        enough = prev - 11 >= 0  # S needs 12 months of history before the period
        s[:, ~enough] = np.nan
        out.append((k, s))
    return out


COHORT_FUNCTIONS["sales_cycle"] = _sales_cycle  # type: ignore[assignment]
COHORT_FUNCTIONS["retention"] = _retention  # type: ignore[assignment]


def _period_labels(months: pd.PeriodIndex, grain: str) -> list[str]:
    out = []
    for m in months:
        p = of_grain("quarter" if grain == "quarter" else grain, m)  # type: ignore[arg-type]
        if grain == "quarter":
            out.append(p.label if m.month % 3 == 0 else f"{m}-QTD")
        else:
            out.append(p.label)
    return out


def compute_kpis(data: Dataset, *, as_of: dt.date | None = None, grains: tuple[str, ...] = GRAINS) -> KpiTable:
    """Compute every registered KPI for every rep, team and the company, every month and grain.

    Parameters
    ----------
    data : the loaded data set
    as_of : the data's last day (default: the latest date in the data); lead conversion counts
        deals won up to this day, and activity rates count employed days up to it
    grains : which period grains to compute

    Returns
    -------
    KpiTable
        ``values`` is tidy: one row per entity, grain, period and KPI.
    """
    from salesreports.kpis import registry

    grid = _grid(data, as_of)
    measures: dict[str, Array] = {"active_days": grid.employed}
    team_targets: dict[str, Array] = {}
    extra: dict[str, Any] = {}
    if (deals := data.get("deals")) is not None:
        _deal_measures(grid, deals, measures, extra)
    if (leads := data.get("leads")) is not None:
        _lead_measures(grid, leads, measures, extra)
    if (acts := data.get("activities")) is not None:
        _activity_measures(grid, acts, measures)
    if (targets := data.get("targets")) is not None:
        _target_measures(grid, targets, measures, team_targets)

    kpis = list(registry())
    unavailable = {k.name: reason for k in kpis if (reason := _missing(k, data))}
    r, m = grid.shape
    t = len(grid.teams)
    groups = [np.arange(r), grid.rep_team, np.zeros(r, dtype=np.int64)]
    onehot_team = np.zeros((t, r))
    onehot_team[grid.rep_team, np.arange(r)] = 1.0
    data_start = 0
    frames: list[pd.DataFrame] = []
    ent_type = np.array(["rep"] * r + ["team"] * t + ["company"])
    ent_id = np.array(list(grid.reps) + list(grid.teams) + [COMPANY], dtype=object)
    ent_team = np.array([grid.teams[i] for i in grid.rep_team] + list(grid.teams) + [""], dtype=object)
    month_labels = np.array([str(x) for x in grid.months], dtype=object)
    for grain in grains:
        rolled: dict[str, Array] = {}
        for name, arr in measures.items():
            how = MEASURES[name][2]
            rep_arr = _roll(arr, grain, how, grid.months)
            team_arr = _roll(_sum_groups(arr, onehot_team), grain, how, grid.months)
            if name in team_targets:
                team_arr = np.where(np.isnan(_roll(team_targets[name], grain, how, grid.months)), team_arr,
                                    _roll(team_targets[name], grain, how, grid.months))
            company = _roll(_nansum0(arr)[None, :], grain, how, grid.months)
            rolled[name] = np.concatenate([rep_arr, team_arr, company], axis=0)
        employed = rolled["active_days"] > 0
        too_early = _span_start(grain, grid.months) < data_start
        labels = np.array(_period_labels(grid.months, grain), dtype=object)
        for kpi in kpis:
            value, reason = _evaluate(kpi, rolled, extra, grid, grain, groups, unavailable)
            reason = np.where(np.isnan(value) & (reason == ""), kpi.when_zero, reason)
            not_employed = ~employed
            value = np.where(not_employed, np.nan, value)
            reason = np.where(not_employed, "not employed in this period", reason)
            if too_early.any():
                first = str(grid.months[0])
                value[:, too_early] = np.nan
                reason[:, too_early] = f"the data starts in {first}: this period is not fully covered"
            frames.append(_tidy(ent_type, ent_id, ent_team, grain, labels, month_labels, kpi.name, value, reason))
    values = pd.concat(frames, ignore_index=True)
    return KpiTable(values, grid, unavailable)


def _sum_groups(arr: Array, onehot: Array) -> Array:
    if np.isnan(arr).all():
        return np.full((onehot.shape[0], arr.shape[1]), np.nan)
    summed = onehot @ np.nan_to_num(arr)
    present = onehot @ (~np.isnan(arr)).astype(np.float64)
    return np.where(present > 0, summed, np.nan)


def _nansum0(arr: Array) -> Array:
    present = (~np.isnan(arr)).sum(axis=0)
    return np.where(present > 0, np.nansum(arr, axis=0), np.nan)


def _missing(kpi: Any, data: Dataset) -> str:
    for table in kpi.tables:
        if not data.has(table):
            return f"the data source has no {table} table"
    for table, column in kpi.columns:
        frame = data.get(table)
        if frame is None:
            return f"the data source has no {table} table"
        if column not in frame.columns or frame[column].isna().all():
            return f"the {table} table has no {column} values"
    return ""


def _evaluate(kpi: Any, rolled: dict[str, Array], extra: dict[str, Any], grid: Grid, grain: str,
              groups: list[Array], unavailable: dict[str, str]) -> tuple[Array, Array]:
    shape = rolled["active_days"].shape
    if kpi.name in unavailable:
        return np.full(shape, np.nan), np.full(shape, unavailable[kpi.name], dtype=object)
    reason = np.full(shape, "", dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kpi.type == "simple":
            return rolled[kpi.measure].astype(np.float64), reason
        if kpi.type == "ratio":
            num = kpi.numerator.evaluate(rolled)
            den = kpi.denominator.evaluate(rolled)
            bad = np.isnan(den) | (den <= 0 if kpi.positive_denominator else den == 0)
            return np.where(bad, np.nan, num / np.where(bad, 1.0, den)), reason
        if kpi.function == "sales_cycle":
            return np.concatenate(_sales_cycle(grid, extra, grain, groups), axis=0), reason
        parts = _retention(grid, extra, grain, groups)
        kept = np.concatenate([p[0] for p in parts], axis=0)
        start = np.concatenate([p[1] for p in parts], axis=0)
        value = np.where((start > 0) & ~np.isnan(start), kept / np.where(start > 0, start, 1.0), np.nan)
        reason = np.where(np.isnan(start), "needs 12 months of history before the period", reason)
        return value, reason


def _tidy(ent_type: Array, ent_id: Array, ent_team: Array, grain: str, labels: Array, month_labels: Array,
          kpi: str, value: Array, reason: Array) -> pd.DataFrame:
    e, m = value.shape
    return pd.DataFrame({
        "entity_type": np.repeat(ent_type, m),
        "entity_id": np.repeat(ent_id, m),
        "team": np.repeat(ent_team, m),
        "grain": grain,
        "period": np.tile(labels, e),
        "period_end": np.tile(month_labels, e),
        "kpi": kpi,
        "value": value.reshape(-1),
        "reason": np.where(np.isnan(value.reshape(-1)), reason.reshape(-1), ""),
    })
