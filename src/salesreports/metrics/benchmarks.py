"""Benchmarks from the tidy KPI table: team distributions, percentile ranks, trends and ramp curves.

Everything here reads the table of :func:`salesreports.metrics.engine.compute_kpis` (columns ``entity_type,
entity_id, team, grain, period, period_end, kpi, value, reason``) and works with ``groupby`` and
merges over all reps at once, never with per-rep loops over raw data.

Privacy: a team figure (median, quartiles, percentile rank) is only shown when at least
``min_group_size`` reps of the group have a value; otherwise it is NaN with the reason
``"fewer than N reps with a value"``, so a team of two never reveals the other person's number.
The rep rows returned by :func:`rep_benchmarks` hold the rep's own values plus group aggregates only.

Definitions
-----------
team / company median, p25, p75
    Of the reps' values (not of the team's own aggregate KPI), linear interpolation between ranks.
percentile rank
    ``100 * (below + equal / 2) / n`` within the team, where "below" counts reps doing *worse* (the
    KPI's ``higher_is_better`` decides what worse means): the best of five reps is at 90, the worst at 10.
change vs previous period
    The same grain ending one span earlier: month -> the month before, quarter (or quarter-to-date)
    -> the same months of the previous quarter, year-to-date and trailing 12 months -> 12 months
    earlier.
change vs last year
    The same grain ending 12 months earlier.
change vs last review
    The same grain ending ``review_cycle_months`` earlier.
ramp (trial-month benchmark)
    Tenure month ``n`` is the number of calendar months since hire, the hire month being 1. A rep in
    tenure month ``n`` is compared with the median of the values that *earlier* hires (hire date strictly
    before theirs) had in their own tenure month ``n``.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesreports.i18n import N_

__all__ = [
    "STAT_COLUMNS",
    "TREND_OFFSETS",
    "group_stats",
    "ramp_benchmarks",
    "rep_benchmarks",
    "team_benchmarks",
    "tenure_month",
    "trends",
]

KEYS = ["grain", "period", "period_end", "kpi"]
STAT_COLUMNS = ("n_reps", "median", "p25", "p75", "reason")
# months back to "the previous period" of each grain
TREND_OFFSETS: dict[str, int] = {"month": 1, "quarter": 3, "ytd": 12, "t12m": 12, "year": 12}
COMPANY = "company"


def _directions(kpis: Iterable[str]) -> dict[str, float]:
    """+1 for KPIs where higher is better, -1 for the others (unknown names count as +1)."""
    from salesreports.metrics.kpis import registry

    reg = registry()
    return {k: (1.0 if (k not in reg or reg.get(k).higher_is_better) else -1.0) for k in kpis}


def _suppressed(n_min: int) -> str:
    # stored in English in the shared benchmark table; translated where shown (salesreports.i18n.retranslate)
    return N_("fewer than {n} reps with a value").format(n=n_min)


def group_stats(rep_rows: pd.DataFrame, by: Sequence[str], *, min_group_size: int) -> pd.DataFrame:
    """Count, median and quartiles of ``value`` per group, suppressed below ``min_group_size``.

    Parameters
    ----------
    rep_rows : rows of the tidy table for reps (other entity types must be filtered out already)
    by : the grouping columns
    min_group_size : the fewest reps with a value for a figure to be shown

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns plus ``n_reps, median, p25, p75, reason``; one row per group that has
        at least one row (groups where every value is missing get ``n_reps = 0``).
    """
    by = list(by)
    keys = rep_rows[by].drop_duplicates()
    valued = rep_rows[rep_rows["value"].notna()]
    grouped = valued.groupby(by, sort=False, observed=True)["value"]
    stats = pd.concat(
        {
            "n_reps": grouped.count(),
            "median": grouped.median(),
            "p25": grouped.quantile(0.25),
            "p75": grouped.quantile(0.75),
        },
        axis=1,
    ).reset_index()
    out = keys.merge(stats, on=by, how="left")
    out["n_reps"] = out["n_reps"].fillna(0).astype(np.int64)
    small = (out["n_reps"] < min_group_size).to_numpy()
    for col in ("median", "p25", "p75"):
        out[col] = out[col].astype(np.float64).where(~small)
    out["reason"] = np.where(small, _suppressed(min_group_size), "")
    return out.reset_index(drop=True)


def team_benchmarks(values: pd.DataFrame, *, min_group_size: int = 5) -> pd.DataFrame:
    """Team and company distributions of every KPI, grain and period.

    Parameters
    ----------
    values : the tidy KPI table (``KpiTable.values``)
    min_group_size : ``privacy.min_group_size`` of the settings

    Returns
    -------
    pandas.DataFrame
        ``level`` ("team" or "company"), ``team`` (the team's name, or "company"), ``grain, period,
        period_end, kpi, n_reps, median, p25, p75, reason``. ``reason`` says why figures are NaN
        (``"fewer than 5 reps with a value"``).
    """
    reps = values[values["entity_type"] == "rep"]
    team = group_stats(reps, ["team", *KEYS], min_group_size=min_group_size)
    team.insert(0, "level", "team")
    company = group_stats(reps, KEYS, min_group_size=min_group_size)
    company.insert(0, "team", COMPANY)
    company.insert(0, "level", "company")
    return pd.concat([team, company], ignore_index=True)


def _per_value(column: pd.Series, func: Any, dtype: Any) -> np.ndarray[Any, Any]:
    """``func`` of each row's value, computed once per distinct value (a tidy table repeats a few labels)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.array([func(u) for u in uniques], dtype=dtype)[codes] if len(uniques) else np.zeros(0, dtype=dtype)


def _month_ordinal(labels: pd.Series) -> pd.Series:
    """``YYYY-MM`` -> months since year 0."""
    ordinals = _per_value(labels, lambda u: int(str(u)[:4]) * 12 + int(str(u)[5:7]) - 1, np.int64)
    return pd.Series(ordinals, index=labels.index)


def _direction_word(delta: pd.Series, sign: pd.Series) -> np.ndarray[Any, Any]:
    signed = delta * sign
    return np.select([signed > 0, signed < 0, signed == 0], ["better", "worse", "same"], default="")


def trends(values: pd.DataFrame, *, review_cycle_months: int = 3, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Changes vs the previous period, the same period last year and the last review, for every row.

    Parameters
    ----------
    values : the tidy KPI table
    review_cycle_months : ``review_cycle_months`` of the settings (the last review was this many months ago)
    history : where to look up past values (default: ``values`` itself); pass the whole table when
        ``values`` holds only the rows wanted

    Returns
    -------
    pandas.DataFrame
        The rows of ``values`` with, for each comparison ``c`` in ``prev``, ``ly`` and ``review``:
        ``c_period`` (the label compared with), ``c_value``, ``change_c`` (value - c_value, in the KPI's
        unit: percentage points for rates), ``change_c_pct`` (relative change; NaN when c_value is 0)
        and ``trend_c`` ("better", "worse", "same" or "" when either value is missing, by the KPI's
        direction).
    """
    out = values.reset_index(drop=True).copy()
    ordinal = _month_ordinal(out["period_end"]).to_numpy()
    directions = _directions(out["kpi"].unique())
    sign = pd.Series(_per_value(out["kpi"], lambda k: directions.get(k, 1.0), np.float64), index=out.index)
    key = ["entity_type", "entity_id", "grain", "kpi"]
    source = out if history is None else history.reset_index(drop=True)
    src_ordinal = ordinal if history is None else _month_ordinal(source["period_end"]).to_numpy()
    # every (entity, grain, KPI, month) as one integer, so that a look-up is a hash probe, not a 5-column merge
    frames = [out] if history is None else [out, source]
    codes = _row_codes(frames, key)
    out_code, src_code = codes[0], codes[-1]
    first = int(min(ordinal.min(initial=0), src_ordinal.min(initial=0)))
    width = int(max(ordinal.max(initial=0), src_ordinal.max(initial=0))) - first + 1
    where = pd.Index(src_code * width + (src_ordinal - first))
    keep = ~where.duplicated(keep="first")  # the tidy table has one row per key; stay safe if not
    where, positions = where[keep], np.flatnonzero(keep)
    src_value = source["value"].to_numpy(dtype=np.float64)
    period_code, period_uniques = pd.factorize(source["period"])
    period_label = np.append(np.asarray(period_uniques, dtype=object).astype(str), "")  # code -1 (no row): ""
    offsets = {
        "prev": _per_value(out["grain"], lambda g: TREND_OFFSETS.get(str(g), 1), np.int64),
        "ly": np.full(len(out), 12, dtype=np.int64),
        "review": np.full(len(out), int(review_cycle_months), dtype=np.int64),
    }
    for name, offset in offsets.items():
        wanted = ordinal - offset
        probe = np.where(wanted >= first, out_code * width + (wanted - first), -1)
        hit = where.get_indexer(probe)
        found = hit >= 0
        row = positions[np.where(found, hit, 0)] if len(positions) else np.zeros(len(out), dtype=np.int64)
        past = np.where(found, src_value[row] if len(src_value) else np.nan, np.nan)
        out[f"{name}_period"] = period_label[np.where(found, period_code[row] if len(period_code) else -1, -1)]
        out[f"{name}_value"] = past
        delta = out["value"] - past
        out[f"change_{name}"] = delta
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"change_{name}_pct"] = np.where(past != 0, delta / np.abs(past), np.nan)
        out[f"trend_{name}"] = _direction_word(delta, sign)
    return out


def _row_codes(frames: list[pd.DataFrame], columns: list[str]) -> list[np.ndarray[Any, Any]]:
    """One int64 per row standing for its values in ``columns``, the same in every frame of ``frames``."""
    sizes = [len(f) for f in frames]
    combined = np.zeros(sum(sizes), dtype=np.int64)
    for column in columns:
        both = pd.concat([f[column] for f in frames], ignore_index=True) if len(frames) > 1 else frames[0][column]
        codes, uniques = pd.factorize(both, use_na_sentinel=False)
        combined = combined * (len(uniques) + 1) + codes
    return np.split(combined, np.cumsum(sizes)[:-1])


def rep_benchmarks(
    values: pd.DataFrame,
    *,
    min_group_size: int = 5,
    review_cycle_months: int = 3,
    with_trends: bool = True,
    period_ends: Collection[str] | Mapping[str, Collection[str]] | None = None,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """Each rep's values next to their team's and the company's distribution, with rank and trends.

    Parameters
    ----------
    values : the tidy KPI table
    min_group_size : ``privacy.min_group_size``: fewer reps with a value suppress the group's figures
        and the percentile rank
    review_cycle_months : months back for the "vs last review" comparison
    with_trends : add the columns of :func:`trends`
    period_ends : only rows ending in these months (``YYYY-MM``), or a mapping grain -> months for
        other months per grain (grains it does not name: no rows); trends still look back into the whole
        table. The same rows as without it, filtered, at a fraction of the cost and memory: a group
        (team or company, grain, period, KPI) is kept or left out whole, so its figures do not change.
    exclude : rep ids that are not people (the source's ``unassigned_rep``): no rows, and not counted
        in any team's or the company's figures (their deals still count in the team and company totals)

    Returns
    -------
    pandas.DataFrame
        One row per rep, grain, period and KPI: ``rep_id, team, grain, period, period_end, kpi, value,
        reason``; ``team_n_reps, team_median, team_p25, team_p75, team_reason`` and the same with
        ``company_``; ``percentile`` (0-100 within the team, NaN when suppressed or the value is
        missing), ``vs_team`` ("better", "worse" or "same" than the team median, "" when unknown);
        and the trend columns.
    """
    people = np.asarray((values["entity_type"] == "rep") & ~values["entity_id"].isin(list(exclude)), dtype=bool)
    if period_ends is None:
        history = values[people].reset_index(drop=True)
        reps = history
    else:
        reps = values[people & _ending_in(values, period_ends)]
        # only the rows the trends look up (the same months back as trends() does): not a copy of every rep row
        back = _looked_back(period_ends, review_cycle_months)
        history = values[people & _ending_in(values, back)].reset_index(drop=True) if with_trends else reps
    team = group_stats(reps, ["team", *KEYS], min_group_size=min_group_size)
    company = group_stats(reps, KEYS, min_group_size=min_group_size)
    out = reps.rename(columns={"entity_id": "rep_id"})
    if with_trends:
        past = None if period_ends is None else history
        out = trends(reps, review_cycle_months=review_cycle_months, history=past).rename(
            columns={"entity_id": "rep_id"}
        )
    out = out.drop(columns=["entity_type"])
    out = out.merge(team.rename(columns={c: f"team_{c}" for c in STAT_COLUMNS}), on=["team", *KEYS], how="left")
    out = out.merge(company.rename(columns={c: f"company_{c}" for c in STAT_COLUMNS}), on=KEYS, how="left")
    sign = out["kpi"].map(_directions(out["kpi"].unique())).astype(np.float64)
    signed = out["value"] * sign
    groups = [out["team"], out["grain"], out["period_end"], out["kpi"]]
    rank = signed.groupby(groups, sort=False).rank(method="average")
    n = signed.groupby(groups, sort=False).transform("count")
    pct = 100.0 * (rank - 0.5) / n
    out["percentile"] = pct.where(n >= min_group_size)
    out["vs_team"] = _direction_word(out["value"] - out["team_median"], sign)
    return out


def _ending_in(
    rows: pd.DataFrame, period_ends: Collection[str] | Mapping[str, Collection[str]]
) -> np.ndarray[Any, Any]:
    """Which rows end in the given months (one list for every grain, or a list per grain)."""
    ends = rows["period_end"]
    if not isinstance(period_ends, Mapping):
        return np.asarray(ends.isin(list(period_ends)), dtype=bool)
    keep = np.zeros(len(rows), dtype=bool)
    grain = rows["grain"]
    for name, months in period_ends.items():
        keep |= np.asarray((grain == name) & ends.isin(list(months)), dtype=bool)
    return keep


def _looked_back(
    period_ends: Collection[str] | Mapping[str, Collection[str]], review_cycle_months: int
) -> list[str] | dict[str, list[str]]:
    """The months :func:`trends` compares rows ending in ``period_ends`` with (one list, or a list per grain)."""

    def back(months: Collection[str], offsets: set[int]) -> list[str]:
        ends = pd.PeriodIndex(sorted({str(m) for m in months}), freq="M")
        return sorted({str(e - k) for e in ends for k in offsets})

    fixed = {12, int(review_cycle_months)}
    if not isinstance(period_ends, Mapping):
        return back(period_ends, {*TREND_OFFSETS.values(), 1, *fixed})
    return {g: back(months, {TREND_OFFSETS.get(str(g), 1), *fixed}) for g, months in period_ends.items()}


def _earlier_hires(frame: pd.DataFrame) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For each row, the median and count of the values of rows of the same KPI and tenure month whose hire
    date is strictly earlier (NaN and 0 when there are none).

    Per (KPI, tenure month), the values are taken in hire order and each row's earlier hires are a prefix
    of them, whose median is kept by two heaps: time n log n and memory linear in the rows, where pairing
    every row with every earlier hire grows with the square of the organisation.
    """
    median = np.full(len(frame), np.nan)
    count = np.zeros(len(frame), dtype=np.int64)
    hire = frame["hire"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    value = frame["value"].to_numpy(dtype=np.float64)
    for rows in frame.groupby(["kpi", "tenure_month"], sort=False).indices.values():
        known = rows[~np.isnan(value[rows])]
        known = known[np.argsort(hire[known], kind="stable")]
        pool = value[known]
        earlier = np.searchsorted(hire[known], hire[rows], side="left")  # how many were hired strictly before
        count[rows] = earlier
        median[rows] = _prefix_medians(pool, earlier)
    return median, count


def _prefix_medians(pool: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The median of ``pool[:n]`` for each ``n`` of ``lengths`` (NaN for 0), as ``numpy.median`` gives it."""
    out = np.full(len(lengths), np.nan)
    low: list[float] = []  # the smaller half, negated (a max-heap)
    high: list[float] = []  # the larger half (a min-heap)
    taken = 0
    for j in np.argsort(lengths, kind="stable"):
        n = int(lengths[j])
        while taken < n:
            heapq.heappush(low, -float(pool[taken]))
            heapq.heappush(high, -heapq.heappop(low))
            if len(high) > len(low):
                heapq.heappush(low, -heapq.heappop(high))
            taken += 1
        if n:
            out[j] = -low[0] if len(low) > len(high) else np.mean([-low[0], high[0]])
    return out


def tenure_month(hire: pd.Series, month: pd.Series) -> pd.Series:
    """Tenure month of each ``YYYY-MM`` month for the matching hire date (hire month = 1)."""
    hire = pd.to_datetime(hire)
    hired = hire.dt.year * 12 + hire.dt.month - 1
    return _month_ordinal(month) - hired + 1


def ramp_benchmarks(
    values: pd.DataFrame,
    hire_dates: pd.Series | Mapping[str, Any],
    *,
    kpis: Sequence[str] | None = None,
    min_group_size: int = 5,
    max_tenure: int = 24,
    tolerance: float = 0.05,
) -> pd.DataFrame:
    """Trial-month benchmarks: each rep in tenure month n against earlier hires in their month n.

    Parameters
    ----------
    values : the tidy KPI table (its monthly rep rows are used)
    hire_dates : rep id -> hire date (a Series indexed by rep id, or a mapping); reps without one are skipped
    kpis : which KPIs (default: every KPI in ``values``)
    min_group_size : the fewest earlier hires with a value for the median to be shown
    max_tenure : the last tenure month considered (ramp is about the first months)
    tolerance : within this relative distance of the median a rep is "on the curve"

    Returns
    -------
    pandas.DataFrame
        ``rep_id, team, kpi, period, tenure_month, value, ramp_median, ramp_n, ramp_reason, gap``
        (value - ramp_median) and ``position`` ("ahead", "behind", "on the curve", or "" when either
        value is missing), one row per rep, KPI and month of tenure 1..max_tenure on the grid.
    """
    hires = pd.Series(hire_dates, dtype=object) if not isinstance(hire_dates, pd.Series) else hire_dates
    hires = pd.to_datetime(hires.dropna())
    hires.index = hires.index.astype(str)
    rows = values[(values["entity_type"] == "rep") & (values["grain"] == "month")]
    if kpis is not None:
        rows = rows[rows["kpi"].isin(list(kpis))]
    rows = rows[rows["entity_id"].isin(hires.index)]
    frame = pd.DataFrame(
        {
            "rep_id": rows["entity_id"].to_numpy(),
            "team": rows["team"].to_numpy(),
            "kpi": rows["kpi"].to_numpy(),
            "period": rows["period_end"].to_numpy(),
            "value": rows["value"].to_numpy(dtype=np.float64),
        }
    )
    frame["hire"] = frame["rep_id"].map(hires).to_numpy(dtype="datetime64[ns]")
    frame["tenure_month"] = tenure_month(frame["hire"], frame["period"]).astype(np.int64)
    frame = frame[(frame["tenure_month"] >= 1) & (frame["tenure_month"] <= max_tenure)].reset_index(drop=True)
    median, count = _earlier_hires(frame)
    frame["ramp_median"] = median
    frame["ramp_n"] = count
    small = frame["ramp_n"] < min_group_size
    frame["ramp_median"] = frame["ramp_median"].where(~small)
    frame["ramp_reason"] = np.where(small, N_("fewer than {n} earlier hires with a value").format(n=min_group_size), "")
    frame["gap"] = frame["value"] - frame["ramp_median"]
    sign = frame["kpi"].map(_directions(frame["kpi"].unique())).astype(np.float64)
    signed = frame["gap"] * sign
    scale = frame["ramp_median"].abs()
    near = signed.abs() <= tolerance * scale
    # codes the pages compare and show: translated where shown (salesreports.i18n.retranslate)
    frame["position"] = np.select(
        [signed.isna(), near, signed > 0], ["", N_("on the curve"), N_("ahead")], default=N_("behind")
    )
    cols = [
        "rep_id",
        "team",
        "kpi",
        "period",
        "tenure_month",
        "value",
        "ramp_median",
        "ramp_n",
        "ramp_reason",
        "gap",
        "position",
    ]
    return frame[cols].sort_values(["rep_id", "kpi", "period"], kind="stable").reset_index(drop=True)
