"""Source files: where each canonical table lives and how its columns map.

A source file (``params/sources/*.yaml``) names, per canonical table, the file,
database table or query it comes from, plus the mapping from the CRM's own
columns. Applying a mapping never drops a row silently. The keys, per table:

``file`` / ``table`` / ``query``
    A CSV, Parquet or Excel (``.xlsx``, ``.xls``, ``.ods``) file (relative to ``base_dir``) for a
    source of kind ``files``; a table name or a SQL query for kinds ``duckdb`` and ``sql``.
``distinct_from: {file: ..., column: ...}``
    Instead of a file: one row per distinct, non-empty value of a column of another file
    (e.g. reps = the distinct closing-rep ids of a deals export). The new table has that one
    column (map it under ``columns``, add others with ``derive``/``defaults``); each row's
    number is the first row where the value appears in that file.
``encoding``, ``delimiter``, ``ragged``, ``null_values``
    How to read a CSV file: text encoding (a byte-order mark wins), field separator, what to
    do with rows whose field count differs from the header (``error``, ``keep_first``,
    ``skip``), and the texts that mean "missing" (default ``['']``; e.g. ``['', 'NULL']``).
    ``null_values`` can also be set once for the whole source.
``sheet``
    For an Excel file: the sheet's name or 0-based position (default: the first sheet).
``columns: {canonical: source column}``
    Renames. Ids are kept as text ("007" stays "007").
``derive: {canonical: DuckDB SQL expression}``
    Computed columns, e.g. ``firstName || ' ' || lastName``. Expressions see numeric text
    columns as numbers, and the aggregates of ``join``.
``join: [{file, on, aggregate}]``
    Aggregates over a second file joined by a key, e.g. order lines summed per order:
    ``aggregate: {net: 'sum(unitPrice * quantity * (1 - discount))'}``. The new columns can be
    used under ``columns`` and in ``derive``/``where``. Keys are compared as trimmed text.
``defaults: {canonical: constant}``
    A constant for a column the source does not have, or the value used where the mapped
    column is empty.
``values: {canonical: {source value: canonical value}}``
    Value maps, e.g. ``stage: {Closed Won: won}`` (matched ignoring case for columns with
    allowed values such as ``stage``). Map a value to ``null`` to mean "missing".
``date_format`` / ``dates: {canonical: format}``
    strptime formats (``'%d/%m/%Y'``) for every date column / for one column; a list of
    formats is tried in order (for a column that mixes formats). Default: ISO 8601.
``where``
    A DuckDB SQL filter; the rows it leaves out are reported as a warning.

At the source level, besides ``name``, ``kind``, ``base_dir`` (relative to the source file),
``database`` and ``url``:

``severity: {rule: error|warning}``
    Change the severity of a named data rule (see :data:`salesreports.data.schema.RULES`), e.g.
    ``close_before_create: warning`` when the export is known to hold such deals and reports
    must still run. The issues are still shown.
``max_amount: <number>``
    The largest deal amount, cost or target the data may hold (default 1e12, at most 1e15). A larger or
    infinite value is a validation error (rule ``amount_too_large``) naming its lines, and the engine
    shows the periods holding it as not available instead of adding it up.
``since: <first day of a month>``
    Read only what happened from that day on: the rows of deals, leads, activities and feedback with none
    of their dates (e.g. a deal's created and close dates) on or after it are left out, in the database
    itself for a SQL source, and the KPIs begin with that month (those that need history before a period
    are "not available" until there is enough). For a database that holds more years than reports show.
``unassigned_rep: <rep id>``
    Rows with no rep (e.g. leads a rep never touched) are attributed to this pseudo-rep, which
    is added to the reps table, instead of failing validation; a warning counts them.

A ``url`` may use ``${ENV_VAR}`` (a password stays out of the file; it is URL-encoded when it
sits in the user:password part), and a relative SQLite path is relative to ``base_dir``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from salesreports.data.schema import MAX_AMOUNT, MAX_AMOUNT_CEILING, RULES, TABLES
from salesreports.errors import ConfigError, close_matches
from salesreports.yamlio import KeyProblemsError, Loc

__all__ = ["DistinctFrom", "Join", "SourceSpec", "TableSpec", "load_source"]

Ragged = Literal["error", "keep_first", "skip"]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CsvOptions(_Strict):
    encoding: str = Field(
        default="utf-8",
        description="text encoding of a CSV file, e.g. `cp1252` for an export saved by Excel on Windows; "
        "a byte-order mark at the start of the file wins",
    )
    delimiter: str = Field(
        default=",", description='the character between fields of a CSV file: `;`, `"\\t"` for a tab, `|`'
    )
    ragged: Ragged = Field(
        default="error",
        description="rows with more or fewer fields than the header: `error` (report them), `keep_first` (keep "
        "the first fields, warn) or `skip` (leave them out, warn)",
    )
    sheet: str | int | None = Field(
        default=None,
        description="for an Excel file: the sheet's name, or its position counting from 0 (default: the first)",
    )


class Join(_CsvOptions):
    """Aggregates joined from a second file, e.g. order lines summed per order."""

    file: str = Field(description="the second file (CSV, Excel or Parquet), relative to `base_dir`")
    on: str | dict[str, str] = Field(
        description="the key both files share, e.g. `orderID`, or `{main_column: joined_column}` when the names "
        "differ; keys are compared as trimmed text"
    )
    aggregate: dict[str, str] = Field(
        description="new columns, each a SQL aggregate over the joined file's rows with the same key, e.g. "
        "`{amount: 'sum(unitPrice * quantity)'}`; use them under `columns`, `derive` and `where`"
    )

    @property
    def keys(self) -> tuple[str, str]:
        """(column of the main table, column of the joined file)."""
        if isinstance(self.on, str):
            return self.on, self.on
        return next(iter(self.on.items()))


class DistinctFrom(_CsvOptions):
    """A table made of the distinct values of one column of a file."""

    file: str = Field(description="the file holding the column (CSV, Excel or Parquet), relative to `base_dir`")
    column: str = Field(description="the column whose distinct, non-empty values become the table's rows")


class TableSpec(_CsvOptions):
    """Where one canonical table comes from and how its columns map."""

    file: str | None = Field(
        default=None,
        description="the export file (CSV, Excel `.xlsx`/`.xls`/`.ods` or Parquet), relative to `base_dir`; "
        "for a source of kind `files`",
    )
    table: str | None = Field(
        default=None, description="a database table or view; for a source of kind `duckdb` or `sql`"
    )
    query: str | None = Field(
        default=None, description="a SQL query instead of `table`; for a source of kind `duckdb` or `sql`"
    )
    distinct_from: DistinctFrom | None = Field(
        default=None,
        description="instead of `file`: one row per distinct value of a column of another file, e.g. the reps as "
        "the distinct deal owners of a deals export; each row's line is where the value first appears",
    )
    null_values: list[str] | None = Field(
        default=None,
        description="texts that mean \"missing\" in this table, e.g. `['', 'NULL', 'n/a']` "
        "(default: the source's `null_values`)",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="renames: `{canonical column: the export's column}`; a column whose name is already "
        "canonical needs no entry; ids stay text (`007` stays `007`)",
    )
    derive: dict[str, str] = Field(
        default_factory=dict,
        description="computed columns: `{canonical column: DuckDB SQL expression}` over the export's columns "
        "(numeric texts read as numbers), the `join` aggregates and `_row` (the record's line in the file), e.g. "
        "`firstName || ' ' || lastName`",
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="constants: `{canonical column: value}` for a column the export lacks, or the value used "
        "where the mapped column is empty, e.g. `{stage: won}`; `null` makes an empty column",
    )
    values: dict[str, dict[Any, Any]] = Field(
        default_factory=dict,
        description="value maps: `{canonical column: {export value: canonical value}}`, e.g. "
        "`{stage: {Closed Won: won}}`; matched ignoring case where the column has allowed values; map a "
        "value to `null` to mean missing",
    )
    date_format: str | list[str] | None = Field(
        default=None,
        description="the strptime format of every date column of the table, e.g. `'%d/%m/%Y'`; a list is tried "
        "in order (default: ISO 8601, `2026-10-31`)",
    )
    dates: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="the format of one date column, when they differ: `{close_date: '%m/%d/%Y %I:%M %p'}`",
    )
    join: list[Join] = Field(
        default_factory=list,
        description="aggregates over a second file joined by a key, e.g. order lines summed per order "
        "(see the `join` entries below)",
    )
    where: str | None = Field(
        default=None,
        description="a DuckDB SQL filter on the export's rows, e.g. `\"Pipeline\" = 'Sales'`; "
        "the rows it leaves out are counted in a warning",
    )

    def formats(self, column: str) -> list[str]:
        """The date formats declared for a column (empty: ISO 8601)."""
        fmt = self.dates.get(column) or self.date_format
        if fmt is None:
            return []
        return [fmt] if isinstance(fmt, str) else list(fmt)

    def expressions(self) -> list[str]:
        """Every SQL text of the mapping (derive, where, join aggregates)."""
        out = [*self.derive.values(), *([self.where] if self.where else [])]
        for join in self.join:
            out.extend(join.aggregate.values())
        return out


def _csv_problems(loc: Loc, opts: _CsvOptions) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    try:
        codecs.lookup(opts.encoding)
    except LookupError:
        hint = close_matches(opts.encoding, ["utf-8", "cp1252", "latin-1", "utf-16", "iso-8859-15", "mac-roman"])
        out.append(((*loc, "encoding"), f"unknown encoding '{opts.encoding}'.{hint} Use e.g. utf-8, cp1252, latin-1"))
    if len(opts.delimiter) != 1:
        out.append(
            (
                (*loc, "delimiter"),
                f'the delimiter must be one character, got {opts.delimiter!r} (write a tab as "\\t" in double quotes)',
            )
        )
    return out


def _table_problems(kind: str, tname: str, spec: TableSpec) -> list[tuple[Loc, str]]:
    loc: Loc = ("tables", tname)
    out = _csv_problems(loc, spec)
    canon = TABLES[tname]
    for section in ("columns", "derive", "defaults", "values", "dates"):
        for col in getattr(spec, section):
            if col not in canon.names:
                hint = close_matches(col, canon.names)
                out.append(
                    (
                        (*loc, section, col),
                        f"'{col}' is not a column of the canonical '{tname}' table.{hint} "
                        f"Its columns: {', '.join(canon.names)}",
                    )
                )
    for col in sorted(set(spec.columns) & set(spec.derive)):
        out.append(
            ((*loc, "derive", col), f"'{col}' is both renamed under `columns` and computed under `derive`: keep one")
        )
    for col in spec.dates:
        if col in canon.names and canon.column(col).kind != "date":
            out.append(((*loc, "dates", col), f"'{col}' is not a date column"))
    sources = [k for k in ("file", "distinct_from") if getattr(spec, k)]
    db = [k for k in ("table", "query") if getattr(spec, k)]
    if kind == "files":
        if db:
            out.append(((*loc, db[0]), f"`{db[0]}:` needs a source of kind 'duckdb' or 'sql'; this one reads files"))
        if len(sources) != 1:
            out.append((loc, "needs exactly one of `file:` (a CSV or Parquet file) and `distinct_from:`"))
    else:
        if spec.file:
            out.append(((*loc, "file"), f"a source of kind '{kind}' reads `table:` or `query:`, not `file:`"))
        if spec.table and spec.query:
            out.append((loc, "give `table:` or `query:`, not both"))
    for k, join in enumerate(spec.join):
        out.extend(_csv_problems((*loc, "join", k), join))
        if isinstance(join.on, dict) and len(join.on) != 1:
            out.append(((*loc, "join", k, "on"), "give one key: `on: column` or `on: {main_column: joined_column}`"))
        if not join.aggregate:
            out.append(((*loc, "join", k, "aggregate"), "name at least one aggregate, e.g. `{total: 'sum(amount)'}`"))
    if spec.distinct_from:
        out.extend(_csv_problems((*loc, "distinct_from"), spec.distinct_from))
    return out


class SourceSpec(_Strict):
    """A data source: its kind, location and the tables it provides."""

    name: str = Field(description="the source's name, shown in messages and the run manifest")
    description: str = Field(default="", description="a note for the people who maintain the file")
    kind: Literal["files", "duckdb", "sql"] = Field(
        default="files",
        description="`files` (CSV, Excel, Parquet), `duckdb` (a DuckDB database file) or `sql` (any database "
        "SQLAlchemy reaches, e.g. PostgreSQL)",
    )
    base_dir: str = Field(default=".", description="the folder the tables' files are in, relative to this source file")
    database: str | None = Field(
        default=None, description="the `.duckdb` file, relative to `base_dir`; for kind `duckdb`"
    )
    url: str | None = Field(
        default=None,
        description="a SQLAlchemy URL for kind `sql`, e.g. `postgresql://reports:${DB_PASSWORD}@db/crm`; "
        "`${VAR}` is read from the environment, so the password stays out of the file",
    )
    null_values: list[str] = Field(
        default_factory=lambda: [""],
        description="texts that mean \"missing\" in every table, e.g. `['', 'NULL']`; a table may set its own",
    )
    severity: dict[str, Literal["error", "warning"]] = Field(
        default_factory=dict,
        description="change a data rule's severity, e.g. `{close_before_create: warning}` when the export is "
        "known to break it and reports must still run (the issues are still shown); rules are listed below",
    )
    max_amount: float = Field(
        default=MAX_AMOUNT,
        gt=0,
        le=MAX_AMOUNT_CEILING,
        description=f"the largest deal amount, cost or target the data may hold (default {MAX_AMOUNT:,.0f}); a "
        "larger value (or an infinite one) is a validation error naming its lines, and reports never add it up. "
        f"Raise it (up to {MAX_AMOUNT_CEILING:,.0f}, where totals stop holding whole cents) only if deals "
        "really are that large",
    )
    unassigned_rep: str | None = Field(
        default=None,
        description="a pseudo-rep id for rows without a rep (e.g. leads nobody worked): they count in team and "
        "company totals instead of failing validation, and a warning counts them",
    )
    since: dt.date | None = Field(
        default=None,
        description="read only records dated on or after this day (the first of a month, e.g. 2024-01-01): "
        "older deals, leads, activities and feedback are left out, in the database itself for a SQL source",
    )
    tables: dict[str, TableSpec] = Field(
        description="the canonical tables this source provides: `reps`, `deals`, `leads`, `activities`, "
        "`targets`, `feedback`; KPIs and sections that need a table the source lacks are left out"
    )
    path: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        problems: list[tuple[Loc, str]] = []
        for name, spec in self.tables.items():
            if name not in TABLES:
                problems.append(
                    (
                        ("tables", name),
                        f"unknown table '{name}'.{close_matches(name, TABLES)} Known: {', '.join(TABLES)}",
                    )
                )
                continue
            problems.extend(_table_problems(self.kind, name, spec))
        if self.since is not None and self.since.day != 1:
            first = self.since.replace(day=1).isoformat()
            problems.append(
                (
                    ("since",),
                    f"{self.since.isoformat()} is not the first day of a month, so its month would be cut. "
                    f"Use {first} (or the first day of the next month)",
                )
            )
        for rule in self.severity:
            if rule not in RULES:
                problems.append(
                    (
                        ("severity", rule),
                        f"unknown rule '{rule}'.{close_matches(rule, RULES)} "
                        f"Rules: {', '.join(r for r in RULES if RULES[r].adjustable)}",
                    )
                )
            elif not RULES[rule].adjustable:
                problems.append((("severity", rule), f"the rule '{rule}' cannot be changed: {RULES[rule].description}"))
        if self.kind == "duckdb" and not self.database:
            problems.append((("database",), "a source of kind 'duckdb' needs `database:` (the .duckdb file)"))
        if self.kind == "sql" and not self.url:
            problems.append(
                (("url",), "a source of kind 'sql' needs `url:` (a SQLAlchemy URL; use ${ENV_VAR} for the password)")
            )
        if not self.tables:
            problems.append((("tables",), "name at least one table, e.g. `deals: {file: deals.csv}`"))
        if problems:
            raise KeyProblemsError(problems)
        return self

    def root(self) -> Path:
        """The folder data paths are relative to."""
        here = Path(self.path).parent if self.path else Path.cwd()
        return (here / self.base_dir).resolve()

    def resolved_url(self) -> str:
        """The SQL URL with ``${VAR}`` replaced from the environment, and a relative SQLite path made absolute.

        Raises
        ------
        ConfigError
            A variable the URL uses is not set (the message names the variable, never a value).
        """
        from urllib.parse import quote

        url = self.url or ""
        scheme, sep, rest = url.partition("://")
        netloc = rest.split("/", 1)[0]
        userinfo_end = len(scheme) + len(sep) + (netloc.rfind("@") if "@" in netloc else -1)

        def sub(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                msg = (
                    f"{self.path or 'source'}: the database URL uses ${{{var}}}, but the environment variable "
                    f"{var} is not set. Fix: export {var}=... before running."
                )
                raise ConfigError(msg, file=self.path, key="url", variable=var)
            value = os.environ[var]
            return quote(value, safe="") if match.start() < userinfo_end else value

        resolved = _ENV.sub(sub, url)
        if resolved.startswith("sqlite"):
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                parsed = make_url(resolved)
            except ArgumentError:
                return resolved
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_absolute():
                resolved = parsed.set(database=str(self.root() / db)).render_as_string(hide_password=False)
        return resolved


def load_source(path: Path) -> SourceSpec:
    """Read and check a source file.

    Raises
    ------
    ConfigError
        Unknown keys, tables, columns or rules (with close matches), missing locations, invalid
        YAML; every problem at once, each with its line.
    """
    from salesreports.yamlio import load_model, read_mapping

    if not path.is_file():
        msg = (
            f"{path}: file not found (the data source file). Fix: correct `source:` in the settings file (relative "
            "paths are relative to its folder) or the --source option, or create it (see params/sources/demo.yaml)."
        )
        raise ConfigError(msg, file=str(path), key="source")
    data = {**read_mapping(path, "source"), "path": str(path)}
    return load_model(path, SourceSpec, data)
