"""Raw readers: CSV (encodings, BOMs, ragged rows, delimiters), Parquet, DuckDB and SQL databases."""

from __future__ import annotations

import datetime as dt
import sqlite3
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import NOT_A_FILE, finishes, make_not_a_file
from salesreports.data.readers import ROW, RawTable, read_csv, read_duckdb, read_parquet, read_sql, redact_url, scrub
from salesreports.errors import DataLoadError


def _write(tmp_path: Path, text: str, name: str = "deals.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return path


def _columns(raw: RawTable) -> dict[str, list[object]]:
    assert raw.table is not None
    return raw.table.to_pydict()


def test_read_csv_keeps_text_and_numbers_rows(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        deal_id, amount ,note
        007,12.50,"a, quoted
        line"
        D2,,plain
    """,
    )
    raw = read_csv(path, table="deals")
    cols = _columns(raw)
    assert list(cols) == ["deal_id", "amount", "note", ROW]  # header names are stripped
    assert cols["deal_id"] == ["007", "D2"]  # ids stay text
    assert cols["amount"] == ["12.50", ""]  # empty stays "", typing happens later
    assert cols["note"] == ["a, quoted\nline", "plain"]
    assert cols[ROW] == [2, 4]  # the line an editor shows (header = line 1); a record starts at its first line
    assert raw.notes == []
    assert raw.rows == 2


@pytest.mark.parametrize(
    ("prefix", "encoding"),
    [(b"\xef\xbb\xbf", "utf-8"), (b"", "utf-8"), (b"\xff\xfe", "utf-16-le")],
    ids=["utf8-bom", "utf8", "utf16-bom"],
)
def test_read_csv_byte_order_marks(tmp_path: Path, prefix: bytes, encoding: str) -> None:
    path = tmp_path / "reps.csv"
    path.write_bytes(prefix + "rep_id,name\nR1,Zoë\n".encode(encoding))
    cols = _columns(read_csv(path, table="reps"))
    assert cols["rep_id"] == ["R1"]  # not "\ufeffrep_id"
    assert cols["name"] == ["Zoë"]


def test_read_csv_cp1252_bytes_declared_utf8_name_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_bytes("rep_id,name\nR1,Ann\nR2,José\n".encode("cp1252"))
    with pytest.raises(DataLoadError) as err:
        read_csv(path, table="reps")
    assert err.value.file == str(path)
    assert err.value.line == 3
    assert err.value.encoding == "cp1252"
    message = str(err.value)
    assert "line 3" in message
    assert "b'\\xe9'" in message
    assert "'é'" in message  # what the byte means in Windows-1252
    assert "`encoding: cp1252`" in message


def test_read_csv_cp1252_declared_reads_accents(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_bytes("rep_id,name\nR2,José\n".encode("cp1252"))
    assert _columns(read_csv(path, table="reps", encoding="cp1252"))["name"] == ["José"]


def test_read_csv_utf8_declared_cp1252_warns_of_mojibake(tmp_path: Path) -> None:
    path = _write(tmp_path, "rep_id,name\nR2,José\n", "reps.csv")
    raw = read_csv(path, table="reps", encoding="cp1252")
    assert [n.severity for n in raw.notes] == ["warning"]
    assert "valid UTF-8" in raw.notes[0].message
    assert "remove `encoding: cp1252`" in raw.notes[0].fix


def test_read_csv_bom_wins_over_declared_encoding(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_bytes(b"\xef\xbb\xbfrep_id\nR\xc3\xa9\n")
    raw = read_csv(path, table="reps", encoding="cp1252")
    assert _columns(raw)["rep_id"] == ["Ré"]
    assert "byte-order mark" in raw.notes[0].message


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["empty", "blank-lines"])
def test_read_csv_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(content)
    with pytest.raises(DataLoadError) as err:
        read_csv(path, table="deals")
    assert err.value.table == "deals"
    assert "the file is empty" in str(err.value)
    assert "re-export the 'deals' table" in str(err.value)


def test_read_csv_header_only_has_no_rows(tmp_path: Path) -> None:
    raw = read_csv(_write(tmp_path, "deal_id,rep_id\n"), table="deals")
    assert raw.rows == 0
    assert _columns(raw) == {"deal_id": [], "rep_id": [], ROW: []}


@pytest.mark.parametrize(
    ("text", "declared", "actual"),
    [
        ("deal_id;rep_id\nD1;R1\n", ",", ";"),
        ("deal_id\trep_id\nD1\tR1\n", ",", "\t"),
        ("deal_id,rep_id\nD1,R1\n", ";", ","),
    ],
    ids=["semicolon", "tab", "comma-declared-semicolon"],
)
def test_read_csv_wrong_delimiter(tmp_path: Path, text: str, declared: str, actual: str) -> None:
    with pytest.raises(DataLoadError) as err:
        read_csv(_write(tmp_path, text), table="deals", delimiter=declared)
    assert err.value.delimiter == actual
    assert f"looks {actual!r}-separated" in str(err.value)
    assert f"`delimiter: {actual!r}`" in str(err.value)


RAGGED = """
    id,customer,date,city
    1,C1,2024-01-01,Reims
    2,C2,2024-01-02,59 rue X, Reims
    3,C3,2024-01-03
    4,C4,2024-01-04,Lyon
"""


@pytest.mark.parametrize(
    ("mode", "ids", "severities", "second_row"),
    [
        ("error", ["1", "2", "3", "4"], ["error", "error"], ["2", "C2", "2024-01-02", "59 rue X"]),
        ("keep_first", ["1", "2", "3", "4"], ["warning", "warning"], ["2", "C2", "2024-01-02", "59 rue X"]),
        ("skip", ["1", "4"], ["warning", "warning"], ["4", "C4", "2024-01-04", "Lyon"]),
    ],
)
def test_read_csv_ragged_rows(
    tmp_path: Path, mode: str, ids: list[str], severities: list[str], second_row: list[str]
) -> None:
    raw = read_csv(_write(tmp_path, RAGGED), table="deals", ragged=mode)
    cols = _columns(raw)
    assert cols["id"] == ids
    assert [cols[c][1] for c in ("id", "customer", "date", "city")] == second_row
    assert [n.severity for n in raw.notes] == severities
    longer, shorter = raw.notes
    assert (longer.rows, longer.count, shorter.rows, shorter.count) == ((3,), 1, (4,), 1)
    assert "more fields than the header's 4" in longer.message
    assert "fewer fields than the header's 4" in shorter.message
    if mode == "error":
        assert "`ragged: keep_first`" in longer.fix
        assert "unquoted ','" in longer.message
    if mode == "keep_first":
        assert "first 4 fields were kept" in longer.message
        assert cols["date"][2] == "2024-01-03"
        assert cols["city"][2] == ""


def test_read_csv_blank_lines_keep_row_numbers(tmp_path: Path) -> None:
    raw = read_csv(_write(tmp_path, "id,x\n1,a\n\n3,c\n"), table="deals")
    cols = _columns(raw)
    assert cols["id"] == ["1", "3"]
    assert cols[ROW] == [2, 4]  # the line in the file (header = line 1), blank line counted


def test_read_csv_repeated_and_blank_header_names(tmp_path: Path) -> None:
    raw = read_csv(_write(tmp_path, "id,note,note,\n1,a,b,c\n"), table="deals")
    assert list(_columns(raw)) == ["id", "note", "note_2", "column_4", ROW]
    assert raw.notes[0].column == "note"
    assert "read as 'note_2'" in raw.notes[0].message


def test_read_csv_missing_file_suggests_close_name(tmp_path: Path) -> None:
    _write(tmp_path, "id\n1\n", "deals.csv")
    with pytest.raises(DataLoadError) as err:
        read_csv(tmp_path / "deal.csv", table="deals")
    assert err.value.file == str(tmp_path / "deal.csv")
    assert "file not found" in str(err.value)
    assert "Did you mean 'deals.csv'?" in str(err.value)


def test_read_csv_missing_folder_points_at_base_dir(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match=r"does not exist either \(check `base_dir`\)"):
        read_csv(tmp_path / "nowhere" / "deals.csv", table="deals")


def test_read_csv_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match="unknown encoding 'klingon'"):
        read_csv(_write(tmp_path, "id\n1\n"), table="deals", encoding="klingon")


def test_read_parquet_is_scanned_in_place(tmp_path: Path) -> None:
    path = tmp_path / "deals.parquet"
    pq.write_table(pa.table({"deal_id": ["D1", "D2", "D3"], "amount": [1.5, None, 3.0]}), path)
    raw = read_parquet(path, table="deals")
    assert raw.table is None  # nothing read into Python
    assert raw.rows == 3
    with duckdb.connect() as con:
        raw.register(con, "t")
        assert con.execute("SELECT deal_id, amount, _row FROM t ORDER BY _row").fetchall() == [
            ("D1", 1.5, 1),
            ("D2", None, 2),
            ("D3", 3.0, 3),
        ]


def test_read_parquet_not_parquet(tmp_path: Path) -> None:
    path = _write(tmp_path, "id\n1\n", "deals.parquet")
    with pytest.raises(DataLoadError, match="not a readable Parquet file") as err:
        read_parquet(path, table="deals")
    assert err.value.table == "deals"


def test_read_parquet_missing(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match="file not found"):
        read_parquet(tmp_path / "deals.parquet", table="deals")


@pytest.fixture
def duck_file(tmp_path: Path) -> Path:
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE opportunities (id VARCHAR, amount DOUBLE, closed DATE)")
        con.execute("INSERT INTO opportunities VALUES ('D1', 10.0, DATE '2025-01-02'), ('D2', 20.0, NULL)")
    return path


def test_read_duckdb_table_and_query(duck_file: Path) -> None:
    raw = read_duckdb(duck_file, table="deals", source_table="opportunities")
    cols = _columns(raw)
    assert cols["id"] == ["D1", "D2"]
    assert cols[ROW] == [1, 2]  # a database has rows, not lines
    assert raw.unit == "row"
    assert raw.origin == f"{duck_file}:opportunities"
    raw = read_duckdb(duck_file, table="deals", query="SELECT id FROM opportunities WHERE amount > 15")
    assert _columns(raw)["id"] == ["D2"]


def test_read_duckdb_unknown_table(duck_file: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        read_duckdb(duck_file, table="deals", source_table="opportunitys")
    assert "reading table 'opportunitys' failed" in str(err.value)
    assert "Fix: check the `table:`" in str(err.value)


def test_read_duckdb_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match="DuckDB file not found"):
        read_duckdb(tmp_path / "crm.duckdb", table="deals")


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE deals (deal_id TEXT, amount NUMERIC, rep TEXT)")
        con.executemany("INSERT INTO deals VALUES (?, ?, ?)", [("D1", 10.5, "R1"), ("D2", None, "R2")])
    return path


def test_read_sql_sqlite_table_and_query(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    cols = _columns(read_sql(url, table="deals"))
    assert cols["deal_id"] == ["D1", "D2"]
    assert cols["amount"] == [10.5, None]
    assert cols[ROW] == [1, 2]
    cols = _columns(read_sql(url, table="deals", query="SELECT rep FROM deals WHERE amount IS NULL"))
    assert cols == {"rep": ["R2"], ROW: [1]}


def test_read_sql_unknown_table(sqlite_file: Path) -> None:
    with pytest.raises(DataLoadError) as err:
        read_sql(f"sqlite:///{sqlite_file}", table="deals", source_table="opportunities")
    assert "reading table 'opportunities' failed: no such table" in str(err.value)


def test_read_sql_sqlite_selects_only_the_requested_columns(sqlite_file: Path) -> None:
    """A date window is never pushed into SQLite's SQL (its dates are text): every row is read."""
    url = f"sqlite:///{sqlite_file}"
    raw = read_sql(url, table="deals", columns=["rep", "deal_id", "nope"], since=(("amount",), dt.date(2025, 1, 1)))
    assert _columns(raw) == {"deal_id": ["D1", "D2"], "rep": ["R1", "R2"], ROW: [1, 2]}
    assert raw.columns() == ["deal_id", "amount", "rep"]
    raw = read_sql(url, table="deals", query="SELECT rep, amount FROM deals WHERE rep LIKE 'R%'", columns=["amount"])
    assert _columns(raw) == {"amount": [10.5, None], ROW: [1, 2]}
    assert raw.columns() == ["rep", "amount"]


def test_read_sql_postgres_gives_up_on_a_server_that_never_answers() -> None:
    """A listening socket that never answers (a firewall that drops, a hung proxy): `connect_timeout` ends it."""
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(DataLoadError) as err:
            read_sql(f"postgresql://sales:s3cr%40t-pw@127.0.0.1:{port}/crm?connect_timeout=2", table="deals")
    assert time.monotonic() - start < 8
    assert f"no answer from the server at 127.0.0.1:{port} within 2 s" in str(err.value)
    assert "s3cr" not in str(err.value)


def test_a_batch_that_does_not_convert_types_the_whole_column_from_its_values() -> None:
    """psycopg2 gives numeric as Decimal objects: the column is then typed from its values (floats)."""
    from decimal import Decimal

    from salesreports.data.readers import _ColumnBuilder

    builder = _ColumnBuilder(pa.float64())
    builder.add((1.0, None))
    builder.add((Decimal("2.50"), Decimal("3")))
    assert builder.finish().to_pylist() == [1.0, None, 2.5, 3.0]


def test_read_sql_postgres_driver_missing_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails, as when it is not installed
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(DataLoadError) as err:
        read_sql("postgresql://sales:s3cr%40t-pw@127.0.0.1:1/crm", table="deals")
    assert "pip install 'psycopg[binary]>=3.1,<4'" in str(err.value)
    assert "s3cr" not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://sales:s3cr%40t-pw@127.0.0.1:1/crm",
        "mysql+pymysql://sales:s3cr%40t-pw@127.0.0.1:1/crm",
        "nosuchdb://sales:s3cr%40t-pw@127.0.0.1/crm",
    ],
    ids=["postgres-refused", "mysql-no-driver", "unknown-dialect"],
)
def test_read_sql_never_shows_the_password(url: str) -> None:
    """postgresql:// without a driver uses psycopg 3 (a dev dependency): nothing listens on port 1."""
    with pytest.raises(DataLoadError) as err:
        read_sql(url, table="deals")
    text = str(err.value) + repr(err.value.fields)
    assert "s3cr" not in text
    assert "sales:***@127.0.0.1" in text
    if url.startswith("postgresql"):
        assert "the server at 127.0.0.1:1 refused the connection" in text


