"""load_dataset: the mapping applied in DuckDB, typing, and every load-time issue named with file/column/rows/fix."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import NOT_A_FILE, finishes, make_not_a_file
from salesreports.data.loading import Dataset, load_dataset
from salesreports.data.mapping import SourceSpec, TableSpec
from salesreports.errors import ConfigError, DataLoadError, Issue

REPS = "rep_id,name\nR1,Ann\nR2,Bob\n"


def _load(tmp_path: Path, source: str, **files: str) -> Dataset:
    for name, text in files.items():
        (tmp_path / name.replace("_csv", ".csv")).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text("name: t\n" + textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return load_dataset(path)


def _notes(data: Dataset, column: str = "", table: str = "") -> list[Issue]:
    return [n for n in data.notes if (not column or n.column == column) and (not table or n.table == table)]


def test_types_of_the_loaded_columns(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        tables:
          deals: {file: deals.csv}
          leads: {file: leads.csv}
    """,
        deals_csv="""
        deal_id,rep_id,account_id,created_date,close_date,stage,amount
        007, R1 ,A1,2025-01-05,2025-02-01 13:45:00,won,12.5
        D2,R1,A2,2025-01-06,,open,
    """,
        leads_csv="""
        lead_id,rep_id,created_date,qualified,converted_deal_id
        L1,R1,2025-01-01,yes,007
        L2,R1,2025-01-02,0,
    """,
    )
    deals = data.tables["deals"]
    assert deals["deal_id"].tolist() == ["007", "D2"]  # ids stay text, leading zeros kept
    assert deals["rep_id"].tolist() == ["R1", "R1"]  # trimmed
    assert str(deals["deal_id"].dtype) == "str"
    assert deals["created_date"].dtype == "datetime64[ns]"
    assert deals["close_date"].tolist()[0] == pd.Timestamp("2025-02-01")  # the day, no time
    assert pd.isna(deals["close_date"].iloc[1])
    assert deals["amount"].dtype == "float64"
    assert np.isnan(deals["amount"].iloc[1])
    assert "product" not in deals.columns  # optional columns the data lacks stay absent
    assert deals["_row"].tolist() == [2, 3]
    leads = data.tables["leads"]
    assert leads["qualified"].dtype == "boolean"
    assert leads["qualified"].tolist() == [True, False]
    assert data.notes == []
    assert data.origins["deals"] == str(tmp_path / "deals.csv")


def test_a_large_tables_codes_are_categories_in_text_order(tmp_path: Path) -> None:
    """Activities' rep ids and types are held as categories (a fraction of the memory at millions of rows), whose
    categories sort as the text does: groups and their order are those of the text."""
    data = _load(
        tmp_path,
        """
        tables:
          activities: {file: activities.csv}
    """,
        activities_csv="""
        rep_id,date,type
        R2,2025-01-05,meeting
        R1,2025-01-06,call
        ,2025-01-07,email
        R2,2025-01-08,call
    """,
    )
    acts = data.tables["activities"]
    assert isinstance(acts["rep_id"].dtype, pd.CategoricalDtype) and isinstance(acts["type"].dtype, pd.CategoricalDtype)
    assert list(acts["type"].cat.categories) == ["call", "email", "meeting"]
    assert list(acts["rep_id"].cat.categories) == ["R1", "R2"]
    assert acts["rep_id"].astype(object).where(acts["rep_id"].notna(), None).tolist() == ["R2", "R1", None, "R2"]
    counts = acts.groupby("type", observed=True).size()
    assert counts.index.tolist() == ["call", "email", "meeting"] and counts.tolist() == [2, 1, 1]


