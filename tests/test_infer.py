"""`init --from-export`'s guessed mapping: on each CRM's standard export, it validates and gives the same KPIs
as the shipped, hand-written mapping in params/sources/examples/, and revenue equals a hand count."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from salesreports.data.infer import Guess, infer_source
from salesreports.data.loading import load_dataset
from salesreports.data.validate import check
from salesreports.errors import DataLoadError
from salesreports.metrics.engine import KpiTable, compute_kpis
from salesreports.yamlio import read_yaml

ROOT = Path(__file__).parents[1]
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
# company revenue won in 2025-03, counted by hand from each fixture export
REVENUE_MARCH = {"salesforce": 4500 + 20500 + 9750.50 + 1200, "hubspot": 4500.5 + 8000, "pipedrive": 9900 + 650}
KPIS = ("revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days", "new_customers")


def _guess(tmp_path: Path, crm: str) -> Path:
    out = tmp_path / "sources" / "crm.yaml"
    out.parent.mkdir(parents=True)
    out.write_text(infer_source([EXPORTS / crm], base_dir=out.parent).to_yaml(), encoding="utf-8")
    return out


@pytest.mark.parametrize("crm", ["salesforce", "hubspot", "pipedrive"])
def test_guessed_mapping_validates_and_matches_the_shipped_one(tmp_path: Path, crm: str) -> None:
    guessed = load_dataset(_guess(tmp_path, crm))
    report = check(guessed)
    assert report.ok, [str(i) for i in report.errors]
    shipped = load_dataset(ROOT / "params" / "sources" / "examples" / f"{crm}.yaml")
    assert check(shipped).ok
    assert len(guessed.tables["deals"]) == len(shipped.tables["deals"])
    assert sorted(guessed.tables["reps"]["rep_id"]) == sorted(shipped.tables["reps"]["rep_id"])
    mine, theirs = compute_kpis(guessed), compute_kpis(shipped)
    for period in ("2025-02", "2025-03", "2025-Q1"):
        for kpi in KPIS:
            a, b = mine.get("company", kpi, period, "company"), theirs.get("company", kpi, period, "company")
            assert a == pytest.approx(b, nan_ok=True), (kpi, period)
    assert mine.get("company", "revenue", "2025-03", "company") == pytest.approx(REVENUE_MARCH[crm])


def test_every_guess_is_a_comment_in_the_written_file(tmp_path: Path) -> None:
    text = _guess(tmp_path, "hubspot").read_text(encoding="utf-8")
    assert "rep_id: Deal owner  # guessed from 'Deal owner': 2 distinct values (the owner's name is the rep id)" in text
    assert 'null_values: [""]  # no null marker (N/A, NULL, -, ...) in the export: only empty cells are missing' in text
    assert "# guessed from the 5 values of 'Deal Stage'" in text
    assert "# guessed from 7 values like '2025-02-14 10:22'" in text
    spec = yaml.safe_load(text)
    assert spec["tables"]["deals"]["values"]["stage"]["Closed Won"] == "won"
    assert spec["tables"]["deals"]["values"]["stage"]["Contract Sent"] == "open"
    assert spec["tables"]["reps"]["distinct_from"]["column"] == "Deal owner"


def test_salesforce_quirks_are_guessed(tmp_path: Path) -> None:
    spec = yaml.safe_load(_guess(tmp_path, "salesforce").read_text(encoding="utf-8"))
    deals = spec["tables"]["deals"]
    assert deals["dates"] == {"created_date": "%d/%m/%Y", "close_date": "%d/%m/%Y"}  # day-first: 14/02/2025
    assert "regexp_replace" in deals["derive"]["amount"]  # "USD 12,000.00"
    assert deals["derive"]["deal_id"] == "'line ' || _row"  # the report has no id column


def test_an_export_of_an_excel_workbook_is_read(tmp_path: Path) -> None:
    import csv

    from _xlsx import write_xlsx

    with (EXPORTS / "hubspot" / "all-deals.csv").open(encoding="utf-8", newline="") as fh:
        rows: list[list[object]] = [list(r) for r in csv.reader(fh)]
    write_xlsx(tmp_path / "deals.xlsx", rows)
    out = tmp_path / "crm.yaml"
    out.write_text(infer_source([tmp_path / "deals.xlsx"], base_dir=tmp_path).to_yaml(), encoding="utf-8")
    data = load_dataset(out)
    assert check(data).ok
    assert compute_kpis(data).get("company", "revenue", "2025-03", "company") == pytest.approx(REVENUE_MARCH["hubspot"])


def test_null_markers_do_not_hide_an_amount_or_a_date_column(tmp_path: Path) -> None:
    """'N/A' in an amount or date column is a missing value: the column is still mapped (revenue is kept)."""
    (tmp_path / "deals.csv").write_text(
        textwrap.dedent("""\
            Deal ID,Deal owner,Company,Deal Stage,Amount,Create Date,Close Date
            1,Ann,Acme,Closed Won,"$1,200.00",2025-01-02,2025-03-20
            2,Ann,Bolt,Closed Lost,N/A,2025-01-03,2025-03-01
            3,Bob,Cat,Closed Won,300,2025-02-03,2025-03-05
            4,Bob,Dot,Appointment,N/A,N/A,N/A
        """),
        encoding="utf-8",
    )
    guess = infer_source([tmp_path], base_dir=tmp_path)
    assert guess.null_values == ["", "N/A"]
    mapped = guess.mapped()["deals"]
    assert "close_date <- 'Close Date'" in mapped and "created_date <- 'Create Date'" in mapped
    assert not any("amount" in n for n in guess.notes), guess.notes
    (tmp_path / "crm.yaml").write_text(guess.to_yaml(), encoding="utf-8")
    data = load_dataset(tmp_path / "crm.yaml")
    assert check(data).ok, [str(i) for i in check(data).errors]
    assert compute_kpis(data).get("company", "revenue", "2025-03", "company") == pytest.approx(1500)


def test_one_date_order_per_file_taken_from_its_unambiguous_column(tmp_path: Path) -> None:
    """A US export: 'Create Date' holds only ambiguous dates (02/01/2025), 'Close Date' shows the month first
    (03/14/2025); both columns are read month first, and the first deal was created on 1 February."""
    (tmp_path / "deals.csv").write_text(
        textwrap.dedent("""\
            Deal ID,Deal owner,Company,Deal Stage,Amount,Create Date,Close Date
            1,Ann,Acme,Closed Won,100,02/01/2025,03/14/2025
            2,Ann,Bolt,Closed Lost,200,01/03/2025,03/02/2025
            3,Bob,Cat,Closed Won,300,02/05/2025,02/28/2025
        """),
        encoding="utf-8",
    )
    (tmp_path / "crm.yaml").write_text(infer_source([tmp_path], base_dir=tmp_path).to_yaml(), encoding="utf-8")
    text = (tmp_path / "crm.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["tables"]["deals"]["dates"] == {"created_date": "%m/%d/%Y", "close_date": "%m/%d/%Y"}
    assert "day and month are ambiguous here: month first, as 'Close Date' ('03/14/2025') shows" in text
    deals = load_dataset(tmp_path / "crm.yaml").tables["deals"].set_index("deal_id")
    assert str(deals.loc["1", "created_date"].date()) == "2025-02-01"
    assert str(deals.loc["2", "created_date"].date()) == "2025-01-03"


def test_a_file_of_only_ambiguous_dates_keeps_day_first_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(
        "Deal ID,Deal owner,Deal Stage,Amount,Create Date,Close Date\n"
        "1,Ann,Closed Won,100,02/01/2025,03/12/2025\n"
        "2,Ann,Closed Lost,200,01/03/2025,03/02/2025\n",
        encoding="utf-8",
    )
    text = infer_source([tmp_path], base_dir=tmp_path).to_yaml()
    assert yaml.safe_load(text)["tables"]["deals"]["dates"] == {"created_date": "%d/%m/%Y", "close_date": "%d/%m/%Y"}
    assert (
        text.count(
            "day and month are ambiguous and no date column of the file shows which comes first: day first (the "
            "default). Check: write '%m/%d/%Y' if the CRM writes the month first"
        )
        == 2
    )


def test_a_windows_1252_export_is_guessed_and_its_names_read_right(tmp_path: Path) -> None:
    text = (
        "Deal ID;Deal owner;Company;Deal Stage;Amount;Create Date;Close Date\r\n"
        "1;Jürgen Müller;Bäckerei Groß;Closed Won;1.200,50 €;2025-01-02;2025-03-20\r\n"
        "2;Zoë Façade;Café Zürich;Closed Lost;300,00 €;2025-01-03;2025-03-01\r\n"
    )
    (tmp_path / "deals.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "crm.yaml").write_text(infer_source([tmp_path], base_dir=tmp_path).to_yaml(), encoding="utf-8")
    written = (tmp_path / "crm.yaml").read_text(encoding="utf-8")
    assert "encoding: cp1252  # the file is not UTF-8" in written
    assert "not UTF-8: read as Windows-1252" in written
    spec = yaml.safe_load(written)["tables"]
    assert (spec["deals"]["delimiter"], spec["reps"]["distinct_from"]["encoding"]) == (";", "cp1252")
    data = load_dataset(tmp_path / "crm.yaml")
    assert check(data).ok, [str(i) for i in check(data).errors]
    assert sorted(data.tables["reps"]["rep_id"]) == ["Jürgen Müller", "Zoë Façade"]
    assert sorted(data.tables["deals"]["account_id"]) == ["Bäckerei Groß", "Café Zürich"]
    assert compute_kpis(data).get("company", "revenue", "2025-03", "company") == pytest.approx(1200.5)


def test_null_markers_are_guessed_from_every_column_and_read_as_missing(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(
        textwrap.dedent("""\
            Deal ID,Deal owner,Company,Deal Stage,Pipeline,Amount,Create Date,Close Date
            1,Ann,N/A Corp,Closed Won,NULL,100,2025-01-02,2025-03-20
            2,Ann,Bolt,Closed Lost,Sales, - ,2025-01-03,2025-03-01
            3,Bob,Cat,Open,Sales,300,2025-02-03,n/a
        """),
        encoding="utf-8",
    )
    guess = infer_source([tmp_path], base_dir=tmp_path)
    assert guess.null_values == ["", "-", "NULL", "n/a"]  # 'N/A Corp' is a name, not a marker
    (tmp_path / "crm.yaml").write_text(guess.to_yaml(), encoding="utf-8")
    assert (
        "  # guessed: read as missing: '-' 1 time(s) (in Amount); 'NULL' 1 time(s) (in Pipeline); "
        "'n/a' 1 time(s) (in Close Date)\n" in (tmp_path / "crm.yaml").read_text(encoding="utf-8")
    )
    data = load_dataset(tmp_path / "crm.yaml")
    assert check(data).ok, [str(i) for i in check(data).errors]
    deals = data.tables["deals"].set_index("deal_id")
    assert deals["segment"].isna().tolist() == [True, False, False]
    assert deals["amount"].isna().tolist() == [False, True, False]
    assert deals["close_date"].isna().tolist() == [False, False, True]
    assert deals.loc["1", "account_id"] == "N/A Corp"


@pytest.mark.parametrize("employees", [False, True], ids=["no-rep-list", "an-employees-file"])
def test_an_owner_id_column_is_not_called_the_owners_name(tmp_path: Path, employees: bool) -> None:
    (tmp_path / "deals.csv").write_text(
        "Deal ID,Owner ID,Company,Deal Stage,Amount,Create Date,Close Date\n"
        "1,7,Acme,Closed Won,100,2025-01-02,2025-03-20\n"
        "2,9,Bolt,Closed Lost,200,2025-01-03,2025-03-01\n",
        encoding="utf-8",
    )
    if employees:
        (tmp_path / "employees.csv").write_text("Owner ID,firstName,lastName\n7,Ann,Lee\n9,Bob,Roy\n", encoding="utf-8")
    (tmp_path / "crm.yaml").write_text(infer_source([tmp_path], base_dir=tmp_path).to_yaml(), encoding="utf-8")
    text = (tmp_path / "crm.yaml").read_text(encoding="utf-8")
    assert "the owner's name" not in text
    assert "rep_id: Owner ID  # guessed from 'Owner ID': 2 distinct values\n" in text
    if employees:
        assert "rep_id: Owner ID  # the deals' owner column 'Owner ID' holds these ids" in text
    else:
        assert "rep_id: Owner ID  # the owner column holds ids, not names: they are the rep ids" in text
        assert "the export has no owner names, so the id is shown" in text
    data = load_dataset(tmp_path / "crm.yaml")
    assert check(data).ok, [str(i) for i in check(data).errors]
    assert sorted(data.tables["reps"]["rep_id"]) == ["7", "9"]


def test_files_without_deals_are_refused_with_what_they_hold(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("First Name,Last Name,Phone\nA,B,1\n", encoding="utf-8")
    with pytest.raises(DataLoadError, match=r"none of the files looks like deals .*contacts.csv: First Name"):
        infer_source([tmp_path], base_dir=tmp_path)
    with pytest.raises(DataLoadError, match="no such file or folder"):
        infer_source([tmp_path / "nope"], base_dir=tmp_path)


# ---------------------------------------------------------------- joins guessed from files sharing the deals' ids


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def _loaded(tmp_path: Path, guess: object) -> object:
    """The guessed mapping written to tmp_path/crm.yaml, loaded; it must validate."""
    (tmp_path / "crm.yaml").write_text(guess.to_yaml(), encoding="utf-8")  # type: ignore[attr-defined]
    data = load_dataset(tmp_path / "crm.yaml")
    report = check(data)
    assert report.ok, [str(i) for i in report.errors]
    return data


ORDERS = """\
    Order ID,Sales Rep,Customer,Order Date
    1,Ann,Acme,2025-03-03
    2,Ann,Bolt,2025-03-10
    3,Bob,Cat,2025-03-12
