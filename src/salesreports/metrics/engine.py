"""Compute every KPI for every rep, team and the company, for every period, in one pass.

The engine first turns the raw tables into additive **base measures** on a
(rep x month) grid with ``numpy.bincount`` (no per-rep loops), then rolls the
grid up to each grain (month, quarter-to-date, year-to-date, trailing 12
months) with cumulative sums, sums reps into teams and teams into the company,
and finally evaluates each KPI of the registry on those totals. Ratios are
computed *after* aggregation, so a team's win rate is its won deals over its
closed deals.

Non-additive KPIs are registered cohort functions (:data:`COHORT_FUNCTIONS`):
the median sales cycle comes from exact per-day histograms that add up like any
measure; customer retention from each (entity, account) pair's won-deal months.

Events dated after ``as_of`` are left out, so a table computed "as of" a past
day shows what was known on that day.

The result is one tidy table: ``entity_type, entity_id, team, grain, period,
period_end, kpi, value, reason``. A value that cannot be computed is NaN with
a reason (missing table or column, zero denominator, not employed, too little
history, period not covered by the data), never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesreports.data.loading import Dataset
from salesreports.data.schema import EVENT_DATES, MAX_AMOUNT
from salesreports.i18n import N_
from salesreports.metrics.measures import (
    COHORTS,
    HISTORY_MONTHS,
    MEASURES,
    NO_SIGN,
    NO_TABLE,
    NO_VALUES,
    NOT_EMPLOYED,
    OUTSIZED,
    data_ends,
)
from salesreports.metrics.periods import GRAINS, of_grain, parse_period

if TYPE_CHECKING:
    from salesreports.metrics.kpis import Kpi
    from salesreports.metrics.periods import Period

__all__ = [
    "COHORT_FUNCTIONS",
    "COLUMNS",
    "Grid",
    "KpiTable",
    "compute_kpis",
    "event_dates",
    "history_months",
    "missing_reason",
]

COLUMNS: dict[str, tuple[str, ...]] = {
    "reps": ("rep_id", "team", "hire_date", "leave_date"),
    "deals": ("deal_id", "rep_id", "account_id", "segment", "created_date", "close_date", "stage", "amount", "cost",
              "units"),
    "leads": ("rep_id", "created_date", "qualified", "converted_deal_id"),
    "activities": ("rep_id", "date", "type"),
    "targets": ("rep_id", "team", "period", "metric", "target"),
    "feedback": ("rep_id", "date"),
}  # fmt: skip
"""The canonical columns :func:`compute_kpis` reads, per table: ``load_dataset(source, columns=COLUMNS)`` loads
just what computing every KPI needs (a test checks that the values equal those of a whole load)."""

Array = np.ndarray[Any, Any]

UNASSIGNED = "Unassigned"
COMPANY = "company"
_NONE = np.iinfo(np.int64).min  # NaT as int64


@dataclass
class Grid:
    """Months x reps axes shared by every measure."""

    months: pd.PeriodIndex
    reps: pd.Index
    teams: pd.Index
    rep_team: Array  # team index of each rep
    as_of: pd.Timestamp
    employed: Array = field(default_factory=lambda: np.zeros((0, 0)))  # (R, M) active days
    # reps without a hire date: counted from the month of their first deal, lead or activity (none: never)
    inferred: Array = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (R,)
    # event tables (leads, activities) whose last event falls before the grid's last month: the month it
    # falls in (index into ``months``); their KPIs are "not available" after it, not zero
    ends: dict[str, int] = field(default_factory=dict)
    # amounts, costs and targets beyond this (the source's ``max_amount``) are never added up: they count as
    # +inf, which the roll-ups keep to the periods holding them and ``_evaluate`` turns into "not available"
    max_amount: float = MAX_AMOUNT

    @property
    def shape(self) -> tuple[int, int]:
        """(number of reps, number of months)."""
        return len(self.reps), len(self.months)

    @property
    def base(self) -> int:
        """The first month as months since 1970-01."""
        first = self.months[0]
        return int((first.year - 1970) * 12 + first.month - 1)

    @property
    def as_of_day(self) -> int:
        """``as_of`` as days since 1970-01-01."""
        return int(np.datetime64(self.as_of.normalize(), "D").astype(np.int64))

    @property
    def bounds(self) -> Array:
        """Day number of the first day of every month, and of the day after the last month."""
        edges = pd.period_range(self.months[0], self.months[-1] + 1, freq="M").start_time
        return np.asarray(edges.to_numpy(dtype="datetime64[D]").astype(np.int64))

    def month_of_days(self, days: Array, *, cut: bool = True) -> Array:
        """Grid month index of each day number (-1 when missing, off the grid or, with ``cut``, after as_of)."""
        idx = np.searchsorted(self.bounds, days, side="right") - 1  # missing (_NONE) sorts first: -1
        off = idx >= len(self.months)
        if cut:
            off |= days > self.as_of_day
        idx[off] = -1
        return idx

    def month_index(self, dates: pd.Series, *, cut: bool = True) -> Array:
        """Grid month index of each date (-1 when missing, off the grid or, with ``cut``, after as_of)."""
        return self.month_of_days(_days(dates), cut=cut)

    def rep_index(self, ids: pd.Series) -> Array:
        """Index of each rep id on the grid (-1 when unknown or missing)."""
        return _index_of(ids, self.reps)


@dataclass
class KpiTable:
    """The computed KPIs (tidy) plus the grid they were computed on."""

    values: pd.DataFrame
    grid: Grid
    unavailable: dict[str, str]  # KPI -> reason it is not available at all
    # KPI -> {"days": the median lead-to-sale days seen in the data, "months": {month: [fewest, most] days its
    # leads have had to convert by the data's last day}} for the months whose youngest leads have had fewer
    # days than that median: their value is still growing (see ``_maturing``)
    maturing: dict[str, dict[str, Any]] = field(default_factory=dict)

    def lookup(self, entity_id: str, kpi: str, period: str | Period, entity_type: str = "rep") -> tuple[float, str]:
        """One value and the reason it is missing (``""`` when it is there).

        Parameters
        ----------
        entity_id : rep id, team name, or ``"company"``
        kpi : KPI name
        period : a period label (``2026-10``, ``2026-Q4``, ``2026``, ``2026-11-QTD``, ``2026-10-YTD``,
            ``2026-10-T12M``) or a Period
        entity_type : ``rep``, ``team`` or ``company``
        """
        p = parse_period(period) if isinstance(period, str) else period
        label = p.label
        v = self.values
        # by the row holding the period's figure, so that every label finds it: 2026 (the year to date at
        # December), 2026-q3, 2026-09-QTD (the whole quarter), as well as the labels the table writes
        at = (v["grain"] == p.kpi_grain) & (v["period_end"] == str(p.end))
        hit = v[(v["entity_id"] == entity_id) & (v["kpi"] == kpi) & at]
        hit = hit[hit["entity_type"] == entity_type]
        if len(hit):
            return float(hit["value"].iloc[0]), str(hit["reason"].iloc[0])
        first = str(self.grid.months[0])
        if str(p.end) < first:
            return float("nan"), N_("the data starts in {first}").format(first=first)
        return float("nan"), f"no {entity_type} '{entity_id}' or KPI '{kpi}' in {label}"

    def get(self, entity_id: str, kpi: str, period: str | Period, entity_type: str = "rep") -> float:
        """One value (NaN when not available)."""
        return self.lookup(entity_id, kpi, period, entity_type)[0]


# --------------------------------------------------------------------------- column helpers


_PER_DAY = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _days(dates: pd.Series) -> Array:
    """Day numbers since 1970-01-01 (``_NONE`` for missing), by integer arithmetic on the native unit."""
    if not pd.api.types.is_datetime64_any_dtype(dates.dtype):
        dates = pd.to_datetime(dates, errors="coerce")
    elif getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    arr = dates.to_numpy()
    if arr.dtype.kind != "M":  # pragma: no cover - pandas always gives datetime64 here
        arr = arr.astype("datetime64[ns]")
    unit = np.datetime_data(arr.dtype)[0]
    ticks = arr.view(np.int64)
    nat = ticks == _NONE
    days = ticks // _PER_DAY[unit] if unit in _PER_DAY else arr.astype("datetime64[D]").view(np.int64)
    days[nat] = _NONE
    return np.asarray(days)


def _day_range(dates: pd.Series) -> tuple[int, int] | None:
    """First and last day number of a date column (None when it has no dates)."""
    if pd.api.types.is_datetime64_any_dtype(dates.dtype) and getattr(dates.dt, "tz", None) is None:
        lo, hi = dates.min(), dates.max()
        if pd.isna(lo):
            return None
        return int(_days(pd.Series([lo]))[0]), int(_days(pd.Series([hi]))[0])
    days = _days(dates)
    days = days[days != _NONE]
    return (int(days.min()), int(days.max())) if len(days) else None


def _chunks(n: int, size: int = 1_000_000) -> list[tuple[int, int]]:
    """Row ranges of at most ``size`` rows: per-row work is done chunk by chunk to bound memory."""
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)] or [(0, 0)]


def _floats(frame: pd.DataFrame, column: str) -> Array:
    """A numeric column as float64 (NaN for missing; all NaN when the column is absent)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))


