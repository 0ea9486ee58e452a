"""Independent cross-check: KPIs per rep-month from plain DuckDB SQL over the raw CSV files equal the engine's.

The SQL here never touches salesreports' loader, mapping or engine: it reads the files as they are on disk
and states each KPI's definition again in SQL. Checked per rep and month over the whole grid:

- revenue (sum of won amounts by close month), win rate (won / (won + lost) by close month),
  average deal size (revenue / won) and lead-to-sale conversion (leads created in the month whose deal
  was won by the as-of day), on a generated demo data set (6 months);
- the same on the shared real data sets through their mappings (``params/sources/northwind.yaml``,
  ``params/sources/olist.yaml``), with the raw files in ``../shared/datasets``.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from salesreports.data.loading import load_dataset
from salesreports.metrics.engine import KpiTable, compute_kpis

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
# rep-months the engine leaves out: outside the hire/leave dates, or (no hire date) before the rep's first deal,
# lead or activity. What they hide must be empty in the raw data (checked in _check_all).
NOT_EMPLOYED = ("not employed in this period", "no deal, lead or activity of this rep by this period")


def _engine(table: KpiTable, kpi: str) -> pd.DataFrame:
    v = table.values
    v = v[(v["entity_type"] == "rep") & (v["grain"] == "month") & (v["kpi"] == kpi)]
    return v.set_index(["entity_id", "period"])[["value", "reason"]]


def _expected(table: KpiTable, sql: pd.DataFrame, rep_month: list[str], columns: list[str]) -> pd.DataFrame:
    """SQL results on the engine's full rep x month grid; rep-months without rows get 0 counts."""
    grid = pd.MultiIndex.from_product([list(table.grid.reps), [str(m) for m in table.grid.months]], names=rep_month)
    frame = sql.assign(**{c: sql[c].astype(str) for c in rep_month}).set_index(rep_month)[columns]
    assert frame.index.isin(grid).all(), f"SQL rows off the engine's grid: {frame.index[~frame.index.isin(grid)][:5]}"
    return frame.reindex(grid).fillna(0.0)


def _assert_same(table: KpiTable, kpi: str, expected: pd.Series, *, zero_is_missing: bool = False) -> int:
    """Compare per rep-month; returns how many non-missing values were compared."""
    got = _engine(table, kpi).reindex(expected.index)
    employed = ~got["reason"].isin(NOT_EMPLOYED)
    want = expected[employed].to_numpy(dtype=float)
    have = got["value"][employed].to_numpy(dtype=float)
    both_nan = np.isnan(want) & np.isnan(have)
    close = np.isclose(have, want, rtol=1e-9, atol=1e-6) | both_nan
    bad = expected[employed].index[~close]
    assert close.all(), f"{kpi}: {len(bad)} rep-months differ, e.g. {list(bad[:3])}: " + str(
        pd.DataFrame({"sql": want[~close][:3], "engine": have[~close][:3]})
    )
    return int((~np.isnan(have)).sum())


def _deal_sql(con: duckdb.DuckDBPyConnection, deals: str, as_of: dt.date) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT rep, month,
               coalesce(sum(amount) FILTER (WHERE stage = 'won'), 0) AS revenue,
               count(*) FILTER (WHERE stage = 'won') AS won,
               count(*) FILTER (WHERE stage = 'lost') AS lost
        FROM ({deals})
        WHERE close_date IS NOT NULL AND CAST(close_date AS DATE) <= DATE '{as_of}'
        GROUP BY ALL
        """
    ).df()


def _lead_sql(con: duckdb.DuckDBPyConnection, leads: str, deals: str, as_of: dt.date) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT l.rep, l.month, count(*) AS leads, count(w.deal_id) AS converted
        FROM ({leads}) l
        LEFT JOIN (SELECT deal_id FROM ({deals})
                   WHERE stage = 'won' AND CAST(close_date AS DATE) <= DATE '{as_of}') w
               ON l.converted_deal_id = w.deal_id
        WHERE CAST(l.created_date AS DATE) <= DATE '{as_of}'
        GROUP BY ALL
        """
    ).df()


