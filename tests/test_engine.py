"""Hand-computed KPI values on tiny fixtures, for every KPI of the registry.

Fixtures (``tests/fixtures/``):

- ``tiny``: 3 reps, 8 deals (the brief's hand values for 2025-03, as of 2025-03-31).
- ``kpi_edge``: a rep who left (E1, 2025-02-14) whose last deal closes after he left, a rep who
  joined mid-month (E2, 2025-01-20), a rep with only lost deals (W1), a rep with no deals (W2),
  deals created in one month/year and closed in another, a won deal without cost, a deal won after
  the as-of day (K9), a team target replacing the reps' targets (East, 2025-02), a segment entered
  late (Enterprise, 2025-03). As of 2025-03-31; the data starts in 2024-01.
- ``kpi_deals_only``: only a deals table, without cost/units/segment columns and without reps.
- ``kpi_no_amounts``: won-only deals without amounts, plus leads.

Every expected value below was computed by hand from the CSV files; the comment says how.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesreports.data.loading import Dataset, load_dataset
from salesreports.metrics.engine import COHORT_FUNCTIONS, KpiTable, compute_kpis
from salesreports.metrics.kpis import registry
from salesreports.metrics.measures import COHORTS, MEASURES
from salesreports.metrics.periods import parse_period

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = {"tiny": dt.date(2025, 3, 31), "kpi_edge": dt.date(2025, 3, 31), "kpi_deals_only": None, "kpi_no_amounts": None}


@dataclass(frozen=True)
class NA:
    """Expect "not available" with a reason containing ``why``."""

    why: str


@pytest.fixture(scope="module")
def tables() -> dict[str, KpiTable]:
    out = {}
    for name, as_of in AS_OF.items():
        data = load_dataset(FIXTURES / name / "source.yaml")
        assert not [n for n in data.notes if n.severity == "error"], data.notes
        out[name] = compute_kpis(data, as_of=as_of)
    return out


def _e(fixture: str, entity: str, kpi: str, period: str, expected: float | NA, kind: str = "") -> tuple:
    kind = kind or ("company" if entity == "company" else "team" if entity[0].isupper() and len(entity) > 2 else "rep")
    return pytest.param(fixture, kind, entity, kpi, period, expected, id=f"{fixture}-{entity}-{kpi}-{period}")


NO_TARGET = NA("no revenue target")
LEFT = NA("not employed in this period")
HISTORY = NA("needs 12 months of history")

HAND = [
    # ---------------------------------------------------------------- tiny, 2025-03 (the brief's values)
    _e("tiny", "R1", "revenue", "2025-03", 4000),  # D1 1000 + D2 3000
    _e("tiny", "R1", "deals_won", "2025-03", 2),
    _e("tiny", "R1", "win_rate", "2025-03", 2 / 3),  # D1, D2 won; D3 lost
    _e("tiny", "R1", "avg_deal_size", "2025-03", 2000),
    _e("tiny", "R1", "profit_margin", "2025-03", 0.475),  # (4000 - 600 - 1500) / 4000
    _e("tiny", "R1", "units_sold", "2025-03", 3),
    _e("tiny", "R1", "sales_cycle_days", "2025-03", 25),  # median of 30 and 20
    _e("tiny", "R1", "new_customers", "2025-03", 1),  # A2
    _e("tiny", "R1", "repeat_business", "2025-03", 0.25),  # A1 bought in 2024-04: 1000 / 4000
    _e("tiny", "R1", "quota_attainment", "2025-03", 0.8),  # 4000 / 5000
    _e("tiny", "R1", "pipeline_coverage", "2025-03", 1.0),  # D7 5000 / the 5000 target
    _e("tiny", "R1", "open_pipeline", "2025-03", 5000.0),  # D7, open at the end of March
    _e("tiny", "R1", "leads", "2025-03", 4),
    _e("tiny", "R1", "qualified_leads", "2025-03", 3),
    _e("tiny", "R1", "lead_quality", "2025-03", 0.75),
    _e("tiny", "R1", "lead_conversion", "2025-03", 0.25),  # L1 -> D2 won; L2 -> D3 lost
    _e("tiny", "R1", "retention_rate", "2025-03", 0.5),  # S = {A1, A7}; A7 (2024-03) lapses
    _e("tiny", "R1", "calls_per_week", "2025-03", 6 * 7 / 31),
    _e("tiny", "R1", "meetings_per_week", "2025-03", 3 * 7 / 31),  # 2 meetings + 1 demo
    _e("tiny", "R1", "new_segment_revenue", "2025-03", 0),  # SMB won first in 2024-03: not new
    _e("tiny", "R2", "revenue", "2025-03", 0),
    _e("tiny", "R2", "win_rate", "2025-03", 0),  # D5 lost
    _e("tiny", "R2", "avg_deal_size", "2025-03", NA("no deals won")),
    _e("tiny", "R2", "quota_attainment", "2025-03", NO_TARGET),  # zero target
    _e("tiny", "R2", "calls_per_week", "2025-02", 2.0),  # 4 calls over 14 employed days (hired 02-15)
    _e("tiny", "R2", "calls_per_week", "2025-01", LEFT),  # before the hire date
    _e("tiny", "R3", "win_rate", "2025-03", NA("no deals closed")),
    _e("tiny", "R3", "retention_rate", "2025-03", NA("no active customers at the start")),
    _e("tiny", "R3", "quota_attainment", "2025-03", NO_TARGET),  # no target row at all
    _e("tiny", "North", "win_rate", "2025-03", 2 / 4),  # R1 2 won 1 lost, R2 1 lost
    _e("tiny", "North", "pipeline_coverage", "2025-03", 1.4),  # (D6 2000 + D7 5000) / (5000 + 0)
    _e("tiny", "North", "calls_per_week", "2025-03", 6 * 7 / 62),  # per rep-week: 31 + 31 days
    _e("tiny", "company", "revenue", "2025-03", 4000),
    _e("tiny", "company", "calls_per_week", "2025-02", 4 * 7 / (28 + 14 + 28)),
    _e("tiny", "South", "revenue", "2025-03", 0),
    # tiny, longer periods
    _e("tiny", "R1", "revenue", "2025-03-T12M", 4800),  # + D4 800 (2024-04)
    _e("tiny", "R1", "avg_deal_size", "2025-03-T12M", 1600),
    _e("tiny", "R1", "profit_margin", "2025-03-T12M", 2300 / 4800),  # costs 600 + 1500 + 400
    _e("tiny", "R1", "sales_cycle_days", "2025-03-T12M", 30),  # 31, 30, 20
    _e("tiny", "R1", "win_rate", "2025-03-T12M", 3 / 4),
    _e("tiny", "R1", "quota_attainment", "2025-03-T12M", 4800 / 5000),  # only March has a target
    _e("tiny", "R1", "calls_per_week", "2025-03-T12M", 6 * 7 / 365),
    _e("tiny", "R2", "calls_per_week", "2025-Q1", 4 * 7 / 45),  # employed 14 + 31 days of Q1
    _e("tiny", "R1", "calls_per_week", "2025-Q1", 6 * 7 / 90),
    _e("tiny", "R1", "revenue", "2024-04", 800),
    _e("tiny", "R1", "revenue", "2025-03-YTD", 4000),
    _e("tiny", "R1", "new_customers", "2025-Q1", HISTORY),  # Q1 2025 starts 10 months into the data
    _e("tiny", "R1", "retention_rate", "2025-02", HISTORY),
    # a span that begins before the data covers the months the data has (pages say "since March 2024")
    _e("tiny", "R1", "revenue", "2024-12-T12M", 1000),  # span starts 2024-01: D8 200 (2024-03) + D4 800
    _e("tiny", "R1", "revenue", "2024-Q1", 200),  # D8 only: January and February are before the data
    _e("tiny", "R1", "retention_rate", "2024-12-T12M", HISTORY),  # and no history before a span begun before it
    _e("tiny", "R1", "new_customers", "2024-Q1", HISTORY),
    # ---------------------------------------------------------------- kpi_edge
    # E1 left on 2025-02-14; K4 (4000, Enterprise, new account B3) closes on 2025-03-05, after he left
    _e("kpi_edge", "E1", "revenue", "2025-01", 2000),  # K2: created 2024-11-20, closed 2025-01-10
    _e("kpi_edge", "E1", "sales_cycle_days", "2025-01", 51),  # 10 + 31 + 10 days
    _e("kpi_edge", "E1", "repeat_business", "2025-01", 1.0),  # B1 bought in 2024-01 (K1)
    _e("kpi_edge", "E1", "new_customers", "2025-01", 0),
    _e("kpi_edge", "E1", "retention_rate", "2025-01", 1.0),  # S = {B1}; K2 renews B1 just in time
    _e("kpi_edge", "E1", "quota_attainment", "2025-01", 0.8),  # 2000 / 2500
    _e("kpi_edge", "E1", "pipeline_coverage", "2025-01", 2.8),  # (K3 3000 + K4 4000) / 2500
    _e("kpi_edge", "E1", "open_pipeline", "2025-01", 7000.0),  # K3 3000 + K4 4000
    _e("kpi_edge", "E1", "units_sold", "2025-01", 2),
    _e("kpi_edge", "E1", "revenue", "2025-02", 3000),  # K3: created 2024-12-15
    _e("kpi_edge", "E1", "sales_cycle_days", "2025-02", 50),
    _e("kpi_edge", "E1", "profit_margin", "2025-02", NA("known cost")),  # K3 has no cost
    _e("kpi_edge", "E1", "new_customers", "2025-02", 1),  # B2
    _e("kpi_edge", "E1", "repeat_business", "2025-02", 0.0),
    _e("kpi_edge", "E1", "calls_per_week", "2025-02", 0.5),  # 1 call over 14 employed days
    _e("kpi_edge", "E1", "meetings_per_week", "2025-02", 0.5),  # 1 demo
    _e("kpi_edge", "E1", "quota_attainment", "2025-02", NO_TARGET),
    _e("kpi_edge", "E1", "revenue", "2025-03", LEFT),
    _e("kpi_edge", "E1", "calls_per_week", "2025-03", LEFT),
    _e("kpi_edge", "E1", "revenue", "2025-Q1", 9000),  # employed for part of Q1: K2 + K3 + K4
    _e("kpi_edge", "E1", "profit_margin", "2025-Q1", 4000 / 6000),  # K2, K4 have costs: (6000-2000)/6000
    _e("kpi_edge", "E1", "quota_attainment", "2025-Q1", 9000 / 2500),
    _e("kpi_edge", "E1", "new_customers", "2025-Q1", 2),  # B2, B3
    _e("kpi_edge", "E1", "repeat_business", "2025-Q1", 2000 / 9000),
    _e("kpi_edge", "E1", "sales_cycle_days", "2025-Q1", 51),  # 51, 50, 59
    _e("kpi_edge", "E1", "calls_per_week", "2025-Q1", 7 / 45),  # Jan 31 + Feb 14 days
    _e("kpi_edge", "E1", "retention_rate", "2025-Q1", 1.0),
    _e("kpi_edge", "E1", "revenue", "2025-03-YTD", 9000),
    _e("kpi_edge", "E1", "revenue", "2024-01", 1000),
    _e("kpi_edge", "E1", "revenue", "2024-06-T12M", 1000),  # K1: the span starts 2023-07, the data 2024-01
    # E2 joined on 2025-01-20
    _e("kpi_edge", "E2", "revenue", "2024-12", LEFT),
    _e("kpi_edge", "E2", "calls_per_week", "2025-01", 2 * 7 / 12),  # 12 employed days in January
    _e("kpi_edge", "E2", "meetings_per_week", "2025-01", 7 / 12),
    _e("kpi_edge", "E2", "leads", "2025-01", 2),
    _e("kpi_edge", "E2", "qualified_leads", "2025-01", 1),
    _e("kpi_edge", "E2", "lead_quality", "2025-01", 0.5),
    _e("kpi_edge", "E2", "lead_conversion", "2025-01", 0.5),  # N1 -> K5 won
    _e("kpi_edge", "E2", "win_rate", "2025-01", NA("no deals closed")),
    _e("kpi_edge", "E2", "revenue", "2025-02", 500),  # K5
    _e("kpi_edge", "E2", "profit_margin", "2025-02", 0.6),
    _e("kpi_edge", "E2", "sales_cycle_days", "2025-02", 26),
    _e("kpi_edge", "E2", "quota_attainment", "2025-02", 0.5),
    _e("kpi_edge", "E2", "pipeline_coverage", "2025-02", 0.8),  # K6 800 / 1000
    _e("kpi_edge", "E2", "lead_conversion", "2025-02", 0.0),  # N3 -> K9, won only after the as-of day
    _e("kpi_edge", "E2", "win_rate", "2025-03", 0.0),  # K6 lost; K9 is won after the as-of day
    _e("kpi_edge", "E2", "revenue", "2025-03", 0.0),
    _e("kpi_edge", "E2", "quota_attainment", "2025-03", 0.0),
    _e("kpi_edge", "E2", "pipeline_coverage", "2025-03", 2.4),  # (K9 900 + K10 1500) / 1000
    _e("kpi_edge", "E2", "retention_rate", "2025-03", 1.0),  # S = {B4}
    _e("kpi_edge", "E2", "retention_rate", "2025-02", NA("no active customers at the start")),
    _e("kpi_edge", "E2", "quota_attainment", "2025-Q1", 500 / 2000),
    _e("kpi_edge", "E2", "calls_per_week", "2025-Q1", 2 * 7 / 71),  # 12 + 28 + 31 days
    # W1: every deal lost; W2: no deals at all
    _e("kpi_edge", "W1", "win_rate", "2025-01", 0.0),
    _e("kpi_edge", "W1", "win_rate", "2025-Q1", 0.0),
    _e("kpi_edge", "W1", "revenue", "2025-Q1", 0.0),
    _e("kpi_edge", "W1", "avg_deal_size", "2025-01", NA("no deals won")),
    _e("kpi_edge", "W1", "lead_quality", "2025-01", 0.0),  # N4: qualified left empty
    _e("kpi_edge", "W1", "lead_conversion", "2025-01", 0.0),  # N4 -> K7, lost
    _e("kpi_edge", "W1", "calls_per_week", "2025-03", 7 / 31),
    _e("kpi_edge", "W2", "win_rate", "2025-Q1", NA("no deals closed")),
    _e("kpi_edge", "W2", "revenue", "2025-Q1", 0.0),
    _e("kpi_edge", "W2", "sales_cycle_days", "2025-Q1", NA("no deals won")),
    # teams and company
    _e("kpi_edge", "East", "revenue", "2025-03", 4000),  # the leaver's K4 still counts for the team
    _e("kpi_edge", "East", "new_segment_revenue", "2025-03", 4000),  # Enterprise: first won deal
    _e("kpi_edge", "East", "win_rate", "2025-03", 0.5),  # K4 won, K6 lost
    _e("kpi_edge", "East", "quota_attainment", "2025-02", 3500 / 5000),  # the team's own target
    _e("kpi_edge", "East", "quota_attainment", "2025-03", 4.0),  # no team target: E2's 1000
    _e("kpi_edge", "East", "pipeline_coverage", "2025-02", 4800 / 5000),  # (K4 4000 + K6 800) / the team's 5000
    # item 11: East is past its March target (4000 of 1000) and still has a coverage: E2's K9 900 + K10 1500
    _e("kpi_edge", "East", "pipeline_coverage", "2025-03", 2400 / 1000),
    _e("kpi_edge", "East", "quota_attainment", "2025-Q1", 9500 / 8500),  # 2500 + 5000 (team) + 1000
    _e("kpi_edge", "East", "sales_cycle_days", "2025-02", 38),  # 50 and 26
    _e("kpi_edge", "East", "avg_deal_size", "2025-02", 1750),  # (3000 + 500) / 2
    _e("kpi_edge", "East", "calls_per_week", "2025-02", 7 / 42),  # E1 14 + E2 28 days
    _e("kpi_edge", "East", "new_customers", "2025-Q1", 3),  # B2, B3, B4
    _e("kpi_edge", "West", "win_rate", "2025-Q1", 0.0),
    _e("kpi_edge", "company", "win_rate", "2025-Q1", 4 / 7),  # K2 K3 K4 K5 won; K6 K7 K8 lost
    _e("kpi_edge", "company", "sales_cycle_days", "2025-Q1", 50.5),  # 26, 50, 51, 59
    _e("kpi_edge", "company", "lead_conversion", "2025-01", 1 / 3),  # N1, N2, N4
    _e("kpi_edge", "company", "pipeline_coverage", "2025-02", 5500 / 5000),  # + W1's K8 700; East's 5000
    _e("kpi_edge", "company", "revenue", "2025-Q1", 9500),  # K9 (won after the as-of day) left out
    _e("kpi_edge", "company", "deals_won", "2025-03", 1),
    _e("kpi_edge", "company", "retention_rate", "2025-01", 1.0),
    _e("kpi_edge", "company", "new_segment_revenue", "2025-02", 0.0),
    # ---------------------------------------------------------------- kpi_deals_only (no reps table)
    _e("kpi_deals_only", "X1", "revenue", "2025-01", 100),
    _e("kpi_deals_only", "X1", "win_rate", "2025-02", 0.0),
    _e("kpi_deals_only", "X2", "sales_cycle_days", "2025-02", 14),
    _e("kpi_deals_only", "Unassigned", "win_rate", "2025-02", 0.5, kind="team"),
    _e("kpi_deals_only", "X1", "leads", "2025-01", NA("no leads table")),
    _e("kpi_deals_only", "X1", "lead_conversion", "2025-01", NA("no leads table")),
    _e("kpi_deals_only", "X1", "calls_per_week", "2025-01", NA("no activities table")),
    _e("kpi_deals_only", "X1", "quota_attainment", "2025-01", NA("no targets table")),
    _e("kpi_deals_only", "X1", "pipeline_coverage", "2025-01", NA("no targets table")),
    _e("kpi_deals_only", "X1", "profit_margin", "2025-01", NA("the deals table has no cost values")),
    _e("kpi_deals_only", "X1", "units_sold", "2025-01", NA("the deals table has no units values")),
    _e("kpi_deals_only", "X1", "new_segment_revenue", "2025-01", NA("no segment values")),
    # ---------------------------------------------------------------- kpi_no_amounts
    _e("kpi_no_amounts", "S1", "deals_won", "2025-01", 2),
    _e("kpi_no_amounts", "S1", "win_rate", "2025-01", 1.0),
    _e("kpi_no_amounts", "S1", "sales_cycle_days", "2025-01", 15),  # 10 and 20
    _e("kpi_no_amounts", "S1", "lead_conversion", "2025-01", 2 / 3),
    _e("kpi_no_amounts", "S2", "lead_conversion", "2025-01", 1.0),  # M4 -> V3, won 2025-02-09
    _e("kpi_no_amounts", "S1", "revenue", "2025-01", NA("the deals table has no amount values")),
    _e("kpi_no_amounts", "S1", "avg_deal_size", "2025-01", NA("no amount values")),
]


@pytest.mark.parametrize(("fixture", "kind", "entity", "kpi", "period", "expected"), HAND)
def test_hand_value(
    tables: dict[str, KpiTable], fixture: str, kind: str, entity: str, kpi: str, period: str, expected: float | NA
) -> None:
    value, reason = tables[fixture].lookup(entity, kpi, period, kind)
    if isinstance(expected, NA):
        assert math.isnan(value), f"expected not available, got {value}"
        assert expected.why in reason
    else:
        assert reason == ""
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_every_kpi_has_a_hand_checked_value() -> None:
    """Adding a KPI to kpis.yaml without a hand-computed value here fails."""
    checked = {p.values[3] for p in HAND if not isinstance(p.values[5], NA)}
    missing = [k.name for k in registry() if k.name not in checked]
    assert not missing, f"add hand-computed values to HAND for {missing}"


def test_every_kpi_has_a_hand_checked_value_at_team_level_or_company() -> None:
    checked = {p.values[3] for p in HAND if p.values[1] != "rep" and not isinstance(p.values[5], NA)}
    assert {k.name for k in registry() if k.headline} <= checked


def test_every_measure_and_cohort_function_is_used() -> None:
    used: set[str] = set()
    for k in registry():
        used |= set(k.inputs)
    assert set(MEASURES) - used <= {"emails", "deals_lost", "active_days"} | used
    assert {k.function for k in registry() if k.type == "cohort"} == set(COHORT_FUNCTIONS) == set(COHORTS)


# ------------------------------------------------------------------------- shape of the table


def test_table_is_tidy_and_complete(tables: dict[str, KpiTable]) -> None:
    t = tables["tiny"]
    v = t.values
    assert list(v.columns) == [
        "entity_type",
        "entity_id",
        "team",
        "grain",
        "period",
        "period_end",
        "kpi",
        "value",
        "reason",
    ]
    n_entities = 3 + 2 + 1  # R1 R2 R3, North South, company
    assert len(v) == n_entities * len(t.grid.months) * len(registry()) * 4
    assert not v.duplicated(["entity_type", "entity_id", "grain", "period", "kpi"]).any()
    nan = v["value"].isna()
    assert (v.loc[nan, "reason"] != "").all(), "every missing value has a reason"
    assert (v.loc[~nan, "reason"] == "").all()
    assert set(v["grain"]) == {"month", "quarter", "ytd", "t12m"}
    assert set(v.loc[v["entity_type"] == "rep", "team"]) == {"North", "South"}
    assert set(v.loc[v["entity_type"] == "company", "entity_id"]) == {"company"}
    q = v[(v["grain"] == "quarter") & (v["entity_id"] == "R1") & (v["kpi"] == "revenue")]
    assert list(q["period"].iloc[-3:]) == ["2025-01-QTD", "2025-02-QTD", "2025-Q1"]
    assert list(q["period_end"].iloc[-3:]) == ["2025-01", "2025-02", "2025-03"]


def test_values_never_zero_for_missing_tables(tables: dict[str, KpiTable]) -> None:
    t = tables["kpi_deals_only"]
    assert set(t.unavailable) >= {"leads", "lead_conversion", "calls_per_week", "profit_margin", "units_sold"}
    v = t.values[t.values["kpi"].isin(list(t.unavailable))]
    assert v["value"].isna().all()
    assert (v["reason"] == v["kpi"].map(t.unavailable)).all()


def test_grid_reps_without_reps_table(tables: dict[str, KpiTable]) -> None:
    grid = tables["kpi_deals_only"].grid
    assert list(grid.reps) == ["X1", "X2"]
    assert list(grid.teams) == ["Unassigned"]


def test_as_of_defaults_to_last_event_and_cuts_later_events(tables: dict[str, KpiTable]) -> None:
    assert tables["kpi_no_amounts"].grid.as_of == pd.Timestamp("2025-02-09")
    edge = tables["kpi_edge"]
    assert str(edge.grid.months[-1]) == "2025-03"  # K9 closes in April, after the as-of day
    data = load_dataset(FIXTURES / "kpi_edge" / "source.yaml")
    later = compute_kpis(data)  # as of K9's close, 2025-04-10
    assert later.get("E2", "revenue", "2025-04") == 900
    assert later.get("E2", "lead_conversion", "2025-02") == 1.0  # N3 -> K9 now won
    early = compute_kpis(data, as_of=dt.date(2025, 2, 10))  # K5 (02-20) not won yet
    assert early.get("E2", "lead_conversion", "2025-01") == 0.0
    assert early.get("E2", "revenue", "2025-02") == 0.0
    assert early.get("E2", "calls_per_week", "2025-02") == 0.0
    assert early.get("E1", "calls_per_week", "2025-02") == pytest.approx(7 / 10)  # 10 days known


def test_lookup_before_the_data(tables: dict[str, KpiTable]) -> None:
    value, reason = tables["tiny"].lookup("R1", "revenue", "2023-12")
    assert math.isnan(value)
    assert reason == "the data starts in 2024-03"
    value, reason = tables["tiny"].lookup("R9", "revenue", "2025-03")
    assert math.isnan(value)
    assert "no rep 'R9'" in reason
    assert tables["tiny"].get("R1", "revenue", parse_period("2025-03")) == 4000


def test_unknown_grain_is_refused(tables: dict[str, KpiTable]) -> None:
    data = Dataset(tables={})
    with pytest.raises(ValueError, match="unknown grain"):
        compute_kpis(data, grains=("month", "fortnight"))


def test_only_some_grains(tables: dict[str, KpiTable]) -> None:
    data = load_dataset(FIXTURES / "tiny" / "source.yaml")
    t = compute_kpis(data, as_of=AS_OF["tiny"], grains=("month",))
    assert set(t.values["grain"]) == {"month"}
    assert t.get("R1", "win_rate", "2025-03") == pytest.approx(2 / 3)


def test_only_some_kpis_are_the_same_rows_as_among_all(tables: dict[str, KpiTable]) -> None:
    """kpis=: a scoped goal's KPI alone, each of its rows (values and reasons) as computed among all KPIs."""
    data = load_dataset(FIXTURES / "kpi_deals_only" / "source.yaml")
    every = tables["kpi_deals_only"]
    some = compute_kpis(data, as_of=AS_OF["kpi_deals_only"], kpis=["revenue", "lead_conversion"])
    assert set(some.values["kpi"].astype(str)) == {"revenue", "lead_conversion"}
    assert list(some.unavailable) == ["lead_conversion"]
    cols = ["entity_type", "entity_id", "grain", "period", "period_end", "kpi", "value", "reason"]

    def rows(table: KpiTable) -> pd.DataFrame:
        frame = table.values[table.values["kpi"].isin(["revenue", "lead_conversion"])][cols].astype(str)
        return frame.sort_values(cols).reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(some), rows(every))
    assert some.get("X1", "revenue", "2025-01") == pytest.approx(100)


