"""A report's context on disk: a small JSON file with its KPI tables beside it as Parquet.

:mod:`salesreports.report.scope` builds a context (a dict) per report; this module writes and reads it.
One report's context is a few files in the report's own folder::

    context.json       everything but the tables, with "tables": {"kpis": "kpis.parquet", ...}
    kpis.parquet       the report's own slice of the precomputed KPI table
    rep_kpis.parquet   team summaries only: the members' rows for the period

A notebook reads only these files (never the data set), and a rep's files hold only that rep's
rows plus team aggregates (see :mod:`salesreports.report.scope`). In memory the tables sit under the same
keys (``context["kpis"]``): Arrow tables as :mod:`salesreports.report.scope` builds them (one table for all
reps, sliced without copying), pandas DataFrames as :func:`read_context` reads them; a value that is
not available is null (NaN in pandas), never 0. :func:`records` turns either into row dicts.

Every string written, in the JSON and in the tables, goes through :func:`salesreports.text.clean` first:
this is where data (names, feedback, goal and company names from settings) enters a report, so no control
character, lone surrogate or stray isolate terminator reaches the notebook, its HTML, SVG, PDF or email.

Writing is idempotent: a file whose content did not change is left alone (its time stamp too), and
:func:`write_context` returns a hash of the content, without the ``generated_at`` stamp, that the
runner uses to skip unchanged reports.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from salesreports.errors import ParamsError
from salesreports.paths import atomic_write_bytes
from salesreports.text import clean, clean_all

__all__ = ["TABLES", "context_files", "many_contexts", "plain", "read_context", "records", "write_context"]

TABLES = ("kpis", "rep_kpis")
STAMP = "generated_at"


def _dumps(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=False)


# what salesreports.text.clean changes, as it appears in the JSON text of _dumps: the characters themselves, and
# the C0 controls as JSON writes them (\b, \f, \r, \u00XX). A body whose text has none of them is clean as it
# is; a match (also a false one, such as a backslash before "b") only means cleaning every string first.
_UNCLEAN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029\u2069\ufffe\uffff\ud800-\udfff]|\\[bfr]|\\u00[01][0-9a-f]")


def _arrow(table: Any) -> Any:
    """A context table (Arrow, pandas or a list of row dicts) as an Arrow table without schema metadata."""
    import pyarrow as pa

    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)
    elif not isinstance(table, pa.Table):
        table = pa.Table.from_pylist(list(table))
    return _clean_strings(table.replace_schema_metadata(None))  # no library versions in the files


# RE2 (Arrow) spelling of what salesreports.text.clean changes: most tables have no such text, and are not copied
_UNCLEAN_RE2 = r"[\x00-\x08\x0b-\x1f\x7f-\x{9f}\x{2028}\x{2029}\x{2069}\x{fffe}\x{ffff}]"


def _clean_strings(table: Any) -> Any:
    """The table with :func:`salesreports.text.clean` applied to its string columns (only where it changes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column in enumerate(table.columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        if not pc.any(pc.match_substring_regex(column, _UNCLEAN_RE2)).as_py():
            continue
        values = [None if v is None else clean(v) for v in column.to_pylist()]
        table = table.set_column(i, table.field(i), pa.array(values, type=column.type))
    return table


def _parquet(table: Any) -> bytes:
    """An Arrow table as Parquet bytes."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def _fingerprint(table: Any) -> bytes:
    """The table's columns and values as Arrow IPC bytes: unlike Parquet's, free of library versions, so that
    upgrading pandas or pyarrow does not make every report look changed."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def records(table: Any) -> list[dict[str, Any]]:
    """A context table (Arrow, pandas, or already rows) as row dicts; missing values are None."""
    if isinstance(table, pd.DataFrame):
        return [
            {str(k): (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()}
            for row in table.astype(object).to_dict(orient="records")
        ]
    if hasattr(table, "to_pylist"):  # an Arrow table
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows
    return list(table or [])


def plain(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context with its tables as lists of row dicts (JSON-ready apart from the tables' NaN-free values)."""
    return {k: records(v) if k in TABLES else v for k, v in context.items()}


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data, durable=False)  # a context is made again on each run: see write_context
    return True


@contextmanager
def many_contexts() -> Iterator[None]:
    """Arrow allocates from the C library's ``malloc`` inside the block: where thousands of contexts are built
    and written one after another (a period's planning).

    Each context makes and frees a few small Arrow tables (its rows, their Parquet and IPC bytes). Arrow's
    default allocator (mimalloc) keeps the pages they freed: about 80 MB per 1,000 reports that ``malloc``
    reuses instead. Buffers remember their allocator, so tables made before the block are freed correctly.
    """
    import pyarrow as pa

    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def write_context(context: Mapping[str, Any], path: Path) -> str:
    """Write a context (``path`` is its ``context.json``) and its tables; return the content's hash.

    Files whose content is unchanged are not rewritten, so a rerun leaves them (and their time
    stamps) alone. The hash leaves out the ``generated_at`` stamp. Each file is replaced atomically but
    not synced to disk (10,000 waits for the disk at 5,000 reps): a file a power cut left empty or stale
    differs from the context, so the next run, which writes every context again, rewrites it.
    """
    body = {k: v for k, v in context.items() if k not in TABLES and k != STAMP}
    stamp = clean_all(context.get(STAMP))
    tables = {k: _arrow(context[k]) for k in TABLES if context.get(k) is not None}
    body["tables"] = {name: f"{name}.parquet" for name in tables}
    text = _dumps(body)
    if _UNCLEAN_JSON.search(text):  # rare: some text needs cleaning (looked for in one pass over the whole)
        body = clean_all(body)
        text = _dumps(body)
    digest = hashlib.sha256(text.encode("utf-8"))
    for name, table in tables.items():
        digest.update(b"\x1f" + name.encode() + b"\x1f" + _fingerprint(table))
        _write_if_changed(path.with_name(f"{name}.parquet"), _parquet(table))
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        old.pop(STAMP, None)
        same = _dumps(old) == text
    except (OSError, ValueError):
        same = False
    if not same:
        atomic_write_bytes(path, _dumps({**body, STAMP: stamp}).encode("utf-8"), durable=False)
    return digest.hexdigest()[:16]


FIX = "Fix: run the report again with `salesreports run` (it rewrites the context)."


def _body(path: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The JSON of a context and the files of its tables: only ``<table>.parquet`` beside ``context.json``."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"context file {path} not found. {FIX}"
        raise ParamsError(msg, file=str(path)) from None
    except (OSError, ValueError) as exc:
        msg = f"context file {path} is unreadable ({exc}). {FIX}"
        raise ParamsError(msg, file=str(path)) from None
    tables = body.get("tables") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(tables, (dict, type(None))):
        msg = f"context file {path} is not a context written by salesreports. {FIX}"
        raise ParamsError(msg, file=str(path))
    files = {}
    for name, file in (tables or {}).items():
        if name not in TABLES or file != f"{name}.parquet":
            msg = f"context file {path} names an unexpected table {name!r}: {file!r}. {FIX}"
            raise ParamsError(msg, file=str(path))
        files[name] = path.with_name(file)
    return body, files


def context_files(path: Path) -> list[Path]:
    """A context's files: its JSON and the tables it names (to ship a report to another machine).

    Raises
    ------
    ParamsError
        The context is missing, unreadable or names a table that is not there.
    """
    _, files = _body(path)
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        msg = f"context table(s) {', '.join(missing)} missing. {FIX}"
        raise ParamsError(msg, file=missing[0])
    return [path, *files.values()]


def read_context(path: Path) -> dict[str, Any]:
    """Read a context written by :func:`write_context`: its tables come back as DataFrames.

    Raises
    ------
    ParamsError
        A file is missing or unreadable (names it, with the fix).
    """
    context, files = _body(path)
    context.pop("tables", None)
    for name, table in files.items():
        try:
            context[name] = pd.read_parquet(table)
        except (OSError, ValueError) as exc:
            msg = f"context table {table} is missing or unreadable ({type(exc).__name__}: {exc}). {FIX}"
            raise ParamsError(msg, file=str(table)) from None
    return context