def test_join_derive_defaults_and_values(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        tables:
          deals:
            file: orders.csv
            columns: {deal_id: orderID, rep_id: employee, account_id: customer, created_date: ordered,
                      amount: net, units: qty}
            derive: {close_date: ordered, segment: "upper(region) || '-' || orderID"}
            defaults: {stage: won}
            values: {segment: {EU-10: Europe}}
            join:
              - file: lines.csv
                on: {orderID: order}
                aggregate: {net: sum(price * quantity * (1 - discount)), qty: sum(quantity)}
    """,
        orders_csv="""
        orderID,employee,customer,ordered,region
        10,R1,C1,2025-01-01,eu
        11,R2,C2,2025-01-02,us
        12,R1,C1,2025-01-03,eu
    """,
        lines_csv="""
        order,price,quantity,discount
        10,10.00,3,0
        10,5.00,2,0.5
        11,100,1,0.25
        N/A,1,1,0
    """,
    )
    deals = data.tables["deals"]
    assert deals["amount"].tolist()[:2] == [35.0, 75.0]  # keys match as text although one line says N/A
    assert np.isnan(deals["amount"].iloc[2])  # an order without lines: missing, not 0
    assert deals["units"].tolist()[:2] == [5.0, 1.0]
    assert deals["segment"].tolist() == ["Europe", "US-11", "EU-12"]  # numbers in expressions print as integers
    assert deals["stage"].tolist() == ["won"] * 3
    assert deals["_row"].tolist() == [2, 3, 4]


def test_defaults_fill_empty_values_of_a_mapped_column(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        tables:
          reps: {file: reps.csv, defaults: {team: Field Sales}}
    """,
        reps_csv="rep_id,team\nR1,North\nR2,\n",
    )
    assert data.tables["reps"]["team"].tolist() == ["North", "Field Sales"]