def test_empty_data_set() -> None:
    t = compute_kpis(Dataset(tables={}), as_of=dt.date(2025, 1, 31))
    assert len(t.grid.months) == 1
    assert set(t.values["entity_type"]) == {"company"}
    assert t.values["value"].isna().all()
    assert t.unavailable["revenue"] == "the data source has no deals table"


# ------------------------------------------------------------------------- inline edge cases


def _frames(**csv: str) -> Dataset:
    tables = {}
    for name, text in csv.items():
        frame = pd.read_csv(pd.io.common.StringIO(textwrap.dedent(text).strip() + "\n"), dtype=str)
        for col in frame.columns:
            if col.endswith("date"):
                frame[col] = pd.to_datetime(frame[col])
            elif col in ("amount", "cost", "units", "target"):
                frame[col] = pd.to_numeric(frame[col])
        tables[name] = frame
    return Dataset(tables=tables)


def test_deals_of_reps_missing_from_the_reps_table_still_count_for_the_company() -> None:
    data = _frames(
        reps="""
            rep_id,team
            A,T
        """,
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-01,2025-01-05,won,10
            2,ghost,c2,2025-01-01,2025-01-06,won,5
        """,
    )
    t = compute_kpis(data)
    assert list(t.grid.reps) == ["A", "ghost"]
    assert t.get("ghost", "revenue", "2025-01") == 5
    assert t.get("Unassigned", "revenue", "2025-01", "team") == 5
    assert t.get("company", "revenue", "2025-01", "company") == 15


def test_duplicate_targets_add_up_and_strings_dates_are_parsed() -> None:
    data = _frames(
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-01,2025-01-05,won,300
        """,
        targets="""
            rep_id,team,period,metric,target
            A,,2025-01,revenue,400
            A,,2025-01,revenue,200
            A,,2025-01,deals_won,3
        """,
    )
    data.tables["deals"]["close_date"] = data.tables["deals"]["close_date"].dt.strftime("%Y-%m-%d")
    t = compute_kpis(data)
    assert t.get("A", "quota_attainment", "2025-01") == pytest.approx(0.5)


