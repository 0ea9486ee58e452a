"""Validation: every rule named, errors vs warnings, severity overrides, nothing reported twice."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from salesreports.data.loading import Dataset, load_dataset
from salesreports.data.schema import RULES, TABLES, rule_issue
from salesreports.data.validate import Report, check, pandera_schema, validate
from salesreports.errors import DataValidationError, Issue

TODAY = dt.date(2025, 6, 30)
REPS = """
    rep_id,name,email,hire_date,leave_date
    R1,Ann Archer,ann@example.com,2020-01-01,
    R2,Bob Baker,bob@example.com,2021-01-01,
"""
DEALS = """
    deal_id,rep_id,account_id,created_date,close_date,stage,amount
    D1,R1,A1,2025-01-01,2025-02-01,won,100
    D2,R2,A2,2025-01-01,2025-02-01,lost,50
    D3,R2,A3,2025-03-01,,open,70
"""


def _data(tmp_path: Path, source: str = "", **files: str) -> Dataset:
    files = {"reps_csv": REPS, "deals_csv": DEALS, **files}
    tables = []
    for name, text in files.items():
        table = name.removesuffix("_csv")
        (tmp_path / f"{table}.csv").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        if table in TABLES:
            tables.append(f"  {table}: {{file: {table}.csv}}")
    path = tmp_path / "source.yaml"
    path.write_text(f"name: t\n{textwrap.dedent(source)}tables:\n" + "\n".join(tables) + "\n", encoding="utf-8")
    return load_dataset(path)


def _issues(report: Report, column: str = "", table: str = "") -> list[Issue]:
    return [i for i in report.issues if (not column or i.column == column) and (not table or i.table == table)]


def test_clean_data_has_no_issues(tmp_path: Path) -> None:
    report = check(_data(tmp_path), today=TODAY)
    assert report.issues == ()
    assert report.ok
    report.raise_for_errors()
    assert validate(_data(tmp_path), today=TODAY).ok


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    report = check(_data(tmp_path, deals_csv=DEALS + "    D1,R1,A1,2025-01-01,2025-02-01,won,5\n"), today=TODAY)
    (issue,) = report.errors
    assert (issue.table, issue.column, issue.rows, issue.count) == ("deals", "deal_id", (2, 5), 2)
    assert "2 row(s) share 1 id(s) that must be unique (e.g. 'D1')" in issue.message
    assert issue.file.endswith("deals.csv")
    assert "remove the duplicate rows" in issue.fix
    with pytest.raises(DataValidationError) as err:
        validate(_data(tmp_path, deals_csv=DEALS + "    D1,R1,A1,2025-01-01,2025-02-01,won,5\n"), today=TODAY)
    assert "The data has 1 error(s)" in str(err.value)
    assert "deals.csv, column 'deal_id'" in str(err.value)
    assert err.value.issues[0] == issue


def test_rep_with_no_deals_is_a_warning(tmp_path: Path) -> None:
    report = check(_data(tmp_path, reps_csv=REPS + "    R3,Cy Cole,cy@example.com,2022-01-01,\n"), today=TODAY)
    assert report.ok
    (issue,) = report.warnings
    assert (issue.table, issue.column, issue.rows) == ("reps", "rep_id", (4,))
    assert "1 rep(s) have no deals at all" in issue.message


def test_unknown_rep_is_an_error(tmp_path: Path) -> None:
    report = check(_data(tmp_path, deals_csv=DEALS + "    D4,R9,A1,2025-01-01,2025-02-01,won,5\n"), today=TODAY)
    (issue,) = report.errors
    assert (issue.table, issue.column, issue.rows) == ("deals", "rep_id", (5,))
    assert "name a rep that is not in the reps table (e.g. 'R9')" in issue.message
    assert "`severity: {unknown_rep: warning}`" in issue.fix


@pytest.mark.parametrize(
    ("row", "column", "text"),
    [
        ("D4,R1,A1,2025-01-01,2025-02-01,won,-20", "amount", "1 value(s) are below the minimum 0.0 (e.g. '-20.0')"),
        (
            "D4,R1,A1,2025-03-01,2025-02-01,won,20",
            "close_date",
            "1 deal(s) close before they were created (e.g. deal 'D4': created 2025-03-01, closed 2025-02-01)",
        ),
        ("D4,R1,A1,2025-01-01,2025-07-15,won,20", "close_date", "1 date(s) are in the future (after 2025-06-30)"),
        ("D4,R1,A1,2025-08-01,,open,20", "created_date", "1 date(s) are in the future"),
        ("D4,R1,A1,2025-01-01,,won,20", "close_date", "1 won or lost deal(s) have no close date"),
        ("D4,R1,A1,2025-01-01,2025-02-01,won,", "amount", "1 won deal(s) have no amount"),
        ("D4,R1,,2025-01-01,2025-02-01,won,5", "account_id", "1 row(s) have no value, which this column requires"),
        ("D4,R1,A1,2025-01-01,2025-02-01,Closed,5", "stage", "1 value(s) are not allowed (e.g. 'Closed')"),
    ],
    ids=[
        "negative-amount",
        "close-before-create",
        "future-close",
        "future-create",
        "won-no-close",
        "won-no-amount",
        "no-account",
        "unknown-stage",
    ],
)
def test_deal_rules_are_errors_naming_column_and_row(tmp_path: Path, row: str, column: str, text: str) -> None:
    report = check(_data(tmp_path, deals_csv=DEALS + f"    {row}\n"), today=TODAY)
    (issue,) = report.errors
    assert (issue.table, issue.column, issue.rows, issue.count) == ("deals", column, (5,), 1)
    assert text in issue.message


def test_an_open_deals_expected_close_date_may_be_in_the_future(tmp_path: Path) -> None:
    report = check(_data(tmp_path, deals_csv=DEALS + "    D4,R1,A1,2025-06-01,2025-09-30,open,20\n"), today=TODAY)
    assert report.issues == ()


def test_negative_amount_fix_explains_credit_notes(tmp_path: Path) -> None:
    report = check(_data(tmp_path, deals_csv=DEALS + "    D4,R1,A1,2025-01-01,2025-02-01,won,-20\n"), today=TODAY)
    assert "a refund or credit note is not a negative deal" in report.errors[0].fix


def test_severity_override_turns_an_error_into_a_warning(tmp_path: Path) -> None:
    deals = DEALS + "    D4,R1,A1,2025-03-01,2025-02-01,won,20\n"
    report = check(_data(tmp_path, "severity: {close_before_create: warning}\n", deals_csv=deals), today=TODAY)
    assert report.ok
    (issue,) = report.warnings
    assert issue.column == "close_date"
    assert "(rule close_before_create: set to warning by the source file's `severity`; default error)" in issue.message
    assert validate(_data(tmp_path, "severity: {close_before_create: warning}\n", deals_csv=deals), today=TODAY).ok


def test_severity_override_can_make_a_warning_an_error(tmp_path: Path) -> None:
    reps = REPS + "    R3,Cy Cole,cy@example.com,2022-01-01,\n"
    report = check(_data(tmp_path, "severity: {rep_without_deals: error}\n", reps_csv=reps), today=TODAY)
    assert [i.column for i in report.errors] == ["rep_id"]


def test_deals_without_amount_column_warn_that_revenue_is_not_available(tmp_path: Path) -> None:
    deals = "\n".join(line.rsplit(",", 1)[0] for line in textwrap.dedent(DEALS).strip().splitlines()) + "\n"
    data = _data(tmp_path, deals_csv=deals)
    assert "amount" not in data.tables["deals"].columns  # absent, not zero
    report = check(data, today=TODAY)
    assert report.ok
    (issue,) = report.warnings
    assert (issue.table, issue.column, issue.rows, issue.count) == ("deals", "amount", (), 3)
    assert "the 3 deals have no amount column" in issue.message
    assert "revenue" in issue.message
    assert "not available" in issue.message


def test_reps_rules(tmp_path: Path) -> None:
    reps = """
        rep_id,name,email,hire_date,leave_date
        R1,Ann Archer,ann@example.com; bob@example.com,2020-01-01,
        R2,Bob Baker,,2021-01-01,2020-06-30
    """
    report = check(_data(tmp_path, reps_csv=reps), today=TODAY)
    by_rule = {(i.column, i.severity): i for i in report.issues}
    assert by_rule[("email", "error")].rows == (2,)
    assert "not one plain address" in by_rule[("email", "error")].message
    assert by_rule[("email", "warning")].rows == (3,)
    assert "cannot be sent" in by_rule[("email", "warning")].message
    assert by_rule[("leave_date", "error")].rows == (3,)
    assert "leave before they were hired" in by_rule[("leave_date", "error")].message


def test_reps_without_email_column(tmp_path: Path) -> None:
    report = check(_data(tmp_path, reps_csv="rep_id,name\nR1,Ann\nR2,Bob\n"), today=TODAY)
    (issue,) = report.warnings
    assert (issue.column, issue.rows) == ("email", ())
    assert "the reps table has no email column: the 2 reps' scorecards are built but cannot be sent" in issue.message


def test_leads_rules(tmp_path: Path) -> None:
    leads = """
        lead_id,rep_id,created_date,qualified,converted_deal_id
        L1,R1,2025-01-01,true,D1
        L2,R1,2025-01-01,true,D9
        L3,,2025-01-02,false,
    """
    report = check(_data(tmp_path, leads_csv=leads), today=TODAY)
    issues = {i.column: i for i in report.errors}
    assert issues["converted_deal_id"].rows == (3,)
    assert "point at a deal that is not in the deals table" in issues["converted_deal_id"].message
    assert issues["rep_id"].rows == (4,)
    assert "`unassigned_rep: unassigned`" in issues["rep_id"].fix


def test_unassigned_pseudo_rep_is_not_flagged(tmp_path: Path) -> None:
    leads = "lead_id,rep_id,created_date,qualified\nL1,R1,2025-01-01,true\nL2,,2025-01-02,false\n"
    report = check(_data(tmp_path, "unassigned_rep: unassigned\n", leads_csv=leads), today=TODAY)
    assert report.ok
    (issue,) = report.warnings  # no "no deals" or "no email" warning for the pseudo-rep
    assert (issue.table, issue.column, issue.rows) == ("leads", "rep_id", (3,))


def test_targets_rules(tmp_path: Path) -> None:
    targets = """
        rep_id,team,period,metric,target
        R1,,2025-03,revenue,5000
        R1,,2025-13,revenue,5000
        ,,2025-03,revenue,5000
        R1,,2025-03,revenu,5000
        R1,,2025-03,revenue,-1
    """
    report = check(_data(tmp_path, targets_csv=targets), today=TODAY)
    issues = {i.column: i for i in report.errors}
    assert issues["period"].rows == (3,)
    assert issues["rep_id"].rows == (4,)
    assert "neither a rep_id nor a team" in issues["rep_id"].message
    assert issues["metric"].rows == (5,)
    assert "name an unknown KPI (e.g. 'revenu')" in issues["metric"].message
    assert issues["target"].rows == (6,)


def test_feedback_and_activities_rules(tmp_path: Path) -> None:
    report = check(
        _data(
            tmp_path,
            feedback_csv="rep_id,date,source,score\nR1,2025-01-01,client,6\n",
            activities_csv="rep_id,date,type\nR1,2025-01-01,visit\n",
        ),
        today=TODAY,
    )
    issues = {(i.table, i.column): i for i in report.errors}
    assert "above the maximum 5.0" in issues[("feedback", "score")].message
    assert "not allowed (e.g. 'visit')" in issues[("activities", "type")].message


def test_unreadable_values_are_not_also_reported_as_missing(tmp_path: Path) -> None:
    deals = DEALS + "    D4,R1,A1,01/02/2025,2025-02-01,won,5\n    D5,R1,A1,,2025-02-01,won,5\n"
    report = check(_data(tmp_path, deals_csv=deals), today=TODAY)
    created = _issues(report, "created_date")
    assert [(i.rows, i.count) for i in created] == [((5,), 1), ((6,), 1)]
    assert "not dates" in created[0].message or "not dates" in created[1].message
    assert any("have no created date" in i.message for i in created)  # a warning: the deal is kept


def test_a_missing_required_column_is_reported_once(tmp_path: Path) -> None:
    deals = "deal_id,rep_id,account_id,created_date,close_date,amount\nD1,R1,A1,2025-01-01,2025-02-01,5\n"
    report = check(_data(tmp_path, deals_csv=deals), today=TODAY)
    (issue,) = _issues(report, "stage")
    assert "required column 'stage' is missing" in issue.message


def test_check_on_a_hand_built_dataset_reports_missing_columns() -> None:
    frame = pd.DataFrame({"_row": [1], "deal_id": ["D1"]})
    report = check(Dataset({"deals": frame}, {"deals": "deals.csv"}), today=TODAY)
    missing = {i.column for i in report.errors if "is missing" in i.message}
    assert missing == {"rep_id", "account_id", "created_date", "close_date", "stage"}


def test_errors_come_first() -> None:
    frame = pd.DataFrame({"_row": [1, 2], "rep_id": ["R1", "R1"], "email": [None, None]})
    report = check(Dataset({"reps": frame}, {"reps": "reps.csv"}), today=TODAY)
    assert [i.severity for i in report.issues] == ["error", "warning"]
    assert report.errors[0].column == "rep_id"


def test_large_amounts_warn() -> None:
    deals = pd.DataFrame(
        {
            "_row": [1],
            "deal_id": ["D1"],
            "rep_id": ["R1"],
            "account_id": ["A"],
            "created_date": [pd.Timestamp("2025-01-01")],
            "close_date": [pd.Timestamp("2025-01-02")],
            "stage": ["won"],
            "amount": [5e9],
        }
    )
    (issue,) = check(Dataset({"deals": deals}, {"deals": "deals.csv"}), today=TODAY).warnings
    assert "above 1,000,000,000" in issue.message


def test_every_rule_has_a_description_and_issue() -> None:
    for name, rule in RULES.items():
        assert rule.description
        issue = rule_issue(name, "deals", "x", severity={name: "warning"})
        assert issue.severity == "warning"
    assert "severity" not in rule_issue("missing_column", "deals", "x").fix


@pytest.mark.parametrize("table", list(TABLES))
def test_pandera_schema_is_generated_from_the_declarations(table: str) -> None:
    schema = pandera_schema(table)
    assert set(schema.columns) == set(TABLES[table].names)
    for col in TABLES[table].columns:
        assert schema.columns[col.name].nullable == col.nullable
        assert schema.columns[col.name].unique == col.unique


def test_deals_without_created_date_are_a_warning_with_a_count_not_an_error(tmp_path: Path) -> None:
    deals = DEALS + "    D4,R1,A4,,,open,90\n    D5,R1,A5,,2025-03-01,won,40\n"
    report = check(_data(tmp_path, deals_csv=deals), today=TODAY)
    assert report.ok, [str(i) for i in report.errors]
    (issue,) = [i for i in report.warnings if i.column == "created_date"]
    assert (issue.table, issue.rows, issue.count) == ("deals", (5, 6), 2)
    assert "2 deal(s) have no created date (1 open, 1 won or lost)" in issue.message
    assert "open pipeline" in issue.message
    assert "sales cycle" in issue.message and "1 won deal(s)" in issue.message
    assert "(lines 5, 6)" in str(issue)


def test_item9_amounts_beyond_max_amount_are_errors_naming_file_column_and_lines(tmp_path: Path) -> None:
    deals = """
        deal_id,rep_id,account_id,created_date,close_date,stage,amount,cost
        D1,R1,A1,2025-01-01,2025-02-01,won,100,10
        D2,R1,A2,2025-01-01,2025-02-01,won,1e308,10
        D3,R2,A3,2025-03-01,,open,70,
        D4,R2,A4,2025-03-01,2025-03-05,won,-1e308,
        D5,R2,A4,2025-03-01,2025-03-05,won,5e9,2e12
    """
    targets = """
        rep_id,team,period,metric,target
        R1,,2025-02,revenue,2e12
    """
    report = check(_data(tmp_path, deals_csv=deals, targets_csv=targets), today=TODAY)
    found = {(i.table, i.column): i for i in report.errors if "beyond the limit" in i.message}
    assert set(found) == {("deals", "amount"), ("deals", "cost"), ("targets", "target")}
    amount = found["deals", "amount"]
    assert amount.file == str(tmp_path / "deals.csv")
    assert amount.rows == (3, 5)  # spreadsheet lines, the header being line 1
    assert amount.count == 2
    assert "beyond the limit of 1,000,000,000,000 (`max_amount`)" in amount.message
    assert "'1e+308'" in amount.message
    assert "raise `max_amount` in the source file" in amount.fix
    assert found["deals", "cost"].rows == (6,)
    assert found["targets", "target"].rows == (2,)
    text = str(amount)
    assert text.startswith(f"{tmp_path / 'deals.csv'}, column 'amount': 2 value(s) are beyond")
    assert "(lines 3, 5)" in text
    # 5e9 is within the limit: still the plausibility warning, not an error
    (warning,) = [i for i in report.warnings if "above 1,000,000,000" in i.message]
    assert warning.rows == (6,)


def test_item9_max_amount_is_set_in_the_source_file(tmp_path: Path) -> None:
    deals = """
        deal_id,rep_id,account_id,created_date,close_date,stage,amount
        D1,R1,A1,2025-01-01,2025-02-01,won,700
        D2,R1,A2,2025-01-01,2025-02-01,won,300
    """
    data = _data(tmp_path, "max_amount: 500\n", deals_csv=deals)
    assert data.max_amount == 500
    (issue,) = check(data, today=TODAY).errors
    assert (issue.column, issue.rows) == ("amount", (2,))
    assert "beyond the limit of 500" in issue.message
    with pytest.raises(DataValidationError, match="beyond the limit of 500"):
        validate(data, today=TODAY)


def test_validation_imports_pandera_without_hypothesis_and_hypothesis_still_imports() -> None:
    """pandera would import hypothesis (its data synthesis, never used here): ~0.25 s of a first validation,
    also through the checks it registers as it validates its first frame."""
    import subprocess
    import sys

    code = (
        "import sys; import pandas as pd; from salesreports.data.validate import pandera_schema; "
        "schema = pandera_schema('deals'); import pandera.errors as pe\n"
        "try:\n    schema.validate(pd.DataFrame({'deal_id': ['D1']}), lazy=True)\nexcept pe.SchemaErrors:\n    pass\n"
        "print('hypothesis' in sys.modules, 'pandera' in sys.modules); "
        "import hypothesis; print(hypothesis.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "hypothesis"]
