"""The two shared real data sets, loaded through params/sources/*.yaml and checked against the raw files.

Every expected number is computed here, independently, with the plain ``csv`` module over the raw files.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest

from salesreports.data.loading import Dataset, load_dataset
from salesreports.data.validate import Report, check

ROOT = Path(__file__).parents[1]
SHARED = Path(__file__).parents[2] / "shared" / "datasets"
NORTHWIND = SHARED / "northwind-orders"
OLIST = SHARED / "olist-marketing-funnel"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the shared public data sets are not checked out beside the repo ({SHARED})"
)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _records(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def northwind() -> tuple[Dataset, Report]:
    data = load_dataset(ROOT / "params" / "sources" / "northwind.yaml")
    return data, check(data, today=dt.date(2026, 11, 1))


@pytest.fixture(scope="module")
def olist() -> tuple[Dataset, Report]:
    data = load_dataset(ROOT / "params" / "sources" / "olist.yaml")
    return data, check(data, today=dt.date(2026, 11, 1))


@pytest.fixture(scope="module")
def northwind_orders() -> dict[str, dict[str, object]]:
    """orderID -> employee, month and net revenue, from the raw CSVs (first 8 fields of orders are valid)."""
    header, *rows = _rows(NORTHWIND / "orders.csv")
    orders: dict[str, dict[str, object]] = {}
    for row in rows:
        order = dict(zip(header[:8], row[:8], strict=True))
        orders[order["orderID"]] = {
            "employee": order["employeeID"],
            "month": order["orderDate"][:7],
            "net": 0.0,
            "customer": order["customerID"],
        }
    for line in _records(NORTHWIND / "order-details.csv"):
        net = float(line["unitPrice"]) * int(line["quantity"]) * (1 - float(line["discount"]))
        orders[line["orderID"]]["net"] += net  # type: ignore[operator]
    return orders


def test_northwind_tables_and_counts(northwind: tuple[Dataset, Report]) -> None:
    data, _ = northwind
    assert set(data.tables) == {"reps", "deals"}  # no leads, activities, targets, feedback: absent, not empty
    assert len(data.tables["reps"]) == len(_records(NORTHWIND / "employees.csv")) == 9
    assert len(data.tables["deals"]) == len(_rows(NORTHWIND / "orders.csv")) - 1 == 830


def test_northwind_reps(northwind: tuple[Dataset, Report]) -> None:
    reps = northwind[0].tables["reps"].set_index("rep_id")
    raw = {e["employeeID"]: e for e in _records(NORTHWIND / "employees.csv")}
    for rep_id, e in raw.items():
        assert reps.loc[rep_id, "name"] == f"{e['firstName']} {e['lastName']}"
        assert reps.loc[rep_id, "hire_date"] == pd.Timestamp(e["hireDate"][:10])
        assert reps.loc[rep_id, "team"] == f"Sales {e['country']}"
        manager = reps.loc[rep_id, "manager_id"]
        assert (pd.isna(manager) and e["reportsTo"] == "NULL") or manager == e["reportsTo"]
    assert "email" not in reps.columns


def test_northwind_total_net_revenue(
    northwind: tuple[Dataset, Report], northwind_orders: dict[str, dict[str, object]]
) -> None:
    deals = northwind[0].tables["deals"]
    expected = sum(float(o["net"]) for o in northwind_orders.values())  # type: ignore[arg-type]
    assert round(expected, 2) == 1_265_793.04
    assert deals["amount"].sum() == pytest.approx(expected, abs=0.005)
    assert deals["amount"].notna().all()
    assert (deals["stage"] == "won").all()
    assert (deals["close_date"] == deals["created_date"]).all()
    units = sum(int(line["quantity"]) for line in _records(NORTHWIND / "order-details.csv"))
    assert deals["units"].sum() == units


def test_northwind_orders_and_revenue_per_employee_and_month(
    northwind: tuple[Dataset, Report], northwind_orders: dict[str, dict[str, object]]
) -> None:
    deals = northwind[0].tables["deals"]
    counts = Counter(str(o["employee"]) for o in northwind_orders.values())
    assert deals.groupby("rep_id").size().to_dict() == dict(counts)
    assert min(counts.values()) == 42
    assert max(counts.values()) == 156
    revenue: dict[tuple[str, str], float] = defaultdict(float)
    for o in northwind_orders.values():
        revenue[(str(o["employee"]), str(o["month"]))] += float(o["net"])  # type: ignore[arg-type]
    got = deals.groupby(["rep_id", deals["close_date"].dt.strftime("%Y-%m")])["amount"].sum()
    assert set(got.index) == set(revenue)
    for key, value in revenue.items():
        assert got[key] == pytest.approx(value, abs=0.005), key
    by_order = deals.set_index("deal_id")
    assert by_order.loc["10248", "account_id"] == northwind_orders["10248"]["customer"] == "VINET"


def test_northwind_validation_reports_its_quirks(northwind: tuple[Dataset, Report]) -> None:
    _, report = northwind
    assert report.errors == []
    warnings = {(w.table, w.column): w for w in report.warnings}
    ragged = warnings[("deals", "")]
    assert ragged.count == 176
    assert ragged.file.endswith("northwind-orders/orders.csv")
    assert "first 14 fields were kept" in ragged.message
    nulls = warnings[("reps", "")]
    assert "1 value(s) written 'NULL' were read as missing" in nulls.message
    assert "reportsTo (1)" in nulls.message
    assert "no email column" in warnings[("reps", "email")].message
    assert len(report.warnings) == 3


def test_olist_tables_and_counts(olist: tuple[Dataset, Report]) -> None:
    data, _ = olist
    mql = _records(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    closed = _records(OLIST / "olist_closed_deals_dataset.csv")
    assert set(data.tables) == {"reps", "deals", "leads"}
    assert len(data.tables["leads"]) == len(mql) == 8000
    assert len(data.tables["deals"]) == len(closed) == 842
    closers = {d["sr_id"] for d in closed}
    assert len(closers) == 22
    reps = data.tables["reps"]
    assert set(reps["rep_id"]) == closers | {"unassigned"}  # 22 closing reps plus the pseudo-rep
    assert reps["name"].str.startswith("Rep ").sum() == 22


def test_olist_won_deals_per_rep(olist: tuple[Dataset, Report]) -> None:
    deals = olist[0].tables["deals"]
    closed = _records(OLIST / "olist_closed_deals_dataset.csv")
    assert deals.groupby("rep_id").size().to_dict() == dict(Counter(d["sr_id"] for d in closed))
    assert "amount" not in deals.columns  # no deal values in this data set: revenue is not available, not 0
    assert (deals["stage"] == "won").all()
    first_contact = {
        m["mql_id"]: m["first_contact_date"] for m in _records(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    }
    created = deals.set_index("deal_id")["created_date"]
    for d in closed[:50]:
        assert created[d["mql_id"]] == pd.Timestamp(first_contact[d["mql_id"]])
    segments = Counter(d["business_segment"] for d in closed)
    assert deals["segment"].value_counts().to_dict() == {k: v for k, v in segments.items() if k}


def test_olist_leads_and_conversion(olist: tuple[Dataset, Report]) -> None:
    leads = olist[0].tables["leads"]
    mql = _records(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    won = {d["mql_id"]: d["sr_id"] for d in _records(OLIST / "olist_closed_deals_dataset.csv")}
    assert leads["qualified"].all()
    converted = leads["converted_deal_id"].notna()
    assert converted.sum() == len(won) == 842
    assert converted.mean() == pytest.approx(842 / 8000)
    assert set(leads.loc[converted, "lead_id"]) == set(won)
    by_rep = leads.set_index("lead_id")["rep_id"]
    assert all(by_rep[m] == sr for m, sr in won.items())
    assert (leads["rep_id"] == "unassigned").sum() == 8000 - 842
    assert leads["source"].isna().sum() == sum(1 for m in mql if not m["origin"]) == 60
    per_month = Counter(m["first_contact_date"][:7] for m in mql)
    assert leads.groupby(leads["created_date"].dt.strftime("%Y-%m")).size().to_dict() == dict(per_month)


def test_olist_validation_reports_its_quirks(olist: tuple[Dataset, Report]) -> None:
    _, report = olist
    assert report.errors == []
    warnings = {(w.table, w.column): w for w in report.warnings}
    early = warnings[("deals", "close_date")]
    assert early.count == 1
    assert "b91cf8812365f50ff4bda4bcd6206b05" in early.message
    assert "created 2018-03-08, closed 2018-03-06" in early.message
    assert "rule close_before_create" in early.message
    (row,) = early.rows
    raw = _rows(OLIST / "olist_closed_deals_dataset.csv")
    assert raw[row - 1][0] == "b91cf8812365f50ff4bda4bcd6206b05"  # the line an editor shows (header = line 1)
    unassigned = warnings[("leads", "rep_id")]
    assert unassigned.count == 7158
    assert "7,158 of 8,000 row(s) have no rep" in unassigned.message
    assert "not available" in warnings[("deals", "amount")].message
    assert "no email column" in warnings[("reps", "email")].message
    assert len(report.warnings) == 4