def test_won_deal_without_close_date_or_account() -> None:
    data = _frames(
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,,2025-01-01,2025-01-05,won,300
            2,A,c1,2025-01-01,,won,100
            3,A,c1,2025-01-02,2025-01-09,won,50
        """,
    )
    t = compute_kpis(data)
    assert t.get("A", "revenue", "2025-01") == 350  # the deal without a close date has no month
    assert t.get("A", "deals_won", "2025-01") == 2


def test_new_segment_after_a_year_of_history() -> None:
    rows = ["deal_id,rep_id,account_id,segment,created_date,close_date,stage,amount"]
    rows += [f"{i},A,c{i},Old,2024-{i:02d}-01,2024-{i:02d}-02,won,1" for i in range(1, 13)]
    rows += ["20,A,n1,New,2025-01-01,2025-01-10,won,70", "21,A,n2,New,2026-01-01,2026-01-10,won,90"]
    rows += ["22,A,o1,Old,2025-01-01,2025-01-11,won,5"]
    data = _frames(deals="\n".join(rows))
    t = compute_kpis(data)
    assert t.get("A", "new_segment_revenue", "2025-01") == 70
    assert t.get("A", "new_segment_revenue", "2026-01") == 0  # New won first 12 months earlier
    assert t.get("A", "new_segment_revenue", "2025-12-T12M") == 70
    assert math.isnan(t.get("A", "new_segment_revenue", "2025-01-T12M"))  # the span starts in 2024-02
    assert t.get("A", "new_customers", "2025-01") == 2  # n1, o1
    assert t.get("A", "repeat_business", "2025-01") == 0
    assert math.isnan(t.get("A", "new_customers", "2024-12"))


def test_team_target_only_counts_for_the_company() -> None:
    data = _frames(
        reps="""
            rep_id,team
            A,T
            B,U
        """,
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-01,2025-01-05,won,300
            2,B,c2,2025-01-01,2025-01-05,won,100
        """,
        targets="""
            team,period,metric,target
            T,2025-01,revenue,600
        """,
    )
    t = compute_kpis(data)
    assert t.get("T", "quota_attainment", "2025-01", "team") == 0.5
    assert math.isnan(t.get("U", "quota_attainment", "2025-01", "team"))
    assert t.get("company", "quota_attainment", "2025-01", "company") == pytest.approx(400 / 600)
    assert math.isnan(t.get("A", "quota_attainment", "2025-01"))