def test_scrub_removes_raw_and_encoded_passwords() -> None:
    url = "postgresql://sales:p%40ss@db.example.com/crm"
    text = f"FATAL: password 'p@ss' rejected for {url} (p%40ss)"
    cleaned = scrub(text, url)
    assert "p@ss" not in cleaned
    assert "p%40ss" not in cleaned
    assert "postgresql://sales:***@db.example.com/crm" in cleaned


def test_redact_url_unparsable() -> None:
    assert redact_url("not a url") == "<unparsable database URL>"


def test_read_csv_blank_first_line(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("\n\ndeal_id\nD1\n", encoding="utf-8")
    with pytest.raises(DataLoadError, match="the first line is blank") as err:
        read_csv(path, table="deals")
    assert err.value.line == 1


def test_read_csv_long_fields_on_the_careful_path(tmp_path: Path) -> None:
    photo = "0x" + "AB" * 200_000  # beyond the csv module's default field limit
    path = _write(tmp_path, f"id,photo\n1,{photo}\n2,short,extra\n")  # the ragged row forces the row-by-row path
    raw = read_csv(path, table="reps", ragged="keep_first")
    assert _columns(raw)["photo"] == [photo, "short"]


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"id,x\n1,a\n2,b\n", [2, 3]),
        (b"id,x\r\n1,a\r\n2,b", [2, 3]),  # CRLF, no line end at the end
        (b"\xef\xbb\xbfid,x\r\n1,a\r\n2,b\r\n", [2, 3]),  # a UTF-8 byte-order mark
        (b'id,x\n1,"two\nlines"\n2,b\n', [2, 4]),  # a quoted line break: the next record is on line 4
        (b"id,x\n\n1,a\n\n\n2,b\n", [3, 6]),  # blank lines count as lines
    ],
    ids=["lf", "crlf", "bom", "quoted-break", "blank-lines"],
)
def test_read_csv_numbers_records_by_the_line_an_editor_shows(tmp_path: Path, content: bytes, lines: list[int]) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(content)
    raw = read_csv(path, table="deals")
    assert _columns(raw)[ROW] == lines
    assert raw.unit == "line"