def _check_all(table: KpiTable, deals: pd.DataFrame, leads: pd.DataFrame | None) -> dict[str, int]:
    keys = ["rep", "month"]
    d = _expected(table, deals, keys, ["revenue", "won", "lost"])
    with np.errstate(divide="ignore", invalid="ignore"):
        win = d["won"] / (d["won"] + d["lost"])
        avg = d["revenue"] / d["won"]
    counts = {}
    if "revenue" not in table.unavailable:
        counts["revenue"] = _assert_same(table, "revenue", d["revenue"])
        counts["avg_deal_size"] = _assert_same(table, "avg_deal_size", avg.where(d["won"] > 0))
    counts["win_rate"] = _assert_same(table, "win_rate", win.where(d["won"] + d["lost"] > 0))
    counts["deals_won"] = _assert_same(table, "deals_won", d["won"])
    if leads is not None:
        lead = _expected(table, leads, keys, ["leads", "converted"])
        with np.errstate(divide="ignore", invalid="ignore"):
            conv = (lead["converted"] / lead["leads"]).where(lead["leads"] > 0)
        counts["lead_conversion"] = _assert_same(table, "lead_conversion", conv)
    # what a rep-month hides as "not employed" must be empty in the raw data too (nothing silently lost)
    hidden = _engine(table, "revenue")["reason"].isin(NOT_EMPLOYED)
    idx = hidden[hidden].index
    assert (d.reindex(idx)[["won", "lost"]].to_numpy() == 0).all(), "deals closed by reps while not employed"
    return counts


# ------------------------------------------------------------------------- generated demo data


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    demo = pytest.importorskip("salesreports.data.demo")
    if not hasattr(demo, "generate_demo"):
        pytest.skip("salesreports.data.demo.generate_demo is not written yet")
    out = tmp_path_factory.mktemp("crosscheck") / "demo"
    demo.generate_demo(out, seed=11, scale=0.2, end_month="2026-10", months=6, fmt="csv")
    source = out.parent / "source.yaml"
    tables = "\n".join(f"  {t}: {{file: demo/{t}.csv}}" for t in ("reps", "deals", "leads", "activities", "targets"))
    source.write_text(f"name: crosscheck\nbase_dir: .\ntables:\n{tables}\n", encoding="utf-8")
    return out


def test_demo_matches_sql(demo_dir: Path) -> None:
    as_of = dt.date(2026, 10, 31)
    table = compute_kpis(load_dataset(demo_dir.parent / "source.yaml"), as_of=as_of)
    con = duckdb.connect()
    deals = (
        f"SELECT deal_id, rep_id AS rep, strftime(close_date, '%Y-%m') AS month, stage, amount, close_date "
        f"FROM read_csv('{demo_dir / 'deals.csv'}')"
    )
    leads = (
        f"SELECT rep_id AS rep, strftime(created_date, '%Y-%m') AS month, created_date, converted_deal_id "
        f"FROM read_csv('{demo_dir / 'leads.csv'}')"
    )
    counts = _check_all(table, _deal_sql(con, deals, as_of), _lead_sql(con, leads, deals, as_of))
    assert min(counts.values()) > 100, counts
    # company totals, straight from SQL
    total = con.execute(
        f"SELECT strftime(close_date, '%Y-%m') AS m, sum(amount) FROM ({deals}) WHERE stage = 'won' GROUP BY 1"
    ).fetchall()
    for month, revenue in total:
        assert table.get("company", "revenue", month, "company") == pytest.approx(revenue, rel=1e-12)


# ------------------------------------------------------------------------- shared real data sets


def _source(name: str) -> Path:
    path = ROOT / "params" / "sources" / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"params/sources/{name}.yaml (the {name} mapping) is not written yet")
    return path