"""


@pytest.mark.parametrize(
    ("discounts", "net"),
    [
        (("0.5", "0", "0.1", "0"), 10 * 2 * (1 - 0.5) + 4 * 5 + 100 * 1 * (1 - 0.1) + 7 * 3),  # fractions: applied
        (("50", "0", "10", "0"), 10 * 2 + 4 * 5 + 100 * 1 + 7 * 3),  # percentages: left out, with a note
    ],
)
def test_order_lines_give_the_deals_amount_and_units(tmp_path: Path, discounts: tuple[str, ...], net: float) -> None:
    """Deals without an amount, and a file of lines sharing their id with a unit price and a quantity: the amount
    is the sum of price * quantity (less a discount fraction) per deal, and the units the sum of quantities."""
    d = discounts
    lines = [("1", "11", "10", "2", d[0]), ("1", "12", "4", "5", d[1]), ("2", "11", "100", "1", d[2])]
    lines.append(("3", "13", "7", "3", d[3]))
    text = "Order ID,Product ID,Unit Price,Quantity,Discount\n" + "".join(",".join(r) + "\n" for r in lines)
    export = _write(tmp_path / "export", {"orders.csv": ORDERS, "order lines.csv": text})
    guess = infer_source([export], base_dir=tmp_path)
    assert guess.todo == []
    deals = yaml.safe_load(guess.to_yaml())["tables"]["deals"]
    assert deals["columns"]["amount"] == "net_amount" and deals["columns"]["units"] == "units"
    (join,) = deals["join"]
    assert (join["file"], join["on"]) == ("order lines.csv", "Order ID")
    fraction = d[0] == "0.5"
    assert join["aggregate"] == {
        "net_amount": f'sum("Unit Price" * Quantity{" * (1 - coalesce(Discount, 0))" if fraction else ""})',
        "units": "sum(Quantity)",
    }
    assert any("'Discount' holds values above 1" in n for n in guess.notes) is not fraction
    assert "# guessed: the sum of the deal's lines in order lines.csv (the join below)" in guess.to_yaml()
    assert not any("no amount" in n for n in guess.notes)
    kpis = compute_kpis(_loaded(tmp_path, guess))  # type: ignore[arg-type]
    assert kpis.get("company", "revenue", "2025-03", "company") == pytest.approx(net)
    assert kpis.get("company", "units_sold", "2025-03", "company") == pytest.approx(2 + 5 + 1 + 3)


def test_a_blank_discount_is_no_discount(tmp_path: Path) -> None:
    """A line without a discount (an empty cell) counts in full: `1 - NULL` would make the line NULL and `sum`
    skip it, and a deal whose lines all lack a discount would have no amount (a won deal without one fails
    validation)."""
    lines = "Order ID,Unit Price,Quantity,Discount\n1,10,2,0.5\n1,4,5,\n2,100,1,0.1\n3,7,3,\n"
    export = _write(tmp_path / "export", {"orders.csv": ORDERS, "order lines.csv": lines})
    guess = infer_source([export], base_dir=tmp_path)
    (join,) = yaml.safe_load(guess.to_yaml())["tables"]["deals"]["join"]
    assert join["aggregate"]["net_amount"] == 'sum("Unit Price" * Quantity * (1 - coalesce(Discount, 0)))'
    data = _loaded(tmp_path, guess)  # order 3's lines have no discount: it has an amount, and validates
    amounts = data.tables["deals"].set_index("deal_id")["amount"]  # type: ignore[attr-defined]
    assert amounts.to_dict() == pytest.approx({"1": 10 * 2 * 0.5 + 4 * 5, "2": 100 * 0.9, "3": 7 * 3})
    kpis = compute_kpis(data)  # type: ignore[arg-type]
    assert kpis.get("company", "revenue", "2025-03", "company") == pytest.approx(10 + 20 + 90 + 21)
    assert not any("some lines have no" in n for n in guess.notes)


def test_a_line_without_a_price_is_not_read_as_free_and_the_guess_says_so(tmp_path: Path) -> None:
    """A blank price or quantity is not made 0 in the sum (nothing says the line was free): the line counts
    nothing, as SQL sums do, and the guess notes it so the analyst fixes the export or the sum."""
    lines = "Order ID,Unit Price,Quantity\n1,10,2\n1,,5\n2,100,1\n3,7,\n3,1,1\n"
    export = _write(tmp_path / "export", {"orders.csv": ORDERS, "order lines.csv": lines})
    guess = infer_source([export], base_dir=tmp_path)
    (join,) = yaml.safe_load(guess.to_yaml())["tables"]["deals"]["join"]
    assert join["aggregate"]["net_amount"] == 'sum("Unit Price" * Quantity)'
    (note,) = [n for n in guess.notes if "some lines have no" in n]
    assert note.startswith("order lines.csv: some lines have no 'Unit Price' or no 'Quantity': they count nothing")
    amounts = _loaded(tmp_path, guess).tables["deals"].set_index("deal_id")["amount"]  # type: ignore[attr-defined]
    assert amounts.to_dict() == pytest.approx({"1": 20, "2": 100, "3": 1})


def test_lines_without_a_unit_price_and_a_quantity_are_left_to_the_analyst(tmp_path: Path) -> None:
    lines = "Order ID,Line Total\n1,20\n1,5\n2,100\n"
    export = _write(tmp_path / "export", {"orders.csv": ORDERS, "lines.csv": lines})
    guess = infer_source([export], base_dir=tmp_path)
    (todo,) = guess.todo
    assert todo.startswith("deals.amount: orders.csv has no amount. lines.csv shares the column 'Order ID'")
    assert "with the numbers Line Total, but no unit price and quantity columns" in todo
    assert """aggregate: {net: 'sum("Line Total")'}""" in todo
    assert "join" not in yaml.safe_load(guess.to_yaml())["tables"]["deals"]
    assert "orders.csv: no amount or value column: revenue KPIs are not available" in guess.notes


WON = "Deal ID,Deal owner,Company,Won Date\n"


def test_a_first_contact_date_in_another_file_is_the_deals_created_date(tmp_path: Path) -> None:
    """Won deals without a created date, and a file of contacts sharing their id: a deal was created at its
    earliest contact. The contacts' day-first dates are read as dates (text would sort 02/03 before 15/01)."""
    deals = WON + "1,Ann,Acme,2025-03-20\n2,Bob,Bolt,2025-03-25\n"
    contacts = "Deal ID,Contact Date,Channel\n1,02/03/2025,call\n1,15/01/2025,mail\n2,01/03/2025,call\n"
    export = _write(tmp_path / "export", {"deals.csv": deals, "contacts.csv": contacts})
    guess = infer_source([export], base_dir=tmp_path)
    assert guess.todo == [] and guess.severity == {}
    spec = yaml.safe_load(guess.to_yaml())["tables"]["deals"]
    assert spec["columns"]["created_date"] == "Contact Date"
    assert spec["join"][0]["aggregate"] == {"Contact Date": "min(try_strptime(\"Contact Date\", '%d/%m/%Y'))"}
    assert "created_date" not in spec.get("defaults", {})
    assert "leads" not in guess.tables  # two rows for deal 1: not one row per lead
    frame = _loaded(tmp_path, guess).tables["deals"].set_index("deal_id")  # type: ignore[attr-defined]
    assert [str(d.date()) for d in frame["created_date"]] == ["2025-01-15", "2025-03-01"]


