"""Load a data source into typed canonical tables.

``load_dataset`` reads every table a source file names, applies its mapping in
DuckDB (renames, joined aggregates, derived columns, defaults, filters), then
gives each canonical column its type. A value that cannot be typed becomes
missing *and* is reported as an :class:`~salesreports.errors.Issue` naming the
file, column and rows: nothing is dropped or guessed silently. No business
logic lives here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from salesreports.errors import DataLoadError, Issue
from salesreports.mapping import SourceSpec, TableSpec, load_source
from salesreports.readers import ROW, RawTable, read_csv, read_duckdb, read_parquet, read_sql
from salesreports.schema import TABLES, Column

__all__ = ["Dataset", "load_dataset"]

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


@dataclass
class Dataset:
    """Typed canonical tables from one source.

    Attributes
    ----------
    tables : canonical name -> frame (with a ``_row`` column: the source row number)
    origins : canonical name -> where it was read from
    notes : issues found while loading (ragged rows, values that could not be typed, ...)
    source : the source's name
    """

    tables: dict[str, pd.DataFrame]
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[Issue] = field(default_factory=list)
    source: str = ""

    def get(self, name: str) -> pd.DataFrame | None:
        """The table, or None when the source has no such table."""
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        """Whether the source provides this table."""
        return name in self.tables

    def fingerprint(self) -> str:
        """A short content hash of every table (changes when any value changes)."""
        digest = hashlib.sha256()
        for name in sorted(self.tables):
            frame = self.tables[name]
            digest.update(name.encode())
            digest.update(",".join(map(str, frame.columns)).encode())
            hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
            digest.update(hashed.tobytes())
        return digest.hexdigest()[:16]


def _read(spec: SourceSpec, name: str, tspec: TableSpec) -> RawTable:
    root = spec.root()
    if spec.kind == "duckdb":
        db = (root / (spec.database or "")).resolve()
        return read_duckdb(db, table=name, source_table=tspec.table or "", query=tspec.query or "")
    if spec.kind == "sql":
        return read_sql(spec.resolved_url(), table=name, source_table=tspec.table or "", query=tspec.query or "")
    return _read_file(root / (tspec.file or ""), name, tspec.encoding, tspec.delimiter, tspec.ragged)


def _read_file(path: Path, table: str, encoding: str, delimiter: str, ragged: str = "error") -> RawTable:
    if path.suffix.lower() in (".parquet", ".pq"):
        return read_parquet(path, table=table)
    return read_csv(path, table=table, encoding=encoding, delimiter=delimiter, ragged=ragged)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _nullify(con: Any, view: str, raw: pa.Table, nulls: list[str]) -> None:
    """Create a view over ``raw`` where null markers are NULL and numeric text columns are numbers."""
    con.register(f"{view}_raw", raw)
    parts = []
    for col in raw.column_names:
        q = _quote(col)
        if pa.types.is_string(raw.schema.field(col).type) or pa.types.is_large_string(raw.schema.field(col).type):
            marks = ", ".join("'" + n.replace("'", "''") + "'" for n in nulls) or "NULL"
            clean = f"CASE WHEN trim({q}) IN ({marks}) THEN NULL ELSE {q} END"
            parts.append((col, clean))
        else:
            parts.append((col, q))
    probe = ", ".join(f"bool_and(TRY_CAST(({e}) AS DOUBLE) IS NOT NULL OR ({e}) IS NULL) AS {_quote(c)}" for c, e in parts)
    numeric = con.execute(f"SELECT {probe} FROM {view}_raw").fetchone() if parts else ()
    select = []
    for (col, expr), is_num in zip(parts, numeric or [False] * len(parts)):
        if is_num and col != ROW and expr != _quote(col):
            select.append(f"TRY_CAST(({expr}) AS DOUBLE) AS {_quote(col)}")
        else:
            select.append(f"{expr} AS {_quote(col)}")
    con.execute(f"CREATE VIEW {view} AS SELECT {', '.join(select)} FROM {view}_raw")
    con.execute(f"CREATE VIEW {view}_text AS SELECT {', '.join(f'{e} AS {_quote(c)}' for c, e in parts)} FROM {view}_raw")


def _apply_mapping(spec: SourceSpec, name: str, tspec: TableSpec, raw: RawTable) -> tuple[pd.DataFrame, list[Issue]]:
    """Run the table's mapping in DuckDB; returns the mapped frame (canonical columns + _row).

    Expressions (``derive``, ``where``, joined aggregates) see a typed view where numeric text
    is a number; plain renamed columns come from the text view, so "007" stays "007".
    """
    import duckdb

    notes: list[Issue] = []
    table = TABLES[name]
    nulls = spec.null_values if tspec.null_values is None else tspec.null_values
    con = duckdb.connect()
    try:
        _nullify(con, "src", raw.table, nulls)
        source_cols = set(raw.table.column_names)
        joins, aggregated = [], set()
        for k, join in enumerate(tspec.join):
            jraw = _read_file(spec.root() / join.file, f"{name} (join)", join.encoding, join.delimiter)
            notes.extend(jraw.notes)
            _nullify(con, f"j{k}", jraw.table, nulls)
            left, right = (join.on, join.on) if isinstance(join.on, str) else next(iter(join.on.items()))
            aggs = ", ".join(f"{expr} AS {_quote(col)}" for col, expr in join.aggregate.items())
            joins.append(
                f"LEFT JOIN (SELECT CAST({_quote(right)} AS VARCHAR) AS __key, {aggs} FROM j{k} GROUP BY 1) a{k} "
                f"ON CAST(src.{_quote(left)} AS VARCHAR) = a{k}.__key"
            )
            aggregated |= set(join.aggregate)
        inner = [f"src.{_quote(ROW)} AS {_quote(ROW)}"]
        outer = [f"e.{_quote(ROW)} AS {_quote(ROW)}"]
        for col in table.names:
            q = _quote(col)
            if col in tspec.derive:
                inner.append(f"CAST(({tspec.derive[col]}) AS VARCHAR) AS {q}")
                outer.append(f"e.{q} AS {q}")
            elif col in tspec.columns:
                src = tspec.columns[col]
                if src in aggregated:
                    inner.append(f"{_quote(src)} AS {q}")
                    outer.append(f"e.{q} AS {q}")
                    continue
                if src not in source_cols:
                    hint = _suggest(src, source_cols)
                    msg = (
                        f"{raw.origin}: the mapping says canonical '{name}.{col}' comes from column "
                        f"'{src}', but the file has no such column.{hint} Fix: correct "
                        f"`tables.{name}.columns.{col}` in {spec.path or 'the source file'}."
                    )
                    raise DataLoadError(msg, file=raw.origin, column=src, table=name)
                outer.append(f"txt.{_quote(src)} AS {q}")
            elif col in tspec.defaults:
                value = tspec.defaults[col]
                literal = "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"
                outer.append(f"{literal} AS {q}")
            elif col in source_cols:
                outer.append(f"txt.{q} AS {q}")
        where = f"WHERE {tspec.where}" if tspec.where else ""
        sql = (
            f"WITH e AS (SELECT {', '.join(inner)} FROM src {' '.join(joins)} {where}) "
            f"SELECT {', '.join(outer)} FROM e JOIN src_text txt ON txt.{_quote(ROW)} = e.{_quote(ROW)} "
            f"ORDER BY e.{_quote(ROW)}"
        )
        total = raw.table.num_rows
        try:
            frame = con.execute(sql).df()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            msg = (
                f"{spec.path or 'source file'}, table '{name}': the mapping's SQL failed: {first}. "
                "Fix: check the column names and expressions under `derive`, `join` and `where`."
            )
            raise DataLoadError(msg, file=spec.path, table=name) from None
        if tspec.where and len(frame) < total:
            notes.append(
                Issue(
                    "warning",
                    name,
                    f"{total - len(frame)} of {total} row(s) left out by the mapping's `where: {tspec.where}`",
                    file=raw.origin,
                    count=total - len(frame),
                )
            )
    finally:
        con.close()
    return frame, notes


def _suggest(name: str, names: set[str]) -> str:
    from salesreports.errors import close_matches

    return close_matches(name, sorted(names)) or f" Its columns: {', '.join(sorted(n for n in names if n != ROW)[:20])}."


def _coerce(
    frame: pd.DataFrame, name: str, tspec: TableSpec, origin: str
) -> tuple[pd.DataFrame, list[Issue]]:
    """Give each canonical column its type; report values that do not fit."""
    issues: list[Issue] = []
    out: dict[str, Any] = {ROW: frame[ROW].to_numpy(dtype=np.int64)}
    rows = out[ROW]
    for col in TABLES[name].columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        values = tspec.values.get(col.name)
        typed, bad, sample = _convert(series, col, values, tspec.dates.get(col.name) or tspec.date_format)
        if bad.any():
            issues.append(_bad_values(name, origin, col, rows[bad], sample, tspec))
        out[col.name] = typed
    return pd.DataFrame(out), issues


def _convert(
    series: pd.Series, col: Column, values: dict[str, Any] | None, date_format: str | None
) -> tuple[Any, np.ndarray, list[str]]:
    """Return (typed values, mask of values that failed, a sample of failing values)."""
    present = series.notna().to_numpy()
    if col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            typed = pd.to_datetime(series).dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
            typed = pd.Series(typed).dt.normalize().astype("datetime64[ns]")
        else:
            text = series.astype("string").str.strip()
            typed = pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce")
            typed = typed.dt.normalize().astype("datetime64[ns]")
        bad = present & typed.isna().to_numpy()
        return typed.to_numpy(), bad, _sample(series, bad)
    if col.kind in ("float", "int"):
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            typed = series.astype("float64")
        else:
            typed = pd.to_numeric(series.astype("string").str.strip(), errors="coerce").astype("float64")
        bad = present & typed.isna().to_numpy()
        return typed.to_numpy(dtype="float64"), bad, _sample(series, bad)
    if col.kind == "bool":
        text = series.astype("string").str.strip().str.lower()
        if values:
            text = text.replace({str(k).lower(): str(v).lower() for k, v in values.items()})
        typed = pd.Series(pd.NA, index=series.index, dtype="boolean")
        typed[text.isin(_TRUE).fillna(False)] = True
        typed[text.isin(_FALSE).fillna(False)] = False
        bad = present & typed.isna().to_numpy()
        return typed.to_numpy(dtype="object", na_value=None), bad, _sample(series, bad)
    # text
    text = series.astype("string").str.strip()
    if values:
        text = text.replace({str(k): str(v) for k, v in values.items()})
    text = text.mask(text == "", pd.NA)
    if col.allowed:
        lowered = text.str.lower()
        text = lowered.where(lowered.isin(col.allowed), text)
        bad = (text.notna() & ~text.isin(col.allowed)).to_numpy(dtype=bool)
        return text.astype("object").where(text.notna(), None).to_numpy(), bad, _sample(series, bad)
    return text.astype("object").where(text.notna(), None).to_numpy(), np.zeros(len(text), dtype=bool), []


def _sample(series: pd.Series, bad: np.ndarray, n: int = 3) -> list[str]:
    if not bad.any():
        return []
    return [str(v) for v in pd.unique(series[bad].astype("string"))[:n]]


def _bad_values(name: str, origin: str, col: Column, rows: np.ndarray, sample: list[str], tspec: TableSpec) -> Issue:
    shown = ", ".join(repr(s) for s in sample)
    if col.kind == "date":
        fmt = tspec.dates.get(col.name) or tspec.date_format or "ISO (YYYY-MM-DD)"
        guess = _guess_date_format(sample)
        what = f"{len(rows)} value(s) are not dates in the format {fmt} (e.g. {shown})"
        fix = (
            f"add `dates: {{{col.name}: '{guess}'}}` for table '{name}' in the source file"
            if guess
            else "use one date format in the column and declare it with `date_format:` in the source file"
        )
        if any(s.upper() in ("NULL", "NONE", "N/A", "NA", "-") for s in sample):
            fix = "add `null_values: ['', 'NULL']` to the source file so the text NULL means missing"
    elif col.kind in ("float", "int"):
        what = f"{len(rows)} value(s) are not numbers (e.g. {shown})"
        fix = "export plain numbers (no currency symbols or thousands separators)"
        if any(s.upper() in ("NULL", "NONE", "N/A", "NA", "-") for s in sample):
            fix = "add `null_values: ['', 'NULL']` to the source file so the text NULL means missing"
    elif col.kind == "bool":
        what = f"{len(rows)} value(s) are not yes/no values (e.g. {shown})"
        fix = f"use true/false, yes/no or 1/0, or map them with `values: {{{col.name}: {{...}}}}`"
    else:
        what = f"{len(rows)} value(s) are not allowed (e.g. {shown}); allowed: {', '.join(col.allowed)}"
        fix = f"map them with `values: {{{col.name}: {{{sample[0] if sample else 'X'}: ...}}}}` in the source file"
    return Issue("error", name, what, file=origin, column=col.name, rows=tuple(int(r) for r in rows[:5]), count=len(rows), fix=fix)


def _guess_date_format(sample: list[str]) -> str:
    for fmt in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S.%f", "%Y%m%d"):
        ok = True
        for s in sample:
            try:
                pd.to_datetime(s, format=fmt)
            except (ValueError, TypeError):
                ok = False
                break
        if ok and sample:
            return fmt
    return ""


def load_dataset(
    source: SourceSpec | Path | str, *, tables: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> Dataset:
    """Load every table of a source into typed canonical frames.

    Parameters
    ----------
    source : a :class:`SourceSpec` or the path of a source YAML file
    tables : only these canonical tables (default: all the source names)
    progress : called with each table's name before it is read

    Returns
    -------
    Dataset
        Tables, their origins and every issue found while loading (never raised for bad values:
        :func:`salesreports.validate.validate` decides what is fatal).

    Raises
    ------
    DataLoadError
        A file cannot be read at all, or the mapping names a column that does not exist.
    ConfigError
        The source file itself is invalid.
    """
    spec = source if isinstance(source, SourceSpec) else load_source(Path(source))
    out = Dataset(tables={}, source=spec.name)
    for name, tspec in spec.tables.items():
        if tables is not None and name not in tables:
            continue
        if progress is not None:
            progress(name)
        raw = _read(spec, name, tspec)
        out.notes.extend(raw.notes)
        if any(n.severity == "error" and not n.column for n in raw.notes) and raw.table.num_columns <= 2:
            out.origins[name] = raw.origin
            continue
        frame, notes = _apply_mapping(spec, name, tspec, raw)
        out.notes.extend(notes)
        typed, issues = _coerce(frame, name, tspec, raw.origin)
        out.notes.extend(issues)
        out.tables[name] = typed
        out.origins[name] = raw.origin
    return out
