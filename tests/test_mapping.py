"""Source files: the mapping model, its checks (with lines and close matches) and SQL URL resolution."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from salesreports.data.mapping import Join, SourceSpec, TableSpec, load_source
from salesreports.errors import ConfigError


def _source(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "source.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_source(_source(tmp_path, text))
    assert err.value.file == str(tmp_path / "source.yaml")
    return list(err.value.problems)


def test_load_source_reads_every_key(tmp_path: Path) -> None:
    spec = load_source(
        _source(
            tmp_path,
            """
        name: crm
        base_dir: data
        null_values: ['', 'NULL']
        unassigned_rep: unassigned
        severity: {close_before_create: warning}
        tables:
          reps:
            distinct_from: {file: deals.csv, column: owner}
            columns: {rep_id: owner}
          deals:
            file: deals.csv
            ragged: keep_first
            columns: {deal_id: id, rep_id: owner}
            derive: {amount: net * 1.0}
            defaults: {stage: won}
            values: {stage: {Closed Won: won}}
            dates: {close_date: ['%d/%m/%Y', '%Y-%m-%d']}
            date_format: '%d/%m/%Y'
            join:
              - file: lines.csv
                on: id
                aggregate: {net: sum(price)}
            where: id IS NOT NULL
    """,
        )
    )
    deals = spec.tables["deals"]
    assert spec.root() == (tmp_path / "data").resolve()
    assert deals.join[0].keys == ("id", "id")
    assert deals.formats("close_date") == ["%d/%m/%Y", "%Y-%m-%d"]
    assert deals.formats("created_date") == ["%d/%m/%Y"]
    assert TableSpec(file="x.csv").formats("created_date") == []
    assert deals.expressions() == ["net * 1.0", "id IS NOT NULL", "sum(price)"]
    assert spec.severity == {"close_before_create": "warning"}
    assert spec.tables["reps"].distinct_from is not None


def test_join_keys_with_different_names() -> None:
    assert Join(file="x.csv", on={"orderID": "order_id"}, aggregate={"n": "count(*)"}).keys == ("orderID", "order_id")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tables: {deal: {file: d.csv}}", "line 2: key 'tables.deal': unknown table 'deal'. Did you mean 'deals'?"),
        (
            "tables: {deals: {file: d.csv, columns: {amout: total}}}",
            "line 2: key 'tables.deals.columns.amout': 'amout' is not a column of the canonical 'deals' table. "
            "Did you mean 'amount'?",
        ),
        (
            "tables: {deals: {file: d.csv, colums: {amount: total}}}",
            "line 2: key 'tables.deals.colums' is not known. Did you mean 'columns'?",
        ),
        (
            "tables: {deals: {file: d.csv, columns: {amount: a}, derive: {amount: b * 2}}}",
            "'amount' is both renamed under `columns` and computed under `derive`",
        ),
        ("tables: {deals: {columns: {amount: a}}}", "needs exactly one of `file:`"),
        ("tables: {deals: {file: d.csv, table: deals}}", "`table:` needs a source of kind 'duckdb' or 'sql'"),
        ("tables: {deals: {file: d.csv, encoding: utf8x}}", "unknown encoding 'utf8x'"),
        ("tables: {deals: {file: d.csv, delimiter: ';;'}}", "the delimiter must be one character"),
        ("tables: {deals: {file: d.csv, ragged: keep}}", "key 'tables.deals.ragged': Input should be 'error'"),
        ("tables: {deals: {file: d.csv, dates: {amount: '%d'}}}", "'amount' is not a date column"),
        ("tables: {deals: {file: d.csv, join: [{file: l.csv, on: {a: b, c: d}, aggregate: {}}]}}", "give one key"),
        (
            "severity: {close_befor_create: warning}\ntables: {deals: {file: d.csv}}",
            "unknown rule 'close_befor_create'. Did you mean 'close_before_create'",
        ),
        (
            "severity: {missing_column: warning}\ntables: {deals: {file: d.csv}}",
            "the rule 'missing_column' cannot be changed",
        ),
        ("severity: {future_date: ignore}\ntables: {deals: {file: d.csv}}", "key 'severity.future_date': Input should"),
        ("tables: {}", "name at least one table"),
        ("kind: sql\ntables: {deals: {table: d}}", "a source of kind 'sql' needs `url:`"),
        ("kind: duckdb\ntables: {deals: {file: d.csv}}", "a source of kind 'duckdb' reads `table:` or `query:`"),
        ("tables: {deals: {file: d.csv}}\nbase: x", "key 'base' is not known. Did you mean 'database' or 'base_dir'?"),
    ],
)
def test_source_problems_name_key_line_and_close_match(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, "name: x\n" + text)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
        name: x
        severity: {nope: warning}
        tables:
          deals:
            file: d.csv
            columns: {amout: total, stag: s}
    """,
    )
    assert len(problems) == 3
    assert problems[0].startswith("line 6: key 'tables.deals.columns.amout'")