def _won(n: int, before: int) -> dict[str, str]:
    """n won deals and their first contact a week before their close, except ``before`` of them (a day after)."""
    day = __import__("datetime").date(2025, 3, 20)
    week, one = __import__("datetime").timedelta(days=7), __import__("datetime").timedelta(days=1)
    deals = WON + "".join(f"{i},Ann,C{i},{day}\n" for i in range(n))
    first = "".join(f"{i},{day + one if i < before else day - week}\n" for i in range(n))
    return {"deals.csv": deals, "touches.csv": "Deal ID,First Contact\n" + first}


def test_a_few_deals_closing_before_their_joined_created_date_are_a_warning(tmp_path: Path) -> None:
    export = _write(tmp_path / "export", _won(25, 1))  # 1 in 25: 4%
    guess = infer_source([export], base_dir=tmp_path)
    level, why = guess.severity["close_before_create"]
    assert level == "warning"
    assert why.startswith("guessed: 1 deal(s) close before their joined created date (e.g. '0': closed 2025-03-20")
    assert "severity:\n  close_before_create: warning  # guessed: 1 deal(s)" in guess.to_yaml()
    report = check(_loaded(tmp_path, guess))  # type: ignore[arg-type]
    assert any("close before they were created" in str(i) and i.count == 1 for i in report.warnings)


