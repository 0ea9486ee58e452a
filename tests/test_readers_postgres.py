"""``kind: sql`` on a real PostgreSQL server (tests/pgserver.py): the demo data set with realistic types
(a schema, numeric amounts, timestamptz and date columns, bigint ids, citext emails, a view, a query)
gives the KPIs of the CSV run; only the mapped columns are selected, date windows are pushed into the SQL,
and connection errors are clear and never show the password."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pgserver import PgServer
from salesreports.data.demo import generate_demo
from salesreports.data.loading import load_dataset
from salesreports.data.readers import ROW, read_sql
from salesreports.errors import DataLoadError
from salesreports.metrics.engine import compute_kpis

PASSWORD = "s3cr@t pw%/x"  # needs URL-encoding: both forms must stay out of every message
ENCODED = quote(PASSWORD, safe="")

SCHEMA = """
CREATE EXTENSION citext;
CREATE SCHEMA crm AUTHORIZATION sales;
SET ROLE sales;
SET TIME ZONE 'UTC';
CREATE TABLE crm.teams (team_id bigint PRIMARY KEY, team text NOT NULL);
CREATE TABLE crm.reps (
    rep_id text PRIMARY KEY, full_name text, email citext, team_id bigint REFERENCES crm.teams,
    region varchar(40), manager_id text, manager_email citext, hire_date date, leave_date date, locale text);
CREATE VIEW crm.v_reps AS
    SELECT r.rep_id, r.full_name, r.email, t.team, r.region, r.manager_id, r.manager_email, r.hire_date,
           r.leave_date, r.locale
    FROM crm.reps r LEFT JOIN crm.teams t USING (team_id) ORDER BY r.rep_id;
CREATE TABLE crm.opportunities (
    id text, owner_id text, account_id text, product text, segment text, created_at timestamptz,
    closed_at timestamptz, stage text, amount numeric(14, 2), cost numeric(14, 2), units bigint,
    notes text);
CREATE TABLE crm.leads (
    lead_id text, rep_id text, created_date date, source text, qualified boolean, converted_deal_id text);
CREATE TABLE crm.activity_log (activity_id bigserial PRIMARY KEY, rep_id text, happened_at timestamptz, kind text);
CREATE TABLE crm.feedback (rep_id text, date date, source text, score smallint, tags text, text text);
CREATE TABLE targets (rep_id text, team text, period text, metric text, target numeric(14, 2));
CREATE TABLE crm.legacy_deals (id text, closed text, closed_on date);
INSERT INTO crm.legacy_deals VALUES ('X1', '03/15/2025', '2025-03-15'), ('X2', '12/01/2026', '2026-12-01');
"""

# CSV text first (staging tables of text), then typed: timestamptz at midnight UTC of the CSV's day
# (activities at 23:30 UTC: still the CSV's day in UTC), numbers and booleans cast by the server.
LOAD = {
    "reps": """
        INSERT INTO crm.teams SELECT row_number() OVER (ORDER BY team), team
            FROM (SELECT DISTINCT team FROM s_reps WHERE team IS NOT NULL) t;
        INSERT INTO crm.reps SELECT s.rep_id, s.name, s.email, t.team_id, s.region, s.manager_id, s.manager_email,
            s.hire_date::date, s.leave_date::date, s.locale FROM s_reps s LEFT JOIN crm.teams t USING (team);""",
    "deals": """
        INSERT INTO crm.opportunities SELECT deal_id, rep_id, account_id, product, segment,
            created_date::timestamptz, close_date::timestamptz, stage, amount::numeric, cost::numeric,
            units::bigint, repeat('a long note nobody reads ', 4) FROM s_deals;""",
    "leads": """
        INSERT INTO crm.leads SELECT lead_id, rep_id, created_date::date, source, qualified::boolean,
            converted_deal_id FROM s_leads;""",
    "activities": """
        INSERT INTO crm.activity_log (rep_id, happened_at, kind)
            SELECT rep_id, date::timestamptz + interval '23 hours 30 minutes', type FROM s_activities;""",
    "feedback": """
        INSERT INTO crm.feedback SELECT rep_id, date::date, source, score::smallint, tags, text FROM s_feedback;""",
    "targets": """
        INSERT INTO targets SELECT rep_id, team, period, metric, target::numeric FROM s_targets;""",
}

SOURCE = """\
name: crm-postgres
kind: sql
url: postgresql://sales:${{SR_PG_PASSWORD}}@127.0.0.1:{port}/crm
tables:
  reps:
    table: crm.v_reps
    columns: {{name: full_name}}
  deals:
    table: crm.opportunities
    columns: {{deal_id: id, rep_id: owner_id, created_date: created_at, close_date: closed_at}}
  leads: {{table: crm.leads}}
  activities:
    query: >-
      SELECT rep_id, happened_at AS date, kind AS type FROM crm.activity_log
      WHERE kind LIKE '%' ORDER BY activity_id;
  targets: {{table: targets}}
  feedback: {{table: crm.feedback}}