def _raw(folder: str) -> Path:
    path = DATASETS / folder
    if not path.is_dir():
        pytest.skip(f"the shared data set {path} is not available")
    return path


def test_northwind_matches_sql() -> None:
    source = _source("northwind")
    raw = _raw("northwind-orders")
    table = compute_kpis(load_dataset(source))
    as_of = table.grid.as_of.date()
    assert as_of == dt.date(1998, 5, 6)
    con = duckdb.connect()
    # orders.csv: 176 rows have an unquoted comma in the ship address; their first 8 fields are valid
    con.execute(
        f"""
        CREATE VIEW orders AS
        SELECT orderID, CAST(employeeID AS VARCHAR) AS employeeID, CAST(orderDate AS TIMESTAMP) AS orderDate
        FROM read_csv('{raw / "orders.csv"}', strict_mode = false, null_padding = true, all_varchar = true)
        """
    )
    con.execute(
        f"""
        CREATE VIEW lines AS
        SELECT CAST(orderID AS VARCHAR) AS orderID, sum(unitPrice * quantity * (1 - discount)) AS net
        FROM read_csv('{raw / "order-details.csv"}') GROUP BY 1
        """
    )
    deals = (
        "SELECT o.orderID AS deal_id, o.employeeID AS rep, strftime(o.orderDate, '%Y-%m') AS month, "
        "'won' AS stage, l.net AS amount, o.orderDate AS close_date FROM orders o LEFT JOIN lines l USING (orderID)"
    )
    assert con.execute("SELECT count(*) FROM orders").fetchone() == (830,)
    assert con.execute(f"SELECT round(sum(amount), 2) FROM ({deals})").fetchone() == (1265793.04,)
    counts = _check_all(table, _deal_sql(con, deals, as_of), None)
    assert counts["revenue"] > 150, counts
    assert table.get("company", "revenue", "1998-05-T12M", "company") == pytest.approx(
        con.execute(f"SELECT sum(amount) FROM ({deals}) WHERE close_date >= DATE '1997-06-01'").fetchone()[0]
    )
    value, reason = table.lookup("1", "lead_conversion", "1997-10")
    assert math.isnan(value)
    assert reason == "the data source has no leads table"


def test_olist_matches_sql() -> None:
    source = _source("olist")
    raw = _raw("olist-marketing-funnel")
    data = load_dataset(source)
    table = compute_kpis(data)
    as_of = table.grid.as_of.date()
    con = duckdb.connect()
    closed = f"read_csv('{raw / 'olist_closed_deals_dataset.csv'}')"
    mqls = f"read_csv('{raw / 'olist_marketing_qualified_leads_dataset.csv'}')"
    deals = (
        f"SELECT mql_id AS deal_id, sr_id AS rep, strftime(won_date, '%Y-%m') AS month, 'won' AS stage, "
        f"NULL AS amount, won_date AS close_date FROM {closed}"
    )
    unassigned = data.unassigned_rep or "unassigned"
    leads = (
        f"SELECT coalesce(c.sr_id, '{unassigned}') AS rep, strftime(m.first_contact_date, '%Y-%m') AS month, "
        f"m.first_contact_date AS created_date, c.mql_id AS converted_deal_id "
        f"FROM {mqls} m LEFT JOIN {closed} c USING (mql_id)"
    )
    counts = _check_all(table, _deal_sql(con, deals, as_of), _lead_sql(con, leads, deals, as_of))
    assert counts["lead_conversion"] > 20, counts
    assert table.unavailable["revenue"] == "the deals table has no amount values"
    total = con.execute(f"SELECT count(*), count(converted_deal_id) FROM ({leads})").fetchone()
    assert total == (8000, 842)
    ytd = table.get("company", "lead_conversion", "2018-05-YTD", "company")
    sql = con.execute(
        f"SELECT count(converted_deal_id) / count(*) FROM ({leads}) WHERE created_date >= DATE '2018-01-01'"
    ).fetchone()[0]
    assert ytd == pytest.approx(sql)