def test_a_date_that_many_deals_close_before_is_not_their_created_date(tmp_path: Path) -> None:
    export = _write(tmp_path / "export", _won(10, 3))
    guess = infer_source([export], base_dir=tmp_path)
    (todo,) = guess.todo
    assert "3 of the 10 deals found there close before their 'First Contact', so it is not read as their" in todo
    assert "aggregate: {created: 'min(\"First Contact\")'}" in todo
    assert guess.severity == {}
    assert yaml.safe_load(guess.to_yaml())["tables"]["deals"]["defaults"]["created_date"] is None


@pytest.mark.parametrize("name", ["leads.csv", "mql.csv"])
def test_one_row_per_deal_id_with_a_date_and_an_origin_is_the_leads_table(tmp_path: Path, name: str) -> None:
    """Five leads, two of which became deals: the leads table, its rep and deal joined back from the deals;
    the three leads without a deal go to the pseudo-rep. Only an MQL file says every lead is qualified."""
    deals = (
        "Deal ID,Deal owner,Company,Deal Stage,Amount,Create Date,Close Date\n"
        "L1,Ann,Acme,Closed Won,100,2025-03-02,2025-03-20\nL4,Bob,Bolt,Closed Lost,50,2025-03-05,2025-03-25\n"
    )
    leads = "Deal ID,Created On,Lead Source\n" + "".join(f"L{i},2025-03-0{i},web\n" for i in range(1, 6))
    export = _write(tmp_path / "export", {"deals.csv": deals, name: leads})
    guess = infer_source([export], base_dir=tmp_path)
    spec = yaml.safe_load(guess.to_yaml())
    assert spec["unassigned_rep"] == "unassigned"
    table = spec["tables"]["leads"]
    assert table["columns"] == {
        "lead_id": "Deal ID",
        "created_date": "Created On",
        "source": "Lead Source",
        "rep_id": "deal_rep",
        "converted_deal_id": "converted_deal",
    }
    assert table["defaults"] == {"qualified": True}
    assert table["join"] == [
        {
            "file": "deals.csv",
            "on": "Deal ID",
            "aggregate": {"deal_rep": 'any_value("Deal owner")', "converted_deal": 'any_value("Deal ID")'},
        }
    ]
    assert (guess.todo == []) is (name == "mql.csv")
    if name == "mql.csv":
        assert "guessed: the file name 'mql.csv' says they are qualified leads" in guess.to_yaml()
    else:
        assert guess.todo[0].startswith("leads.qualified: nothing in leads.csv says which leads are qualified")
    data = _loaded(tmp_path, guess)
    frame = data.tables["leads"].set_index("lead_id")  # type: ignore[attr-defined]
    assert frame["rep_id"].tolist() == ["Ann", "unassigned", "unassigned", "Bob", "unassigned"]
    assert frame["converted_deal_id"].isna().tolist() == [False, True, True, False, True]
    kpis = compute_kpis(data)  # type: ignore[arg-type]
    assert kpis.get("company", "leads", "2025-03", "company") == 5