def test_stage_values_map_ignores_case_and_null_maps_to_missing(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        tables:
          deals:
            file: deals.csv
            values: {stage: {Closed Won: won, CLOSED LOST: lost, Pipeline: open}, segment: {'-': null}}
    """,
        deals_csv="""
        deal_id,rep_id,account_id,created_date,stage,segment
        D1,R1,A1,2025-01-01,closed won,-
        D2,R1,A1,2025-01-01,Closed Lost,SMB
        D3,R1,A1,2025-01-01,WON,SMB
        D4,R1,A1,2025-01-01,pipeline,SMB
    """,
    )
    deals = data.tables["deals"]
    assert deals["stage"].tolist() == ["won", "lost", "won", "open"]
    assert pd.isna(deals["segment"].iloc[0])


def test_unknown_stage_is_named_with_a_value_map_fix(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {deals: {file: deals.csv}}\n",
        deals_csv="""
        deal_id,rep_id,account_id,created_date,stage
        D1,R1,A1,2025-01-01,won
        D2,R1,A1,2025-01-01,Closed Lost
        D3,R1,A1,2025-01-01,Closed Lost
    """,
    )
    (issue,) = _notes(data, "stage")
    assert (issue.severity, issue.table, issue.rows, issue.count) == ("error", "deals", (3, 4), 2)
    assert "2 value(s) are not allowed (e.g. 'Closed Lost'); allowed: open, won, lost" in issue.message
    assert "`values: {stage: {Closed Lost: lost}}`" in issue.fix
    assert data.invalid[("deals", "stage")].tolist() == [3, 4]


def test_the_text_null_as_missing(tmp_path: Path) -> None:
    csv = """
        rep_id,name,manager_id,hire_date
        R1,Ann,NULL,2020-01-01
        R2,Bob,R1,NULL
    """
    data = _load(tmp_path, "tables: {reps: {file: reps.csv}}\n", reps_csv=csv)
    marker = _notes(data, "manager_id")[0]
    assert (marker.severity, marker.rows) == ("warning", (2,))
    assert "1 value(s) are the text 'NULL', kept as text" in marker.message
    assert "`null_values: ['', 'NULL']`" in marker.fix
    bad = _notes(data, "hire_date")[0]
    assert (bad.severity, bad.rows) == ("error", (3,))
    assert "not dates in the format ISO" in bad.message
    assert "`null_values: ['', 'NULL']`" in bad.fix

    data = _load(tmp_path, "null_values: ['', 'NULL']\ntables: {reps: {file: reps.csv}}\n", reps_csv=csv)
    reps = data.tables["reps"]
    assert reps["manager_id"].isna().tolist() == [True, False]
    assert reps["hire_date"].isna().tolist() == [False, True]
    (note,) = data.notes
    assert note.severity == "warning"
    assert note.count == 2
    assert "2 value(s) written 'NULL' were read as missing" in note.message
    assert "manager_id (1), hire_date (1)" in note.message


@pytest.mark.parametrize(
    ("dates", "expect_fix"),
    [
        ("", "declare `dates: {close_date: ['%Y-%m-%d', '%d.%m.%Y']}`"),
        ("dates: {close_date: '%d.%m.%Y'}", "declare `dates: {close_date: ['%d.%m.%Y', '%Y-%m-%d']}`"),
    ],
)
def test_mixed_date_formats(tmp_path: Path, dates: str, expect_fix: str) -> None:
    csv = """
        deal_id,rep_id,account_id,created_date,close_date,stage
        D1,R1,A1,2025-01-01,2025-02-01,won
        D2,R1,A1,2025-01-01,15.02.2025,won
        D3,R1,A1,2025-01-01,2025-02-20,won
    """
    data = _load(tmp_path, f"tables: {{deals: {{file: deals.csv, {dates}}}}}\n", deals_csv=csv)
    (issue,) = _notes(data, "close_date")
    assert "the column mixes formats" in issue.message
    assert expect_fix in issue.fix
    fixed = _load(
        tmp_path, "tables: {deals: {file: deals.csv, dates: {close_date: ['%Y-%m-%d', '%d.%m.%Y']}}}\n", deals_csv=csv
    )
    assert fixed.notes == []
    assert fixed.tables["deals"]["close_date"].dt.day.tolist() == [1, 15, 20]


def test_day_month_order_ambiguity_is_explained(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {deals: {file: deals.csv}}\n",
        deals_csv="""
        deal_id,rep_id,account_id,created_date,stage
        D1,R1,A1,03/04/2025,won
        D2,R1,A1,05/06/2025,won
    """,
    )
    (issue,) = _notes(data, "created_date")
    assert issue.rows == (2, 3)
    assert "could be day-first or month-first" in issue.fix
    assert "`dates: {created_date: '%d/%m/%Y'}` (day first) or '%m/%d/%Y' (month first)" in issue.fix


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("1,234.50", "no thousands separators"),
        ("12,50", "decimal commas"),
        ("$40", "no currency symbols"),
        ("inf", "plain numbers"),
    ],
)
def test_bad_numbers(tmp_path: Path, value: str, fix: str) -> None:
    data = _load(
        tmp_path,
        "tables: {deals: {file: deals.csv}}\n",
        deals_csv=f'deal_id,rep_id,account_id,created_date,stage,amount\nD1,R1,A1,2025-01-01,won,"{value}"\n',
    )
    (issue,) = _notes(data, "amount")
    assert (issue.severity, issue.column, issue.rows) == ("error", "amount", (2,))
    assert f"1 value(s) are not numbers (e.g. {value!r}); they are treated as missing" in issue.message
    assert fix in issue.fix
    assert "`severity: {bad_value: warning}`" in issue.fix
    assert np.isnan(data.tables["deals"]["amount"].iloc[0])


def test_bad_booleans(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {leads: {file: leads.csv}}\n",
        leads_csv="lead_id,rep_id,created_date,qualified\nL1,R1,2025-01-01,maybe\n",
    )
    (issue,) = _notes(data, "qualified")
    assert "not yes/no values (e.g. 'maybe')" in issue.message
    assert "`values: {qualified: {...}}`" in issue.fix


def test_mapping_column_typo_names_column_and_close_match(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        _load(
            tmp_path,
            """
            tables:
              deals: {file: deals.csv, columns: {amount: Amout, deal_id: id}}
        """,
            deals_csv="id,Amount\nD1,3\n",
        )
    assert err.value.column == "Amout"
    assert err.value.table == "deals"
    assert err.value.file == str(tmp_path / "deals.csv")
    assert "`tables.deals.columns.amount` is the column 'Amout'" in str(err.value)
    assert "Did you mean 'Amount'?" in str(err.value)


def test_mapping_column_with_wrong_case(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match=r"Did you mean 'orderID'\? \(names are case-sensitive\)"):
        _load(tmp_path, "tables: {deals: {file: deals.csv, columns: {deal_id: OrderId}}}\n", deals_csv="orderID\n1\n")


def test_every_mapping_typo_of_a_table_is_listed(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        _load(
            tmp_path,
            "tables: {deals: {file: deals.csv, columns: {deal_id: idd, amount: amout}}}\n",
            deals_csv="id,amount\n1,2\n",
        )
    assert err.value.columns == ["idd", "amout"]
    assert "2 mapped columns do not exist" in str(err.value)


def test_missing_required_column_suggests_a_source_column(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {deals: {file: deals.csv}}\n",
        deals_csv="deal_id,rep_id,account_id,Created Date,Stage\nD1,R1,A1,2025-01-01,won\n",
    )
    issues = {n.column: n for n in data.notes}
    assert set(issues) == {"created_date", "close_date", "stage"}
    issue = issues["created_date"]
    assert (issue.severity, issue.table) == ("error", "deals")
    assert "required column 'created_date' is missing" in issue.message
    assert "Did you mean the column 'Created Date'?" in issue.message
    assert "`columns: {created_date: Created Date}`" in issue.fix
    assert "severity" not in issue.fix  # a missing column cannot be accepted


def test_derive_sql_error_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        _load(
            tmp_path,
            """
            tables:
              reps: {file: reps.csv, derive: {name: "firstName || ' ' || lastNam"}}
        """,
            reps_csv="rep_id,firstName,lastName\nR1,Ann,Archer\n",
        )
    message = str(err.value)
    assert "`tables.reps.derive.name`" in message
    assert "lastNam" in message
    assert "Candidate bindings" in message
    assert err.value.table == "reps"


def test_join_aggregate_error_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match=r"`tables.deals.join\[0\].aggregate.net` \('sum\(prise\)'\) fails"):
        _load(
            tmp_path,
            """
            tables:
              deals:
                file: deals.csv
                columns: {amount: net}
                join: [{file: lines.csv, on: deal_id, aggregate: {net: sum(prise)}}]
        """,
            deals_csv="deal_id\nD1\n",
            lines_csv="deal_id,price\nD1,3\n",
        )


def test_join_key_typo(tmp_path: Path) -> None:
    with pytest.raises(
        DataLoadError, match=r"`tables.deals.join\[0\].on` is the column 'dealid'.*Did you mean 'deal_id'"
    ):
        _load(
            tmp_path,
            """
            tables:
              deals: {file: deals.csv, join: [{file: lines.csv, on: {deal_id: dealid}, aggregate: {n: count(*)}}]}
        """,
            deals_csv="deal_id\nD1\n",
            lines_csv="deal_id,price\nD1,3\n",
        )


def test_where_reports_the_rows_left_out(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {reps: {file: reps.csv, where: \"name <> 'Test'\"}}\n",
        reps_csv="rep_id,name\nR1,Ann\nR2,Test\nR3,Cy\n",
    )
    assert data.tables["reps"]["rep_id"].tolist() == ["R1", "R3"]
    (note,) = data.notes
    assert (note.severity, note.count) == ("warning", 1)
    assert "1 of 3 row(s) left out by the mapping's `where: name <> 'Test'`" in note.message


def test_distinct_from_builds_a_table_from_another_files_column(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        tables:
          reps:
            distinct_from: {file: deals.csv, column: owner}
            columns: {rep_id: owner}
            derive: {name: "'Rep ' || owner"}
    """,
        deals_csv="deal,owner\nD1,b\nD2,a\nD3, b\nD4,\nD5,a\n",
    )
    reps = data.tables["reps"].sort_values("_row")
    assert reps["rep_id"].tolist() == ["b", "a"]
    assert reps["name"].tolist() == ["Rep b", "Rep a"]
    assert reps["_row"].tolist() == [2, 3]  # where each value first appears
    assert data.origins["reps"] == str(tmp_path / "deals.csv")


