"""`salesreports validate`: exit codes, where messages go, and no traceback for a user's mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import NOT_A_FILE, finishes, make_not_a_file, write_config
from salesreports.cli import app

ROOT = Path(__file__).parents[1]
SHARED = Path(__file__).parents[2] / "shared" / "datasets"
runner = CliRunner()


def _run(*args: str) -> Result:
    return runner.invoke(app, ["validate", *args])


def _flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


def _source(tmp_path: Path, source: str, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name.replace("_csv", ".csv")).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text("name: t\n" + textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def test_valid_source_exits_0_and_lists_warnings() -> None:
    result = _run("--source", str(ROOT / "tests" / "fixtures" / "tiny" / "source.yaml"))
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "OK" in out
    assert "3 reps, 8 deals, 4 leads, 14 activities, 2 targets, 3 feedback" in out
    assert "0 error(s), 2 warning(s)" in out
    assert "warning" in out
    assert "have no deals at all" in out
    assert result.stderr == ""


def test_quiet_hides_warnings() -> None:
    result = _run("--source", str(ROOT / "tests" / "fixtures" / "tiny" / "source.yaml"), "--quiet")
    assert result.exit_code == 0
    assert "have no deals at all" not in result.stdout
    assert "2 warning(s)" in _flat(result.stdout)


def test_data_errors_exit_1_and_are_listed(tmp_path: Path) -> None:
    path = _source(
        tmp_path,
        "tables: {reps: {file: reps.csv}, deals: {file: deals.csv}}\n",
        reps_csv="rep_id,name,email\nR1,Ann,ann@example.com\n",
        deals_csv="""
                       deal_id,rep_id,account_id,created_date,close_date,stage,amount
                       D1,R1,A1,2025-01-01,2025-02-01,won,100
                       D1,R9,A1,2025-01-01,2025-02-01,won,-5
                   """,
    )
    result = _run("--source", str(path))
    assert result.exit_code == 1
    out = _flat(result.stdout)
    assert "FAILED" in out
    assert "3 error(s)" in out
    assert "column 'deal_id': 2 row(s) share 1 id(s) that must be unique" in out
    assert "column 'rep_id': 1 row(s) name a rep that is not in the reps table (e.g. 'R9') (line 3)" in out
    assert "below the minimum 0.0" in out
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("source", "files", "code", "message"),
    [
        ("tables: {deals: {file: deals.csv}}\n", {"deals_csv": ""}, 1, "deals.csv: the file is empty"),
        ("tables: {deals: {file: deals.csv}}\n", {"deals_csv": "deal_id;rep_id\nD1;R1\n"}, 1, "looks ';'-separated"),
        (
            "tables: {deals: {file: deals.csv, columns: {amount: amout}}}\n",
            {"deals_csv": "deal_id,amount\nD1,1\n"},
            1,
            "Did you mean 'amount'?",
        ),
        ("tables: {deals: {file: deals.csv, colums: {}}}\n", {}, 2, "key 'tables.deals.colums' is not known"),
        ("tables: {deals: {file: nowhere.csv}}\n", {}, 1, "nowhere.csv: file not found"),
    ],
    ids=["empty-file", "wrong-delimiter", "mapping-typo", "config-typo", "missing-file"],
)
def test_unusable_sources_print_one_message_without_traceback(
    tmp_path: Path, source: str, files: dict[str, str], code: int, message: str
) -> None:
    result = _run("--source", str(_source(tmp_path, source, **files)))
    assert result.exit_code == code
    assert result.stdout == ""
    err = _flat(result.stderr)
    assert err.startswith("error:")
    assert message in err
    assert "Traceback" not in result.output


def test_missing_source_file_is_a_settings_error(tmp_path: Path) -> None:
    result = _run("--source", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml: file not found" in _flat(result.stderr)


def test_database_password_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PASSWORD", "hunter2-secret")
    path = _source(
        tmp_path,
        """
        kind: sql
        url: postgresql://sales:${CRM_PASSWORD}@127.0.0.1:1/crm
        tables: {reps: {table: reps}}
    """,
    )
    result = _run("--source", str(path))
    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "postgresql://sales:***@127.0.0.1:1/crm" in _flat(result.stderr)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the shared public data sets are not beside the repo ({SHARED})")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "northwind",
            [
                "OK",
                "9 reps, 830 deals",
                "176 row(s) have more fields than the header's 14",
                "1 value(s) written 'NULL' were read as missing",
                "0 error(s), 3 warning(s)",
            ],
        ),
        (
            "olist",
            [
                "OK",
                "23 reps, 842 deals, 8,000 leads",
                "1 deal(s) close before they were created",
                "7,158 of 8,000 row(s) have no rep",
                "the 842 deals have no amount column",
                "0 error(s), 4 warning(s)",
            ],
        ),
    ],
)
def test_shared_datasets_validate(name: str, expected: list[str]) -> None:
    result = _run("--source", str(ROOT / "params" / "sources" / f"{name}.yaml"))
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    for text in expected:
        assert text in out


def test_validate_says_what_the_reports_will_show_and_leave_out() -> None:
    result = _run("--source", str(ROOT / "tests" / "fixtures" / "deals_only" / "source.yaml"))
    out = _flat(result.output)
    assert result.exit_code == 0, out
    shown = "Revenue, Deals won, Win rate, Average deal size, Sales cycle, Open pipeline"
    assert f"The reports will show: {shown}." in out
    assert f"Headline tiles: {shown}." in out
    assert "- the data source has no targets table: quota attainment, pipeline coverage, the incentive estimate" in out
    assert "- the reps table has no hire_date values: the ramp-up comparison with earlier hires" in out
    assert "the data starts in March 2026: new customers, customer retention, repeat business" in out


def test_validate_honours_a_configured_headline(tmp_path: Path) -> None:
    extra = "scorecard:\n  headline: [win_rate, quota_attainment, revenue]\n"
    params = write_config(tmp_path, ROOT / "tests" / "fixtures" / "deals_only" / "source.yaml", extra=extra)
    result = _run("--params", str(params))
    out = _flat(result.output)
    assert result.exit_code == 0, out
    assert "Headline tiles: Win rate, Revenue." in out  # the settings' order; no targets: no attainment tile
    assert "(scorecard.headline also names Quota attainment: not in your data)" in out


@pytest.mark.parametrize("key", ["headline", "ranking"])
def test_an_unknown_kpi_in_the_scorecard_settings_fails_validate(tmp_path: Path, key: str) -> None:
    params = write_config(tmp_path, extra=f"scorecard:\n  {key}: [revenue, win_rte]\n")
    result = _run("--params", str(params))
    assert result.exit_code == 2, result.output
    err = _flat(result.stderr)
    assert f"{params}: scorecard.{key} names an unknown KPI 'win_rte'. Did you mean 'win_rate'?" in err
    assert "Fix: use names from `salesreports kpis`" in err
    assert "OK" not in result.stdout and "Traceback" not in result.output


def test_an_empty_settings_file_fails_instead_of_validating_the_demo(tmp_path: Path) -> None:
    params = tmp_path / "config.yaml"
    params.write_text("# company: Acme\n", encoding="utf-8")  # everything commented out by mistake
    result = _run("--params", str(params))
    assert result.exit_code == 2, result.output
    err = _flat(result.stderr)
    assert f"{params}: the file is empty" in err
    assert "OK" not in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["folder", "fifo", "loop"])
def test_item8_directory_where_table_file_should_be(tmp_path: Path, kind: str) -> None:
    make_not_a_file(kind, tmp_path / "deals.csv")
    path = _source(tmp_path, "tables: {deals: {file: deals.csv}}\n")
    result = finishes(lambda: _run("--source", str(path)), unblock=tmp_path / "deals.csv")
    assert result.exit_code == 1
    err = _flat(result.stderr)
    assert err.startswith("error:")
    assert f"deals.csv {NOT_A_FILE[kind]}" in err
    assert "not found" not in err
    assert "Did you mean" not in err
    assert "Traceback" not in result.output


def test_item9_huge_amounts_fail_validation_with_their_lines(tmp_path: Path) -> None:
    path = _source(
        tmp_path,
        "tables: {reps: {file: reps.csv}, deals: {file: deals.csv}}\n",
        reps_csv="rep_id,name,email\nR1,Ann,ann@example.com\n",
        deals_csv="""
                       deal_id,rep_id,account_id,created_date,close_date,stage,amount
                       D1,R1,A1,2025-01-01,2025-02-01,won,1e308
                       D2,R1,A2,2025-01-01,2025-02-01,won,1e308
                       D3,R1,A3,2025-01-01,2025-02-01,won,100
                   """,
    )
    result = _run("--source", str(path))
    assert result.exit_code == 1
    out = _flat(result.stdout)
    assert "FAILED" in out
    assert "column 'amount': 2 value(s) are beyond the limit of 1,000,000,000,000 (`max_amount`)" in out
    assert "(lines 2, 3)" in out
    assert "raise `max_amount` in the source file" in out
    assert "RuntimeWarning" not in result.output


def test_an_old_currency_symbol_is_a_warning_of_validate(tmp_path: Path) -> None:
    source = ROOT / "tests" / "fixtures" / "tiny" / "source.yaml"
    params = tmp_path / "config.yaml"
    params.write_text(f'currency: "$"\nsource: {source}\ngoals: ""\ncoaching: ""\n', encoding="utf-8")
    result = _run("--params", str(params))
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert 'warning `currency: "$"` is a symbol; settings now take an ISO 4217 code.' in out.replace(f"{params}: ", "")
    assert "Fix: write `currency: USD`" in out


def test_an_empty_coaching_file_fails_validate_as_it_fails_run(tmp_path: Path) -> None:
    """A coaching file emptied by mistake is not the defaults: validate says so, naming the file (exit 2)."""
    source = ROOT / "tests" / "fixtures" / "tiny" / "source.yaml"
    coaching = tmp_path / "coaching.yaml"
    coaching.write_text("# rules:\n", encoding="utf-8")
    params = tmp_path / "config.yaml"
    params.write_text(f'source: {source}\ngoals: ""\ncoaching: {coaching}\n', encoding="utf-8")
    result = _run("--params", str(params))
    assert result.exit_code == 2, result.output
    assert f"{coaching}: the file is empty" in _flat(result.stderr)
    assert "OK" not in result.stdout and "Traceback" not in result.output
    coaching.write_text((ROOT / "params" / "coaching.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert _run("--params", str(params)).exit_code == 0  # the same settings with the shipped coaching: OK