def test_source_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of source keys"):
        load_source(_source(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    "text", ["", "# name: crm\n# tables:\n#   deals: {file: deals.csv}\n"], ids=["empty", "comments"]
)
def test_an_empty_source_file_is_an_error_not_the_defaults(tmp_path: Path, text: str) -> None:
    path = _source(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_source(path)
    assert err.value.file == str(path)
    message = str(err.value)
    assert message.startswith(f"{path}: the file is empty (or holds only comments), so it is not a source file")
    assert "Fix: write the source into it" in message


def test_resolved_url_substitutes_environment_and_encodes_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_USER", "sales")
    monkeypatch.setenv("CRM_PASSWORD", "p@ss/w:rd")
    monkeypatch.setenv("CRM_DB", "crm")
    spec = SourceSpec(
        name="x",
        kind="sql",
        url="postgresql://${CRM_USER}:${CRM_PASSWORD}@db.example.com/${CRM_DB}",
        tables={"deals": TableSpec(table="deals")},
    )
    assert spec.resolved_url() == "postgresql://sales:p%40ss%2Fw%3Ard@db.example.com/crm"


def test_resolved_url_missing_variable_names_it_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_PASSWORD", raising=False)
    spec = SourceSpec(
        name="x",
        kind="sql",
        url="postgresql://sales:${CRM_PASSWORD}@db.example.com/crm",
        tables={"deals": TableSpec(table="deals")},
        path="params/sources/crm.yaml",
    )
    with pytest.raises(ConfigError) as err:
        spec.resolved_url()
    assert err.value.variable == "CRM_PASSWORD"
    assert err.value.key == "url"
    assert "environment variable CRM_PASSWORD is not set" in str(err.value)
    assert "export CRM_PASSWORD=..." in str(err.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [("sqlite:///crm.db", "data/crm.db"), ("sqlite:///sub/crm.db", "data/sub/crm.db")],
)
def test_resolved_url_relative_sqlite_is_relative_to_base_dir(tmp_path: Path, url: str, expected: str) -> None:
    spec = SourceSpec(
        name="x",
        kind="sql",
        url=url,
        base_dir="data",
        path=str(tmp_path / "s.yaml"),
        tables={"deals": TableSpec(table="deals")},
    )
    assert spec.resolved_url() == f"sqlite:///{(tmp_path / expected).resolve()}"


@pytest.mark.parametrize("url", ["sqlite:////abs/crm.db", "sqlite://", "sqlite:///:memory:"])
def test_resolved_url_keeps_absolute_and_memory_sqlite(url: str) -> None:
    spec = SourceSpec(name="x", kind="sql", url=url, tables={"deals": TableSpec(table="deals")})
    assert spec.resolved_url() == url


@pytest.mark.parametrize(("value", "expected"), [("", 1e12), ("max_amount: 5e14\n", 5e14)])
def test_item9_max_amount_defaults_to_1e12(tmp_path: Path, value: str, expected: float) -> None:
    spec = load_source(_source(tmp_path, "name: t\n" + value + "tables: {deals: {file: d.csv}}\n"))
    assert spec.max_amount == expected


@pytest.mark.parametrize("value", ["1e16", "0", "-5"])
def test_item9_max_amount_is_bounded(tmp_path: Path, value: str) -> None:
    problems = " ".join(_problems(tmp_path, f"name: t\nmax_amount: {value}\ntables: {{deals: {{file: d.csv}}}}\n"))
    assert "max_amount" in problems