"""


@dataclass(frozen=True)
class Crm:
    """The demo data set as CSV files and in the server's database ``crm`` (user ``sales``)."""

    server: PgServer
    csv_source: Path
    pg_source: Path

    def url(self, password: str = PASSWORD, dbname: str = "crm", user: str = "sales") -> str:
        return self.server.url(user, password, dbname)

    def log_since(self, mark: int) -> str:
        """What the server logged after ``mark`` (a length of the log)."""
        return self.server.log_text()[mark:]

    def mark(self) -> int:
        return len(self.server.log_text())


@pytest.fixture(scope="module")
def crm(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Crm:
    import psycopg

    folder = tmp_path_factory.mktemp("crm")
    demo = generate_demo(folder / "demo", months=12, scale=0.3)
    csv_source = folder / "demo.yaml"
    entries = "".join(f"  {t}: {{file: {t}.csv}}\n" for t in LOAD)
    csv_source.write_text(f"name: demo\nkind: files\nbase_dir: demo\ntables:\n{entries}", encoding="utf-8")
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as con:  # the server is the session's
        con.execute("DROP DATABASE IF EXISTS crm")
        con.execute("DROP ROLE IF EXISTS sales")
        con.execute("CREATE ROLE sales LOGIN PASSWORD %s" % psycopg.sql.quote(PASSWORD))  # noqa: UP031
        con.execute("CREATE DATABASE crm OWNER sales")
    with psycopg.connect(pg_server.admin_conninfo("crm")) as con:
        con.execute(SCHEMA)
        for table, insert in LOAD.items():
            path = demo.out_dir / f"{table}.csv"
            header = path.read_text(encoding="utf-8").split("\n", 1)[0].replace('"', "").split(",")
            con.execute(f"CREATE TEMP TABLE s_{table} ({', '.join(f'{c} text' for c in header)})")
            with con.cursor().copy(f"COPY s_{table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(path.read_bytes())
            con.execute(insert)
        con.execute("ANALYZE")
    pg_source = folder / "postgres.yaml"
    pg_source.write_text(SOURCE.format(port=pg_server.port), encoding="utf-8")
    return Crm(pg_server, csv_source, pg_source)


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SR_PG_PASSWORD", PASSWORD)


def _kpis(source: Path) -> pd.DataFrame:
    values = compute_kpis(load_dataset(source)).values
    keys = ["entity_type", "entity_id", "grain", "period", "kpi"]
    return values.sort_values(keys).reset_index(drop=True)


@pytest.mark.usefixtures("password")
def test_postgres_source_gives_the_kpis_of_the_csv_run(crm: Crm) -> None:
    """Tables in a schema, a view over a join, a query; numeric, timestamptz, date, bigint, citext, boolean."""
    pg, csv = load_dataset(crm.pg_source), load_dataset(crm.csv_source)
    for name, frame in csv.tables.items():  # a file numbers lines (the header is 1), a database rows
        same = [c for c in frame.columns if c != ROW]
        left, right = (f[same].sort_values(same).reset_index(drop=True) for f in (pg.tables[name], frame))
        pd.testing.assert_frame_equal(left, right, check_dtype=True, obj=name)
    assert [str(n) for n in pg.notes] == [str(n) for n in csv.notes]
    assert pg.origins["activities"].endswith("/crm:query")
    assert "***" in pg.origins["deals"]
    assert PASSWORD not in str(pg.origins) and ENCODED not in str(pg.origins)
    got, want = _kpis(crm.pg_source), _kpis(crm.csv_source)
    assert len(got) == len(want) > 1000
    other = [c for c in want.columns if c != "value"]
    pd.testing.assert_frame_equal(got[other], want[other])
    np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float), rtol=1e-9, equal_nan=True)
    assert want["value"].notna().sum() > 100