def test_issue_messages_say_line_for_files_and_row_for_databases() -> None:
    from salesreports.errors import Issue

    assert "(line 3)" in str(Issue("error", "deals", "bad", rows=(3,)))
    assert "(lines 3, 7)" in str(Issue("error", "deals", "bad", rows=(3, 7)))
    assert "(row 3)" in str(Issue("error", "deals", "bad", rows=(3,), unit="row"))


def test_read_excel_keeps_text_and_the_spreadsheet_row_numbers(tmp_path: Path) -> None:
    import datetime as dt

    from _xlsx import write_xlsx
    from salesreports.data.readers import read_excel

    path = write_xlsx(
        tmp_path / "deals.xlsx",
        [
            ["Deal ID", "Amount", "Close Date", "Owner", ""],
            ["007", 1200, dt.date(2025, 3, 4), "Ann"],
            [],  # an empty row: skipped, its number is not reused
            ["D2", 99.5, None, "Bob"],
        ],
        sheet="Opportunities",
        first_row=3,  # a title block above the header
    )
    raw = read_excel(path, table="deals")
    cols = _columns(raw)
    assert list(cols) == ["Deal ID", "Amount", "Close Date", "Owner", ROW]
    assert cols["Deal ID"] == ["007", "D2"]
    assert cols["Amount"] == ["1200", "99.5"]
    assert cols["Close Date"] == ["2025-03-04", ""]
    assert cols[ROW] == [4, 6]  # the row numbers Excel shows
    assert raw.unit == "line"
    some = read_excel(path, table="deals", columns=["owner", "Deal ID"])  # names matched ignoring case
    assert _columns(some) == {"Deal ID": ["007", "D2"], "Owner": ["Ann", "Bob"], ROW: [4, 6]}
    assert some.columns() == ["Deal ID", "Amount", "Close Date", "Owner"]
    with pytest.raises(DataLoadError, match=r"no sheet called 'Oportunities'\. Did you mean 'Opportunities'\?"):
        read_excel(path, table="deals", sheet="Oportunities")


