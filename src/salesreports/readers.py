"""Read raw tables from files and databases, without any business logic.

Every reader returns a :class:`RawTable`: a pyarrow table plus a ``_row``
column holding the 1-based data row number in the source (so that every later
error can point at the row), and the notes the reader made (ragged rows, ...).
CSV files are read as text only: types are given later, where a failing value
can be reported with its column and row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from salesreports.errors import DataLoadError, Issue

__all__ = ["ROW", "RawTable", "read_csv", "read_duckdb", "read_parquet", "read_sql"]

ROW = "_row"


@dataclass
class RawTable:
    """A table as read from its source, before mapping and typing."""

    table: pa.Table
    origin: str
    notes: list[Issue] = field(default_factory=list)


def _decode(path: Path, encoding: str, table: str) -> str:
    data = path.read_bytes()
    if not data.strip():
        msg = (
            f"{path}: the file is empty. Expected a header row naming the columns, then one row per "
            f"record. Fix: re-export the '{table}' table from the CRM, or remove it from the source file."
        )
        raise DataLoadError(msg, file=str(path), table=table)
    try:
        return data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4]
        msg = (
            f"{path}, line {line}: the bytes {bad!r} are not valid {encoding}. The file is probably in "
            f"another encoding (e.g. Windows-1252 or Latin-1). Fix: add `encoding: cp1252` (or the "
            f"right one) to table '{table}' in the source file, or re-export the file as UTF-8."
        )
        raise DataLoadError(msg, file=str(path), line=line, table=table) from None
    except LookupError:
        msg = f"{path}: unknown encoding '{encoding}' in the source file. Fix: use e.g. utf-8, cp1252, latin-1."
        raise DataLoadError(msg, file=str(path), table=table) from None


def read_csv(
    path: Path,
    *,
    table: str,
    encoding: str = "utf-8",
    delimiter: str = ",",
    ragged: str = "error",
) -> RawTable:
    """Read a CSV file as text columns.

    Parameters
    ----------
    path : the CSV file
    table : the canonical table it feeds (for messages)
    encoding : text encoding; a UTF-8 byte-order mark is accepted
    delimiter : field separator
    ragged : what to do with rows whose field count differs from the header:
        ``"error"`` (report them), ``"keep_first"`` (keep the first fields, warn), ``"skip"`` (drop, warn)

    Returns
    -------
    RawTable

    Raises
    ------
    DataLoadError
        Missing or empty file, undecodable bytes, no header.
    """
    if not path.exists():
        msg = f"{path}: file not found (table '{table}'). Fix: correct the path in the source file."
        raise DataLoadError(msg, file=str(path), table=table)
    text = _decode(path, encoding, table)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - text.strip() was checked
        header = []
    except csv.Error as exc:
        msg = f"{path}: cannot read the header: {exc}. Fix: check the delimiter and quoting."
        raise DataLoadError(msg, file=str(path), table=table) from None
    header = [h.strip() for h in header]
    width = len(header)
    notes: list[Issue] = []
    if len(set(header)) != width:
        dupes = sorted({h for h in header if header.count(h) > 1})
        msg = f"{path}: the header repeats column(s) {', '.join(map(repr, dupes))}. Fix: rename them in the export."
        raise DataLoadError(msg, file=str(path), table=table)
    if width == 1 and delimiter == "," and any(s in header[0] for s in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header[0])
        notes.append(
            Issue(
                "error",
                table,
                f"the header is one column '{header[0][:60]}', which looks {sep!r}-separated",
                file=str(path),
                fix=f"add `delimiter: {sep!r}` to table '{table}' in the source file",
            )
        )
    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []
    short: list[int] = []
    long: list[int] = []
    try:
        for number, record in enumerate(reader, start=1):
            n = len(record)
            if n == 0:
                continue
            if n != width:
                (long if n > width else short).append(number)
                if ragged == "skip" or (ragged == "error" and n < width):
                    continue
                record = (record + [""] * width)[:width]
            for i, value in enumerate(record):
                columns[i].append(value)
            rows.append(number)
    except csv.Error as exc:
        msg = f"{path}, row {reader.line_num - 1}: {exc}. Fix: check quoting in that row."
        raise DataLoadError(msg, file=str(path), table=table) from None
    for bad, word in ((long, "more"), (short, "fewer")):
        if not bad:
            continue
        if ragged == "error":
            notes.append(
                Issue(
                    "error",
                    table,
                    f"{len(bad)} row(s) have {word} fields than the header's {width} (an unquoted "
                    "delimiter inside a value, or a truncated line)",
                    file=str(path),
                    rows=tuple(bad[:5]),
                    count=len(bad),
                    fix="quote such values in the export, or set `ragged: keep_first` (keep the first "
                    f"{width} fields) or `ragged: skip` on table '{table}' in the source file",
                )
            )
        else:
            did = "kept their first fields" if ragged == "keep_first" and word == "more" else "were skipped"
            if ragged == "keep_first" and word == "fewer":
                did = "were padded with empty values"
            notes.append(
                Issue(
                    "warning",
                    table,
                    f"{len(bad)} row(s) have {word} fields than the header's {width}; they {did} "
                    "(fields after an unquoted delimiter are shifted: map only columns before it)",
                    file=str(path),
                    rows=tuple(bad[:5]),
                    count=len(bad),
                )
            )
    arrays: dict[str, pa.Array] = {name: pa.array(col, pa.string()) for name, col in zip(header, columns)}
    arrays[ROW] = pa.array(rows, pa.int64())
    return RawTable(pa.table(arrays), str(path), notes)


def read_parquet(path: Path, *, table: str) -> RawTable:
    """Read a Parquet file with its own types, adding the row numbers."""
    import pyarrow.parquet as pq

    if not path.exists():
        msg = f"{path}: file not found (table '{table}'). Fix: correct the path in the source file."
        raise DataLoadError(msg, file=str(path), table=table)
    try:
        data = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc}). Fix: re-export the '{table}' table."
        raise DataLoadError(msg, file=str(path), table=table) from None
    return RawTable(data.append_column(ROW, pa.array(range(1, data.num_rows + 1), pa.int64())), str(path))


def read_duckdb(path: Path, *, table: str, source_table: str = "", query: str = "") -> RawTable:
    """Read a table (or the result of a query) from a DuckDB database file, read-only."""
    import duckdb

    if not path.exists():
        msg = f"{path}: DuckDB file not found (table '{table}'). Fix: correct `database:` in the source file."
        raise DataLoadError(msg, file=str(path), table=table)
    sql = query or f'SELECT * FROM "{source_table or table}"'
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            data = con.execute(sql).to_arrow_table()
    except duckdb.Error as exc:
        msg = (
            f"{path}: reading '{source_table or table}' failed: {str(exc).splitlines()[0]}. "
            f"Fix: check the table name or query for '{table}' in the source file."
        )
        raise DataLoadError(msg, file=str(path), table=table) from None
    return RawTable(
        data.append_column(ROW, pa.array(range(1, data.num_rows + 1), pa.int64())), f"{path}:{source_table or table}"
    )


def redact_url(url: str) -> str:
    """Return a database URL with any password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def read_sql(url: str, *, table: str, source_table: str = "", query: str = "") -> RawTable:
    """Read a table (or a query) from any database SQLAlchemy can reach."""
    import sqlalchemy as sa

    shown = redact_url(url)
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        msg = f"database {shown}: cannot use this URL ({type(exc).__name__}: {exc}). Fix: check `url:`."
        raise DataLoadError(msg, table=table) from None
    name = source_table or table
    try:
        with engine.connect() as con:
            sql = query or f"SELECT * FROM {engine.dialect.identifier_preparer.quote(name)}"
            result = con.execute(sa.text(sql))
            names: Sequence[str] = list(result.keys())
            records = result.fetchall()
    except sa.exc.SQLAlchemyError as exc:
        detail = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        msg = f"database {shown}: reading '{name}' failed: {detail}. Fix: check the table name or query for '{table}'."
        raise DataLoadError(msg, table=table) from None
    finally:
        engine.dispose()
    cols = {n: _column([r[i] for r in records]) for i, n in enumerate(names)}
    cols[ROW] = pa.array(range(1, len(records) + 1), pa.int64())
    return RawTable(pa.table(cols), f"{shown}:{name}")


def _column(values: list[object]) -> pa.Array:
    """An Arrow array from database values; Decimals become floats, mixed types text."""
    from decimal import Decimal

    plain = [float(v) if isinstance(v, Decimal) else v for v in values]
    try:
        return pa.array(plain)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else str(v) for v in plain], pa.string())