def test_boolean_qualified_column() -> None:
    data = _frames(
        leads="""
            lead_id,rep_id,created_date,qualified
            1,A,2025-01-01,x
            2,A,2025-01-02,x
        """,
    )
    data.tables["leads"]["qualified"] = pd.array([True, None], dtype="boolean")
    t = compute_kpis(data)
    assert t.get("A", "lead_quality", "2025-01") == 0.5
    assert t.unavailable["lead_conversion"] == "the data source has no deals table"


def test_retention_lapses_after_twelve_months() -> None:
    # c1 buys in 2024-01 and 2025-03: active Jan-Dec 2024, inactive Jan-Feb 2025, active again in March
    rows = ["deal_id,rep_id,account_id,created_date,close_date,stage,amount"]
    rows += ["1,A,c1,2024-01-01,2024-01-05,won,1", "2,A,c2,2024-06-01,2024-06-05,won,1"]
    rows += ["3,A,c1,2025-03-01,2025-03-05,won,1", "4,A,c2,2025-05-01,2025-05-05,won,1"]
    t = compute_kpis(_frames(deals="\n".join(rows)), as_of=dt.date(2025, 6, 30))
    assert t.get("A", "retention_rate", "2025-01") == 0.5  # S = {c1, c2}; c1 lapses at the end of Jan
    assert t.get("A", "retention_rate", "2025-02") == 1.0  # S = {c2}
    assert t.get("A", "retention_rate", "2025-03") == 1.0  # S = {c2}; c1 comes back but is not in S
    assert t.get("A", "retention_rate", "2025-02-QTD") == 0.5  # S at the end of 2024 = {c1, c2}
    assert t.get("A", "retention_rate", "2025-Q1") == 1.0  # c1 is active again at the end of March
    assert t.get("A", "retention_rate", "2025-06") == 1.0  # S = {c1 (2025-03), c2 (2025-05)}
    assert t.get("A", "retention_rate", "2025-06-YTD") == 1.0
    assert np.isnan(t.get("A", "retention_rate", "2024-12"))


