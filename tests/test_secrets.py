"""Secrets never leave the environment: database passwords and the SMTP password are not in any output.

A SQL source reads the tiny fixture from SQLite with ``${DB_PASSWORD}`` in its URL (SQLite ignores an
unknown URI parameter, so the URL still works), and the SMTP password is set. Then validate, run (the
executed notebook records papermill's parameters!), a dry-run send and a failed real send must not print
or write the password anywhere: every file under the temporary folder and every captured output is grepped
for it, raw and in its encoded forms. The error paths (a database that cannot be reached, a table that does
not exist, an unparsable URL) are checked too.
"""

from __future__ import annotations

import base64
import sqlite3
import textwrap
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import TINY, write_config
from salesreports.cli import app
from salesreports.data.readers import redact_url, scrub

DB_SECRET = "Xy9-db-SECRET_pw.42"
SMTP_SECRET = "Smtp-SECRET~77"
TABLES = ("reps", "deals", "leads", "activities", "targets", "feedback")


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def assert_nowhere(root: Path, *outputs: str) -> int:
    """No secret in any file under root nor in any output; returns the number of files checked."""
    checked = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for secret in (DB_SECRET, SMTP_SECRET):
            for form in forms(secret):
                assert form.encode() not in data, f"{form!r} in {path}"
        checked += 1
    for text in outputs:
        for secret in (DB_SECRET, SMTP_SECRET):
            for form in forms(secret):
                assert form not in text, f"{form!r} in the output:\n{text}"
    return checked


def sql_source(folder: Path, url: str) -> Path:
    entries = "".join(f"  {t}: {{table: {t}}}\n" for t in TABLES)
    path = folder / "source.yaml"
    path.write_text(f"name: crm-sql\nkind: sql\nurl: {url}\ntables:\n{entries}", encoding="utf-8")
    return path


@pytest.fixture
def sql_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        for table in TABLES:
            pd.read_csv(TINY / f"{table}.csv", dtype=str).to_sql(table, con, index=False)
    source = sql_source(tmp_path, f"sqlite:///file:{db}?uri=true&password=${{DB_PASSWORD}}")
    config = write_config(tmp_path, source)
    text = config.read_text(encoding="utf-8")
    smtp = textwrap.dedent("""\
        smtp:
          host: 127.0.0.1
          port: 1
          username: sales-ops
          password_env: SALESREPORTS_SMTP_PASSWORD
          timeout: 2
          max_attempts: 1
          backoff_seconds: 0
        """)
    config.write_text(text + smtp, encoding="utf-8")
    monkeypatch.setenv("DB_PASSWORD", DB_SECRET)
    monkeypatch.setenv("SALESREPORTS_SMTP_PASSWORD", SMTP_SECRET)
    monkeypatch.chdir(tmp_path)
    return config


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_validate_never_shows_the_database_password(sql_config: Path) -> None:
    code, out = invoke("validate", "--params", str(sql_config))
    assert code == 0, out
    assert "6 tables" in out or "3 reps" in out
    assert "password=***" in out or "crm-sql" in out or "source.yaml" in out
    assert_nowhere(sql_config.parent.parent, out)


@pytest.mark.notebooks
def test_run_and_send_never_write_a_secret(sql_config: Path) -> None:
    """validate, run (notebook, HTML, PDF, manifest, index), dry-run send and a failed SMTP send."""
    outputs = []
    for args in (
        ("validate", "--params", str(sql_config)),
        ("run", "--params", str(sql_config), "--period", "2025-03", "--reps", "R1"),
        ("send", "--params", str(sql_config), "--period", "2025-03", "--dry-run"),
        ("send", "--params", str(sql_config), "--period", "2025-03", "--send"),
    ):
        code, out = invoke(*args)
        outputs.append(out)
        if args[0] in ("validate", "run"):
            assert code == 0, out
    root = sql_config.parent.parent
    notebook = root / "reports" / "2025-03" / "R1" / "scorecard.ipynb"
    assert notebook.is_file() and '"rep_id": "R1"' in notebook.read_text(encoding="utf-8")
    assert (root / "reports" / "2025-03" / "manifest.json").is_file()
    assert assert_nowhere(root, *outputs) >= 8


@pytest.mark.parametrize(
    ("url", "words"),
    [
        # a server that cannot be reached (or a driver that is not installed): the driver's own message
        ("postgresql://sales:${DB_PASSWORD}@127.0.0.1:1/crm", "database postgresql://sales:***@127.0.0.1:1/crm"),
        ("postgresql://sales:${DB_PASSWORD}@127.0.0.1:notaport/crm", "database <unparsable database URL>"),
        ("mysql+pymysql://sales@127.0.0.1:1/crm?password=${DB_PASSWORD}", "password=***"),
    ],
)
def test_database_errors_never_show_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    monkeypatch.setenv("DB_PASSWORD", DB_SECRET)
    config = write_config(tmp_path, sql_source(tmp_path, url))
    code, out = invoke("validate", "--params", str(config))
    assert code in (1, 2), out
    assert words in " ".join(out.split()), out
    assert "Fix:" in out
    assert_nowhere(tmp_path, out)


def test_a_missing_table_error_hides_a_query_password(sql_config: Path) -> None:
    source = sql_config.parent.parent / "source.yaml"
    source.write_text(source.read_text(encoding="utf-8").replace("{table: deals}", "{table: nosuch}"), "utf-8")
    code, out = invoke("validate", "--params", str(sql_config))
    assert code == 1 and "nosuch" in out and "password=***" in out, out
    assert_nowhere(sql_config.parent.parent, out)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{quote(DB_SECRET, safe='')}@h/db",
        f"postgresql://u@h/db?sslmode=require&password={DB_SECRET}",
        f"postgresql://u@h/db?sslpassword={DB_SECRET}",
        f"snowflake://u@acct/db?token={DB_SECRET}",
        f"postgresql://u:{DB_SECRET}@h:port/db",
    ],
)
def test_redact_and_scrub_every_url_form(url: str) -> None:
    assert DB_SECRET not in redact_url(url)
    text = scrub(f"could not connect with {url} (password {DB_SECRET!r}, {quote(DB_SECRET, safe='')})", url)
    assert DB_SECRET not in text and quote(DB_SECRET, safe="") not in text