def test_an_excel_export_loads_and_validates_with_its_row_numbers(tmp_path: Path) -> None:
    import datetime as dt

    from _xlsx import write_xlsx
    from salesreports.data.loading import load_dataset
    from salesreports.data.validate import check

    write_xlsx(
        tmp_path / "deals.xlsx",
        [
            ["id", "rep", "account", "created", "closed", "stage", "amount"],
            ["D1", "R1", "A1", dt.date(2025, 1, 2), dt.date(2025, 2, 3), "won", 100],
            ["D2", "R1", "A2", dt.date(2025, 1, 2), None, "won", 50],
        ],
    )
    (tmp_path / "source.yaml").write_text(
        "name: x\ntables:\n  deals:\n    file: deals.xlsx\n    columns: {deal_id: id, rep_id: rep, "
        "account_id: account, created_date: created, close_date: closed}\n",
        encoding="utf-8",
    )
    data = load_dataset(tmp_path / "source.yaml")
    assert data.tables["deals"]["amount"].tolist() == [100.0, 50.0]
    (issue,) = [i for i in check(data).errors if i.column == "close_date"]
    assert "(line 3)" in str(issue)


@pytest.mark.parametrize("kind", ["folder", "fifo", "loop"])
@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("deals.csv", lambda p: read_csv(p, table="deals")),
        ("deals.parquet", lambda p: read_parquet(p, table="deals")),
        ("crm.duckdb", lambda p: read_duckdb(p, table="deals")),  # "… not a DuckDB file"
    ],
    ids=["csv", "parquet", "duckdb"],
)
def test_item8_directory_where_table_file_should_be(
    tmp_path: Path, kind: str, name: str, read: Callable[[Path], RawTable]
) -> None:
    path = tmp_path / name
    make_not_a_file(kind, path)
    with pytest.raises(DataLoadError) as err:
        finishes(lambda: read(path), unblock=path)
    message = str(err.value)
    assert NOT_A_FILE[kind].replace("a file", "a DuckDB file" if name.endswith(".duckdb") else "a file") in message
    assert message.startswith(str(path))
    assert "not found" not in message
    assert "Did you mean" not in message  # never the same name back
    assert err.value.table == "deals"