def _money(frame: pd.DataFrame, column: str, limit: float) -> Array:
    """A money column as float64 (NaN for missing), with every value beyond ``limit`` (or infinite) as +inf.

    +inf marks "cannot be added up": sums holding it stay +inf (never NaN, never a wrong finite total), the
    roll-ups confine it to the periods that contain it, and ``_evaluate`` shows those as not available.
    """
    values = _floats(frame, column)
    with np.errstate(invalid="ignore"):
        return np.where(~np.isnan(values) & ~(np.abs(values) <= limit), np.inf, values)


def _index_of(values: pd.Series, index: pd.Index) -> Array:
    """Position of each value in ``index`` (-1 when absent or missing): an Arrow hash lookup, or one factorisation."""
    if getattr(values.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(values.array)
        found = pc.index_in(arr, value_set=pa.array([str(i) for i in index], type=arr.type))
        return np.asarray(found.fill_null(-1).to_numpy(), dtype=np.int64)
    codes, uniques = pd.factorize(values)
    lookup = np.append(index.get_indexer(pd.Index(uniques).astype(str)), -1).astype(np.int64)
    return np.asarray(lookup[codes])


def _first_positions(values: pd.Series, keys: pd.Series) -> Array:
    """Position of each value's first occurrence in ``keys`` (-1 when absent or missing), compared as text.

    An Arrow hash lookup when both hold Arrow text: millions of ids never become Python strings.
    """
    if getattr(values.dtype, "storage", None) == "pyarrow" and getattr(keys.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        arr, key = pa.array(values.array), pa.array(keys.array)
        if arr.type != key.type:
            key = key.cast(arr.type)
        found = pc.index_in(arr, value_set=key)  # the first occurrence of a repeated key
        return np.asarray(found.fill_null(-1).to_numpy(), dtype=np.int64)
    ids = pd.Index(keys.astype(str).to_numpy())
    first = np.flatnonzero(~ids.duplicated())
    at = ids[first].get_indexer(pd.Index(values.astype(str).to_numpy()))
    out = np.where(at >= 0, first[np.maximum(at, 0)], -1)
    return np.asarray(out, dtype=np.int64)


def _equals(values: pd.Series, label: str) -> Array:
    """Boolean mask ``values == label`` (missing is False)."""
    return np.asarray((values == label).to_numpy(dtype=bool, na_value=False))


def _truthy(values: pd.Series) -> Array:
    """Boolean mask of true values of a yes/no column (missing is False)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.asarray(values.to_numpy(dtype=bool, na_value=False))
    arr = values.to_numpy(dtype=object)
    return np.asarray(arr == True)  # noqa: E712 - elementwise on an object array of True/False/None


def _isin(values: pd.Series, pool: pd.Series) -> Array:
    """Boolean mask ``values in pool`` (compared as text), hashed by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pa.array(values.astype(str).array if values.dtype == object else values.array, from_pandas=True)
    right = pa.array(pool.astype(str).array if pool.dtype == object else pool.array, from_pandas=True)
    if isinstance(right, pa.ChunkedArray):
        right = right.combine_chunks()
    if left.type != right.type:
        left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
    mask = pc.is_in(left, value_set=right, skip_nulls=True)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _bincount(grid: Grid, rep_idx: Array, month_idx: Array, weights: Array | None = None) -> Array:
    r, m = grid.shape
    ok = (rep_idx >= 0) & (month_idx >= 0)
    flat = rep_idx[ok] * m + month_idx[ok]
    w = None if weights is None else np.nan_to_num(np.asarray(weights, dtype=np.float64)[ok])
    return np.bincount(flat, weights=w, minlength=r * m).reshape(r, m).astype(np.float64)


# --------------------------------------------------------------------------- the grid


def event_dates(frame: pd.DataFrame, table: str, column: str) -> pd.Series:
    """The dates of ``column`` that happened: an open deal's close date is an expected one, in the future."""
    if table == "deals" and column == "close_date" and "stage" in frame.columns:
        stage = frame["stage"].astype("string").str.lower()
        return frame[column][stage.isin(["won", "lost"]).fillna(False).to_numpy(dtype=bool)]
    return frame[column]


def _grid(data: Dataset, as_of: dt.date | None) -> Grid:
    first_day = last_day = None
    for name, cols in EVENT_DATES.items():
        frame = data.get(name)
        if frame is None:
            continue
        for col in cols:
            if col not in frame.columns:
                continue
            span = _day_range(event_dates(frame, name, col))
            if span is not None:
                lo, hi = span
                first_day = lo if first_day is None else min(first_day, lo)
                last_day = hi if last_day is None else max(last_day, hi)
    if as_of is not None:
        stamp = pd.Timestamp(as_of).normalize()
    elif last_day is not None:
        stamp = pd.Timestamp(np.datetime64(last_day, "D"))
    else:
        stamp = pd.Timestamp(dt.date.today())
    first = pd.Timestamp(np.datetime64(first_day, "D")) if first_day is not None else stamp
    if data.since is not None:  # the source read nothing before it: the months before are not known
        first = max(first, pd.Timestamp(data.since))
    months = pd.period_range(first.to_period("M"), max(stamp, first).to_period("M"), freq="M")
    rep_ids, team_of = _reps(data)
    teams_of_reps = pd.Series([team_of.get(r) for r in rep_ids], dtype=object)
    teams_of_reps = teams_of_reps.where(teams_of_reps.notna(), UNASSIGNED).astype(str)
    teams = pd.Index(sorted(teams_of_reps.unique()))
    grid = Grid(months, rep_ids, teams, np.asarray(teams.get_indexer(teams_of_reps), dtype=np.int64), stamp)
    grid.employed, grid.inferred = _active_days(grid, data)
    grid.ends = _table_ends(data, months)
    grid.max_amount = data.max_amount
    return grid


_ENDING_TABLES = (("leads", "created_date"), ("activities", "date"))


def _table_ends(data: Dataset, months: pd.PeriodIndex) -> dict[str, int]:
    """Grid month index of the last event of each event table that stops before the grid's last month."""
    out: dict[str, int] = {}
    for name, col in _ENDING_TABLES:
        frame = data.get(name)
        if frame is None or col not in frame.columns:
            continue
        span = _day_range(frame[col])
        if span is None:
            continue
        last = pd.Timestamp(np.datetime64(span[1], "D")).to_period("M")
        idx = int(np.searchsorted(months.asi8, last.ordinal)) if last in months else -1
        if 0 <= idx < len(months) - 1:
            out[name] = idx
    return out


def _reps(data: Dataset) -> tuple[pd.Index, dict[str, str]]:
    """Rep ids (the reps table's, then ids found only in the data) and each rep's team."""
    ids: list[str] = []
    team_of: dict[str, str] = {}
    reps = data.get("reps")
    if reps is not None:
        frame = reps.dropna(subset=["rep_id"]).drop_duplicates("rep_id")
        ids = [str(r) for r in frame["rep_id"]]
        if "team" in frame.columns:
            team_of = {str(r): str(t) for r, t in zip(frame["rep_id"], frame["team"], strict=True) if pd.notna(t)}
    known = set(ids)
    extra: set[str] = set()
    for name in ("deals", "leads", "activities"):
        table = data.get(name)
        if table is not None and "rep_id" in table.columns:
            extra |= {str(u) for u in pd.unique(table["rep_id"].dropna())} - known
    return pd.Index(ids + sorted(extra), dtype=object), team_of


_FIRST_SIGNS = (("deals", ("created_date", "close_date")), ("leads", ("created_date",)), ("activities", ("date",)))


def _first_signs(grid: Grid, data: Dataset) -> Array:
    """Each rep's first day with a deal (created or closed), a lead or an activity; ``_NONE`` when there is none."""
    first = np.full(len(grid.reps), np.iinfo(np.int64).max, dtype=np.int64)
    for name, columns in _FIRST_SIGNS:
        table = data.get(name)
        if table is None or "rep_id" not in table.columns:
            continue
        rep = grid.rep_index(table["rep_id"])
        for column in columns:
            if column not in table.columns:
                continue
            days = _days(table[column])
            ok = (rep >= 0) & (days != _NONE)
            np.minimum.at(first, rep[ok], days[ok])
    return np.where(first == np.iinfo(np.int64).max, _NONE, first)


def _active_days(grid: Grid, data: Dataset) -> tuple[Array, Array]:
    """Days employed per (rep, month), and which reps' start was inferred from their first sign in the data.

    The reps table's ``hire_date`` and ``leave_date`` decide. A rep without a hire date starts in the month
    of their first deal, lead or activity: before it, and for a rep in the team list who has none at all,
    every KPI is "not available" and the rep counts in no team figure (a name in a team list that never
    sold is not a rep at $0).
    """
    starts = grid.months.start_time.normalize().to_numpy(dtype="datetime64[D]")
    ends = grid.months.end_time.normalize().to_numpy(dtype="datetime64[D]")
    ends = np.minimum(ends, np.datetime64(grid.as_of.normalize(), "D"))
    r = len(grid.reps)
    never = np.datetime64("2999-12-31", "D")
    hire = np.full(r, np.datetime64("NaT", "D"))
    leave = np.full(r, never)
    reps = data.get("reps")
    if reps is not None:
        by_id = reps.dropna(subset=["rep_id"]).drop_duplicates("rep_id")
        by_id = by_id.set_index(by_id["rep_id"].astype(str)).reindex(grid.reps)
        if "hire_date" in by_id:
            h = _days(by_id["hire_date"])
            hire = np.where(h == _NONE, hire, h.astype("datetime64[D]"))
        if "leave_date" in by_id:
            lv = _days(by_id["leave_date"])
            leave = np.where(lv == _NONE, leave, lv.astype("datetime64[D]"))
    inferred = np.isnat(hire)
    if inferred.any():
        sign = _first_signs(grid, data)
        month_start = sign.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
        hire = np.where(inferred, np.where(sign == _NONE, never, month_start), hire)
    lo = np.maximum(starts[None, :], hire[:, None])
    hi = np.minimum(ends[None, :], leave[:, None])
    days = (hi - lo).astype(np.int64) + 1
    return np.asarray(np.clip(days, 0, None), dtype=np.float64), np.asarray(inferred)


# --------------------------------------------------------------------------- base measures


class _Sums:
    """Accumulates (rep x month) sums chunk by chunk."""

    def __init__(self, grid: Grid) -> None:
        self.r, self.m = grid.shape
        self.arrays: dict[str, Array] = {}

    def add(self, name: str, cell: Array, mask: Array, weights: Array | None = None) -> None:
        """Add ``weights`` (or 1) of the rows in ``mask`` to their flat ``cell`` (rep * months + month)."""
        w = None if weights is None else np.where(np.isnan(weights[mask]), 0.0, weights[mask])  # +inf is kept
        counts = np.bincount(cell[mask], weights=w, minlength=self.r * self.m).astype(np.float64)
        self.arrays[name] = self.arrays[name] + counts if name in self.arrays else counts

    def result(self, name: str) -> Array:
        """The summed (reps, months) array (zeros when nothing was added)."""
        flat = self.arrays.get(name, np.zeros(self.r * self.m))
        return flat.reshape(self.r, self.m)


def _cell(grid: Grid, rep: Array, month: Array) -> tuple[Array, Array]:
    """Flat grid cell of each row and whether it is on the grid."""
    ok = (rep >= 0) & (month >= 0)
    return np.where(ok, rep * grid.shape[1] + month, 0), ok


def _deal_measures(grid: Grid, deals: pd.DataFrame, out: dict[str, Array], extra: dict[str, Any]) -> None:
    sums = _Sums(grid)
    won_parts: list[tuple[Array, ...]] = []
    as_of = grid.as_of_day
    now_month = int(grid.month_of_days(np.array([as_of], dtype=np.int64))[0])
    for lo, hi in _chunks(len(deals)):
        part = deals.iloc[lo:hi]
        rep = grid.rep_index(part["rep_id"])
        close_d = _days(part["close_date"])
        created_d = _days(part["created_date"])
        close_cell, on_close = _cell(grid, rep, grid.month_of_days(close_d))
        won = _equals(part["stage"], "won")
        lost = _equals(part["stage"], "lost")
        amount = _money(part, "amount", grid.max_amount)
        wv = won & on_close  # won, on the grid, known by as_of
        sums.add("revenue", close_cell, wv, amount)
        sums.add("deals_won", close_cell, wv)
        sums.add("deals_lost", close_cell, lost & on_close)
        cost = _money(part, "cost", grid.max_amount)
        costed = wv & ~np.isnan(cost)
        sums.add("revenue_costed", close_cell, costed, amount)
        sums.add("cost_won", close_cell, costed, cost)
        sums.add("units_won", close_cell, wv, _floats(part, "units"))
        # open pipeline at each month end: +amount in the month created, -amount in the month closed. An open
        # deal without a created date is known to be open as of the data's date only: it enters in that month.
        created_m = grid.month_of_days(created_d)
        created_m[(created_d == _NONE) & ~(won | lost)] = now_month
        created_cell, on_created = _cell(grid, rep, created_m)
        # an outsized amount is counted, not summed: the open pipeline is a running total, and one +inf in it
        # would make every later month inf (or NaN once the deal closes) instead of only the months it is open
        big = np.isinf(amount)
        closes = (won | lost) & on_created & on_close
        sums.add("pipeline_in", created_cell, on_created, np.where(big, 0.0, amount))
        sums.add("pipeline_out", close_cell, closes, np.where(big, 0.0, amount))
        sums.add("outsized_in", created_cell, on_created & big)
        sums.add("outsized_out", close_cell, closes & big)
        # won deals with a known close day up to as_of, for the account-level measures below
        dated = np.flatnonzero(won & (close_d != _NONE) & (close_d <= as_of))
        won_parts.append((dated + lo, rep[dated], close_cell[dated], close_d[dated], created_d[dated], wv[dated]))
    for name in ("revenue", "deals_won", "deals_lost", "revenue_costed", "cost_won", "units_won"):
        out[name] = sums.result(name)
    pipeline = np.cumsum(sums.result("pipeline_in") - sums.result("pipeline_out"), axis=1)
    outsized_open = np.cumsum(sums.result("outsized_in") - sums.result("outsized_out"), axis=1)
    out["pipeline_open"] = np.where(outsized_open > 0, np.inf, pipeline)
    rows, rep, cell, close_d, created_d, wv = (np.concatenate(x) for x in zip(*won_parts, strict=True))
    _account_measures(grid, deals, rows, rep, cell, close_d, wv, out, extra)
    # cycle lengths of won deals as exact histograms per rep-month over the distinct day values
    r, m = grid.shape
    cyc = np.where(created_d != _NONE, close_d - created_d, -1)
    ok = wv & (cyc >= 0)
    seen = np.bincount(cyc[ok], minlength=1) > 0
    values = np.flatnonzero(seen)
    slot = np.cumsum(seen) - 1
    bins = max(len(values), 1)
    hist = np.bincount(cell[ok] * bins + slot[cyc[ok]], minlength=r * m * bins).reshape(r, m, bins)
    extra["cycle_hist"] = hist.astype(np.int64)
    extra["cycle_values"] = values.astype(np.float64) if len(values) else np.zeros(1)
    extra["won_ids"] = deals["deal_id"].iloc[rows] if "deal_id" in deals.columns else None
    extra["won_close_days"] = close_d


def _account_measures(
    grid: Grid,
    deals: pd.DataFrame,
    rows: Array,
    rep: Array,
    cell: Array,
    day: Array,
    wv: Array,
    out: dict[str, Array],
    extra: dict[str, Any],
) -> None:
    """New customers, repeat revenue, new-segment revenue and the retention triples, from the won deals.

    ``rows`` are the won deals with a close day up to as_of (company-wide, any rep), ``wv`` marks those
    on the grid with a known rep. The first won deal of an account (by close day, then deal_id) is a new
    customer; its later won deals are repeat business.
    """
    m = grid.shape[1]
    sums = _Sums(grid)
    amount = _money(deals, "amount", grid.max_amount)[rows] if "amount" in deals.columns else np.zeros(len(rows))
    codes, accounts = pd.factorize(deals["account_id"].iloc[rows])
    acc = np.asarray(codes, dtype=np.int64)
    has_acc = acc >= 0
    n_acc = len(accounts)
    safe = np.where(has_acc, acc, 0)
    first_day = np.full(n_acc, np.iinfo(np.int64).max)
    np.minimum.at(first_day, acc[has_acc], day[has_acc])
    cand = has_acc & (day == first_day[safe])
    first_row = np.full(n_acc, np.iinfo(np.int64).max)
    np.minimum.at(first_row, acc[cand], rows[cand])
    _break_ties_by_id(deals, rows, acc, cand, first_row)
    is_new = has_acc & (rows == first_row[safe])
    sums.add("new_customers", cell, is_new & wv)
    sums.add("repeat_revenue", cell, has_acc & ~is_new & wv, amount)
    out["new_customers"] = sums.result("new_customers")
    out["repeat_revenue"] = sums.result("repeat_revenue")
    month = np.where(wv, cell % max(m, 1), -1)
    # revenue from segments whose first won deal (company-wide, on the grid) closed in the deal's calendar month
    # or one of the 11 before it (months, not days: kpis.yaml says so); a segment first seen in the data's
    # first 12 months counts as established
    if "segment" in deals.columns:
        seg = np.asarray(pd.factorize(deals["segment"].iloc[rows])[0], dtype=np.int64)
        has_seg = (seg >= 0) & wv
        seg_first = np.full(int(seg.max()) + 1 if len(seg) else 0, np.iinfo(np.int64).max)
        np.minimum.at(seg_first, seg[has_seg], month[has_seg])
        first_m = seg_first[np.where(has_seg, seg, 0)] if len(seg_first) else np.zeros(0, dtype=np.int64)
        newseg = has_seg & (first_m >= HISTORY_MONTHS) & (month - first_m < HISTORY_MONTHS)
        sums.add("new_segment_revenue", cell, newseg, amount)
        out["new_segment_revenue"] = sums.result("new_segment_revenue")
    keep = wv & has_acc
    extra["won_triples"] = (rep[keep], acc[keep], month[keep], n_acc)


def _break_ties_by_id(deals: pd.DataFrame, rows: Array, acc: Array, cand: Array, first_row: Array) -> None:
    """Where an account's first day has several won deals, the smallest deal_id is the first (not row order)."""
    per_acc = np.bincount(acc[cand], minlength=len(first_row))
    tied = cand & (per_acc[np.where(acc >= 0, acc, 0)] > 1)
    if not tied.any() or "deal_id" not in deals.columns:
        return
    sub = rows[tied]
    frame = pd.DataFrame({"acc": acc[tied], "id": deals["deal_id"].iloc[sub].astype(str).to_numpy(), "row": sub})
    first = frame.sort_values(["acc", "id", "row"]).drop_duplicates("acc")
    first_row[first["acc"].to_numpy()] = first["row"].to_numpy()


def _lead_measures(grid: Grid, leads: pd.DataFrame, out: dict[str, Array], extra: dict[str, Any]) -> None:
    sums = _Sums(grid)
    has_link = "converted_deal_id" in leads.columns
    won_ids = extra.get("won_ids")
    conv_all = None
    if has_link and won_ids is not None and len(leads):
        conv_all = _isin(leads["converted_deal_id"], won_ids)
    for lo, hi in _chunks(len(leads)):
        part = leads.iloc[lo:hi]
        cell, ok = _cell(grid, grid.rep_index(part["rep_id"]), grid.month_index(part["created_date"]))
        sums.add("leads_created", cell, ok)
        if "qualified" in part.columns:
            sums.add("leads_qualified", cell, ok & _truthy(part["qualified"]))
        if conv_all is not None:
            sums.add("leads_converted", cell, ok & conv_all[lo:hi])
    out["leads_created"] = sums.result("leads_created")
    out["leads_qualified"] = sums.result("leads_qualified")
    if conv_all is not None and won_ids is not None:
        extra["lead_to_sale_days"] = _lead_to_sale_days(grid, leads, conv_all, won_ids, extra["won_close_days"])
    if has_link:
        out["leads_converted"] = sums.result("leads_converted")


def _lead_to_sale_days(grid: Grid, leads: pd.DataFrame, converted: Array, won_ids: pd.Series, close: Array) -> float:
    """The median days from a lead's creation to the close of the won deal it converted to (NaN: none)."""
    sel = converted & leads["created_date"].notna().to_numpy()
    at = _first_positions(leads["converted_deal_id"][sel], won_ids)
    closed = np.where(at >= 0, np.asarray(close, dtype=np.float64)[np.maximum(at, 0)], np.nan)
    days = closed - _days(leads["created_date"][sel]).astype(np.float64)
    days = days[~np.isnan(days) & (days >= 0)]
    return float(np.median(days)) if len(days) else float("nan")


def _maturing(grid: Grid, kpis: list[Kpi], unavailable: dict[str, str], extra: dict[str, Any]) -> dict[str, Any]:
    """The months whose value of a maturing KPI (lead conversion) is still growing, per KPI.

    A month is still maturing when its youngest leads (created on its last day, or on the data's last day
    for the data's last month) have had fewer days to convert than the median lead-to-sale time seen in the
    data. Only the latest months can be; a quarter, YTD or T12M ending in such a month holds it.
    """
    days = extra.get("lead_to_sale_days", float("nan"))
    if np.isnan(days):
        return {}
    bounds = grid.bounds
    now = grid.as_of_day
    youngest = now - np.minimum(bounds[1:] - 1, now)  # days the month's last leads have had
    oldest = now - bounds[:-1]
    months = {
        str(grid.months[i]): [int(youngest[i]), int(oldest[i])]
        for i in range(len(grid.months))
        if youngest[i] < days and oldest[i] >= 0
    }
    out: dict[str, Any] = {}
    for kpi in kpis:
        if kpi.name not in unavailable and any(MEASURES[m].matures for m in kpi.inputs) and months:
            out[kpi.name] = {"days": round(days), "months": months}
    return out


def _activity_measures(grid: Grid, acts: pd.DataFrame, out: dict[str, Array]) -> None:
    rep = grid.rep_index(acts["rep_id"])
    m = grid.month_index(acts["date"])
    for name, label in (("calls", "call"), ("meetings", "meeting"), ("emails", "email"), ("demos", "demo")):
        sel = _equals(acts["type"], label)
        out[name] = _bincount(grid, rep[sel], m[sel])


def _target_measures(grid: Grid, targets: pd.DataFrame, out: dict[str, Array], team_out: dict[str, Array]) -> None:
    """Revenue targets per rep-month (and per team-month where a team has its own); duplicates add up."""
    t = targets[_equals(targets["metric"], "revenue")]
    months = pd.to_datetime(t["period"].astype(str), format="%Y-%m", errors="coerce")
    m = grid.month_index(pd.Series(months), cut=False)
    value = _money(t, "target", grid.max_amount)
    has_value = ~np.isnan(value)
    rep_rows = t["rep_id"].notna().to_numpy() if "rep_id" in t.columns else np.zeros(len(t), dtype=bool)
    rep = grid.rep_index(t["rep_id"]) if "rep_id" in t.columns else np.full(len(t), -1, dtype=np.int64)
    out["target_revenue"] = _sparse_sum(rep, m, value, rep_rows & has_value, grid.shape)
    if "team" in t.columns:
        team_rows = t["team"].notna().to_numpy() & ~rep_rows & has_value
        tidx = _index_of(t["team"], grid.teams)
        if (team_rows & (tidx >= 0) & (m >= 0)).any():
            team_out["target_revenue"] = _sparse_sum(tidx, m, value, team_rows, (len(grid.teams), grid.shape[1]))


def _sparse_sum(row: Array, col: Array, value: Array, mask: Array, shape: tuple[int, int]) -> Array:
    """Sum ``value`` into a (rows, months) array; NaN where nothing was given."""
    ok = mask & (row >= 0) & (col >= 0)
    flat = row[ok] * shape[1] + col[ok]
    total = np.bincount(flat, weights=value[ok], minlength=shape[0] * shape[1]).reshape(shape)
    given = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape) > 0
    return np.where(given, total, np.nan)


# --------------------------------------------------------------------------- rolling up


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


def _roll(arr: Array, grain: str, rollup: str, months: pd.PeriodIndex) -> Array:
    """Roll a (..., M) monthly array up to ``grain``: column m = the span of that grain ending in month m.

    NaN months (e.g. no target) are skipped; a span with no value at all stays NaN. Each span is summed
    from its own months (at most 12), never as a difference of running totals: an +inf month (an outsized
    amount) makes only the spans containing it +inf, and a huge month cannot swallow the cents of later spans.
    """
    if grain == "month" or rollup == "last":
        return arr
    idx = np.arange(len(months))
    lo = np.clip(_span_start(grain, months), 0, None)
    total = np.zeros(arr.shape)
    count = np.zeros(arr.shape, dtype=np.int64)
    for back in range(int((idx - lo).max(initial=0)) + 1):
        src = idx - back
        inside = src >= lo
        part = arr[..., np.maximum(src, 0)]
        take = inside & ~np.isnan(part)
        total += np.where(take, part, 0.0)
        count += take
    return np.where(count > 0, total, np.nan)


def _sum_groups(arr: Array, onehot: Array) -> Array:
    """Sum rows into groups (onehot: groups x rows); NaN where no row of the group has a value.

    A +inf row (an outsized amount) makes its own groups +inf, and no other (``0 * inf`` would be NaN).
    """
    summed = onehot @ np.where(np.isfinite(arr), arr, 0.0)
    outsized = onehot @ np.isinf(arr).astype(np.float64)
    present = onehot @ (~np.isnan(arr)).astype(np.float64)
    return np.where(outsized > 0, np.inf, np.where(present > 0, summed, np.nan))


# --------------------------------------------------------------------------- cohort KPIs


@dataclass
class _Context:
    """What cohort functions see: the grid, deal-level extracts and per-level caches."""

    grid: Grid
    extra: dict[str, Any]
    levels: list[Array]  # per level (reps, teams, company): entity index of each rep
    cache: dict[Any, Any] = field(default_factory=dict)

    def sizes(self) -> list[int]:
        """Number of entities per level."""
        r = len(self.grid.reps)
        return [r, len(self.grid.teams), 1]


CohortFn = Callable[[_Context, str], Array]


def _median_from_hist(hist: Array, values: Array) -> Array:
    """Exact median from histograms (..., bins) over the sorted bin ``values``; NaN where empty."""
    cum = np.cumsum(hist, axis=-1)
    n = cum[..., -1]
    k1 = (n - 1) // 2
    k2 = n // 2
    v1 = values[np.argmax(cum > k1[..., None], axis=-1)]
    v2 = values[np.argmax(cum > k2[..., None], axis=-1)]
    return np.where(n > 0, (v1 + v2) / 2.0, np.nan)


def _sales_cycle(ctx: _Context, grain: str) -> Array:
    """Median days from created to close of the won deals in the period, per entity."""
    hist = ctx.extra["cycle_hist"]
    values = ctx.extra["cycle_values"]
    m = len(ctx.grid.months)
    start = np.clip(_span_start(grain, ctx.grid.months), 0, None)
    end = np.arange(m) + 1
    out = []
    for level, (g, size) in enumerate(zip(ctx.levels, ctx.sizes(), strict=True)):
        key = ("cycle", level)
        if key not in ctx.cache:
            summed = np.zeros((size, *hist.shape[1:]), dtype=np.int64)
            np.add.at(summed, g, hist)
            zero = np.zeros((size, 1, hist.shape[2]), dtype=np.int64)
            ctx.cache[key] = np.concatenate([zero, np.cumsum(summed, axis=1)], axis=1)
        csum = ctx.cache[key]
        out.append(_median_from_hist(csum[:, end] - csum[:, start], values))
    return np.concatenate(out, axis=0)


def _retention_counts(ctx: _Context, level: int) -> Array:
    """C[e, d, j]: the entity's (entity, account) won-deal months d' < d whose next won month is after j.

    Each pair's distinct won-deal months d1 < d2 < ... make it active from d_i to
    min(d_i + 11, d_(i+1) - 1) (the next month takes over); with ``nd`` the next
    won month, H[e, d, nd] counts pairs by (d, nd). C is its prefix sum over d of
    the suffix sum over nd, so every retention count is a difference of two entries.
    """
    key = ("retention", level)
    if key in ctx.cache:
        return ctx.cache[key]  # type: ignore[no-any-return]
    rep, acc, month, n_acc = ctx.extra["won_triples"]
    g = ctx.levels[level]
    size = ctx.sizes()[level]
    m = len(ctx.grid.months)
    ent = g[rep]
    code = np.sort((ent * max(n_acc, 1) + acc) * m + month)
    u = code[np.concatenate([[True], code[1:] != code[:-1]])] if len(code) else code
    d = u % m
    pair = u // m
    nd = np.full(len(u), m, dtype=np.int64)
    if len(u) > 1:
        same = pair[1:] == pair[:-1]
        nd[:-1] = np.where(same, d[1:], m)
    e = pair // max(n_acc, 1)
    hist = np.bincount((e * m + d) * (m + 1) + nd, minlength=size * m * (m + 1)).reshape(size, m, m + 1)
    after = np.cumsum(hist[:, :, ::-1], axis=2)[:, :, ::-1]  # after[e, d, j] = pairs with next month >= j
    g_after = np.concatenate([after[:, :, 1:], np.zeros((size, m, 1), dtype=np.int64)], axis=2)  # next > j
    c = np.concatenate([np.zeros((size, 1, m + 1), dtype=np.int64), np.cumsum(g_after, axis=1)], axis=1)
    ctx.cache[key] = c
    return c


def _retention(ctx: _Context, grain: str) -> Array:
    """Share of the customers active at the start of the period still active at its end, per entity.

    Active = a won deal with the entity in the trailing 12 months. S is measured at the end of the
    month before the period, E at the end of the period's last month; (E - N) / S, with N the
    customers active at the end but not at the start (first-time customers *and* lapsed ones won back in
    the period), is the share of S active at the end. A win-back is not retention: it is in N, not kept.
    """
    m = len(ctx.grid.months)
    idx = np.arange(m)
    prev = np.clip(_span_start(grain, ctx.grid.months) - 1, 0, None)
    lo = np.clip(prev - (HISTORY_MONTHS - 1), 0, None)
    top = np.clip(idx - (HISTORY_MONTHS - 1), 0, None)  # d <= idx - 12  <=>  d < idx - 11
    out = []
    for level in range(len(ctx.levels)):
        c = _retention_counts(ctx, level)
        start = c[:, prev + 1, prev] - c[:, lo, prev]
        lapsed = np.where(top > lo, c[:, top, idx] - c[:, lo, idx], 0)
        kept = start - lapsed
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(start > 0, kept / np.where(start > 0, start, 1), np.nan))
    return np.concatenate(out, axis=0)