def test_distinct_from_unknown_column(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match=r"`tables.reps.distinct_from.column` is the column 'ownr'"):
        _load(
            tmp_path,
            "tables: {reps: {distinct_from: {file: deals.csv, column: ownr}}}\n",
            deals_csv="deal,owner\nD1,b\n",
        )


def test_unassigned_rep_takes_rows_without_a_rep(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        """
        unassigned_rep: nobody
        tables:
          reps: {file: reps.csv}
          leads: {file: leads.csv}
          activities: {file: activities.csv}
    """,
        reps_csv=REPS,
        leads_csv="""
        lead_id,rep_id,created_date,qualified
        L1,R1,2025-01-01,true
        L2,,2025-01-02,true
        L3,,2025-01-03,false
    """,
        activities_csv="""
        rep_id,date,type
        R2,2025-01-05,call
        ,2025-01-06,email
    """,
    )
    assert data.unassigned_rep == "nobody"
    assert data.tables["leads"]["rep_id"].tolist() == ["R1", "nobody", "nobody"]
    acts = data.tables["activities"]["rep_id"]  # codes (a category): the pseudo-rep joins them in text order
    assert acts.tolist() == ["R2", "nobody"] and list(acts.cat.categories) == ["R2", "nobody"]
    reps = data.tables["reps"]
    assert reps["rep_id"].tolist() == ["R1", "R2", "nobody"]
    assert reps["name"].tolist()[-1] == "Unassigned"
    assert str(reps["rep_id"].dtype) == "str"
    note, other = data.notes
    assert (note.severity, note.table, note.column, note.rows, note.count) == ("warning", "leads", "rep_id", (3, 4), 2)
    assert (other.table, other.rows, other.count) == ("activities", (3,), 1)
    assert "2 of 3 row(s) have no rep; they are attributed to the pseudo-rep 'nobody'" in note.message