def test_as_of_before_the_data_counts_nothing() -> None:
    t = compute_kpis(load_dataset(FIXTURES / "tiny" / "source.yaml"), as_of=dt.date(2020, 1, 31))
    assert [str(m) for m in t.grid.months] == ["2024-03"]
    value, reason = t.lookup("company", "revenue", "2024-03", "company")
    assert math.isnan(value)
    assert reason == "not employed in this period"
    assert (t.values["value"].isna()).all()


# ------------------------------------------------------------------------- the benchmark, on a toy scale


def test_kpi_benchmark_runs_and_caches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from salesreports.bench.kpis import main

    args = ["--scale", "0.05", "--months", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "generating" in first
    assert "compute" in first
    result = json.loads((tmp_path / "kpis.json").read_text(encoding="utf-8"))
    assert result["met"] == {"load_and_compute_seconds": True, "compute_seconds": True, "peak_rss_bytes": True}
    assert result["seconds"]["baseline_pyarrow_read"] > 0  # measured in the same run, in a child
    assert "x the baseline" in first
    assert result["grid"]["kpis"] == len(registry())
    assert result["data"]["rows"]["deals"] > 0
    assert result["data"]["loader"] == "dataset"  # the product's loader, with the engine's columns
    assert main([*args, "--loader", "pyarrow", "--profile"]) == 0
    second = capsys.readouterr().out
    assert "reusing" in second
    assert "cumulative" in second
    assert main(["--no-such-option"]) == 2


def test_deals_without_created_date_are_kept_and_left_out_of_the_sales_cycle_only() -> None:
    """Open deal 3 has no created date: it is open as of the data's date (2025-03), so it counts in March's
    pipeline (800 + 400 = 1200 over the 1000 target), not February's. Won deal 2 has none
    either: revenue counts it, the sales cycle leaves it out (only deal 1's 10 days)."""
    data = _frames(
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-03-01,2025-03-11,won,100
            2,A,c2,,2025-03-20,won,200
            3,A,c3,,,open,800
            4,A,c4,2025-02-10,,open,400
        """,
        targets="""
            rep_id,period,metric,target
            A,2025-02,revenue,1000
            A,2025-03,revenue,1000
        """,
    )
    t = compute_kpis(data, as_of=dt.date(2025, 3, 31))
    assert t.get("A", "revenue", "2025-03") == 300
    assert t.get("A", "deals_won", "2025-03") == 2
    assert t.get("A", "sales_cycle_days", "2025-03") == 10
    assert t.get("A", "pipeline_coverage", "2025-03") == pytest.approx(1200 / 1000)
    assert t.get("A", "pipeline_coverage", "2025-02") == pytest.approx(400 / 1000)


def test_months_after_a_tables_last_event_are_not_available_rather_than_zero() -> None:
    """A leads export that stops in February (deals go on to April): March and April have no lead data."""
    data = _frames(
        reps="""
            rep_id,team
            A,T
        """,
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-01,2025-01-05,won,10
            2,A,c2,2025-02-01,2025-04-06,won,5
        """,
        leads="""
            lead_id,rep_id,created_date,converted_deal_id
            L1,A,2025-01-02,1
            L2,A,2025-02-10,
            L3,A,2025-02-11,
        """,
    )
    t = compute_kpis(data)
    assert t.get("A", "leads", "2025-02") == 2
    for period in ("2025-03", "2025-04", "2025-04-QTD"):
        value, reason = t.lookup("A", "leads", period)
        assert math.isnan(value) and reason == "the leads data ends in February 2025", period
    assert math.isnan(t.get("A", "lead_conversion", "2025-03"))
    assert t.get("A", "leads", "2025-04-YTD") == 3  # a span that holds lead months counts them
    assert t.get("A", "lead_conversion", "2025-04-YTD") == pytest.approx(1 / 3)
    assert t.get("A", "revenue", "2025-04") == 5  # the deals go on
    assert math.isnan(t.get("company", "leads", "2025-03"))  # for the company too


def test_an_open_deals_expected_close_date_does_not_extend_the_data() -> None:
    """A CRM export lists open deals with the day they are expected to close: that day has not happened."""
    data = _frames(
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-01,2025-02-05,won,10
            2,A,c2,2025-02-01,2025-09-30,open,5
        """,
    )
    t = compute_kpis(data)
    assert str(t.grid.months[-1]) == "2025-02"
    assert t.get("A", "open_pipeline", "2025-02") == 5


def test_item9_outsized_amounts_never_poison_other_periods() -> None:
    """1e308 twice in February overflows a naive sum; 'inf' in May. Neither reaches any other span.

    Running totals (cumulative sums and their differences) would turn every later span into inf - inf = NaN.
    B's deal in 2024-01 gives the data the year of history repeat business needs.
    """
    data = _frames(
        reps="""
            rep_id,team
            A,T
            B,U
        """,
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            1,A,c1,2025-01-02,2025-01-10,won,100
            2,A,c2,2025-02-01,2025-02-10,won,1e308
            3,A,c3,2025-02-01,2025-02-11,won,1e308
            4,A,c4,2025-03-01,2025-03-10,won,50
            5,A,c1,2025-04-01,2025-04-10,won,30
            6,A,c5,2025-05-01,2025-05-10,won,inf
            7,A,c1,2025-06-01,2025-06-10,won,7
            8,A,c1,2026-03-01,2026-03-10,won,10
            9,A,c6,2025-01-05,,open,20
            10,A,c7,2025-02-03,2025-03-20,lost,1e308
            11,B,c8,2025-02-01,2025-02-15,won,40
            12,B,c9,2024-01-01,2024-01-15,won,1
        """,
        targets="""
            rep_id,team,period,metric,target
            A,,2025-03,revenue,200
            A,,2025-04,revenue,1e300
        """,
    )
    t = compute_kpis(data, as_of=dt.date(2026, 6, 30))
    assert not np.isinf(t.values["value"]).any()
    nan = t.values[t.values["value"].isna()]
    assert (nan["reason"] != "").all()  # every missing value says why

    def na(entity: str, kpi: str, period: str, kind: str = "rep") -> str:
        value, reason = t.lookup(entity, kpi, period, kind)
        assert math.isnan(value), (entity, kpi, period, value)
        return reason

    # the bad months themselves: not available, saying why (never inf, never a silent 0 or NaN)
    for kpi in ("revenue", "avg_deal_size", "repeat_business"):
        assert "beyond the data's limit (`max_amount`)" in na("A", kpi, "2025-02")
    assert "max_amount" in na("A", "revenue", "2025-05")
    assert "max_amount" in na("A", "quota_attainment", "2025-04")  # an outsized target
    assert "max_amount" in na("A", "open_pipeline", "2025-02")  # the outsized deal is open at February's end
    # every other month keeps its own value (hand sums)
    assert t.get("A", "revenue", "2025-01") == 100
    assert t.get("A", "revenue", "2025-03") == 50
    assert t.get("A", "revenue", "2025-04") == 30
    assert t.get("A", "revenue", "2025-06") == 7
    assert t.get("A", "deals_won", "2025-02") == 2  # counts are not amounts
    assert t.get("A", "quota_attainment", "2025-03") == pytest.approx(50 / 200)
    assert t.get("A", "open_pipeline", "2025-01") == 20
    assert t.get("A", "open_pipeline", "2025-03") == 20  # the outsized deal was lost in March
    assert t.get("A", "open_pipeline", "2025-04") == 20
    # spans: only those containing February or May are not available
    assert "max_amount" in na("A", "revenue", "2025-Q1")
    assert "max_amount" in na("A", "revenue", "2025-04-YTD")
    assert "max_amount" in na("A", "revenue", "2026-01-T12M")  # 2025-02 .. 2026-01
    assert t.get("A", "revenue", "2025-04-QTD") == 30
    assert "max_amount" in na("A", "revenue", "2025-Q2")  # holds May
    assert t.get("A", "revenue", "2026-03-YTD") == 10
    assert "max_amount" in na("A", "revenue", "2026-03-T12M")  # 2025-04 .. 2026-03 holds May
    assert t.get("A", "revenue", "2026-06-T12M") == 10  # 2025-07 .. 2026-06
    assert t.get("A", "repeat_business", "2025-06") == 1.0
    # other reps and teams are untouched; the team and company holding the deal are not available
    assert t.get("B", "revenue", "2025-02") == 40
    assert t.get("U", "revenue", "2025-02", "team") == 40
    assert "max_amount" in na("T", "revenue", "2025-02", "team")
    assert "max_amount" in na("company", "revenue", "2025-02", "company")
    assert t.get("company", "revenue", "2025-03", "company") == 50


def test_item9_the_limit_is_the_sources_max_amount() -> None:
    csv = """
        deal_id,rep_id,account_id,created_date,close_date,stage,amount
        1,A,c1,2025-01-02,2025-01-10,won,700
        2,A,c2,2025-02-01,2025-02-10,won,300
    """
    data = _frames(deals=csv)
    assert compute_kpis(data).get("A", "revenue", "2025-01") == 700  # the default limit is 1e12
    data.max_amount = 500
    t = compute_kpis(data)
    assert math.isnan(t.get("A", "revenue", "2025-01"))
    assert t.get("A", "revenue", "2025-02") == 300


def test_item11_pipeline_coverage_near_or_past_the_target() -> None:
    """Three reps with an 89,300 target and 634,800 open: 90 short, exactly on target, past it.

    By hand: 634,800 / 89,300 = 7.1086 for each (the old "target still to reach" gave 634,800 / 90 = 7,053x
    for A and nothing for B and C); the team median is over all three reps.
    """
    deals = ["deal_id,rep_id,account_id,created_date,close_date,stage,amount"]
    for rep, won in (("A", 89_210), ("B", 89_300), ("C", 120_000)):
        deals += [
            f"{rep}1,{rep},a{rep},2025-03-01,2025-03-20,won,{won}",
            f"{rep}2,{rep},b{rep},2025-03-02,,open,634800",
        ]
    targets = ["rep_id,period,metric,target", *(f"{r},2025-03,revenue,89300" for r in "ABC")]
    data = _frames(reps="rep_id,team\nA,T\nB,T\nC,T", deals="\n".join(deals), targets="\n".join(targets))
    t = compute_kpis(data, as_of=dt.date(2025, 3, 31))
    for rep in "ABC":
        assert t.get(rep, "pipeline_coverage", "2025-03") == pytest.approx(634_800 / 89_300)
    assert t.get("T", "pipeline_coverage", "2025-03", "team") == pytest.approx(3 * 634_800 / (3 * 89_300))
    month = t.values[(t.values["kpi"] == "pipeline_coverage") & (t.values["period"] == "2025-03")]
    assert month[month["entity_type"] == "rep"]["value"].notna().all()  # nobody drops out of the median


def test_item11_retention_a_lapsed_customer_who_returns_is_not_retained() -> None:
    """June 2025, active = a won deal in the trailing 12 months. By hand:

    a: won 2025-01: active at the start (end of May) and at the end (end of June): kept.
    b: won 2024-06 only: active at the start (2024-06 .. 2025-05), lapsed by the end (2024-07 .. 2025-06).
    c: won 2023-03, lapsed long ago, won back in 2025-06: active at the end, not at the start.
    d: first won deal in 2025-06: a new customer.
    S = {a, b} = 2, E = {a, c, d} = 3, N = E not in S = {c, d} = 2: (E - N) / S = 1 / 2.
    (N as first-time customers only, {d}, would give (3 - 1) / 2 = 100% although b was lost.)
    """
    rows = ["deal_id,rep_id,account_id,created_date,close_date,stage,amount"]
    rows += ["1,A,c,2023-03-01,2023-03-05,won,1", "2,A,b,2024-06-01,2024-06-05,won,1"]
    rows += ["3,A,a,2025-01-01,2025-01-05,won,1", "4,A,c,2025-06-01,2025-06-05,won,1"]
    rows += ["5,A,d,2025-06-01,2025-06-06,won,1"]
    t = compute_kpis(_frames(deals="\n".join(rows)), as_of=dt.date(2025, 6, 30))
    assert t.get("A", "retention_rate", "2025-06") == 0.5
    assert t.get("A", "new_customers", "2025-06") == 1  # d only: c is not new, and not retained either
    assert "N those active at the end but not at the start" in registry().get("retention_rate").description


def test_item11_new_segment_means_twelve_calendar_months_not_days() -> None:
    """Segment New's first won deal closes on 2025-01-31. By calendar month (the definition): a deal closing
    2025-12-01 (month 11 after, 304 days) is new-segment revenue; one closing 2026-01-01 (month 12 after, only
    335 days, so "within 365 days" would count it) is not. Old was first won in 2024-01, 12 months before."""
    rows = ["deal_id,rep_id,account_id,segment,created_date,close_date,stage,amount"]
    rows += ["1,A,o1,Old,2024-01-01,2024-01-02,won,1", "2,A,n1,New,2025-01-01,2025-01-31,won,70"]
    rows += ["3,A,n2,New,2025-11-01,2025-12-01,won,40", "4,A,n3,New,2025-12-01,2026-01-01,won,25"]
    t = compute_kpis(_frames(deals="\n".join(rows)), as_of=dt.date(2026, 1, 31))
    assert t.get("A", "new_segment_revenue", "2025-01") == 70
    assert t.get("A", "new_segment_revenue", "2025-12") == 40
    assert t.get("A", "new_segment_revenue", "2026-01") == 0
    assert t.get("A", "new_segment_revenue", "2026-01-T12M") == 40  # 2025-02 .. 2026-01: the December deal
    assert "calendar month" in registry().get("new_segment_revenue").description


def test_item11_lead_conversion_latest_months_are_still_maturing() -> None:
    """Leads L1-L3 converted in 30, 40 and 50 days: the median lead-to-sale time is 40 days. As of 2025-06-30,
    June's leads have had 0 (created on the 30th) to 29 days, May's 30 to 60: both under 40, still maturing;
    April's youngest have had 61 days: mature. The values stay (what converted so far), with the months marked."""
    data = _frames(
        deals="""
            deal_id,rep_id,account_id,created_date,close_date,stage,amount
            D1,A,c1,2025-01-10,2025-02-09,won,10
            D2,A,c2,2025-02-01,2025-03-13,won,10
            D3,A,c3,2025-03-01,2025-04-20,won,10
        """,
        leads="""
            lead_id,rep_id,created_date,converted_deal_id
            L1,A,2025-01-10,D1
            L2,A,2025-02-01,D2
            L3,A,2025-03-01,D3
            L4,A,2025-04-01,
            L5,A,2025-05-05,
            L6,A,2025-06-10,
        """,
    )
    t = compute_kpis(data, as_of=dt.date(2025, 6, 30))
    assert t.maturing == {"lead_conversion": {"days": 40, "months": {"2025-05": [30, 60], "2025-06": [0, 29]}}}
    assert t.get("A", "lead_conversion", "2025-06") == 0.0  # shown, not hidden: pages add the note
    assert t.get("A", "lead_conversion", "2025-03") == 1.0
    assert t.get("A", "lead_conversion", "2025-04") == 0.0  # mature: L4 had 90 days and did not convert


def test_item11_no_conversions_no_maturity_claim() -> None:
    data = _frames(
        deals="deal_id,rep_id,account_id,created_date,close_date,stage,amount\nD1,A,c1,2025-01-10,2025-02-09,won,10",
        leads="lead_id,rep_id,created_date,converted_deal_id\nL1,A,2025-01-10,",
    )
    assert compute_kpis(data, as_of=dt.date(2025, 6, 30)).maturing == {}


def test_first_positions_with_arrow_text_and_with_python_objects() -> None:
    """Each value's first position among the keys (-1 when absent or missing), by both paths alike."""
    from salesreports.metrics.engine import _first_positions

    keys = ["D1", "D2", "D1", "D3"]
    values = ["D1", "D3", "D9", None, "D2"]
    expected = [0, 3, -1, -1, 1]
    text = pd.Series(values, dtype="str")
    assert text.dtype.storage == "pyarrow"
    arrow = _first_positions(text, pd.Series(keys, dtype="str"))
    assert arrow.tolist() == expected
    plain = _first_positions(pd.Series(values, dtype=object), pd.Series(keys, dtype=object))
    assert plain.tolist() == expected


@pytest.mark.parametrize("grains", [("month", "quarter", "ytd", "t12m"), ("quarter",)])
def test_tidy_table_text_columns_follow_the_blocks(grains: tuple[str, ...]) -> None:
    """The text columns (built from codes) name each row's entity, grain, month and KPI, in block order."""
    table = compute_kpis(load_dataset(FIXTURES / "tiny" / "source.yaml"), grains=grains)
    v, grid = table.values, table.grid
    ids = [*map(str, grid.reps), *map(str, grid.teams), "company"]
    kinds = ["rep"] * len(grid.reps) + ["team"] * len(grid.teams) + ["company"]
    teams = [*(str(grid.teams[i]) for i in grid.rep_team), *map(str, grid.teams), ""]
    months = [str(m) for m in grid.months]
    names = [k.name for k in registry()]
    rows = [
        (kind, ident, team, grain, month, kpi)
        for grain in grains
        for kpi in names
        for kind, ident, team in zip(kinds, ids, teams, strict=True)
        for month in months
    ]
    expected = pd.DataFrame(rows, columns=["entity_type", "entity_id", "team", "grain", "period_end", "kpi"])
    pd.testing.assert_frame_equal(v[expected.columns].astype("str"), expected)
    # labels compared for equality only are categoricals of sorted text; the months (compared by order) are text
    labels = ["entity_type", "entity_id", "team", "grain", "kpi", "reason"]
    assert all(isinstance(v[c].dtype, pd.CategoricalDtype) for c in labels)
    assert all(str(v[c].cat.categories.dtype) == "str" and v[c].cat.categories.is_monotonic_increasing for c in labels)
    assert all(str(v[c].dtype) == "str" for c in ["period", "period_end"])
    assert set(v.loc[v["value"].isna(), "reason"]) and not (v.loc[v["value"].isna(), "reason"] == "").any()
