"""Property tests of the KPI engine on small random data sets (hypothesis).

- rates stay in [0, 1]; counts, amounts and cycle lengths are never negative;
- a team's additive KPIs equal the sum over its reps, and the company's the sum over its teams, at every grain;
- the KPIs do not depend on the order of the rows;
- retention and the median sales cycle equal a brute-force computation with Python sets and lists.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesreports.data.loading import Dataset
from salesreports.metrics.engine import KpiTable, compute_kpis

BASE = pd.Timestamp("2024-01-01")
AS_OF = dt.date(2025, 6, 30)
RATES = ("win_rate", "lead_quality", "lead_conversion", "retention_rate", "repeat_business", "profit_margin")
ADDITIVE = ("revenue", "deals_won", "units_sold", "leads", "qualified_leads", "new_customers", "new_segment_revenue")
KEY = ["entity_type", "entity_id", "grain", "period", "kpi"]

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def datasets(draw: Any, hires: bool = False) -> Dataset:
    n_reps = draw(st.integers(1, 4))
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{i}" for i in range(n_reps)],
            "team": [draw(st.sampled_from(["T1", "T2"])) for _ in range(n_reps)],
        }
    )
    if hires:
        offsets = [draw(st.one_of(st.none(), st.integers(0, 500))) for _ in range(n_reps)]
        reps["hire_date"] = [pd.NaT if o is None else BASE + pd.Timedelta(days=o) for o in offsets]
    deal = st.tuples(
        st.integers(0, n_reps - 1),  # rep
        st.integers(0, 4),  # account
        st.sampled_from(["SMB", "Mid", "Ent"]),
        st.integers(0, 520),  # created, days after BASE
        st.integers(0, 90),  # cycle
        st.sampled_from(["won", "won", "lost", "open"]),
        st.integers(0, 1000),  # amount
        st.one_of(st.none(), st.integers(0, 100)),  # cost as % of amount
        st.integers(0, 5),  # units
    )
    rows = draw(st.lists(deal, max_size=14))
    deals = pd.DataFrame(
        {
            "deal_id": [f"D{i:02d}" for i in range(len(rows))],
            "rep_id": [f"R{r[0]}" for r in rows],
            "account_id": [f"A{r[1]}" for r in rows],
            "segment": [r[2] for r in rows],
            "created_date": [BASE + pd.Timedelta(days=r[3]) for r in rows],
            "close_date": [pd.NaT if r[5] == "open" else BASE + pd.Timedelta(days=r[3] + r[4]) for r in rows],
            "stage": [r[5] for r in rows],
            "amount": [float(r[6]) for r in rows],
            "cost": [np.nan if r[7] is None else float(r[6] * r[7] // 100) for r in rows],
            "units": [float(r[8]) for r in rows],
        }
    )
    lead = st.tuples(
        st.integers(0, n_reps - 1),
        st.integers(0, 540),
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.integers(0, max(len(rows) - 1, 0))),
    )
    lrows = draw(st.lists(lead, max_size=10))
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(len(lrows))],
            "rep_id": [f"R{r[0]}" for r in lrows],
            "created_date": [BASE + pd.Timedelta(days=r[1]) for r in lrows],
            "qualified": pd.array([r[2] for r in lrows], dtype="boolean"),
            "converted_deal_id": [None if r[3] is None or not rows else f"D{r[3]:02d}" for r in lrows],
        }
    )
    act = st.tuples(
        st.integers(0, n_reps - 1), st.integers(0, 540), st.sampled_from(["call", "email", "meeting", "demo"])
    )
    arows = draw(st.lists(act, max_size=10))
    acts = pd.DataFrame(
        {
            "rep_id": [f"R{r[0]}" for r in arows],
            "date": [BASE + pd.Timedelta(days=r[1]) for r in arows],
            "type": [r[2] for r in arows],
        }
    )
    trows = draw(st.lists(st.tuples(st.integers(0, n_reps - 1), st.integers(0, 17), st.integers(0, 3000)), max_size=6))
    targets = pd.DataFrame(
        {
            "rep_id": [f"R{r[0]}" for r in trows],
            "period": [str((BASE + pd.DateOffset(months=r[1])).to_period("M")) for r in trows],
            "metric": ["revenue"] * len(trows),
            "target": [float(r[2]) for r in trows],
        }
    )
    return Dataset(tables={"reps": reps, "deals": deals, "leads": leads, "activities": acts, "targets": targets})


def _wide(table: KpiTable) -> pd.DataFrame:
    return table.values.set_index(KEY)["value"].sort_index()


@PROPS
@given(datasets(hires=True))
def test_rates_stay_in_the_unit_interval(data: Dataset) -> None:
    v = compute_kpis(data, as_of=AS_OF).values
    rates = v[v["kpi"].isin(RATES)]["value"].dropna()
    assert ((rates >= 0) & (rates <= 1)).all()
    rest = v[v["kpi"].isin([*ADDITIVE, "sales_cycle_days", "calls_per_week", "pipeline_coverage"])]["value"].dropna()
    assert (rest >= 0).all()
    assert (v["value"].isna() == (v["reason"] != "")).all()


@PROPS
@given(datasets())
def test_teams_and_company_are_sums_of_their_parts(data: Dataset) -> None:
    table = compute_kpis(data, as_of=AS_OF)
    v = table.values[table.values["kpi"].isin(ADDITIVE)]
    reps = v[v["entity_type"] == "rep"]
    for level, parts, by in (("team", reps, "team"), ("company", v[v["entity_type"] == "team"], None)):
        keys = ["grain", "period", "kpi"] + ([by] if by else [])
        total = parts.groupby(keys)["value"].sum(min_count=1)
        whole = v[v["entity_type"] == level].copy()
        if by:
            whole[by] = whole["entity_id"]
        whole = whole.set_index(keys)["value"]
        pd.testing.assert_series_equal(whole.sort_index(), total.reindex(whole.index).sort_index(), check_names=False)


@PROPS
@given(datasets(hires=True), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(data: Dataset, rnd: Any) -> None:
    shuffled = {}
    for name, frame in data.tables.items():
        order = list(range(len(frame)))
        rnd.shuffle(order)
        shuffled[name] = frame.iloc[order].reset_index(drop=True)
    a = _wide(compute_kpis(data, as_of=AS_OF))
    b = _wide(compute_kpis(Dataset(tables=shuffled), as_of=AS_OF))
    pd.testing.assert_series_equal(a, b)


def _month(ts: pd.Timestamp) -> int:
    return (ts.year - BASE.year) * 12 + ts.month - 1


@PROPS
@given(datasets())
def test_retention_and_cycle_match_brute_force(data: Dataset) -> None:
    table = compute_kpis(data, as_of=AS_OF, grains=("month", "quarter"))
    v = table.values[
        (table.values["entity_type"] == "rep") & table.values["kpi"].isin(["retention_rate", "sales_cycle_days"])
    ]
    got = dict(zip(zip(v["entity_id"], v["kpi"], v["grain"], v["period_end"], strict=True), v["value"], strict=True))
    deals = data.tables["deals"]
    won = deals[deals["stage"] == "won"]
    first = _month(table.grid.months[0].to_timestamp())
    for rep in data.tables["reps"]["rep_id"]:
        mine = won[won["rep_id"] == rep]
        closes = [_month(c) for c in mine["close_date"]]
        cycles_all = [(c - o).days for o, c in zip(mine["created_date"], mine["close_date"], strict=True)]
        months_of: dict[str, set[int]] = {}
        for acc, m in zip(mine["account_id"], closes, strict=True):
            months_of.setdefault(acc, set()).add(m)

        def active(month: int, months_of: dict[str, set[int]] = months_of) -> set[str]:
            return {a for a, ms in months_of.items() if any(month - 11 <= m <= month for m in ms)}

        for m in range(first, _month(pd.Timestamp(AS_OF)) + 1):
            label = str((BASE + pd.DateOffset(months=m)).to_period("M"))
            for grain, start in (("month", m), ("quarter", m - m % 3)):
                retention = got[(rep, "retention_rate", grain, label)]
                s = active(start - 1)
                if start - first < 12 or not s:
                    assert np.isnan(retention), (rep, grain, label)
                else:
                    assert retention == pytest.approx(len(s & active(m)) / len(s)), (rep, grain, label)
                cycles = [c for c, cm in zip(cycles_all, closes, strict=True) if start <= cm <= m]
                cycle = got[(rep, "sales_cycle_days", grain, label)]
                if not cycles:  # a quarter begun before the data: its months in the data
                    assert np.isnan(cycle), (rep, grain, label)
                else:
                    assert cycle == statistics.median(cycles), (rep, grain, label)