COHORT_FUNCTIONS: dict[str, CohortFn] = {"sales_cycle": _sales_cycle, "retention": _retention}
"""The implementation of every cohort function declared in :data:`~salesreports.metrics.measures.COHORTS`."""


# --------------------------------------------------------------------------- compute


def _period_labels(months: pd.PeriodIndex, grain: str) -> list[str]:
    out = []
    for m in months:
        if grain == "quarter":
            out.append(of_grain("quarter", m).label if m.month % 3 == 0 else f"{m}-QTD")
        else:
            out.append(of_grain(grain, m).label)  # type: ignore[arg-type]
    return out


def compute_kpis(
    data: Dataset,
    *,
    as_of: dt.date | None = None,
    grains: tuple[str, ...] = GRAINS,
    kpis: Collection[str] | None = None,
) -> KpiTable:
    """Compute every registered KPI for every rep, team and the company, every month and grain.

    Parameters
    ----------
    data : the loaded data set
    as_of : the data's last day (default: the latest event date in the data). Events after it are left
        out; lead conversion counts deals won up to this day, and activity rates count employed days up to it
    grains : which period grains to compute (of ``month``, ``quarter`` (to date), ``ytd``, ``t12m``)
    kpis : only these registered KPIs (a scoped goal's, on its filtered data); default: every one. Each is
        computed exactly as among all of them (a KPI depends only on the base measures)

    Returns
    -------
    KpiTable
        ``values`` is tidy: one row per entity, grain, period and KPI. Quarter periods are labelled
        ``2025-Q1`` at the quarter's last month and ``2025-02-QTD`` before it.

    Raises
    ------
    ValueError
        An unknown grain.
    """
    from salesreports.metrics.kpis import registry

    bad = [g for g in grains if g not in GRAINS]
    if bad:
        msg = f"unknown grain(s) {', '.join(map(repr, bad))}; use {', '.join(GRAINS)}"
        raise ValueError(msg)
    grid = _grid(data, as_of)
    monthly, extra = _measures(data, grid)
    chosen = [k for k in registry() if kpis is None or k.name in kpis]
    unavailable = {k.name: why for k in chosen if (why := missing_reason(k, data))}
    r, m = grid.shape
    ctx = _Context(grid, extra, [np.arange(r), grid.rep_team, np.zeros(r, dtype=np.int64)])
    t = len(grid.teams)
    e = r + t + 1  # reps, teams, the company
    # every text column is built as integer codes into its few distinct labels, and decoded in Arrow: no
    # Python object per row (a large organisation's table has tens of millions of cells)
    entity_ids = [*(str(x) for x in grid.reps), *(str(x) for x in grid.teams), COMPANY]
    team_labels = [*(str(x) for x in grid.teams), ""]
    ent_type = np.repeat(np.array([0, 1, 2], dtype=np.int8), [r, t, 1])
    ent_team = np.concatenate([np.asarray(grid.rep_team, dtype=np.int32), np.arange(t + 1, dtype=np.int32)])
    periods: dict[str, int] = {}  # period label -> code, over every grain
    reasons: dict[str, int] = {}  # reason -> code
    blocks: list[tuple[int, int, Array, Array]] = []  # (grain index, KPI index, period codes, reason codes)
    value_blocks: list[Array] = []
    for g, grain in enumerate(grains):
        rolled = {name: _roll(arr, grain, MEASURES[name].rollup, grid.months) for name, arr in monthly.items()}
        labels = np.array([periods.setdefault(x, len(periods)) for x in _period_labels(grid.months, grain)])
        for k, kpi in enumerate(chosen):
            value, reason = _evaluate(kpi, rolled, ctx, grain, unavailable)
            codes, uniques = pd.factorize(reason.reshape(-1))
            mapped = np.array([reasons.setdefault(str(u), len(reasons)) for u in uniques], dtype=np.int32)
            blocks.append((g, k, labels, mapped[codes]))
            value_blocks.append(value.reshape(-1))
    n_blocks = len(blocks)
    size = e * m
    block_grain = np.array([b[0] for b in blocks], dtype=np.int32)
    block_kpi = np.array([b[1] for b in blocks], dtype=np.int32)
    values = pd.DataFrame(
        {
            "entity_type": _text(np.tile(np.repeat(ent_type, m), n_blocks), ["rep", "team", COMPANY], category=True),
            "entity_id": _text(
                np.tile(np.repeat(np.arange(e, dtype=np.int32), m), n_blocks), entity_ids, category=True
            ),
            "team": _text(np.tile(np.repeat(ent_team, m), n_blocks), team_labels, category=True),
            "grain": _text(np.repeat(block_grain, size), [str(g) for g in grains], category=True),
            "period": _text(
                np.concatenate([np.tile(b[2], e) for b in blocks]) if n_blocks else np.zeros(0, np.int32),
                list(periods),
            ),
            "period_end": _text(np.tile(np.arange(m, dtype=np.int32), e * n_blocks), [str(x) for x in grid.months]),
            "kpi": _text(np.repeat(block_kpi, size), [k.name for k in chosen], category=True),
            "value": np.concatenate(value_blocks) if n_blocks else np.zeros(0),
            "reason": _text(
                np.concatenate([b[3] for b in blocks]) if n_blocks else np.zeros(0, np.int32),
                list(reasons),
                category=True,
            ),
        }
    )
    return KpiTable(values, grid, unavailable, _maturing(grid, chosen, unavailable, extra))