def test_types_arrive_as_arrow_types(crm: Crm) -> None:
    raw = read_sql(crm.url(), table="deals", source_table="crm.opportunities")
    assert raw.table is not None
    schema = raw.table.schema
    assert schema.field("amount").type == pa.float64()  # numeric(14, 2): a float, never Decimal objects
    assert schema.field("units").type == pa.int64()
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("id").type == pa.string()
    first = raw.table.slice(0, 1).to_pylist()[0]
    assert first["created_at"].tzinfo is not None and first["created_at"].time() == dt.time(0)
    reps = read_sql(crm.url(), table="reps", source_table="crm.v_reps").table
    assert reps is not None
    assert reps.schema.field("email").type == pa.string()  # citext
    assert reps.schema.field("hire_date").type == pa.date32()
    leads = read_sql(crm.url(), table="leads", source_table="crm.leads").table
    assert leads is not None
    assert leads.schema.field("qualified").type == pa.bool_()
    assert leads.column(ROW).to_pylist()[:3] == [1, 2, 3]


def test_numbers_keep_their_kind(crm: Crm) -> None:
    """numeric(p, 0) (an id kept as numeric) reads as whole numbers, so an id reads "1234" as in a CSV export;
    NaN and numeric without a scale stay floats."""
    import psycopg

    with psycopg.connect(crm.server.admin_conninfo("crm")) as con:
        con.execute("SET ROLE sales")
        con.execute("CREATE TABLE IF NOT EXISTS crm.numbers (id numeric(12, 0), n numeric(12, 0), x numeric, b bigint)")
        con.execute("TRUNCATE crm.numbers")
        con.execute("INSERT INTO crm.numbers VALUES (1234, 1, 2.5, 7), (NULL, 'NaN', 'Infinity', NULL)")
    table = read_sql(crm.url(), table="deals", source_table="crm.numbers").table
    assert table is not None
    assert table.schema.field("id").type == pa.int64()
    assert table.column("id").to_pylist() == [1234, None]
    assert table.schema.field("n").type == pa.float64()  # NaN is no whole number
    assert table.column("x").to_pylist() == [2.5, float("inf")]
    assert table.column("b").to_pylist() == [7, None]


def test_only_the_requested_columns_are_selected(crm: Crm) -> None:
    mark = crm.mark()
    raw = read_sql(
        crm.url(),
        table="deals",
        source_table="crm.opportunities",
        columns=["amount", "id", "closed_at", "not_there"],
    )
    assert raw.table is not None
    assert raw.table.column_names == ["id", "closed_at", "amount", ROW]  # the source's order
    assert raw.columns()[:3] == ["id", "owner_id", "account_id"]
    assert "notes" in raw.columns()  # every column of the source, for the mapping's messages
    log = crm.log_since(mark)
    assert 'SELECT "id", "closed_at", "amount" FROM crm.opportunities' in log
    assert "notes" not in log
    assert "SELECT * FROM crm.opportunities WHERE 1=0" in log  # the column list: no rows fetched


def test_a_query_is_wrapped_to_select_only_the_requested_columns(crm: Crm) -> None:
    mark = crm.mark()
    # a literal % (psycopg's placeholder sign), a semicolon and a comment at the end
    query = "SELECT * FROM crm.activity_log WHERE kind LIKE 'c%'; -- calls only"
    raw = read_sql(crm.url(), table="activities", query=query, columns=["rep_id"])
    assert raw.table is not None
    assert raw.table.column_names == ["rep_id", ROW]
    assert raw.available == ["activity_id", "rep_id", "happened_at", "kind"]
    assert 0 < raw.rows < 150_000
    sent = """SELECT "rep_id" FROM (SELECT * FROM crm.activity_log WHERE kind LIKE 'c%' -- calls only ) AS q"""
    assert sent in " ".join(crm.log_since(mark).split())  # the log indents a statement's later lines


