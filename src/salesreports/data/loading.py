"""Load a data source into typed canonical tables.

``load_dataset`` reads every table a source file names, applies its mapping in
DuckDB (renames, joined aggregates, derived columns, defaults, value maps,
filters) and gives each canonical column its type there too, so that millions
of rows never pass through a Python loop. A value that cannot be typed becomes
missing *and* is reported as an :class:`~salesreports.errors.Issue` naming the
file, column and rows: nothing is dropped or guessed silently. No business
logic lives here.

The typed frames use: text -> pandas ``str``; dates -> ``datetime64[ns]`` (the
day, no time); numbers -> ``float64``; yes/no -> ``boolean``; plus ``_row``, where
the row is in the source: its line as an editor shows it (header = line 1) for text
files and spreadsheets, its 1-based row for Parquet and databases. Optional columns the source does not provide are
absent (not filled with zeros or blanks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesreports.data.mapping import SourceSpec, TableSpec, load_source
from salesreports.data.readers import (
    EXCEL_SUFFIXES,
    ROW,
    RawTable,
    quote_ident,
    read_csv,
    read_duckdb,
    read_excel,
    read_parquet,
    read_sql,
    since_condition,
)
from salesreports.data.schema import EVENT_DATES, MAX_AMOUNT, TABLES, Column, rule_issue
from salesreports.errors import DataLoadError, Issue, close_matches

__all__ = ["Dataset", "load_dataset"]

_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_NULL_MARKERS = ("NULL", "null", "Null", "None", "none", "N/A", "n/a", "#N/A", "NaN", "nan", "nil", "(null)")
_REP_TABLES = ("deals", "leads", "activities", "feedback")
_NUMERIC_TYPES = (
    "DOUBLE",
    "FLOAT",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
_TXT = "__txt__"
_BAD = "__bad__"
_RAW = "__raw__"
_MARK = "__mark__"
_FLAGS = "__flags__"
_GUESS_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%Y-%m-%d %H:%M:%S.%f",
)


@dataclass
class Dataset:
    """Typed canonical tables from one source.

    Attributes
    ----------
    tables : canonical name -> frame (with a ``_row`` column: the line in the source file, header = line 1;
        the data row for Parquet files and databases)
    origins : canonical name -> where it was read from
    notes : issues found while loading (ragged rows, values that could not be typed, ...)
    source : the source's name
    invalid : (table, column) -> the ``_row`` numbers whose value could not be typed (they are
        missing in the frame and already reported in ``notes``)
    severity : rule name -> severity, the source file's overrides of :data:`~salesreports.data.schema.RULES`
    unassigned_rep : the pseudo-rep rows without a rep were attributed to, if the source names one
    units : canonical name -> what its ``_row`` counts: "line" (text files, spreadsheets) or "row"
    max_amount : the largest amount, cost or target the data may hold (the source's ``max_amount``); larger
        values fail validation and the engine never adds them up
    since : the source's ``since``: nothing dated before this day was read (the KPIs begin with its month)
    left_out : canonical name -> the columns a projection (``load_dataset(columns=...)``) did not load
    """

    tables: dict[str, pd.DataFrame]
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[Issue] = field(default_factory=list)
    source: str = ""
    invalid: dict[tuple[str, str], np.ndarray[Any, Any]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)
    unassigned_rep: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    max_amount: float = MAX_AMOUNT
    since: dt.date | None = None
    left_out: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        """The table, or None when the source has no such table."""
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        """Whether the source provides this table."""
        return name in self.tables

    def fingerprint(self) -> str:
        """A short content hash of every table (changes when any value changes).

        A function of the data only: the rows' hashes are sorted, since DuckDB may hand a large file's rows
        back in another order on every load (its reader is parallel). Each row keeps its ``_row`` (line
        number), so moving a value to another line still changes the fingerprint. Rows are hashed
        :data:`FINGERPRINT_ROWS` at a time (a row's hash is its own): hashing a whole table's text at once
        costs more memory than the table.
        """
        digest = hashlib.sha256()
        for name in sorted(self.tables):
            frame = self.tables[name]
            digest.update(name.encode())
            digest.update(",".join(map(str, frame.columns)).encode())
            parts = [
                pd.util.hash_pandas_object(frame.iloc[start : start + FINGERPRINT_ROWS], index=False).to_numpy()
                for start in range(0, len(frame), FINGERPRINT_ROWS)
            ]
            hashed = np.sort(np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64))
            digest.update(hashed.tobytes())
        return digest.hexdigest()[:16]


FINGERPRINT_ROWS = 250_000  # rows hashed at a time by Dataset.fingerprint


# --------------------------------------------------------------------------- SQL helpers


_q = quote_ident


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        value = str(value).lower()
    return "'" + str(value).replace("'", "''") + "'"


def _mentions(column: str, texts: list[str]) -> bool:
    """Whether a SQL text may refer to the column (DuckDB names are case-insensitive)."""
    pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(column) + r"(?![A-Za-z0-9_])", re.IGNORECASE)
    return any(pattern.search(t) for t in texts)


@contextmanager
def _duckdb() -> Iterator[Any]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET arrow_large_buffer_size = true")  # large_string: what pandas' str dtype holds
        yield con
    finally:
        con.close()


@dataclass
class _View:
    """A cleaned view of one raw table inside DuckDB."""

    name: str
    columns: list[str]  # source column names (without _row)
    converted: set[str]  # columns shown to expressions as numbers; their text is under __txt__<name>
    rows: int
    nulled: dict[str, int] = field(default_factory=dict)  # column -> values that were a non-blank null marker

    def text(self, column: str) -> str:
        """The SQL reference to a column's text (null markers already NULL)."""
        return _q(_TXT + column) if column in self.converted else _q(column)


def _clean_view(
    con: Any,
    name: str,
    raw: RawTable | str,
    nulls: list[str],
    expressions: list[str],
    rows: int = 0,
    wanted: frozenset[str] = frozenset(),
) -> _View:
    """Create view ``name``: null markers become NULL; numeric text that expressions use becomes numbers.

    For the columns the mapping uses (``wanted`` or mentioned in ``expressions``), the view also
    counts the non-blank null markers (e.g. the text NULL) that were read as missing.
    """
    base = f"{name}__in"
    if isinstance(raw, RawTable):
        raw.register(con, base)
        rows = raw.rows
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {base} AS {raw}")
    rel = con.sql(f"SELECT * FROM {base} LIMIT 0")
    types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
    marks = ", ".join(_lit(n) for n in nulls)
    exprs: dict[str, str] = {}
    for col, typ in types.items():
        q = _q(col)
        exprs[col] = f"CASE WHEN trim({q}) IN ({marks}) THEN NULL ELSE {q} END" if typ == "VARCHAR" and nulls else q
    cols = [c for c in types if c != ROW]
    text = [c for c in cols if types[c] == "VARCHAR"]
    probe = [c for c in text if _mentions(c, expressions)]
    shown = [n for n in nulls if n.strip()]
    counted = [c for c in text if shown and (c in wanted or c in probe)]
    parts = []
    for c in probe:
        e = f"trim({exprs[c]})"
        parts.append(
            f"count({e}) > 0 AND bool_and({e} IS NULL OR (regexp_full_match({e}, '[+-]?(0|[1-9][0-9]*)')"
            f" AND TRY_CAST({e} AS BIGINT) IS NOT NULL))"
        )
        parts.append(
            f"count({e}) > 0 AND bool_and({e} IS NULL OR (TRY_CAST({e} AS DOUBLE) IS NOT NULL "
            f"AND NOT regexp_matches({e}, '^[+-]?0[0-9]')))"
        )
    for c in counted:
        parts.append(f"count(*) FILTER (WHERE trim({_q(c)}) IN ({', '.join(_lit(n) for n in shown)}))")
    found = con.execute(f"SELECT {', '.join(parts)} FROM {base}").fetchone() or () if parts else ()
    numeric: dict[str, str] = {}
    for i, c in enumerate(probe):
        if found[2 * i]:
            numeric[c] = "BIGINT"
        elif found[2 * i + 1]:
            numeric[c] = "DOUBLE"
    nulled = {c: int(n) for c, n in zip(counted, found[2 * len(probe) :], strict=True) if n}
    select = [_q(ROW)]
    for c in cols:
        if c in numeric:
            select.append(f"TRY_CAST(trim({exprs[c]}) AS {numeric[c]}) AS {_q(c)}")
            select.append(f"{exprs[c]} AS {_q(_TXT + c)}")
        else:
            select.append(f"{exprs[c]} AS {_q(c)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(select)} FROM {base}")
    return _View(name, cols, set(numeric), rows, nulled)


def _nulled_note(view: _View, name: str, origin: str, nulls: list[str], severity: dict[str, str]) -> Issue | None:
    if not view.nulled:
        return None
    shown = " / ".join(repr(n) for n in nulls if n.strip())
    total = sum(view.nulled.values())
    where = ", ".join(f"{c} ({n:,})" for c, n in view.nulled.items())
    return rule_issue(
        "null_values",
        name,
        f"{total:,} value(s) written {shown} were read as missing, as "
        f"`null_values` says, in the column(s) the mapping uses: {where}",
        severity=severity,
        file=origin,
        count=total,
    )


# --------------------------------------------------------------------------- reading


_IDENT = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def _loaded(name: str, want: frozenset[str] | None) -> list[Column]:
    """The canonical columns of a table that this load gives (all, or those ``want`` names)."""
    return [c for c in TABLES[name].columns if want is None or c.name in want]


def _needed(name: str, tspec: TableSpec, want: frozenset[str] | None) -> list[str] | None:
    """The source columns the mapping reads to give the canonical columns ``want`` (None: every column).

    A superset: the mapped source columns, canonical names read as they are, join keys, and every name the
    SQL of the wanted ``derive`` expressions and of ``where`` mentions (quoted or not).
    """
    if tspec.distinct_from is not None:
        return None  # the distinct values of one column: nothing to leave out
    names: set[str] = {j.keys[0] for j in tspec.join}
    texts = [tspec.where] if tspec.where else []
    for col in _loaded(name, want):
        if col.name in tspec.derive:
            texts.append(tspec.derive[col.name])
        elif col.name in tspec.columns:
            names.add(tspec.columns[col.name])
        else:
            names.add(col.name)
    for text in texts:
        names.update(quoted.replace('""', '"') if quoted else bare for quoted, bare in _IDENT.findall(text))
    return sorted(names)


def _read(spec: SourceSpec, name: str, tspec: TableSpec, columns: list[str] | None = None) -> RawTable:
    root = spec.root()
    if tspec.distinct_from is not None:
        d = tspec.distinct_from
        return _read_file(root / d.file, name, d.encoding, d.delimiter, d.ragged, d.sheet)
    if spec.kind == "duckdb":
        db = (root / (spec.database or "")).resolve()
        return read_duckdb(db, table=name, source_table=tspec.table or "", query=tspec.query or "", columns=columns)
    if spec.kind == "sql":
        try:
            return read_sql(
                spec.resolved_url(),
                table=name,
                source_table=tspec.table or "",
                query=tspec.query or "",
                columns=columns,
                since=_pushed_since(spec, name, tspec),
            )
        except DataLoadError as err:  # the message names the (redacted) URL; say which file holds it
            raise DataLoadError(f"{spec.path or 'source file'}, `url:`: {err}", **err.fields) from None
    path = root / (tspec.file or "")
    return _read_file(path, name, tspec.encoding, tspec.delimiter, tspec.ragged, tspec.sheet, columns)


def _pushed_since(spec: SourceSpec, name: str, tspec: TableSpec) -> tuple[tuple[str, ...], dt.date] | None:
    """The source's ``since`` as (source date columns, day) for the database, when the table's dates are plain
    columns (a derived date cannot be filtered before it is computed: then the loader alone filters)."""
    dates = EVENT_DATES.get(name, ())
    if spec.since is None or not dates or any(d in tspec.derive for d in dates):
        return None
    return tuple(tspec.columns.get(d, d) for d in dates), spec.since


def _read_file(
    path: Path,
    table: str,
    encoding: str,
    delimiter: str,
    ragged: str = "error",
    sheet: str | int | None = None,
    columns: list[str] | None = None,
) -> RawTable:
    if path.suffix.lower() in (".parquet", ".pq"):
        return read_parquet(path, table=table, columns=columns)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return read_excel(path, table=table, sheet=sheet, columns=columns)
    return read_csv(path, table=table, encoding=encoding, delimiter=delimiter, ragged=ragged, columns=columns)


def _no_column(
    origin: str, spec: SourceSpec, key: str, wanted: str, have: list[str], name: str, *, in_file: bool = False
) -> str:
    lower = {h.lower(): h for h in have}
    hint = f" Did you mean '{lower[wanted.lower()]}'? (names are case-sensitive)" if wanted.lower() in lower else ""
    hint = hint or close_matches(wanted, have) or f" Its columns: {', '.join(have[:20])}."
    where = "file" if in_file or spec.kind == "files" else "query" if origin.endswith(":query") else "table"
    return (
        f"{origin}: the mapping says `{key}` is the column '{wanted}', but the {where} has no such column.{hint} "
        f"Fix: correct `{key}` in {spec.path or 'the source file'}."
    )


# --------------------------------------------------------------------------- mapping


def _mapped_sql(
    con: Any,
    spec: SourceSpec,
    name: str,
    tspec: TableSpec,
    raw: RawTable,
    notes: list[Issue],
    severity: dict[str, str],
    want: frozenset[str] | None = None,
) -> tuple[str, str, bool, _View]:
    """Create the views of one table.

    Returns the SELECT of its mapped (untyped) canonical columns, its FROM clause, whether rows need
    sorting back into source order, and the main view.
    """
    nulls = spec.null_values if tspec.null_values is None else tspec.null_values
    exprs = tspec.expressions()
    v = f"v_{name}"
    if tspec.distinct_from is not None:
        dcol = tspec.distinct_from.column
        pre = _clean_view(con, f"{v}_all", raw, nulls, [])
        if dcol not in pre.columns:
            key = f"tables.{name}.distinct_from.column"
            raise DataLoadError(
                _no_column(raw.origin, spec, key, dcol, pre.columns, name, in_file=True),
                file=raw.origin,
                column=dcol,
                table=name,
            )
        distinct = (
            f"SELECT trim({_q(dcol)}) AS {_q(dcol)}, min({_q(ROW)}) AS {_q(ROW)} FROM {pre.name} "
            f"WHERE {_q(dcol)} IS NOT NULL AND trim({_q(dcol)}) <> '' GROUP BY 1"
        )
        rows = int((con.execute(f"SELECT count(*) FROM ({distinct})").fetchone() or (0,))[0])
        src = _clean_view(con, v, distinct, [], exprs, rows)
    else:
        own = {c for c in TABLES[name].names if c not in tspec.columns and c not in tspec.derive}
        wanted = frozenset(tspec.columns.values()) | own | {j.keys[0] for j in tspec.join}
        src = _clean_view(con, v, raw, nulls, exprs, wanted=wanted)
    note = _nulled_note(src, name, raw.origin, nulls, severity)
    if note is not None:
        notes.append(note)
    have = set(src.columns)
    joins: list[str] = []
    aggregated: dict[str, str] = {}
    root = spec.root()
    for k, join in enumerate(tspec.join):
        jraw = _read_file(root / join.file, name, join.encoding, join.delimiter, join.ragged, join.sheet)
        notes.extend(jraw.notes)
        jv = _clean_view(con, f"{v}_j{k}", jraw, nulls, list(join.aggregate.values()), wanted=frozenset(join.keys[1:]))
        note = _nulled_note(jv, name, jraw.origin, nulls, severity)
        if note is not None:
            notes.append(note)
        left, right = join.keys
        for key, cols, origin in ((left, raw.columns(), raw.origin), (right, jv.columns, jraw.origin)):
            if key not in cols:
                text = _no_column(
                    origin, spec, f"tables.{name}.join[{k}].on", key, cols, name, in_file=origin != raw.origin
                )
                raise DataLoadError(text, file=origin, column=key, table=name)
        for new in join.aggregate:
            if new in have or new in aggregated:
                msg = (
                    f"{spec.path or 'source file'}, tables.{name}.join[{k}].aggregate: the new column '{new}' "
                    "has the name of an existing column. Fix: give the aggregate another name."
                )
                raise DataLoadError(msg, file=spec.path, column=new, table=name)
            aggregated[new] = f"a{k}"
        aggs = ", ".join(f"{expr} AS {_q(col)}" for col, expr in join.aggregate.items())
        joins.append(
            f"LEFT JOIN (SELECT trim(CAST({jv.text(right)} AS VARCHAR)) AS __key{k}, {aggs} FROM {jv.name} "
            f"GROUP BY 1) a{k} ON trim(CAST(s.{src.text(left)} AS VARCHAR)) = a{k}.__key{k}"
        )
    select = [f"s.{_q(ROW)} AS {_q(ROW)}"]
    missing: list[str] = []
    missing_cols: list[str] = []
    for col in _loaded(name, want):
        c = col.name
        expr = ""
        if c in tspec.derive:
            expr = f"({tspec.derive[c]})"
        elif c in tspec.columns:
            source = tspec.columns[c]
            if source in aggregated:
                expr = f"{aggregated[source]}.{_q(source)}"
            elif source in have:
                expr = f"s.{src.text(source)}"
            else:
                missing.append(_no_column(raw.origin, spec, f"tables.{name}.columns.{c}", source, raw.columns(), name))
                missing_cols.append(source)
                continue
        elif c in have:
            expr = f"s.{src.text(c)}"
        if c in tspec.defaults:
            default = _lit(tspec.defaults[c])
            expr = f"coalesce(CAST({expr} AS VARCHAR), {default})" if expr else default
        if expr:
            select.append(f"{expr} AS {_q(c)}")
    if missing:
        text = (
            missing[0]
            if len(missing) == 1
            else (f"{len(missing)} mapped columns do not exist:\n" + "\n".join(f"    {m}" for m in missing))
        )
        raise DataLoadError(text, file=raw.origin, table=name, column=missing_cols[0], columns=missing_cols)
    where = f" WHERE {tspec.where}" if tspec.where else ""
    source = f"{src.name} s {' '.join(joins)}"
    return f"SELECT {', '.join(select)} FROM {source}{where}", source, bool(joins or tspec.distinct_from), src


def _duck_message(exc: BaseException) -> str:
    """DuckDB's message without the SQL echo, keeping its "Candidate bindings" hint."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    keep = lines[:1] + [ln for ln in lines[1:2] if ln.startswith("Candidate")]
    return " ".join(keep)


def _find_sql_error(con: Any, name: str, tspec: TableSpec, source: str, first: str) -> str:
    """Name the mapping key whose SQL fails (each expression is tried on its own)."""
    import duckdb

    trials: list[tuple[str, str, str]] = []
    for k, join in enumerate(tspec.join):
        for col, expr in join.aggregate.items():
            trials.append((f"tables.{name}.join[{k}].aggregate.{col}", expr, f"SELECT {expr} FROM v_{name}_j{k}"))
    for col, expr in tspec.derive.items():
        trials.append((f"tables.{name}.derive.{col}", expr, f"SELECT ({expr}) FROM {source}"))
    if tspec.where:
        trials.append((f"tables.{name}.where", tspec.where, f"SELECT * FROM {source} WHERE {tspec.where}"))
    for key, expr, sql in trials:
        try:
            con.sql(f"SELECT * FROM ({sql}) LIMIT 0")
        except duckdb.Error as exc:
            return f"`{key}` ({expr!r}) fails: {_duck_message(exc)}"
    return f"the mapping's SQL for table '{name}' fails: {first}"


# --------------------------------------------------------------------------- typing


def _values_case(text: str, values: dict[Any, Any] | None, fold: bool = False) -> str:
    if not values:
        return text
    subject = f"lower({text})" if fold else text
    whens = " ".join(
        f"WHEN {_lit(str(k).lower() if fold or isinstance(k, bool) else k)} THEN {_lit(v)}" for k, v in values.items()
    )
    return f"CASE {subject} {whens} ELSE {text} END"


def _typed_expr(col: Column, ref: str, typ: str, tspec: TableSpec) -> tuple[str, bool]:
    """SQL giving the canonical type from ``ref`` (of DuckDB type ``typ``); and whether values can fail."""
    values = tspec.values.get(col.name)
    text = f"NULLIF(trim(CAST({ref} AS VARCHAR)), '')"
    if col.kind == "str":
        mapped = _values_case(text, values, fold=bool(col.allowed))
        if not col.allowed:
            return f"CAST({mapped} AS VARCHAR)", False
        allowed = ", ".join(_lit(a) for a in col.allowed)
        return f"CASE WHEN lower({mapped}) IN ({allowed}) THEN lower({mapped}) END", True
    if col.kind in ("float", "int"):
        numeric = typ in _NUMERIC_TYPES or typ.startswith("DECIMAL")
        if values is None and numeric:
            num = f"CAST({ref} AS DOUBLE)"
        else:
            num = f"TRY_CAST({_values_case(text, values)} AS DOUBLE)"
        return f"CASE WHEN isfinite({num}) THEN {num} END", True
    if col.kind == "date":
        if values is None and (typ == "DATE" or typ.startswith("TIMESTAMP")):
            return f"CAST(CAST({ref} AS DATE) AS TIMESTAMP_NS)", True
        mapped = _values_case(text, values)
        formats = tspec.formats(col.name)
        if formats:
            fmts = "[" + ", ".join(_lit(f) for f in formats) + "]"
            return f"CAST(CAST(try_strptime({mapped}, {fmts}) AS DATE) AS TIMESTAMP_NS)", True
        return f"CAST(TRY_CAST({mapped} AS DATE) AS TIMESTAMP_NS)", True
    # bool
    if values is None and typ == "BOOLEAN":
        return ref, False
    low = f"lower({_values_case(text, values, fold=True)})"
    yes = ", ".join(_lit(t) for t in _TRUE)
    no = ", ".join(_lit(f) for f in _FALSE)
    return f"CASE WHEN {low} IN ({yes}) THEN true WHEN {low} IN ({no}) THEN false END", True


def _guess_date_formats(sample: list[str]) -> list[str]:
    """The formats that read every sample value (times after the date are allowed)."""
    fits = []
    for fmt in _GUESS_FORMATS:
        ok = bool(sample)
        for s in sample:
            for f in (fmt,) if "%H" in fmt else (fmt, fmt + " %H:%M", fmt + " %H:%M:%S"):
                try:
                    dt.datetime.strptime(s.strip(), f)
                    break
                except ValueError:
                    continue
            else:
                ok = False
                break
        if ok:
            fits.append(fmt)
    return fits


def _overflows(text: str) -> bool:
    """A number too large for a float (e.g. ``1e999``)."""
    try:
        return bool(re.fullmatch(r"\s*[+-]?[\d.]+(?:[eE][+-]?\d+)?\s*", text)) and not np.isfinite(float(text))
    except ValueError:
        return False


def _formats(formats: list[str]) -> str:
    return f"'{formats[0]}'" if len(formats) == 1 else "[" + ", ".join(f"'{f}'" for f in formats) + "]"


def _bad_values(
    name: str,
    origin: str,
    col: Column,
    rows: np.ndarray[Any, Any],
    sample: list[str],
    good: int,
    nulls: list[str],
    tspec: TableSpec,
    severity: dict[str, str],
) -> Issue:
    shown = ", ".join(repr(s) for s in sample[:3])
    n = len(rows)
    markers = [s for s in sample if s.strip() in _NULL_MARKERS]
    null_fix = (
        f"add `null_values: {[*nulls, *sorted({m.strip() for m in markers})]!r}` to the source file so "
        "these texts mean missing"
    )
    rule, fix = "bad_value", ""
    rest = [v for v in sample if v.strip() not in _NULL_MARKERS]
    parts = [null_fix] if markers else []
    if col.kind == "date":
        formats = tspec.formats(col.name)
        fmt = " or ".join(formats) if formats else "ISO (YYYY-MM-DD)"
        what = f"{n} value(s) are not dates in the format {fmt} (e.g. {shown})"
        if good and rest:
            what += f"; the column mixes formats ({good} value(s) do read as {fmt})"
        guesses = _guess_date_formats(rest)
        base = (formats or ["%Y-%m-%d"]) if good else []
        ambiguous = [(a, b) for a, b in (("%d/%m/%Y", "%m/%d/%Y"), ("%d/%m/%y", "%m/%d/%y")) if {a, b} <= set(guesses)]
        if rest and ambiguous:
            a, b = ambiguous[0]
            parts.append(
                f"these dates could be day-first or month-first: declare `dates: {{{col.name}: "
                f"{_formats([*base, a])}}}` (day first) or {_formats([*base, b])} (month first) "
                f"for table '{name}'"
            )
        elif rest and guesses:
            new = [g for g in guesses if g not in base][:1]
            parts.append(
                f"declare `dates: {{{col.name}: {_formats([*base, *new])}}}` for table '{name}' in the source file"
            )
        elif rest:
            parts.append("export one date format in the column and declare it with `dates:` or `date_format:`")
        fix = "; and ".join(parts)
    elif col.kind in ("float", "int"):
        what = f"{n} value(s) are not numbers (e.g. {shown})"
        huge = [v for v in rest if _overflows(v)]
        if huge:
            what = f"{n} value(s) are not usable numbers (e.g. {shown}): {huge[0]!r} is too large to store"
            parts.append("correct the values (an absurd amount, or an overflow in the export?)")
        elif any(re.fullmatch(r"-?\d+,\d{1,2}", v.strip()) for v in rest):
            parts.append("export '.' as the decimal separator (the values use decimal commas)")
        elif rest:
            parts.append("export plain numbers: no currency symbols, no thousands separators, '.' for decimals")
        fix = "; and ".join(parts)
    elif col.kind == "bool":
        what = f"{n} value(s) are not yes/no values (e.g. {shown})"
        if rest:
            parts.append(f"use true/false, yes/no or 1/0, or map them with `values: {{{col.name}: {{...}}}}`")
        fix = "; and ".join(parts)
    else:
        rule = "not_allowed"
        what = f"{n} value(s) are not allowed (e.g. {shown}); allowed: {', '.join(col.allowed)}"
        example = sample[0] if sample else "X"
        target = next((a for a in col.allowed if a in example.lower()), col.allowed[0])
        fix = f"map them with `values: {{{col.name}: {{{example}: {target}}}}}` for table '{name}'"
    what += "; they are treated as missing"
    return rule_issue(
        rule,
        name,
        what,
        severity=severity,
        file=origin,
        column=col.name,
        rows=tuple(int(r) for r in rows[:5]),
        count=n,
        fix=fix,
    )


def _load_table(
    con: Any,
    spec: SourceSpec,
    name: str,
    tspec: TableSpec,
    raw: RawTable,
    severity: dict[str, str],
    want: frozenset[str] | None = None,
) -> tuple[pd.DataFrame, list[Issue], dict[tuple[str, str], Any]]:
    notes: list[Issue] = list(raw.notes)
    sql, source, reorder, src = _mapped_sql(con, spec, name, tspec, raw, notes, severity, want)
    mapped = f"v_{name}_m"
    import duckdb

    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {mapped} AS {sql}")
        rel = con.sql(f"SELECT * FROM {mapped} LIMIT 0")
    except duckdb.Error as exc:
        where = _find_sql_error(con, name, tspec, source, _duck_message(exc))
        msg = f"{spec.path or 'source file'}: {where}. Fix: check the column names and SQL there."
        raise DataLoadError(msg, file=spec.path, table=name) from None
    types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
    inner = [_q(ROW)]
    outer = [_q(ROW)]
    detail = [_q(ROW)]  # the text of the values that failed, fetched only for the rows whose flag says so
    flags: list[str] = []  # one bit per check: the result holds one small integer, not a text column per check
    checked: list[Column] = []
    marked: list[Column] = []
    nulls = spec.null_values if tspec.null_values is None else tspec.null_values
    markers = ", ".join(_lit(m) for m in _NULL_MARKERS if m not in nulls)
    for col in TABLES[name].columns:
        if col.name not in types:
            continue
        expr, can_fail = _typed_expr(col, _q(col.name), types[col.name], tspec)
        inner.append(f"{expr} AS {_q(col.name)}")
        outer.append(_q(col.name))
        if col.kind == "str" and not col.allowed and markers:
            hit = f"{_q(col.name)} IN ({markers})"
            flags.append(f"CASE WHEN {hit} THEN {1 << len(flags)} ELSE 0 END")
            detail.append(f"CASE WHEN {hit} THEN {_q(col.name)} END AS {_q(_MARK + col.name)}")
            marked.append(col)
        if can_fail:
            inner.append(f"{_q(col.name)} AS {_q(_RAW + col.name)}")
            bad = f"{_q(_RAW + col.name)} IS NOT NULL AND {_q(col.name)} IS NULL"
            flags.append(f"CASE WHEN {bad} THEN {1 << len(flags)} ELSE 0 END")
            detail.append(f"CASE WHEN {bad} THEN CAST({_q(_RAW + col.name)} AS VARCHAR) END AS {_q(_BAD + col.name)}")
            checked.append(col)
    flag = f"({' + '.join(flags) or '0'})"
    outer.append(f"CAST({flag} AS INTEGER) AS {_q(_FLAGS)}")
    order = f" ORDER BY {_q(ROW)}" if reorder else ""
    since = _since_filter(name, spec.since, set(types))
    typed = f"(SELECT {', '.join(inner)} FROM {mapped})"
    try:
        result = _owned(con.sql(f"SELECT {', '.join(outer)} FROM {typed}{' WHERE ' + since if since else ''}{order}"))
        failed = pc.not_equal(result.column(_FLAGS), 0)
        details = None
        if pc.any(failed).as_py():
            keep = " AND ".join(f"({c})" for c in (since, f"{flag} <> 0") if c)
            details = con.sql(f"SELECT {', '.join(detail)} FROM {typed} WHERE {keep} ORDER BY {_q(ROW)}")
            details = details.to_arrow_table()
    except duckdb.Error as exc:
        where = _find_sql_error(con, name, tspec, source, _duck_message(exc))
        msg = f"{spec.path or 'source file'}: {where}. Fix: check the column names and SQL there."
        raise DataLoadError(msg, file=spec.path, table=name) from None
    result = result.drop_columns([_FLAGS])
    invalid: dict[tuple[str, str], Any] = {}
    if details is not None:
        notes.extend(_flagged(result, details, name, raw.origin, checked, marked, nulls, tspec, severity, invalid))
    notes.extend(_coverage(spec, name, tspec, raw, set(types), severity, want))
    total = src.rows
    kept = result.num_rows
    if since and tspec.where:  # `since` left rows out too: count those `where` did
        kept = int((con.execute(f"SELECT count(*) FROM {mapped}").fetchone() or (0,))[0])
    if tspec.where and kept < total:
        left = total - kept
        notes.append(
            rule_issue(
                "rows_filtered",
                name,
                f"{left} of {total} row(s) left out by the mapping's `where: {tspec.where}`",
                severity=severity,
                file=raw.origin,
                count=left,
            )
        )
    if total == 0 and name in ("reps", "deals"):
        notes.append(
            rule_issue(
                "no_rows",
                name,
                f"the table has a header but no rows: there are no {name} to report on",
                severity=severity,
                file=raw.origin,
                fix=f"re-export the '{name}' table with its rows (a truncated or filtered export?), or remove "
                "it from the source file if the CRM has none",
            )
        )
    elif total == 0:
        notes.append(
            rule_issue(
                "empty_table",
                name,
                "the table has a header but no rows",
                severity=severity,
                file=raw.origin,
                fix="check the export; KPIs that need this table show no activity",
            )
        )
    for column in TABLES[name].codes:  # dictionary-encoded by Arrow: the frame never holds the text per row
        if column in result.column_names:
            result = result.set_column(result.column_names.index(column), column, result[column].dictionary_encode())
    # each column is freed as soon as it is converted: the peak is one table, not two
    frame = result.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get, self_destruct=True, split_blocks=True)
    del result
    for col in TABLES[name].columns:
        if col.kind == "date" and col.name in frame.columns:
            frame[col.name] = frame[col.name].astype("datetime64[ns]")
        elif col.kind in ("float", "int") and col.name in frame.columns:
            frame[col.name] = frame[col.name].astype("float64")
        elif col.kind == "bool" and col.name in frame.columns:
            frame[col.name] = frame[col.name].astype("boolean")
        elif col.kind == "str" and col.name in frame.columns and col.name in TABLES[name].codes:
            # in sorted order, as text sorts (Arrow lists the values as they come): groups come out the same
            codes = frame[col.name].astype("category")
            frame[col.name] = codes.cat.reorder_categories(sorted(codes.cat.categories))
        elif col.kind == "str" and col.name in frame.columns and frame[col.name].dtype != "str":
            frame[col.name] = frame[col.name].astype("str")
    frame[ROW] = frame[ROW].astype("int64")
    return frame, notes, invalid


def _owned(relation: Any) -> pa.Table:
    """A query's result as an Arrow table in Arrow's own memory, read one batch at a time.

    DuckDB hands out each batch as one block: a single text column the frame keeps (pandas holds Arrow text
    without copying) would keep every column of its batch alive. Copying each batch as it arrives frees
    DuckDB's block at once, so a table costs its own size, not its size plus its numbers' DuckDB copy.
    """
    batches = []
    with relation.to_arrow_reader(1 << 20) as reader:
        schema = reader.schema
        for batch in reader:
            columns = [pa.concat_arrays([column]) for column in batch.columns]
            batches.append(pa.RecordBatch.from_arrays(columns, schema=schema))
            del batch
    return pa.Table.from_batches(batches, schema=schema)


def _flagged(
    result: pa.Table,
    details: pa.Table,
    name: str,
    origin: str,
    checked: list[Column],
    marked: list[Column],
    nulls: list[str],
    tspec: TableSpec,
    severity: dict[str, str],
    invalid: dict[tuple[str, str], Any],
) -> list[Issue]:
    """The issues of the rows a check flagged: values that could not be typed (their rows go to ``invalid``)
    and texts that look like null markers, from ``details`` (``_row`` plus the failing text of each check)."""
    notes: list[Issue] = []
    rows_all = details.column(ROW)
    for col in checked:
        bad = details.column(_BAD + col.name)
        if bad.null_count == len(bad):
            continue
        mask = pc.is_valid(bad)
        rows = pc.filter(rows_all, mask).to_numpy()
        sample = [str(s) for s in pc.unique(pc.filter(bad, mask)).to_pylist()[:50]]
        good = result.num_rows - result.column(col.name).null_count
        notes.append(_bad_values(name, origin, col, rows, sample, good, nulls, tspec, severity))
        invalid[(name, col.name)] = rows
    for col in marked:
        hit = pc.is_valid(details.column(_MARK + col.name))
        count = pc.sum(hit).as_py() or 0
        if count:
            rows = pc.filter(rows_all, hit).to_numpy()
            found = sorted(set(pc.filter(details.column(_MARK + col.name), hit).to_pylist()))
            notes.append(
                rule_issue(
                    "null_marker",
                    name,
                    f"{count} value(s) are the text {' / '.join(map(repr, found))}, kept as text",
                    severity=severity,
                    file=origin,
                    column=col.name,
                    rows=tuple(int(r) for r in rows[:5]),
                    count=count,
                    fix=f"if it means missing, add `null_values: {[*nulls, *found]!r}` to the source",
                )
            )
    return notes


def _since_filter(name: str, since: dt.date | None, produced: set[str]) -> str:
    """The condition (over typed columns) keeping the rows with a date on or after ``since``, or ""."""
    dates = [d for d in EVENT_DATES.get(name, ()) if d in produced]
    return since_condition(dates, since, _q) if since is not None and dates else ""


def _coverage(
    spec: SourceSpec,
    name: str,
    tspec: TableSpec,
    raw: RawTable,
    produced: set[str],
    severity: dict[str, str],
    want: frozenset[str] | None = None,
) -> list[Issue]:
    """Required canonical columns that neither the data nor the mapping provides, with close source columns."""
    out = []
    for section in ("dates", "values"):
        for col in getattr(tspec, section):
            if col not in produced:
                out.append(
                    Issue(
                        "warning",
                        name,
                        f"`{section}` is given for '{col}', but the table has no such column, so it is not used",
                        file=spec.path,
                        column=col,
                        fix=f"map the column under `tables.{name}.columns` (or remove the `{section}` entry)",
                    )
                )
    used = set(tspec.columns.values())
    free = [c for c in raw.columns() if c not in used]
    for col in _loaded(name, want):
        if not col.required or col.name in produced:
            continue
        squash = {re.sub(r"[^a-z0-9]", "", c.lower()): c for c in free}
        near = squash.get(re.sub(r"[^a-z0-9]", "", col.name.lower()))
        hint = f" Did you mean the column '{near}'?" if near else close_matches(col.name, free)
        fix = (
            f"map it with `columns: {{{col.name}: {near or '<source column>'}}}`, compute it with `derive:`, or "
            f"give a constant with `defaults:` for table '{name}' in {spec.path or 'the source file'}"
        )
        out.append(
            rule_issue(
                "missing_column",
                name,
                f"required column '{col.name}' is missing: the data has no "
                f"such column and the mapping gives none.{hint}",
                severity=severity,
                file=raw.origin,
                column=col.name,
                fix=fix,
            )
        )
    return out


def _attribute_unassigned(data: Dataset, rep_id: str) -> None:
    """Give rows without a rep to the source's pseudo-rep, and add it to the reps table."""
    for name in _REP_TABLES:
        frame = data.tables.get(name)
        if frame is None or "rep_id" not in frame.columns:
            continue
        empty = frame["rep_id"].isna().to_numpy()
        count = int(empty.sum())
        if count:
            ids = frame["rep_id"]
            if isinstance(ids.dtype, pd.CategoricalDtype) and rep_id not in ids.cat.categories:  # a table's codes
                ids = ids.cat.set_categories(sorted([*ids.cat.categories, rep_id]))
            frame["rep_id"] = ids.fillna(rep_id)
            rows = tuple(int(r) for r in frame[ROW].to_numpy()[empty][:5])
            data.notes.append(
                rule_issue(
                    "unassigned_rows",
                    name,
                    f"{count:,} of {len(frame):,} row(s) have no rep; they are attributed to the "
                    f"pseudo-rep '{rep_id}', so that team and company totals count them",
                    severity=data.severity,
                    file=data.origins.get(name, ""),
                    column="rep_id",
                    rows=rows,
                    count=count,
                    fix="fill in rep_id in the export if a rep did own them",
                )
            )
    reps = data.tables.get("reps")
    if reps is not None and not reps["rep_id"].eq(rep_id).any():
        given = {ROW: 0, "rep_id": rep_id, "name": "Unassigned"}
        extra = pd.DataFrame({c: pd.Series([given.get(c)]).astype(reps[c].dtype) for c in reps.columns})
        data.tables["reps"] = pd.concat([reps, extra], ignore_index=True)


def load_dataset(
    source: SourceSpec | Path | str,
    *,
    tables: list[str] | None = None,
    columns: Mapping[str, Iterable[str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Load every table of a source into typed canonical frames.

    Only what the canonical columns need is read: a source column the mapping does not use is never read
    from a CSV, Parquet, Excel or DuckDB file nor selected from a database.

    Parameters
    ----------
    source : a :class:`SourceSpec` or the path of a source YAML file
    tables : only these canonical tables (default: all the source names)
    columns : canonical table -> the only canonical columns to load (e.g.
        :data:`salesreports.metrics.engine.COLUMNS`, what ``compute_kpis`` reads); tables not named are loaded
        whole. For computing only: the columns left out (``Dataset.left_out``) are not checked, so validate a
        data set loaded without ``columns``
    progress : called with each table's name before it is read

    Returns
    -------
    Dataset
        Tables, their origins and every issue found while loading. Bad values are never raised
        here: :func:`salesreports.data.validate.validate` decides what is fatal.

    Raises
    ------
    DataLoadError
        A file cannot be read at all (missing, empty, wrong encoding or delimiter) or the mapping
        names a column that does not exist. Every table is tried first; the error lists all of them.
    ConfigError
        The source file itself is invalid.
    """
    spec = source if isinstance(source, SourceSpec) else load_source(Path(source))
    out = Dataset(
        tables={},
        source=spec.name,
        severity=dict(spec.severity),
        unassigned_rep=spec.unassigned_rep,
        max_amount=spec.max_amount,
        since=spec.since,
    )
    wants = {t: frozenset(c) for t, c in (columns or {}).items()}
    failures: list[DataLoadError] = []
    with _duckdb() as con:
        for name, tspec in spec.tables.items():
            if tables is not None and name not in tables:
                continue
            if progress is not None:
                progress(name)
            want = wants.get(name)
            if want is not None:
                if spec.unassigned_rep and "rep_id" in TABLES[name].names:
                    want |= {"rep_id"}
                out.left_out[name] = tuple(c for c in TABLES[name].names if c not in want)
            try:
                raw = _read(spec, name, tspec, _needed(name, tspec, want))
                frame, notes, invalid = _load_table(con, spec, name, tspec, raw, out.severity, want)
            except DataLoadError as err:
                failures.append(err)
                continue
            out.tables[name] = frame
            out.origins[name] = raw.origin
            out.units[name] = raw.unit
            out.notes.extend(notes)
            out.invalid.update(invalid)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        distinct = list(dict.fromkeys(str(f) for f in failures))
        if len(distinct) == 1:  # e.g. a database that cannot be reached: one reason, said once
            names = ", ".join(str(f.fields.get("table", "?")) for f in failures)
            where = spec.path or spec.name
            msg = f"none of the {len(failures)} tables of {where} ({names}) could be loaded: {distinct[0]}"
        else:
            listed = "\n".join(f"  - {f}" for f in distinct)
            msg = f"{len(failures)} tables of {spec.path or spec.name} could not be loaded:\n{listed}"
        raise DataLoadError(msg, file=spec.path, errors=distinct)
    if spec.unassigned_rep:
        _attribute_unassigned(out, spec.unassigned_rep)
    return out