@pytest.mark.parametrize("created", [False, True])
def test_a_file_of_deal_details_with_a_date_and_a_source_is_not_the_leads_table(tmp_path: Path, created: bool) -> None:
    """One row per deal with a created date and a lead source, but every row a deal: deal details, not leads
    (read as leads, every lead would have become a deal, 100% conversion). Its date is the deals' created date
    when they have none; otherwise the file is left out, without a to-do to map it as leads."""
    deals = "Deal ID,Deal owner,Company,Deal Stage,Amount,Close Date\n" + "".join(
        f"D{i},{'Ann' if i % 2 else 'Bob'},C{i},Closed Won,100,2025-03-2{i}\n" for i in range(1, 4)
    )
    if created:
        deals = deals.replace(",Close Date\n", ",Create Date,Close Date\n")
        deals = deals.replace(",2025-03-2", ",2025-03-01,2025-03-2")
    details = "Deal ID,Created Date,Lead Source\n" + "".join(f"D{i},2025-03-0{i + 1},web\n" for i in (3, 1, 2))
    export = _write(tmp_path / "export", {"deals.csv": deals, "deal details.csv": details})
    guess = infer_source([export], base_dir=tmp_path)
    assert "leads" not in guess.tables
    assert guess.todo == []
    assert any(
        n.startswith("deal details.csv: one row per 'Deal ID' with a 'Created Date' and a 'Lead Source', but every row")
        for n in guess.notes
    )
    spec = yaml.safe_load(guess.to_yaml())["tables"]["deals"]
    if created:
        assert spec["columns"]["created_date"] == "Create Date" and "join" not in spec
        assert any(n.startswith("not recognised as deals or reps, so left out: deal details.csv") for n in guess.notes)
    else:
        assert spec["columns"]["created_date"] == "Created Date"
        assert spec["join"][0]["file"] == "deal details.csv"
    data = _loaded(tmp_path, guess)
    assert "leads" not in data.tables  # type: ignore[attr-defined]
    frame = data.tables["deals"].set_index("deal_id")  # type: ignore[attr-defined]
    days = ["2025-03-01"] * 3 if created else ["2025-03-02", "2025-03-03", "2025-03-04"]
    assert [str(d.date()) for d in frame["created_date"]] == days