def test_since_is_pushed_into_the_sql_for_date_columns(crm: Crm) -> None:
    all_rows = read_sql(crm.url(), table="deals", source_table="crm.opportunities", columns=["id"]).rows
    day = dt.date(2026, 7, 1)
    mark = crm.mark()
    raw = read_sql(
        crm.url(),
        table="deals",
        source_table="crm.opportunities",
        columns=["id", "created_at", "closed_at"],
        since=(("closed_at", "created_at"), day),
    )
    log = crm.log_since(mark)
    assert (
        """WHERE ("closed_at" >= DATE '2026-07-01' OR "created_at" >= DATE '2026-07-01' """
        """OR ("closed_at" IS NULL AND "created_at" IS NULL))"""
    ) in log
    assert raw.table is not None
    assert 0 < raw.rows < all_rows
    frame = raw.table.to_pandas()
    start = pd.Timestamp(day, tz="UTC")
    assert ((frame["closed_at"] >= start) | (frame["created_at"] >= start)).all()


@pytest.mark.parametrize(
    ("columns", "pushed"),
    [
        (("closed_on",), True),
        (("closed",), False),  # text holding '03/15/2025' is never compared with a day as text
        (("closed_on", "closed"), False),  # leaving 'closed' out of the OR would drop rows it keeps
        (("missing",), False),
    ],
)
def test_since_is_never_pushed_for_text_columns(crm: Crm, columns: tuple[str, ...], pushed: bool) -> None:
    mark = crm.mark()
    raw = read_sql(crm.url(), table="deals", source_table="crm.legacy_deals", since=(columns, dt.date(2026, 1, 1)))
    assert ("WHERE (" in crm.log_since(mark)) is pushed
    assert raw.rows == (1 if pushed else 2)


def test_a_large_table_is_fetched_in_batches_from_a_server_side_cursor(crm: Crm) -> None:
    mark = crm.mark()
    raw = read_sql(crm.url(), table="activities", source_table="crm.activity_log", columns=["rep_id", "kind"])
    assert raw.rows > 100_000
    assert raw.table is not None
    assert raw.table.column("rep_id").num_chunks > 1
    log = crm.log_since(mark)
    assert "DECLARE" in log and "CURSOR" in log


def _error(url: str, **kwargs: str) -> str:
    with pytest.raises(DataLoadError) as err:
        read_sql(url, table=kwargs.pop("table", "deals"), **kwargs)
    text = str(err.value) + repr(err.value.fields)
    for secret in (PASSWORD, ENCODED, "s3cr@t", "s3cr%40t"):
        assert secret not in text
    return str(err.value)


def test_connection_refused(crm: Crm, tmp_path: Path) -> None:
    from pgserver import _free_port

    port = _free_port()
    text = _error(f"postgresql://sales:{ENCODED}@127.0.0.1:{port}/crm")
    assert f"the server at 127.0.0.1:{port} refused the connection (is PostgreSQL running there" in text
    assert f"postgresql://sales:***@127.0.0.1:{port}/crm" in text
    assert "Fix: start the database server" in text
    text = _error(f"postgresql://sales:{ENCODED}@/crm?host={tmp_path}")  # a Unix socket nobody listens on
    assert f"the server on socket {tmp_path}/.s.PGSQL.5432 refused the connection" in text


@pytest.mark.parametrize("user", ["sales", "nobody"])
def test_wrong_password_or_unknown_user(crm: Crm, user: str) -> None:
    text = _error(crm.url(password=PASSWORD + "x", user=user))
    assert f"password authentication failed for user '{user}' on the server at 127.0.0.1:{crm.server.port}" in text
    assert "Fix: check the user name and the password in `url:`" in text


def test_unknown_database_suggests_the_close_one(crm: Crm) -> None:
    text = _error(crm.url(dbname="crmx"))
    assert "database 'crmx' does not exist on the server at" in text
    assert "Did you mean 'crm'" in text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crm.oportunities", "Did you mean 'crm.opportunities'"),
        ("crm.v_rep", "Did you mean 'crm.v_reps'"),
        ("sales.deals", "The schema 'sales' does not exist."),
        ("target", "Did you mean 'targets'"),
    ],
    ids=["table", "view", "schema", "unqualified"],
)
def test_missing_table_view_or_schema_lists_close_matches(crm: Crm, name: str, expected: str) -> None:
    text = _error(crm.url(), source_table=name)
    assert f"reading table '{name}' failed" in text
    assert expected in text
    assert "Fix: correct `table:` of 'deals'" in text