def _text(codes: Array, labels: list[str], *, category: bool = False) -> Any:
    """A text column (pandas' ``str`` dtype) of ``labels[code]`` for each code, decoded in Arrow; an empty
    column is of ``object`` dtype, as pandas makes it from an empty list of labels.

    ``category``: a categorical instead, for a column compared only for equality (a small code per row, not
    its text: at 5,000 reps the table's text is most of its gigabyte). Its categories are its ``str`` labels
    in sorted order, so that sorting or grouping by it orders the rows as the text would.
    """
    import pyarrow as pa

    if not len(codes):
        return np.zeros(0, dtype=object)
    if category:
        positions, names = pd.factorize(pd.Index(labels, dtype="str"), sort=True)  # a label given twice: one
        return pd.Categorical.from_codes(positions[codes], dtype=pd.CategoricalDtype(names))

    dictionary = pa.array(labels, type=pa.large_string())
    return pd.array(dictionary.take(pa.array(codes)), dtype="str")


def _measures(data: Dataset, grid: Grid) -> tuple[dict[str, Array], dict[str, Any]]:
    """Every base measure as an (entities, months) monthly array: reps, then teams, then the company."""
    reps: dict[str, Array] = {"active_days": grid.employed}
    team_own: dict[str, Array] = {}
    extra: dict[str, Any] = {}
    if (deals := data.get("deals")) is not None:
        _deal_measures(grid, deals, reps, extra)
    if (leads := data.get("leads")) is not None:
        _lead_measures(grid, leads, reps, extra)
    if (acts := data.get("activities")) is not None:
        _activity_measures(grid, acts, reps)
    if (targets := data.get("targets")) is not None:
        _target_measures(grid, targets, reps, team_own)
    r = len(grid.reps)
    onehot = np.zeros((len(grid.teams), r))
    onehot[grid.rep_team, np.arange(r)] = 1.0
    monthly: dict[str, Array] = {}
    for name, arr in reps.items():
        teams = _sum_groups(arr, onehot)
        if name in team_own:  # a team's own target replaces the sum of its reps' targets for that month
            teams = np.where(np.isnan(team_own[name]), teams, team_own[name])
        company = _sum_groups(teams, np.ones((1, len(grid.teams))))
        monthly[name] = np.concatenate([arr, teams, company], axis=0)
    return monthly, extra