# --------------------------------------------------------------------------- the two shared data sets, as raw files

DATASETS = ROOT.parent / "shared" / "datasets"


def _raw(folder: str) -> Path:
    path = DATASETS / folder
    if not path.is_dir():
        pytest.skip(f"the shared data set {path} is not available")
    return path


HAND_WRITTEN = {"northwind-orders": "northwind.yaml", "olist-marketing-funnel": "olist.yaml"}


def _guessed(tmp_path: Path, folder: str) -> tuple[Guess, Path]:
    """init --from-export's guess of a shared data set's raw files, written as tmp_path/sources/crm.yaml."""
    raw = _raw(folder)
    out = tmp_path / "sources" / "crm.yaml"
    out.parent.mkdir(parents=True)
    guess = infer_source([raw], base_dir=out.parent)
    out.write_text(guess.to_yaml(), encoding="utf-8")
    return guess, out


def _resolved(table: dict[str, Any]) -> dict[str, object]:
    """A table's canonical columns -> the export column, or (file, key, aggregate) when joined, or a default."""
    joined = {new: (j["file"], j["on"], expr) for j in table.get("join", []) for new, expr in j["aggregate"].items()}
    out: dict[str, object] = {canon: joined.get(col, col) for canon, col in table.get("columns", {}).items()}
    out.update({canon: ("default", value) for canon, value in table.get("defaults", {}).items()})
    return out