def test_no_permission_says_what_to_grant(crm: Crm) -> None:
    import psycopg

    with psycopg.connect(crm.server.admin_conninfo("crm")) as con:
        con.execute("CREATE TABLE IF NOT EXISTS crm.payroll (rep_id text, salary numeric)")  # owned by admin
    text = _error(crm.url(), source_table="crm.payroll")
    assert "reading table 'crm.payroll' failed: permission denied for table payroll" in text
    assert "GRANT SELECT" in text


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("socket", "the user 'nobody' does not exist on the server on socket"),  # the socket trusts: no password
        ("host", "the host name 'db.nosuchhost.invalid' is unknown (DNS)"),
        ("ssl", "cannot connect to the server at 127.0.0.1:{port}: server does not support SSL, but SSL was required"),
    ],
)
def test_other_connection_errors(crm: Crm, where: str, expected: str) -> None:
    server = crm.server
    url = {
        "socket": f"postgresql://nobody:{ENCODED}@/crm?host={server.socket_dir}&port={server.port}",
        "host": f"postgresql://sales:{ENCODED}@db.nosuchhost.invalid:5432/crm?connect_timeout=2",
        "ssl": crm.url() + "?sslmode=require",  # the test server has no certificate
    }[where]
    text = _error(url)
    assert expected.format(port=server.port) in text
    assert "Fix: " in text


def test_a_bad_query_names_the_table_and_the_server_error(crm: Crm) -> None:
    text = _error(crm.url(), table="activities", query="SELECT rep_id, nope FROM crm.activity_log")
    assert "reading the query of table 'activities' failed: column \"nope\" does not exist" in text
    assert "Fix: correct `query:` of 'activities'" in text


def test_load_dataset_names_the_source_file_and_hides_the_password(
    crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SR_PG_PASSWORD", PASSWORD + "-wrong")
    with pytest.raises(DataLoadError) as err:
        load_dataset(crm.pg_source)
    text = str(err.value)
    assert str(crm.pg_source) in text
    assert "password authentication failed for user 'sales'" in text
    assert "s3cr" not in text + repr(err.value.fields)


def test_postgresql_url_without_a_driver_uses_psycopg_3(crm: Crm) -> None:
    import importlib.util

    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed: postgresql:// uses it")
    url = crm.url()
    assert url.startswith("postgresql://")
    assert read_sql(url, table="targets").rows > 0
    assert read_sql(url.replace("postgresql://", "postgres://"), table="targets").rows > 0


@pytest.mark.usefixtures("password")
def test_a_source_since_is_pushed_into_the_sql_and_gives_the_kpis_of_the_csv_run(crm: Crm, tmp_path: Path) -> None:
    """`since:` in both source files: the server is asked only for the window, and the KPIs still equal those
    of the CSV files read whole and filtered by the loader."""
    deals = load_dataset(crm.csv_source, tables=["deals"]).tables["deals"]
    first = deals["created_date"].min()
    day = (first + pd.DateOffset(months=6)).to_period("M").start_time.date()
    sources = {}
    for name, path in (("pg", crm.pg_source), ("csv", crm.csv_source)):
        text = path.read_text(encoding="utf-8").replace("tables:\n", f"since: {day.isoformat()}\ntables:\n", 1)
        sources[name] = tmp_path / f"{name}.yaml"
        text = text.replace("base_dir: demo", f"base_dir: {crm.csv_source.parent / 'demo'}")
        sources[name].write_text(text, encoding="utf-8")
    mark = crm.mark()
    windowed = load_dataset(sources["pg"])
    log = crm.log_since(mark)
    assert f"""OR "closed_at" >= DATE '{day.isoformat()}'""" in log  # deals: the mapped source columns
    assert f""""date" >= DATE '{day.isoformat()}'""" in log  # activities: the query's column
    assert len(windowed.tables["deals"]) < len(deals)
    got, want = _kpis(sources["pg"]), _kpis(sources["csv"])
    assert str(got["period"].min()) >= day.strftime("%Y-%m")
    pd.testing.assert_frame_equal(got.drop(columns="value"), want.drop(columns="value"))
    np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float), rtol=1e-9, equal_nan=True)


@pytest.mark.usefixtures("password")
def test_a_mapping_typo_names_the_table_and_every_column_of_it(crm: Crm, tmp_path: Path) -> None:
    """Only the mapped columns are selected, yet the message offers the table's own columns."""
    text = crm.pg_source.read_text(encoding="utf-8").replace("deal_id: id,", "deal_id: idd,")
    (tmp_path / "typo.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DataLoadError, match=r"'idd', but the table has no such column\. Did you mean 'id'"):
        load_dataset(tmp_path / "typo.yaml", tables=["deals"])