def test_empty_header_only_file_is_a_warning(tmp_path: Path) -> None:
    data = _load(tmp_path, "tables: {feedback: {file: feedback.csv}}\n", feedback_csv="rep_id,date,source,score\n")
    assert len(data.tables["feedback"]) == 0
    (note,) = data.notes
    assert (note.severity, note.table) == ("warning", "feedback")
    assert "has a header but no rows" in note.message


def test_every_unreadable_table_is_listed_in_one_error(tmp_path: Path) -> None:
    (tmp_path / "reps.csv").write_text("", encoding="utf-8")
    (tmp_path / "deals.csv").write_text("deal_id;rep_id\nD1;R1\n", encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(
        "name: t\ntables: {reps: {file: reps.csv}, deals: {file: deals.csv}, leads: {file: l.csv}}\n", encoding="utf-8"
    )
    with pytest.raises(DataLoadError) as err:
        load_dataset(path)
    message = str(err.value)
    assert "3 tables of" in message
    assert "reps.csv: the file is empty" in message
    assert "looks ';'-separated" in message
    assert "l.csv: file not found" in message
    assert len(err.value.errors) == 3


def test_a_single_unreadable_table_keeps_its_fields(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        _load(tmp_path, "tables: {deals: {file: deals.csv}}\n", deals_csv="deal_id;rep_id\nD1;R1\n")
    assert err.value.delimiter == ";"
    assert err.value.file == str(tmp_path / "deals.csv")


def test_ragged_rows_are_noted_and_kept(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {deals: {file: deals.csv, ragged: keep_first}}\n",
        deals_csv="""
        deal_id,rep_id,account_id,created_date,close_date,stage,ship_to
        D1,R1,A1,2025-01-01,2025-01-01,won,Paris
        D2,R2,A2,2025-01-02,2025-01-02,won,12 rue X, Reims
    """,
    )
    assert data.tables["deals"]["deal_id"].tolist() == ["D1", "D2"]
    (note,) = data.notes
    assert (note.severity, note.rows, note.file) == ("warning", (3,), str(tmp_path / "deals.csv"))


def test_parquet_source_keeps_its_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "deal_id": ["D1", "D2", "D3"],
            "rep_id": ["R1", "", "R2"],
            "account_id": ["A1", "A2", "A3"],
            "created_date": pa.array(
                [dt.datetime(2025, 1, 1, 23, 30), dt.datetime(2025, 1, 2), None], pa.timestamp("us", tz="UTC")
            ),
            "close_date": pa.array([dt.date(2025, 2, 1), None, None], pa.date32()),
            "stage": ["won", "Lost", "open"],
            "amount": pa.array([1.5, None, 3], pa.float64()),
            "units": pa.array([1, 2, None], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "deals.parquet")
    data = _load(tmp_path, "tables: {deals: {file: deals.parquet}}\n")
    deals = data.tables["deals"]
    assert deals["created_date"].tolist()[:2] == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")]
    assert deals["stage"].tolist() == ["won", "lost", "open"]
    assert pd.isna(deals["rep_id"].iloc[1])  # '' is a null marker in Parquet text too
    assert deals["units"].tolist()[:2] == [1.0, 2.0]
    assert deals["_row"].tolist() == [1, 2, 3]  # Parquet has rows, not lines
    assert data.notes == []


def test_duckdb_source(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.execute("CREATE TABLE users (id VARCHAR, full_name VARCHAR, started DATE)")
        con.execute("INSERT INTO users VALUES ('R1', 'Ann', DATE '2020-01-01'), ('R2', 'Bob', NULL)")
    data = _load(
        tmp_path,
        """
        kind: duckdb
        database: crm.duckdb
        tables:
          reps: {table: users, columns: {rep_id: id, name: full_name, hire_date: started}}
    """,
    )
    reps = data.tables["reps"]
    assert reps["rep_id"].tolist() == ["R1", "R2"]
    assert reps["hire_date"].iloc[0] == pd.Timestamp("2020-01-01")
    assert data.origins["reps"] == f"{tmp_path / 'crm.duckdb'}:users"


def test_sqlite_source_with_environment_in_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    with sqlite3.connect(folder / "crm.sqlite") as con:
        con.execute("CREATE TABLE reps (rep_id TEXT, name TEXT)")
        con.execute("CREATE TABLE deals (id TEXT, owner TEXT, opened TEXT, status TEXT, value REAL)")
        con.executemany("INSERT INTO reps VALUES (?, ?)", [("R1", "Ann"), ("R2", "Bob")])
        con.execute("INSERT INTO deals VALUES ('D1', 'R1', '2025-01-01', 'won', 10.5)")
    monkeypatch.setenv("CRM_DIR", "db")
    data = _load(
        tmp_path,
        """
        kind: sql
        url: sqlite:///${CRM_DIR}/crm.sqlite
        tables:
          reps: {table: reps}
          deals:
            query: SELECT * FROM deals WHERE status = 'won'
            columns: {deal_id: id, rep_id: owner, account_id: owner, created_date: opened, stage: status,
                      amount: value}
    """,
    )
    assert data.tables["deals"]["amount"].tolist() == [10.5]
    assert data.tables["reps"]["name"].tolist() == ["Ann", "Bob"]
    assert data.origins["deals"].endswith("crm.sqlite:query")
    assert "CRM_DIR" not in os.environ.get("PYTEST_CURRENT_TEST", "")


def test_sql_source_missing_variable_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="CRM_PASSWORD is not set"):
        _load(
            tmp_path,
            """
            kind: sql
            url: postgresql://sales:${CRM_PASSWORD}@db.example.com/crm
            tables: {reps: {table: reps}}
        """,
        )


def test_sql_source_error_hides_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PASSWORD", "hunter2-secret")
    with pytest.raises(DataLoadError) as err:
        _load(
            tmp_path,
            """
            kind: sql
            url: postgresql://sales:${CRM_PASSWORD}@127.0.0.1:1/crm
            tables: {reps: {table: reps}}
        """,
        )
    assert "hunter2" not in str(err.value) + repr(err.value.fields)
    assert "postgresql://sales:***@127.0.0.1:1/crm" in str(err.value)


def test_load_dataset_from_a_spec_with_table_filter_and_progress(tmp_path: Path) -> None:
    (tmp_path / "reps.csv").write_text(REPS, encoding="utf-8")
    spec = SourceSpec(
        name="s",
        tables={"reps": TableSpec(file="reps.csv"), "deals": TableSpec(file="none.csv")},
        path=str(tmp_path / "s.yaml"),
    )
    seen: list[str] = []
    data = load_dataset(spec, tables=["reps"], progress=seen.append)
    assert seen == ["reps"]
    assert list(data.tables) == ["reps"]
    assert data.has("reps")
    assert not data.has("deals")
    assert data.get("deals") is None


def test_fingerprint_changes_with_any_value(tmp_path: Path) -> None:
    first = _load(tmp_path, "tables: {reps: {file: reps.csv}}\n", reps_csv=REPS).fingerprint()
    again = _load(tmp_path, "tables: {reps: {file: reps.csv}}\n", reps_csv=REPS).fingerprint()
    other = _load(tmp_path, "tables: {reps: {file: reps.csv}}\n", reps_csv=REPS.replace("Bob", "Rob")).fingerprint()
    assert first == again != other
    assert len(first) == 16


def test_fingerprint_is_a_function_of_the_data_not_of_the_row_order(tmp_path: Path) -> None:
    # DuckDB's parallel reader may return a large file's rows in another order on each load (the demo data's
    # fingerprint differed between two identical runs): the same rows in another order, the same fingerprint
    data = _load(tmp_path, "tables: {reps: {file: reps.csv}}\n", reps_csv=REPS)
    first = data.fingerprint()
    data.tables["reps"] = data.tables["reps"].iloc[::-1].reset_index(drop=True)
    assert data.fingerprint() == first
    # ... but a value moved to another line is another data set
    frame = data.tables["reps"].copy()
    frame["_row"] = frame["_row"].to_numpy()[::-1]
    data.tables["reps"] = frame
    assert data.fingerprint() != first


def test_date_format_for_a_column_the_table_lacks_is_flagged(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {reps: {file: reps.csv, dates: {hire_date: '%d/%m/%Y'}}}\n",
        reps_csv="rep_id,hireDate\nR1,01/02/2020\n",
    )
    (note,) = data.notes
    assert (note.severity, note.column) == ("warning", "hire_date")
    assert "`dates` is given for 'hire_date', but the table has no such column" in note.message
    assert "map the column under `tables.reps.columns`" in note.fix


def test_yes_no_values_map_ignores_case(tmp_path: Path) -> None:
    data = _load(
        tmp_path,
        "tables: {leads: {file: leads.csv, values: {qualified: {SQL: true, MQL: false}}}}\n",
        leads_csv="lead_id,rep_id,created_date,qualified\nL1,R1,2025-01-01,sql\nL2,R1,2025-01-01,MQL\n",
    )
    assert data.tables["leads"]["qualified"].tolist() == [True, False]
    assert data.notes == []


@pytest.mark.parametrize("kind", ["folder", "fifo", "loop"])
def test_item8_directory_where_table_file_should_be(tmp_path: Path, kind: str) -> None:
    (tmp_path / "reps.csv").write_text(REPS, encoding="utf-8")
    make_not_a_file(kind, tmp_path / "deals.csv")
    (tmp_path / "source.yaml").write_text(
        "name: t\ntables: {reps: {file: reps.csv}, deals: {file: deals.csv}}\n", encoding="utf-8"
    )
    with pytest.raises(DataLoadError) as err:
        finishes(lambda: load_dataset(tmp_path / "source.yaml"), unblock=tmp_path / "deals.csv")
    assert NOT_A_FILE[kind] in str(err.value)
    assert "Did you mean 'deals.csv'" not in str(err.value)
    assert err.value.file == str(tmp_path / "deals.csv")


# ------------------------------------------------------------------------- only what is needed is read


def test_only_the_columns_the_mapping_uses_are_read(tmp_path: Path) -> None:
    """A CSV's other columns are never read; the mapping's renames, derive and where still find theirs."""
    from salesreports.data.loading import _needed

    tspec = TableSpec(
        file="deals.csv",
        columns={"deal_id": "Id", "rep_id": "Owner"},
        derive={"amount": '"Net Value" * 1.0', "account_id": "upper(acct)"},
        where="Probability > 0",
    )
    needed = _needed("deals", tspec, None)
    assert needed is not None
    assert {"Id", "Owner", "Net Value", "acct", "Probability", "stage", "close_date"} <= set(needed)
    assert "Notes" not in needed
    only = _needed("deals", tspec, frozenset({"deal_id", "stage"}))
    assert only is not None
    assert {"Id", "stage", "Probability"} <= set(only)
    assert not {"Owner", "Net Value", "acct"} & set(only)


def test_a_projected_load_gives_the_same_kpis_as_a_whole_one(tmp_path: Path) -> None:
    """`columns=engine.COLUMNS` (what compute_kpis reads) loads less and changes no KPI (demo data, 12 months)."""
    from salesreports.data.demo import generate_demo
    from salesreports.metrics.engine import COLUMNS, compute_kpis

    generate_demo(tmp_path / "demo", months=12, scale=0.3)
    source = tmp_path / "demo.yaml"
    tables = "".join(
        f"  {t}: {{file: {t}.csv}}\n" for t in ("reps", "deals", "leads", "activities", "targets", "feedback")
    )
    source.write_text(f"name: demo\nbase_dir: demo\ntables:\n{tables}", encoding="utf-8")
    whole = load_dataset(source)
    part = load_dataset(source, columns=COLUMNS)
    assert part.left_out["deals"] == ("product",)
    assert "lead_id" not in part.tables["leads"].columns
    assert set(part.tables["deals"].columns) == {"_row", *COLUMNS["deals"]}
    pd.testing.assert_frame_equal(compute_kpis(whole).values, compute_kpis(part).values)


def test_a_projected_load_still_names_every_column_in_a_mapping_error(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text("Id,Owner,Notes\nD1,R1,x\n", encoding="utf-8")
    (tmp_path / "source.yaml").write_text(
        "name: t\ntables:\n  deals: {file: deals.csv, columns: {deal_id: Id, rep_id: Ownr}}\n", encoding="utf-8"
    )
    with pytest.raises(DataLoadError, match="Did you mean 'Owner'"):
        load_dataset(tmp_path / "source.yaml", columns={"deals": ["deal_id", "rep_id"]})


SINCE_DEALS = """\
deal_id,rep_id,account_id,created_date,close_date,stage,amount
D1,R1,A1,2024-11-03,2024-12-10,won,100
D2,R1,A2,2024-12-20,2025-01-15,won,200
D3,R2,A3,2025-01-05,2025-02-01,won,300
D4,R2,A4,2025-02-10,,open,400
D5,R1,A5,,,open,50
"""


def test_since_leaves_out_what_happened_before_and_starts_the_kpis_there(tmp_path: Path) -> None:
    """`since: 2025-01-01`: D1 (created and closed before) is left out; D2 (closed after) is kept; a deal with
    no dates at all (D5) is kept for validation to report. The KPI grid begins in January."""
    from salesreports.metrics.engine import compute_kpis

    source = "since: 2025-01-01\ntables:\n  reps: {file: reps.csv}\n  deals: {file: deals.csv}\n"
    data = _load(tmp_path, source, reps_csv=REPS, deals_csv=SINCE_DEALS)
    assert data.since == dt.date(2025, 1, 1)
    assert data.tables["deals"]["deal_id"].tolist() == ["D2", "D3", "D4", "D5"]
    assert data.tables["deals"]["_row"].tolist() == [3, 4, 5, 6]  # still the file's lines
    table = compute_kpis(data)
    assert str(table.grid.months[0]) == "2025-01"
    revenue = table.values.query("kpi == 'revenue' and grain == 'month' and entity_type == 'company'")
    assert dict(zip(revenue["period"], revenue["value"], strict=True)) == {"2025-01": 200.0, "2025-02": 300.0}


def test_since_must_be_the_first_day_of_a_month(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not the first day of a month.*2025-01-01"):
        _load(tmp_path, "since: 2025-01-15\ntables:\n  reps: {file: reps.csv}\n", reps_csv=REPS)