@pytest.mark.parametrize("folder", sorted(HAND_WRITTEN))
def test_a_shared_data_set_guessed_from_its_raw_files_maps_as_the_hand_written_mapping(
    tmp_path: Path, folder: str
) -> None:
    """Nothing is left to add by hand: the deals (Northwind's amount and units summed over order-details.csv,
    Olist's created date joined from the MQL file) and the leads (Olist's MQL file, the closing rep and deal
    joined back) read the same columns, joins and defaults as params/sources/, and so do `unassigned_rep` and
    `severity`. Only the reps differ: the hand-written files make up display names and teams."""
    guess, out = _guessed(tmp_path, folder)
    assert guess.todo == []
    mine, theirs = read_yaml(out), read_yaml(ROOT / "params" / "sources" / HAND_WRITTEN[folder])  # `on:` is a key
    assert sorted(mine["tables"]) == sorted(theirs["tables"])
    for table in ("deals", "leads"):
        if table in theirs["tables"]:
            assert _resolved(mine["tables"][table]) == _resolved(theirs["tables"][table]), table
    assert mine.get("unassigned_rep") == theirs.get("unassigned_rep")
    assert mine.get("severity") == theirs.get("severity")


def _rep_and_company(table: KpiTable, kpis: list[str]) -> pd.Series:
    """The values of these KPIs for every rep (by id) and the company, every grain and period."""
    v = table.values
    v = v[v["kpi"].astype(str).isin(kpis) & v["entity_type"].astype(str).isin(["rep", "company"])]
    index = [v[c].astype(str) for c in ("entity_type", "entity_id", "kpi", "grain", "period")]
    return pd.Series(v["value"].to_numpy(dtype=float), index=pd.MultiIndex.from_arrays(index)).sort_index()