def test_item8_folder_message_names_the_files_inside(tmp_path: Path) -> None:
    make_not_a_file("folder", tmp_path / "deals.csv")
    with pytest.raises(DataLoadError, match=r"the folder holds part-0001\.csv"):
        read_csv(tmp_path / "deals.csv", table="deals")


def test_item8_dangling_link_says_where_it_points(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").symlink_to("export/deals-2026.csv")
    with pytest.raises(DataLoadError, match=r"symbolic link to 'export/deals-2026\.csv', which does not exist"):
        read_csv(tmp_path / "deals.csv", table="deals")


# ------------------------------------------------------------------------- column projection


def test_read_csv_reads_only_the_columns_asked_for(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id,Notes,Amount\nD1,"long, quoted",5\nD2,x,7\n')
    raw = read_csv(path, table="deals", columns=["id", "amount"])  # names are matched ignoring case
    assert _columns(raw) == {"id": ["D1", "D2"], "Amount": ["5", "7"], ROW: [2, 3]}
    assert raw.columns() == ["id", "Notes", "Amount"]  # what the file has, for messages
    none = read_csv(path, table="deals", columns=[])
    assert _columns(none) == {ROW: [2, 3]}  # no column, the rows still counted


def test_read_csv_projection_on_the_row_by_row_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,notes,amount\nD1,a,5\n\nD2,b,7\n")  # a blank line: the careful path
    raw = read_csv(path, table="deals", columns=["amount"])
    assert _columns(raw) == {"amount": ["5", "7"], ROW: [2, 4]}
    assert raw.columns() == ["id", "notes", "amount"]


def test_read_parquet_scans_only_the_columns_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "deals.parquet"
    pq.write_table(pa.table({"deal_id": ["D1", "D2"], "notes": ["a", "b"], "amount": [1.5, None]}), path)
    raw = read_parquet(path, table="deals", columns=["amount", "deal_id"])
    with duckdb.connect() as con:
        raw.register(con, "t")
        assert con.sql("SELECT * FROM t").columns == ["deal_id", "amount", ROW]
    assert raw.columns() == ["deal_id", "notes", "amount"]


def test_read_duckdb_fetches_only_the_columns_asked_for(duck_file: Path) -> None:
    raw = read_duckdb(duck_file, table="deals", source_table="opportunities", columns=["amount"])
    assert list(_columns(raw)) == ["amount", ROW]
    assert raw.columns() == ["id", "amount", "closed"]
    query = read_duckdb(
        duck_file, table="deals", query="SELECT id, amount * 2 AS twice FROM opportunities;", columns=[]
    )
    assert query.rows == 2
    assert query.columns() == ["id", "twice"]