def missing_reason(kpi: Kpi, data: Dataset) -> str:
    """Why a KPI cannot be computed at all from this data set ("" when it can)."""
    for table in kpi.tables:
        if not data.has(table):
            return NO_TABLE.format(table=table)
    for table, column in kpi.columns:
        frame = data.get(table)
        if frame is None:
            return NO_TABLE.format(table=table)
        if column not in frame.columns or not frame[column].notna().any():
            return NO_VALUES.format(table=table, column=column)
    return ""


def history_months(kpi: Kpi) -> int:
    """Months of data a KPI needs before a period for its value to be known."""
    if kpi.type == "cohort":
        return COHORTS[kpi.function].history
    return max((MEASURES[name].history for name in kpi.inputs), default=0)


def _evaluate(
    kpi: Kpi, rolled: dict[str, Array], ctx: _Context, grain: str, unavailable: dict[str, str]
) -> tuple[Array, Array]:
    """One KPI for every entity and month of ``grain``: (values, reasons), reasons "" where there is a value."""
    shape = rolled["active_days"].shape
    if kpi.name in unavailable:
        return np.full(shape, np.nan), np.full(shape, unavailable[kpi.name], dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kpi.type == "simple":
            value = rolled[kpi.measure].astype(np.float64, copy=True)
        elif kpi.type == "ratio":
            assert kpi.numerator is not None
            assert kpi.denominator is not None
            num = kpi.numerator.evaluate(rolled)
            den = kpi.denominator.evaluate(rolled)
            bad = np.isnan(den) | (den <= 0 if kpi.positive_denominator else den == 0)
            value = np.where(bad, np.nan, num / np.where(bad, 1.0, den))
        else:
            value = np.asarray(COHORT_FUNCTIONS[kpi.function](ctx, grain), dtype=np.float64)
    value = np.broadcast_to(value, shape).astype(np.float64)
    # reasons, from the most specific to the most general (a later one wins)
    reason = np.where(np.isnan(value), kpi.when_zero, "").astype(object)
    # the guard: no value is ever inf or NaN without a reason. A span holding an outsized amount (+inf in an
    # input) is not available, even where the formula would hide it (x / inf = 0)
    broken = ~np.isfinite(value) & ~np.isnan(value)
    value[broken] = np.nan
    reason[broken] = N_("the value is not a finite number (a total overflowed)")
    outsized = np.zeros(shape, dtype=bool)
    for name in kpi.inputs:
        outsized |= np.broadcast_to(np.isinf(rolled[name]), shape)
    value[outsized] = np.nan
    reason[outsized] = OUTSIZED
    start = _span_start(grain, ctx.grid.months)
    first = str(ctx.grid.months[0])
    need = history_months(kpi)
    not_employed = ~(rolled["active_days"] > 0)
    value[not_employed] = np.nan
    reason[not_employed] = NOT_EMPLOYED
    inferred = np.zeros(shape[0], dtype=bool)
    inferred[: len(ctx.grid.inferred)] = ctx.grid.inferred  # rep rows come first
    reason[not_employed & inferred[:, None]] = NO_SIGN
    if need:
        short = start < need  # a span that begins before the data has no history before it either
        value[:, short] = np.nan
        reason[:, short] = N_("needs {need} months of history before the period (the data starts in {first})").format(
            need=need, first=first
        )
    for table in kpi.tables:
        if table in ctx.grid.ends:  # a span that begins after the table's last event: no data, not zero
            end = ctx.grid.ends[table]
            after = start > end
            value[:, after] = np.nan
            title = ctx.grid.months[end].strftime("%B %Y")
            reason[:, after] = data_ends(table, title)
    # a quarter, year or 12 months that began before the data: the value covers the months the data has
    # (``_roll`` clips the span); pages say "since <first month>" beside it (report.views.window_note)
    return value, reason