@pytest.mark.parametrize("folder", sorted(HAND_WRITTEN))
def test_a_shared_data_set_guessed_from_its_raw_files_gives_the_hand_written_mappings_kpis(
    tmp_path: Path, folder: str
) -> None:
    """The guessed mapping validates, and every KPI the hand-written mapping can compute has the same value for
    every rep (compared by rep id: display names differ), the company, every grain and period.

    Teams are not compared: the hand-written mappings make teams up ('Sales ' || country for Northwind, one
    team 'Sales' for Olist) and the exports hold no team column to guess them from, so the guessed reps have
    no team. A team's value is the sum or ratio of its reps' values, which are compared."""
    _, out = _guessed(tmp_path, folder)
    guessed = load_dataset(out)
    report = check(guessed)
    assert report.ok, [str(i) for i in report.errors]
    shipped = load_dataset(ROOT / "params" / "sources" / HAND_WRITTEN[folder])
    mine, theirs = compute_kpis(guessed), compute_kpis(shipped)
    computable = sorted(set(theirs.values["kpi"].astype(str)) - set(theirs.unavailable))
    assert not set(computable) & set(mine.unavailable), mine.unavailable
    a, b = _rep_and_company(mine, computable), _rep_and_company(theirs, computable)
    assert a.index.equals(b.index)  # the same reps, KPIs, grains and periods
    same = np.isclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0, equal_nan=True)
    assert same.all(), pd.DataFrame({"guessed": a, "hand-written": b})[~same].head(10)
    # not a comparison of empty values: every KPI compared has values
    assert set(b.dropna().index.get_level_values(2)) == set(computable)


def test_olist_leads_without_a_closing_rep_go_to_the_pseudo_rep_and_the_guess_says_why(tmp_path: Path) -> None:
    """Counted from the raw files: the leads that never became a closed deal, and the deals won before their
    lead's first contact."""
    import csv

    guess, out = _guessed(tmp_path, "olist-marketing-funnel")
    with (DATASETS / "olist-marketing-funnel" / "olist_closed_deals_dataset.csv").open(encoding="utf-8") as fh:
        won = {row["mql_id"]: row["won_date"][:10] for row in csv.DictReader(fh)}
    with (DATASETS / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv").open() as fh:
        first = {row["mql_id"]: row["first_contact_date"][:10] for row in csv.DictReader(fh)}
    orphans = len(set(first) - set(won))
    early = sum(1 for lead, day in won.items() if day < first[lead])
    text = out.read_text(encoding="utf-8")
    assert f"unassigned_rep: unassigned  # guessed: {orphans:,} of the {len(first):,} leads" in text
    assert "qualified: true  # guessed: the file name 'olist_marketing_qualified_leads_dataset.csv' says" in text
    assert f"close_before_create: warning  # guessed: {early} deal(s) close before their joined created date" in text
    assert any(f"{orphans:,} of the {len(first):,} leads have no rep" in n for n in guess.notes)
    data = load_dataset(out)
    assert (data.tables["leads"]["rep_id"] == "unassigned").sum() == orphans
