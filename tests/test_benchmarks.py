"""Tests for team/company benchmarks, percentile ranks, trends and ramp curves, on hand-made tidy KPI tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesreports.data.loading import load_dataset
from salesreports.metrics.benchmarks import (
    group_stats,
    ramp_benchmarks,
    rep_benchmarks,
    team_benchmarks,
    tenure_month,
    trends,
)
from salesreports.metrics.engine import compute_kpis
from salesreports.metrics.kpis import registry

TINY = Path(__file__).parent / "fixtures" / "tiny" / "source.yaml"
COLUMNS = ["entity_type", "entity_id", "team", "grain", "period", "period_end", "kpi", "value", "reason"]


def _tidy(rows: list[tuple[str, str, str, str, str, str, float]]) -> pd.DataFrame:
    """(entity_type, entity_id, team, grain, period_end, kpi, value) -> a tidy KPI table."""
    out = []
    for etype, eid, team, grain, end, kpi, value in rows:
        period = end if grain == "month" else f"{end}-{grain.upper()}"
        out.append((etype, eid, team, grain, period, end, kpi, value, "" if not math.isnan(value) else "n/a"))
    return pd.DataFrame(out, columns=COLUMNS)


def _reps(kpi: str, values: dict[str, tuple[str, float]], end: str = "2026-10") -> pd.DataFrame:
    return _tidy([("rep", rep, team, "month", end, kpi, v) for rep, (team, v) in values.items()])


# five reps in A, two in B, one rep of A without a value
WIN = {
    "A1": ("A", 0.1),
    "A2": ("A", 0.2),
    "A3": ("A", 0.3),
    "A4": ("A", 0.4),
    "A5": ("A", 0.5),
    "A6": ("A", float("nan")),
    "B1": ("B", 0.6),
    "B2": ("B", 0.7),
}
# the same spread for a KPI where lower is better
CYCLE = {"A1": ("A", 10.0), "A2": ("A", 20.0), "A3": ("A", 30.0), "A4": ("A", 40.0), "A5": ("A", 50.0)}


def test_team_benchmarks_give_median_quartiles_and_suppress_small_teams() -> None:
    out = team_benchmarks(_reps("win_rate", WIN), min_group_size=3).set_index("team")
    a, b, company = out.loc["A"], out.loc["B"], out.loc["company"]
    assert (a["level"], a["n_reps"], a["median"], a["p25"], a["p75"]) == ("team", 5, 0.3, 0.2, 0.4)
    assert a["reason"] == ""
    assert b["n_reps"] == 2
    assert np.isnan([b["median"], b["p25"], b["p75"]]).all()
    assert b["reason"] == "fewer than 3 reps with a value"
    # 0.1 .. 0.7: linear interpolation between ranks
    assert company["level"] == "company"
    assert (company["n_reps"], company["median"]) == (7, 0.4)
    assert company["p25"] == pytest.approx(0.25)
    assert company["p75"] == pytest.approx(0.55)


def test_group_stats_keeps_groups_without_values() -> None:
    frame = _reps("win_rate", {"C1": ("C", float("nan")), "C2": ("C", float("nan"))})
    out = group_stats(frame, ["team", "kpi"], min_group_size=3)
    assert out.to_dict(orient="records") == [
        {
            "team": "C",
            "kpi": "win_rate",
            "n_reps": 0,
            "median": pytest.approx(np.nan, nan_ok=True),
            "p25": pytest.approx(np.nan, nan_ok=True),
            "p75": pytest.approx(np.nan, nan_ok=True),
            "reason": "fewer than 3 reps with a value",
        }
    ]


@pytest.mark.parametrize(
    ("kpi", "values", "expected"),
    [
        # midpoint percentile rank: 100 * (rank - 0.5) / n, best = highest
        ("win_rate", WIN, {"A1": 10.0, "A3": 50.0, "A5": 90.0}),
        # lower is better: the shortest cycle ranks highest
        ("sales_cycle_days", CYCLE, {"A1": 90.0, "A3": 50.0, "A5": 10.0}),
        # ties share the average rank: 0.2, 0.2 are ranks 2 and 3 -> 2.5
        (
            "win_rate",
            {"A1": ("A", 0.1), "A2": ("A", 0.2), "A3": ("A", 0.2), "A4": ("A", 0.4)},
            {"A1": 12.5, "A2": 50.0, "A3": 50.0, "A4": 87.5},
        ),
    ],
)
def test_percentile_rank_respects_the_kpi_direction(
    kpi: str, values: dict[str, tuple[str, float]], expected: dict[str, float]
) -> None:
    out = rep_benchmarks(_reps(kpi, values), min_group_size=3).set_index("rep_id")
    for rep, pct in expected.items():
        assert out.loc[rep, "percentile"] == pytest.approx(pct)


def test_rep_rows_hold_own_value_and_group_aggregates_only() -> None:
    out = rep_benchmarks(_reps("win_rate", WIN), min_group_size=3).set_index("rep_id")
    a1, b1, a6 = out.loc["A1"], out.loc["B1"], out.loc["A6"]
    assert (a1["value"], a1["team_median"], a1["team_p25"], a1["team_n_reps"]) == (0.1, 0.3, 0.2, 5)
    assert (a1["company_median"], a1["company_n_reps"]) == (0.4, 7)
    assert a1["vs_team"] == "worse"
    # B has two reps: nothing of the other rep may show
    assert np.isnan([b1["team_median"], b1["team_p25"], b1["team_p75"], b1["percentile"]]).all()
    assert b1["team_reason"] == "fewer than 3 reps with a value"
    assert b1["vs_team"] == ""
    assert np.isnan(a6["percentile"])
    assert "entity_type" not in out.columns
    cycle = rep_benchmarks(_reps("sales_cycle_days", CYCLE), min_group_size=3).set_index("rep_id")
    assert (cycle.loc["A1", "vs_team"], cycle.loc["A5", "vs_team"], cycle.loc["A3", "vs_team"]) == (
        "better",
        "worse",
        "same",
    )


def _series(grain: str, kpi: str, values: dict[str, float]) -> pd.DataFrame:
    return _tidy([("rep", "R1", "A", grain, end, kpi, v) for end, v in values.items()])


MONTHLY = {f"2025-{m:02d}": float(m) for m in range(1, 13)} | {"2026-01": 20.0, "2026-02": 0.0, "2026-03": 30.0}


@pytest.mark.parametrize(
    ("grain", "end", "prev", "ly", "review"),
    [
        ("month", "2026-03", "2026-02", "2025-03", "2025-12"),
        # quarter (to date): the same months of the previous quarter
        ("quarter", "2026-02", "2025-11", "2025-02", "2025-11"),
        ("ytd", "2026-03", "2025-03", "2025-03", "2025-12"),
        ("t12m", "2026-03", "2025-03", "2025-03", "2025-12"),
    ],
)
def test_trends_compare_with_previous_last_year_and_last_review(
    grain: str, end: str, prev: str, ly: str, review: str
) -> None:
    out = trends(_series(grain, "revenue", MONTHLY), review_cycle_months=3).set_index("period_end")
    row = out.loc[end]
    suffix = "" if grain == "month" else f"-{grain.upper()}"
    assert (row["prev_period"], row["ly_period"], row["review_period"]) == (prev + suffix, ly + suffix, review + suffix)
    assert row["prev_value"] == MONTHLY[prev]
    assert row["change_ly"] == MONTHLY[end] - MONTHLY[ly]


def test_trend_changes_and_directions() -> None:
    out = trends(_series("month", "revenue", MONTHLY), review_cycle_months=2).set_index("period_end")
    march = out.loc["2026-03"]
    assert (march["prev_value"], march["change_prev"]) == (0.0, 30.0)
    assert np.isnan(march["change_prev_pct"])  # from 0: no relative change
    assert march["trend_prev"] == "better"
    assert (march["review_period"], march["change_review"], march["change_review_pct"]) == ("2026-01", 10.0, 0.5)
    assert march["change_ly_pct"] == pytest.approx(9.0)  # 3 -> 30
    first = out.loc["2025-01"]
    assert (first["prev_period"], first["trend_prev"]) == ("", "")
    assert np.isnan(first["prev_value"])
    cycle = trends(_series("month", "sales_cycle_days", {"2026-01": 40.0, "2026-02": 30.0, "2026-03": 30.0}))
    assert list(cycle["trend_prev"]) == ["", "better", "same"]


def test_trends_keep_entities_apart() -> None:
    frame = pd.concat(
        [
            _series("month", "revenue", {"2026-01": 1.0, "2026-02": 2.0}),
            _tidy([("team", "A", "A", "month", "2026-02", "revenue", 5.0)]),
        ],
        ignore_index=True,
    )
    out = trends(frame)
    team = out[out["entity_type"] == "team"].iloc[0]
    assert np.isnan(team["prev_value"])


@pytest.mark.parametrize(
    ("hire", "month", "tenure"),
    [
        ("2025-09-17", "2025-09", 1),
        ("2025-09-17", "2025-10", 2),
        ("2025-09-17", "2026-09", 13),
        ("2025-09-17", "2025-08", 0),
    ],
)
def test_tenure_month_counts_the_hire_month_as_one(hire: str, month: str, tenure: int) -> None:
    assert tenure_month(pd.Series([pd.Timestamp(hire)]), pd.Series([month])).iloc[0] == tenure


HIRES = {
    "H1": "2024-01-10",
    "H2": "2024-02-20",
    "H3": "2024-03-05",
    "H4": "2024-03-05",  # hired the same day as H3: not "earlier"
    "H5": "2024-04-01",
    "H6": None,  # no hire date: skipped
}
# (rep, month, value); tenure month 1 is the hire month
RAMP_ROWS = [
    ("H1", "2024-01", 10.0),
    ("H1", "2024-02", 20.0),
    ("H2", "2024-02", 20.0),
    ("H2", "2024-03", 30.0),
    ("H3", "2024-03", 30.0),
    ("H3", "2024-04", float("nan")),
    ("H4", "2024-03", 40.0),
    ("H5", "2024-04", 5.0),
    ("H5", "2024-05", 25.5),
    ("H6", "2024-04", 99.0),
    ("H1", "2023-12", 1.0),  # before the hire: not a tenure month
]


@pytest.fixture
def ramp() -> pd.DataFrame:
    values = _tidy([("rep", rep, "A", "month", end, "revenue", v) for rep, end, v in RAMP_ROWS])
    hires = {k: (pd.Timestamp(v) if v else None) for k, v in HIRES.items()}
    return ramp_benchmarks(values, hires, min_group_size=2).set_index(["rep_id", "period"])


@pytest.mark.parametrize(
    ("rep", "period", "tenure", "median", "n", "position", "reason"),
    [
        ("H1", "2024-01", 1, None, 0, "", "fewer than 2 earlier hires with a value"),
        ("H2", "2024-02", 1, None, 1, "", "fewer than 2 earlier hires with a value"),  # only H1
        ("H3", "2024-03", 1, 15.0, 2, "ahead", ""),  # H1 10, H2 20
        ("H4", "2024-03", 1, 15.0, 2, "ahead", ""),  # H3 was hired the same day: not earlier
        ("H5", "2024-04", 1, 25.0, 4, "behind", ""),  # 10, 20, 30, 40
        ("H5", "2024-05", 2, 25.0, 2, "on the curve", ""),  # H1 20, H2 30 (H3 has no value); 25.5 within 5%
        ("H3", "2024-04", 2, 25.0, 2, "", ""),  # no own value
    ],
)
def test_ramp_compares_with_earlier_hires_at_the_same_tenure(
    ramp: pd.DataFrame, rep: str, period: str, tenure: int, median: float | None, n: int, position: str, reason: str
) -> None:
    row = ramp.loc[(rep, period)]
    assert row["tenure_month"] == tenure
    assert row["ramp_n"] == n
    if median is None:
        assert np.isnan(row["ramp_median"])
    else:
        assert row["ramp_median"] == median
    assert row["position"] == position
    assert row["ramp_reason"] == reason


def test_ramp_skips_reps_without_hire_date_and_months_before_hire(ramp: pd.DataFrame) -> None:
    reps = set(ramp.index.get_level_values("rep_id"))
    assert "H6" not in reps
    assert ("H1", "2023-12") not in ramp.index


def test_ramp_limits_tenure_and_kpis() -> None:
    values = _tidy([("rep", "H1", "A", "month", "2024-03", k, 1.0) for k in ("revenue", "win_rate")])
    out = ramp_benchmarks(values, pd.Series({"H1": pd.Timestamp("2024-01-01")}), kpis=["win_rate"], max_tenure=3)
    assert list(out["kpi"]) == ["win_rate"]
    assert ramp_benchmarks(values, pd.Series({"H1": pd.Timestamp("2024-01-01")}), max_tenure=2).empty


def test_benchmarks_on_the_engine_table() -> None:
    data = load_dataset(TINY)
    table = compute_kpis(data)
    out = rep_benchmarks(table.values, min_group_size=3, review_cycle_months=3)
    row = out[(out["rep_id"] == "R1") & (out["kpi"] == "revenue") & (out["period"] == "2025-03")].iloc[0]
    assert row["value"] == 4000.0  # D1 1000 + D2 3000
    assert row["team"] == "North"
    assert np.isnan(row["team_median"])  # North has two reps
    assert row["team_reason"] == "fewer than 3 reps with a value"
    assert row["company_n_reps"] == 3
    assert row["company_median"] == 0.0  # R1 4000, R2 0, R3 0
    assert (row["review_period"], row["review_value"]) == ("2024-12", 0.0)
    hires = data.tables["reps"].set_index("rep_id")["hire_date"]
    ramp = ramp_benchmarks(table.values, hires, kpis=["revenue"], min_group_size=1)
    r2 = ramp[(ramp["rep_id"] == "R2") & (ramp["period"] == "2025-03")].iloc[0]
    # R2 joined in Feb 2025: March is tenure month 2; R1 (Jan 2023) and R3 (Jun 2023) were earlier hires, but
    # their tenure month 2 (Feb 2023, Jul 2023) lies before the data
    assert (r2["tenure_month"], r2["ramp_n"]) == (2, 0)


def _tiny_values() -> pd.DataFrame:
    return compute_kpis(load_dataset(TINY)).values


@pytest.mark.parametrize(
    "wanted",
    [
        {"month": ["2025-01", "2025-02", "2025-03"], "quarter": ["2025-03"], "ytd": ["2025-03"]},
        {"month": ["2025-03"], "t12m": ["2025-02", "2025-03"]},
        {"quarter": ["2024-12", "2025-03"]},
        ["2024-12", "2025-03"],
    ],
)
def test_period_ends_give_the_same_rows_as_filtering_the_whole_result(wanted: dict[str, list[str]] | list[str]) -> None:
    values = _tiny_values()
    whole = rep_benchmarks(values, min_group_size=2, review_cycle_months=3)
    by_grain = wanted if isinstance(wanted, dict) else dict.fromkeys(whole["grain"].unique(), wanted)
    keep = np.zeros(len(whole), dtype=bool)
    for grain, ends in by_grain.items():
        keep |= ((whole["grain"] == grain) & whole["period_end"].isin(ends)).to_numpy()
    expected = whole[keep].reset_index(drop=True)
    got = rep_benchmarks(values, min_group_size=2, review_cycle_months=3, period_ends=wanted).reset_index(drop=True)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, expected)


def test_rep_benchmarks_match_an_independent_computation() -> None:
    values = _tiny_values()
    out = rep_benchmarks(values, min_group_size=1, with_trends=False, period_ends={"month": ["2025-03"]})
    reps = values[(values["entity_type"] == "rep") & (values["grain"] == "month") & (values["period_end"] == "2025-03")]
    for (team, kpi), rows in reps.groupby(["team", "kpi"]):
        got = out[(out["team"] == team) & (out["kpi"] == kpi)].set_index("rep_id")
        known = [float(v) for v in rows["value"] if not math.isnan(v)]
        for rep_id, value in zip(rows["entity_id"], rows["value"], strict=True):
            row = got.loc[rep_id]
            assert row["team_n_reps"] == len(known)
            if known:
                assert row["team_median"] == pytest.approx(float(np.median(known)))
            if not math.isnan(value):
                sign = 1.0 if registry().get(str(kpi)).higher_is_better else -1.0
                below = sum(1 for v in known if v * sign < value * sign)
                equal = sum(1 for v in known if v == value)
                assert row["percentile"] == pytest.approx(100 * (below + equal / 2) / len(known))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ramp_medians_match_every_earlier_hire_compared_one_by_one(seed: int) -> None:
    """The prefix medians equal a plain scan of the earlier hires (same-day hires and missing values included)."""
    rng = np.random.default_rng(seed)
    hires = {
        f"H{i:02d}": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d))
        for i, d in enumerate(rng.integers(0, 90, 40))
    }
    months = ["2024-03", "2024-04", "2024-05", "2024-06"]
    rows = []
    for rep in hires:
        for month in months:
            for kpi in ("revenue", "sales_cycle_days"):
                value = float("nan") if rng.random() < 0.2 else float(rng.integers(0, 5))  # many ties
                rows.append(("rep", rep, "A", "month", month, kpi, value))
    values = _tidy(rows)
    out = ramp_benchmarks(values, hires, min_group_size=1)
    for row in out.itertuples():
        same = out[(out["kpi"] == row.kpi) & (out["tenure_month"] == row.tenure_month)]
        earlier = same[same["rep_id"].map(hires) < hires[row.rep_id]]["value"].dropna()
        assert row.ramp_n == len(earlier)
        if len(earlier):
            assert row.ramp_median == float(np.median(earlier.to_numpy()))
        else:
            assert math.isnan(row.ramp_median)
