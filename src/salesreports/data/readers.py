"""Read raw tables from files and databases, without any business logic.

Every reader returns a :class:`RawTable`: the data plus a ``_row`` column holding
where each record is in the source, so that every later error can point at it: for a
text file or a spreadsheet, the line an editor (or the spreadsheet) shows, the
header being line 1 (a record whose quoted value spans lines is at its first
line); for Parquet files and database tables, the 1-based data row. ``RawTable.unit``
says which (``"line"`` or ``"row"``). The reader also keeps the notes the reader made (ragged rows, a renamed repeated
header, ...). Readers never type text: CSV files are read as text columns only,
and types are given later, where a failing value can be reported with its column
and row.

How each kind of source is read:

- **CSV**: decoded in Python first (so a wrong encoding is reported with its line
  and a fix), then parsed by Arrow's multi-threaded reader. Only when Arrow
  refuses the file (ragged rows, blank lines) does the per-row Python ``csv``
  path take over, which knows how to keep, pad or skip ragged rows.
- **Parquet**: never materialised in Python; DuckDB scans the file in place
  (``read_parquet(..., file_row_number=true)``), reading only the columns the
  mapping uses.
- **Excel workbooks** (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``): read with python-calamine (Rust,
  fast, no Excel needed); cells become text (whole numbers without ``.0``, dates as ISO 8601) and each
  record keeps the row number the spreadsheet shows.
- **DuckDB file**: the table or query result is fetched as Arrow.
- **SQL database** (SQLAlchemy; PostgreSQL through psycopg 3): only the columns the mapping needs are
  selected (a ``query:`` is wrapped as a subquery), a date window is sent as a ``WHERE`` on date and
  timestamp columns (PostgreSQL), and rows come through a server-side cursor in batches, straight into
  Arrow arrays of the column's database type (numeric as float64, timestamptz in UTC).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import errno
import io
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from salesreports.errors import DataLoadError, Issue

__all__ = [
    "EXCEL_SUFFIXES",
    "ROW",
    "RawTable",
    "quote_ident",
    "read_csv",
    "read_duckdb",
    "read_excel",
    "read_parquet",
    "read_sql",
    "redact_url",
    "scrub",
    "since_condition",
    "subquery",
]

ROW = "_row"
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class RawTable:
    """A table as read from its source, before mapping and typing.

    Exactly one of ``table`` (data in memory) and ``scan`` (a DuckDB ``FROM`` clause that
    reads the data in place and yields its columns plus ``_row``) is set.
    """

    table: pa.Table | None
    origin: str
    notes: list[Issue] = field(default_factory=list)
    scan: str = ""
    rows: int = 0
    unit: str = "line"  # what ``_row`` counts: "line" (text files, spreadsheets) or "row" (Parquet, databases)
    available: list[str] = field(default_factory=list)  # every column the source has, also those not read

    def columns(self) -> list[str]:
        """The source's column names (without ``_row``): all of them, also those a projection left out."""
        if self.available:
            return list(self.available)
        names = self.table.column_names if self.table is not None else []
        return [n for n in names if n != ROW]

    def __post_init__(self) -> None:
        if self.table is not None:
            self.rows = self.table.num_rows

    def register(self, con: Any, name: str) -> None:
        """Make the table visible as ``name`` in a DuckDB connection."""
        if self.table is not None:
            con.register(name, self.table)
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {self.scan}")


def _not_a_file(path: Path, table: str, what: str, kind: str, fix: str) -> DataLoadError:
    msg = f"{path} is {kind}, not a {what} (table '{table}'). Fix: {fix}"
    return DataLoadError(msg, file=str(path), table=table)


def _require_file(path: Path, table: str, what: str = "file") -> None:
    """Raise unless ``path`` is a regular file (symbolic links followed), without ever opening it.

    Uses ``os.stat`` only, so a named pipe (FIFO) is recognised before any read could block on it, and
    a folder, a device or a symbolic link that loops each get a message saying what the path is.

    Raises
    ------
    DataLoadError
        The path does not exist, or is a folder, a FIFO, a socket, a device or a looping link.
    """
    try:
        mode = path.stat().st_mode  # follows links; never opens the file
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _not_a_file(
                path,
                table,
                what,
                "a symbolic link that loops (it points, directly or through other links, back at itself)",
                f"point the link at the exported {what}, or name the {what} itself in the source file.",
            ) from None
        if exc.errno == errno.ENOTDIR:  # a parent in the path is a file
            raise _missing(path, table, what) from None
        if exc.errno != errno.ENOENT:
            msg = f"{path}: cannot read the {what} (table '{table}'): {exc.strerror}. Fix: check its permissions."
            raise DataLoadError(msg, file=str(path), table=table) from None
        if path.is_symlink():
            msg = (
                f"{path} is a symbolic link to '{path.readlink()}', which does not exist (table '{table}'). "
                f"Fix: point the link at the exported {what}, or name the {what} itself in the source file."
            )
            raise DataLoadError(msg, file=str(path), table=table) from None
        raise _missing(path, table, what) from None
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        kind = "a folder"
        inside = _listing(path)
        fix = f"name the exported {what} itself in the source file" + (
            f" (the folder holds {', '.join(inside[:5])}{', …' if len(inside) > 5 else ''})." if inside else "."
        )
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
        fix = f"write the export to a regular {what} and name that in the source file (pipes are never read)."
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
        fix = f"name the exported {what} in the source file."
    else:
        kind = "a device"
        fix = f"name the exported {what} in the source file."
    raise _not_a_file(path, table, what, kind, fix)


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir())
    except OSError:
        return []


def _missing(path: Path, table: str, what: str = "file") -> DataLoadError:
    hint = ""
    if path.parent.is_dir():
        from salesreports.errors import close_matches

        hint = close_matches(path.name, [p.name for p in path.parent.iterdir() if p.name != path.name])
    else:
        hint = f" The folder {path.parent} does not exist either (check `base_dir`)."
    msg = f"{path}: {what} not found (table '{table}').{hint} Fix: correct the path in the source file."
    return DataLoadError(msg, file=str(path), table=table)


_MAGIC = (
    (
        b"PK\x03\x04",
        "a zip archive: an Excel workbook (.xlsx) or a zipped export",
        "name the file .xlsx (workbooks are read as such), or unzip it",
    ),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)", "name the file .xls (workbooks are read as such)"),
    (b"PAR1", "a Parquet file", "rename it to .parquet (Parquet files are read as such)"),
    (b"SQLite format 3\x00", "a SQLite database", "read it with `kind: sql` and `url: sqlite:///...` instead"),
)


def _refuse_binary(path: Path, data: bytes, declared: str, table: str) -> None:
    """A file that is not text at all (a workbook, Parquet, UTF-16 without its mark) gets its own message."""
    for magic, what, fix in _MAGIC:
        if data.startswith(magic):
            msg = f"{path}: this is {what}, not CSV text (table '{table}'). Fix: {fix}."
            raise DataLoadError(msg, file=str(path), table=table)
    has_bom = data.startswith((codecs.BOM_UTF8, *(b for b, _ in _BOMS)))
    head = data[:4096]
    if not has_bom and not declared.startswith(("utf-16", "utf-32")) and head.count(0) >= len(head) // 4:
        guess = "utf-16-le" if head[1::2].count(0) > head[::2].count(0) else "utf-16-be"
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        msg = (
            f"{path}, line {line}: the file holds NUL bytes, so it is not {declared} text; it looks like UTF-16 "
            f"without a byte-order mark (Excel's 'Unicode Text'). Fix: add `encoding: {guess}` to table "
            f"'{table}' in the source file, or re-export the file as CSV UTF-8."
        )
        raise DataLoadError(msg, file=str(path), table=table, line=line, encoding=guess)


def _decode(path: Path, data: bytes, encoding: str, table: str) -> tuple[str, list[Issue]]:
    """Decode a file's bytes; a byte-order mark wins over the declared encoding."""
    notes: list[Issue] = []
    try:
        declared = codecs.lookup(encoding).name
    except LookupError:
        msg = f"{path}: unknown encoding '{encoding}'. Fix: use e.g. utf-8, cp1252 or latin-1 for table '{table}'."
        raise DataLoadError(msg, file=str(path), table=table) from None
    _refuse_binary(path, data, declared, table)
    payload, effective = data, encoding
    if data.startswith(codecs.BOM_UTF8):
        payload, effective = data[len(codecs.BOM_UTF8) :], "utf-8"
        if declared != "utf-8":
            notes.append(
                Issue(
                    "warning",
                    table,
                    f"the file starts with a UTF-8 byte-order mark, so it was read as UTF-8, not {encoding}",
                    file=str(path),
                    fix=f"remove `encoding: {encoding}` for table '{table}' in the source file",
                )
            )
    else:
        for bom, name in _BOMS:
            if data.startswith(bom):
                payload, effective = data, name
                break
    try:
        text = payload.decode(effective)
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(payload)
        line = data[:offset].count(b"\n") + 1
        bad = data[offset : offset + max(1, exc.end - exc.start)]
        alt, guess = "", "utf-8"
        if codecs.lookup(effective).name == "utf-8":
            try:
                alt = f" (in Windows-1252 they read {data[offset : offset + 1].decode('cp1252')!r})"
                guess = "cp1252"
            except UnicodeDecodeError:
                guess = "latin-1"
        msg = (
            f"{path}, line {line}: the bytes {bad!r} are not valid {effective}{alt}. The file is in another "
            f"encoding. Fix: add `encoding: {guess}` (or the right one) to table '{table}' in the source file, "
            "or re-export the file as UTF-8."
        )
        raise DataLoadError(msg, file=str(path), line=line, table=table, encoding=guess) from None
    if declared != "utf-8" and effective == encoding and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            notes.append(
                Issue(
                    "warning",
                    table,
                    f"the file is valid UTF-8 but was read as {encoding}: accented "
                    "characters may be garbled (e.g. 'Ã©' for 'é')",
                    file=str(path),
                    fix=f"remove `encoding: {encoding}` for table '{table}' if the file is UTF-8",
                )
            )
    return text, notes


def _header(path: Path, text: str, delimiter: str, table: str) -> tuple[list[str], list[Issue]]:
    """Parse and tidy the header row: strip names, name blank ones, rename repeated ones."""
    try:
        raw = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:  # pragma: no cover - text is not blank here
        msg = f"{path}: cannot read the header ({exc}). Fix: check the delimiter and quoting."
        raise DataLoadError(msg, file=str(path), table=table) from None
    notes: list[Issue] = []
    if not any(h.strip() for h in raw):
        msg = (
            f"{path}: the first line is blank, but it must be the header row naming the columns. Fix: remove the "
            "blank line(s) at the top of the file."
        )
        raise DataLoadError(msg, file=str(path), table=table, line=1)
    if len(raw) == 1:
        other = [d for d in _DELIMITERS if d != delimiter and d in raw[0]]
        if other:
            msg = (
                f"{path}: the header is a single column {raw[0][:60]!r}, which looks {other[0]!r}-separated, "
                f"but the source file says the delimiter is {delimiter!r}. Fix: add `delimiter: {other[0]!r}` "
                f"to table '{table}' in the source file."
            )
            raise DataLoadError(msg, file=str(path), table=table, delimiter=other[0])
    names: list[str] = []
    for i, name in enumerate(raw, start=1):
        name = name.strip() or f"column_{i}"
        if name in names:
            new, k = name, 2
            while new in names:
                new, k = f"{name}_{k}", k + 1
            notes.append(
                Issue(
                    "warning",
                    table,
                    f"the header repeats the column '{name}'; the repeat at position {i} is read as '{new}'",
                    file=str(path),
                    column=name,
                    fix="rename the repeated column in the export",
                )
            )
            name = new
        names.append(name)
    return names, notes


def read_csv(
    path: Path,
    *,
    table: str,
    encoding: str = "utf-8",
    delimiter: str = ",",
    ragged: str = "error",
    columns: Sequence[str] | None = None,
) -> RawTable:
    """Read a CSV file as text columns.

    Parameters
    ----------
    path : the CSV file
    table : the canonical table it feeds (for messages)
    encoding : text encoding; a byte-order mark (UTF-8 or UTF-16) wins over it
    delimiter : field separator
    ragged : what to do with rows whose field count differs from the header:
        ``"error"`` (keep them padded or cut to the header's width, and report an error),
        ``"keep_first"`` (keep the first fields, warn), ``"skip"`` (leave them out, warn)
    columns : read only these columns of the header (default: all); the others are never stored, but
        ``RawTable.available`` still names them

    Returns
    -------
    RawTable
        Text columns (empty fields are ``""``) plus ``_row``, the line of each record as an editor
        shows it (the header is line 1; blank lines count; a record with a quoted line break is at its
        first line).

    Raises
    ------
    DataLoadError
        Missing or empty file, undecodable bytes, a header that looks like another delimiter.
    """
    _require_file(path, table)
    data = path.read_bytes()
    if not data.strip():
        msg = (
            f"{path}: the file is empty. Expected a header row naming the columns, then one row per "
            f"record. Fix: re-export the '{table}' table from the CRM, or remove it from the source file."
        )
        raise DataLoadError(msg, file=str(path), table=table)
    text, notes = _decode(path, data, encoding, table)
    header, header_notes = _header(path, text, delimiter, table)
    notes.extend(header_notes)
    plain = codecs.lookup(encoding).name == "utf-8" and not data.startswith((codecs.BOM_UTF8, *(b for b, _ in _BOMS)))
    blank = re.search(r"\n[ \t]*\r?\n", text) is not None  # Arrow would read a blank line as a row
    keep = _chosen(header, columns)
    fast = None if blank else _read_csv_arrow(data if plain else text.encode("utf-8"), delimiter, header, keep)
    if fast is not None and _physical_lines(text) != fast.num_rows + 1:
        fast = None  # a quoted value spans lines: only the row-by-row path knows each record's line
    if fast is not None:
        return RawTable(fast, str(path), notes, available=header)
    raw = _read_csv_python(path, text, table, delimiter, ragged, header, notes)
    if raw.table is not None and len(keep) < len(header):
        raw.table = raw.table.select([*keep, ROW])
    raw.available = header
    return raw


def _physical_lines(text: str) -> int:
    """How many lines an editor shows for a text (a last line without a line end counts)."""
    breaks = text.count("\n") or text.count("\r")  # old Mac files end lines with CR alone
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def _read_csv_arrow(payload: bytes, delimiter: str, header: list[str], keep: list[str]) -> pa.Table | None:
    """Arrow's fast reader over UTF-8 bytes (the ``keep`` columns), or None when the file needs the row-by-row path."""
    import pyarrow.csv as pacsv

    read = keep or header[:1]  # Arrow reads every column for an empty list; one column still counts the rows
    try:
        parsed = pacsv.read_csv(
            io.BytesIO(payload),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(read, pa.string()),
                include_columns=read,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, ValueError):
        return None
    if not keep:
        parsed = parsed.drop_columns(read)
    return parsed.append_column(ROW, pa.array(range(2, parsed.num_rows + 2), pa.int64()))


def _read_csv_python(
    path: Path, text: str, table: str, delimiter: str, ragged: str, header: list[str], notes: list[Issue]
) -> RawTable:
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # long free-text or binary fields (e.g. photos) are data, not errors
    try:
        return _read_records(path, text, table, delimiter, ragged, header, notes)
    finally:
        csv.field_size_limit(limit)


def _read_records(
    path: Path, text: str, table: str, delimiter: str, ragged: str, header: list[str], notes: list[Issue]
) -> RawTable:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    end = reader.line_num  # the last line read so far; a record starts on the line after it
    width = len(header)
    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []
    short: list[int] = []
    long: list[int] = []
    try:
        for record in reader:
            number, end = end + 1, reader.line_num
            n = len(record)
            if n == 0 or (n == 1 and width > 1 and not record[0].strip()):
                continue  # a blank line: not a record
            if n != width:
                (long if n > width else short).append(number)
                if ragged == "skip":
                    continue
                record = (record + [""] * width)[:width]
            for i, value in enumerate(record):
                columns[i].append(value)
            rows.append(number)
    except csv.Error as exc:
        msg = f"{path}, line {reader.line_num}: {exc}. Fix: check the quoting on that line."
        raise DataLoadError(msg, file=str(path), table=table) from None
    last = rows[-1] if rows else 0
    cut = bool(short) and short[-1] == last and not text.endswith(("\n", "\r"))
    for bad, word in ((long, "more"), (short, "fewer")):
        if bad:
            notes.append(_ragged_note(path, table, bad, word, width, delimiter, ragged, cut and word == "fewer"))
    arrays: dict[str, pa.Array] = {name: pa.array(col, pa.string()) for name, col in zip(header, columns, strict=True)}
    arrays[ROW] = pa.array(rows, pa.int64())
    return RawTable(pa.table(arrays), str(path), notes)


def _ragged_note(
    path: Path, table: str, bad: list[int], word: str, width: int, delimiter: str, ragged: str, cut: bool = False
) -> Issue:
    what = f"{len(bad)} row(s) have {word} fields than the header's {width}"
    if cut:
        return Issue(
            "error",
            table,
            f"{what}, the last one without a line end: the file looks cut off (an interrupted export or download)",
            file=str(path),
            rows=tuple(bad[:5]),
            count=len(bad),
            fix=f"export the '{table}' table again and check that the file is complete",
        )
    if ragged == "error":
        cause = f"an unquoted {delimiter!r} inside a value" if word == "more" else "a truncated line"
        return Issue(
            "error",
            table,
            f"{what} ({cause}); they were cut or padded to {width} fields",
            file=str(path),
            rows=tuple(bad[:5]),
            count=len(bad),
            fix="quote such values in the export, or set `ragged: keep_first` (keep the first "
            f"{width} fields) or `ragged: skip` (leave the rows out) on table '{table}' in the source file",
        )
    if ragged == "skip":
        did = "they were left out"
    elif word == "more":
        did = (
            f"their first {width} fields were kept (an unquoted {delimiter!r} shifts the fields after it: "
            "map only columns that come before the one holding it)"
        )
    else:
        did = "they were padded with empty values"
    return Issue("warning", table, f"{what}; {did}", file=str(path), rows=tuple(bad[:5]), count=len(bad))


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a CSV export would hold."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def read_excel(
    path: Path, *, table: str, sheet: str | int | None = None, columns: Sequence[str] | None = None
) -> RawTable:
    """Read one sheet of a workbook as text columns.

    Parameters
    ----------
    path : the workbook (.xlsx, .xlsm, .xlsb, .xls or .ods)
    table : the canonical table it feeds (for messages)
    sheet : the sheet's name or 0-based position (default: the first sheet)
    columns : keep only these columns (default: all); ``RawTable.available`` still names every column

    Returns
    -------
    RawTable
        Text columns plus ``_row``, the row number the spreadsheet shows (the header's row is the
        first non-empty one, usually 1). Empty rows are skipped; their numbers are kept by the others.

    Raises
    ------
    DataLoadError
        Missing file, not a workbook, unknown sheet, an empty sheet.
    """
    import python_calamine as calamine

    _require_file(path, table)
    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
    except (calamine.CalamineError, OSError, ValueError) as exc:
        msg = f"{path}: not a readable workbook ({exc}). Fix: open it in Excel and save it again as .xlsx, or as CSV."
        raise DataLoadError(msg, file=str(path), table=table) from None
    names = list(book.sheet_names)
    chosen = sheet if sheet is not None else 0
    if isinstance(chosen, int) and not 0 <= chosen < len(names):
        msg = (
            f"{path}: there is no sheet number {chosen} (sheets: {', '.join(names)}). "
            f"Fix: set `sheet:` of table '{table}' to one of them."
        )
        raise DataLoadError(msg, file=str(path), table=table)
    name = names[chosen] if isinstance(chosen, int) else chosen
    if name not in names:
        from salesreports.errors import close_matches

        msg = (
            f"{path}: no sheet called '{name}'.{close_matches(name, names)} Sheets: {', '.join(names)}. "
            f"Fix: correct `sheet:` of table '{table}' in the source file."
        )
        raise DataLoadError(msg, file=str(path), table=table)
    rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    start = next((i for i, r in enumerate(rows) if any(_cell_text(v).strip() for v in r)), None)
    if start is None:
        msg = (
            f"{path}, sheet '{name}': the sheet is empty. "
            f"Fix: export the '{table}' table again, or choose another sheet with `sheet:`."
        )
        raise DataLoadError(msg, file=str(path), table=table)
    raw = [_cell_text(v).strip() for v in rows[start]]
    while raw and not raw[-1]:
        raw.pop()
    header: list[str] = []
    for i, h in enumerate(raw, start=1):
        h = h or f"column_{i}"
        new, k = h, 2
        while new in header:
            new, k = f"{h}_{k}", k + 1
        header.append(new)
    cells_of: list[list[str]] = [[] for _ in header]
    numbers: list[int] = []
    for i in range(start + 1, len(rows)):
        cells = [_cell_text(v) for v in rows[i]]
        if not any(c.strip() for c in cells):
            continue
        cells = (cells + [""] * len(header))[: len(header)]
        for col, value in zip(cells_of, cells, strict=True):
            col.append(value)
        numbers.append(i + 1)
    keep = set(_chosen(header, columns))
    arrays = {h: pa.array(c, pa.string()) for h, c in zip(header, cells_of, strict=True) if h in keep}
    arrays[ROW] = pa.array(numbers, pa.int64())
    origin = str(path) if len(names) == 1 else f"{path} (sheet '{name}')"
    return RawTable(pa.table(arrays), origin, available=header)


def read_parquet(path: Path, *, table: str, columns: Sequence[str] | None = None) -> RawTable:
    """Point DuckDB at a Parquet file (nothing is read into Python); rows are numbered from 1 (unit "row").

    ``columns`` limits the scan to those columns (default: all); ``RawTable.available`` names every column.
    """
    import pyarrow.parquet as pq

    _require_file(path, table)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc}). Fix: re-export the '{table}' table."
        raise DataLoadError(msg, file=str(path), table=table) from None
    names = [n for n in parquet.schema_arrow.names if n != ROW]
    keep = _chosen(names, columns)
    quoted = "'" + str(path.resolve()).replace("'", "''") + "'"
    select = "".join(quote_ident(n) + ", " for n in keep)
    scan = f"(SELECT {select}file_row_number + 1 AS {ROW} FROM read_parquet({quoted}, file_row_number = true))"
    return RawTable(None, str(path), scan=scan, rows=int(parquet.metadata.num_rows), unit="row", available=names)


def _chosen(names: Sequence[str], columns: Sequence[str] | None) -> list[str]:
    """The names a projection keeps, in the source's order: all (``columns`` is None) or those ``columns``
    names, ignoring case (SQL expressions name columns without regard to case; reading one too many is harmless).
    """
    if columns is None:
        return list(names)
    wanted = {c.casefold() for c in columns}
    return [n for n in names if n.casefold() in wanted]


def quote_ident(name: str) -> str:
    """A DuckDB (and standard SQL) quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def subquery(query: str) -> str:
    """A user's ``query:`` as ``(<query>)`` to select from: its final ``;`` goes, and its own line end comes
    before the ``)`` so that a trailing ``-- comment`` cannot hide it."""
    body = re.sub(r";\s*((?:--[^\n]*(?:\n|$)\s*)*)$", r"\n\1", query.strip()).strip()
    return f"({body}\n)"


def since_condition(columns: Sequence[str], day: dt.date, quote: Callable[[str], str]) -> str:
    """The SQL condition keeping rows with one of ``columns`` on or after ``day``, or all of them missing
    (kept: validation reports them). ``quote`` quotes an identifier in the SQL's dialect."""
    literal = f"DATE '{day.isoformat()}'"
    after = " OR ".join(f"{quote(c)} >= {literal}" for c in columns)
    missing = " AND ".join(f"{quote(c)} IS NULL" for c in columns)
    return f"{after} OR ({missing})"


def read_duckdb(
    path: Path, *, table: str, source_table: str = "", query: str = "", columns: Sequence[str] | None = None
) -> RawTable:
    """Read a table (or the result of a query) from a DuckDB database file, read-only.

    ``columns`` limits what is fetched (default: all); ``RawTable.available`` names every column.
    """
    import duckdb

    _require_file(path, table, "DuckDB file")
    name = source_table or table
    sql = subquery(query) if query else ".".join(quote_ident(p) for p in name.split("."))
    names: list[str] = []
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            names = list(con.sql(f"SELECT * FROM {sql} AS q LIMIT 0").columns)
            keep = _chosen(names, columns)
            if keep:
                data = con.sql(f"SELECT {', '.join(quote_ident(n) for n in keep)} FROM {sql} AS q").to_arrow_table()
            else:  # nothing wanted: count the rows
                found = con.execute(f"SELECT count(*) FROM {sql} AS q").fetchone()
                data = _empty_rows(int(found[0]) if found else 0)
    except duckdb.Error as exc:
        what = "the query" if query else f"table '{name}'"
        msg = (
            f"{path}: reading {what} failed: {str(exc).splitlines()[0]}. "
            f"Fix: check the `table:` or `query:` of '{table}' in the source file."
        )
        raise DataLoadError(msg, file=str(path), table=table) from None
    rows = pa.array(range(1, data.num_rows + 1), pa.int64())
    origin = f"{path}:{'query' if query else name}"
    return RawTable(data.append_column(ROW, rows), origin, unit="row", available=names)


def _empty_rows(count: int) -> pa.Table:
    """A table of ``count`` rows and no columns."""
    return pa.table({"_": pa.nulls(count)}).drop_columns(["_"])


# query parameters of a database URL that hold secrets (libpq's password=, sslpassword=, an API token, ...)
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature", re.IGNORECASE)


def _url_secrets(url: str) -> set[str]:
    """The secrets in a database URL: the userinfo password and secret-looking query values (raw and encoded)."""
    from urllib.parse import parse_qsl, quote, unquote, urlsplit

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    found: set[str] = set()
    try:
        password = make_url(url).password
        if password:
            found.add(str(password))
    except (ArgumentError, ValueError):
        head = url.split("://", 1)[-1].split("/", 1)[0]
        if "@" in head and ":" in head.rsplit("@", 1)[0]:
            found.add(head.rsplit("@", 1)[0].split(":", 1)[1])
    try:
        query = urlsplit(url).query or url.partition("?")[2]
    except ValueError:
        query = url.partition("?")[2]
    found |= {v for k, v in parse_qsl(query, keep_blank_values=False) if _SECRET_PARAM.search(k)}
    forms = set()
    for secret in found:
        forms |= {secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")}
    return {f for f in forms if f}


def redact_url(url: str) -> str:
    """Return a database URL with its password and secret query parameters replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparsable database URL>"
    for secret in sorted(_url_secrets(url), key=len, reverse=True):
        shown = shown.replace(secret, "***")
    return shown


def scrub(text: str, url: str) -> str:
    """Remove the URL's secrets (password, secret query values; raw and URL-encoded) from any text.

    Used on drivers' own error messages, which may quote the URL or the connection string.
    """
    text = text.replace(url, redact_url(url))
    for secret in sorted(_url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# PostgreSQL type OIDs (fixed in every server) and the Arrow type their values are read as; numeric is
# read as float by psycopg itself (see ``_prepare_postgres``). Other types (citext, uuid, json, ...) come
# as Python values and are typed as a whole column (``_column``).
_PG_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(),  # boolean
    20: pa.int64(),  # bigint
    21: pa.int64(),  # smallint
    23: pa.int64(),  # integer
    700: pa.float64(),  # real
    701: pa.float64(),  # double precision
    1700: pa.float64(),  # numeric
    1082: pa.date32(),  # date
    1114: pa.timestamp("us"),  # timestamp without time zone
    1184: pa.timestamp("us", tz="UTC"),  # timestamptz (the session's time zone is UTC)
    18: pa.string(),  # "char"
    19: pa.string(),  # name
    25: pa.string(),  # text
    1042: pa.string(),  # char(n)
    1043: pa.string(),  # varchar
}
_PG_DATES = frozenset({1082, 1114, 1184})  # date, timestamp, timestamptz: safe to compare with a day
_BATCH = 20_000  # rows fetched per round trip from a server-side cursor
_CONNECT_TIMEOUT = 10  # seconds before an unreachable PostgreSQL host is reported


def _driver_url(url: str) -> Any:
    """The URL SQLAlchemy is given: ``postgresql://`` without a driver means psycopg 3 unless psycopg2 is
    installed (SQLAlchemy's default); ``postgres://`` (Heroku's form) is ``postgresql://``."""
    import importlib.util

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgres" or (
        parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _engine(url: str, shown: str, table: str) -> Any:
    """A SQLAlchemy engine for ``url`` (see :func:`_driver_url`); a PostgreSQL connection attempt gives up
    after ``_CONNECT_TIMEOUT`` seconds unless the URL sets ``connect_timeout``."""
    import sqlalchemy as sa

    try:
        parsed = _driver_url(url)
        args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            args["connect_timeout"] = _CONNECT_TIMEOUT
        return sa.create_engine(parsed, connect_args=args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, ValueError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", url)
        fix = "check `url:` in the source file (and install the database driver it names)."
        if isinstance(exc, ImportError) and "psycopg" in str(exc):
            fix = "install PostgreSQL's driver: pip install 'psycopg[binary]>=3.1,<4' (or salesreports[postgres])."
        msg = f"database {shown}: cannot use this URL ({detail}). Fix: {fix}"
        raise DataLoadError(msg, table=table, url=shown) from None


def _prepare_postgres(dbapi: Any) -> None:
    """Session settings for reading PostgreSQL: UTC (timestamptz values and comparisons with a day are in
    UTC, as the loader's), and numeric values loaded as floats by psycopg (no Decimal objects)."""
    cursor = dbapi.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
    adapters = getattr(dbapi, "adapters", None)
    if adapters is not None:  # psycopg 3 (psycopg2 gives Decimals, turned into floats per value)
        from psycopg.types.numeric import FloatLoader

        adapters.register_loader("numeric", FloatLoader)


def _pg_arrow(column: Sequence[Any]) -> tuple[pa.DataType | None, pa.DataType | None]:
    """The Arrow type a PostgreSQL result column (a DBAPI description item) is read as, and the type it is
    cast to at the end: ``numeric(p, 0)`` (an id or a count kept as numeric) becomes int64 when every value
    fits, so that an id reads "1234" as in a CSV export, not "1234.0"."""
    oid, precision, scale = column[1], column[4], column[5]
    typ = _PG_ARROW.get(oid) if isinstance(oid, int) else None
    if oid == 1700 and scale == 0 and precision is not None and precision <= 18:
        return typ, pa.int64()
    return typ, None


class _ColumnBuilder:
    """One result column, built batch by batch: as Arrow arrays of the database type's Arrow type when known,
    else (or when a batch does not convert) as Python values typed at the end by :func:`_column`."""

    def __init__(self, typ: pa.DataType | None, cast: pa.DataType | None = None) -> None:
        self.typ = typ
        self.cast = cast
        self.chunks: list[pa.Array] = []
        self.values: list[object] = []

    def add(self, values: Sequence[object]) -> None:
        if self.typ is not None:
            try:
                self.chunks.append(pa.array(values, self.typ))
                return
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                self.values = [v for chunk in self.chunks for v in chunk.to_pylist()]
                self.chunks, self.typ = [], None
        self.values.extend(values)

    def finish(self) -> pa.Array | pa.ChunkedArray:
        if self.typ is None:
            return _column(self.values)
        done = pa.chunked_array(self.chunks, self.typ)
        if self.cast is not None:
            try:
                return done.cast(self.cast)  # a safe cast: refuses NaN, infinities and lost digits
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return done
        return done


def _since_filter(
    con: Any, names: Sequence[str], types: Sequence[Any], since: tuple[tuple[str, ...], dt.date] | None
) -> str:
    """The WHERE clause keeping the rows ``since`` needs, or ``""`` when it cannot be pushed down safely.

    Only PostgreSQL, and only when every named column is there with a date or timestamp type: a text
    column must never be compared with a day as text, and leaving one named column out of the OR would
    drop rows that column keeps. The loader filters again after typing, so a superset is enough.
    """
    if since is None or con.dialect.name != "postgresql":
        return ""
    wanted, day = since
    oid = dict(zip(names, types, strict=True))
    if not wanted or any(oid.get(c) not in _PG_DATES for c in wanted):
        return ""
    return f" WHERE ({since_condition(wanted, day, con.dialect.identifier_preparer.quote_identifier)})"


def read_sql(
    url: str,
    *,
    table: str,
    source_table: str = "",
    query: str = "",
    columns: Sequence[str] | None = None,
    since: tuple[tuple[str, ...], dt.date] | None = None,
) -> RawTable:
    """Read a table, a view (``schema.name`` allowed) or a query from any database SQLAlchemy can reach.

    Parameters
    ----------
    url : a SQLAlchemy URL; ``postgresql://`` uses psycopg 3 unless psycopg2 is installed
    table : the canonical table it feeds (for messages)
    source_table : the database's table or view (default ``table``)
    query : a SQL query instead of a table
    columns : the source columns to select (in the source's order); names the source lacks are left
        out (the mapping reports them). Default: every column.
    since : ``(date columns, day)``: only rows where one of those columns is on or after the day, or all
        of them are missing, are needed. On PostgreSQL, when every one of them has a date or timestamp
        type, the filter is sent to the server; otherwise every row is read (the loader filters).

    Returns
    -------
    RawTable
        The selected columns plus ``_row`` (the 1-based row of the result as read); ``available`` holds
        every column of the source. PostgreSQL types become Arrow types: numeric → float64, integers →
        int64, date → date32, timestamptz → timestamp (UTC), text types → string, boolean → bool.

    Raises
    ------
    DataLoadError
        The URL cannot be used, the connection fails (refused, unreachable, wrong password, unknown
        database), the table, view or schema does not exist (with close matches), or the query fails.
        The URL's password never appears: it is redacted from the URL and scrubbed from the driver's text.
    """
    import sqlalchemy as sa

    shown = redact_url(url)
    engine = _engine(url, shown, table)
    name = source_table or table
    try:
        try:
            con = engine.connect()
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise _connect_error(exc, url, shown, table, engine.url) from None
        with con:
            try:
                return _read_sql(con, shown, name, query, columns, since)
            except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
                raise _read_error(con, exc, url, shown, table, name, query) from None
    finally:
        engine.dispose()


def _read_sql(
    con: Any,
    shown: str,
    name: str,
    query: str,
    columns: Sequence[str] | None,
    since: tuple[tuple[str, ...], dt.date] | None,
) -> RawTable:
    """Read through the connection's DBAPI cursor: the SQL goes to the driver as written (no placeholders
    parsed in a user's query), and rows come in batches of ``_BATCH`` (a server-side cursor on PostgreSQL)
    straight into Arrow arrays, never as one list of every row."""
    postgres = con.dialect.name == "postgresql"
    dbapi = con.connection.dbapi_connection
    if postgres:
        _prepare_postgres(dbapi)
    quote = con.dialect.identifier_preparer.quote
    source = f"{subquery(query)} AS q" if query else ".".join(quote(p) for p in name.split("."))
    sql = query or f"SELECT * FROM {source}"
    available: list[str] = []
    if columns is not None or since is not None:
        probe = dbapi.cursor()
        try:
            probe.execute(f"SELECT * FROM {source} WHERE 1=0")  # the columns and their types, no rows
            available = [d[0] for d in probe.description or ()]
            types = [d[1] for d in probe.description or ()]
        finally:
            probe.close()
        chosen = _chosen(available, columns) or available  # a statement selects one column at least
        where = _since_filter(con, available, types, since)
        if chosen != available or where:
            ident = con.dialect.identifier_preparer.quote_identifier
            sql = f"SELECT {', '.join(ident(c) for c in chosen)} FROM {source}{where}"
    cursor = dbapi.cursor(name="salesreports_read") if postgres else dbapi.cursor()
    try:
        cursor.execute(sql)
        batch = cursor.fetchmany(_BATCH)  # a server-side cursor describes its result once it has fetched
        names = [d[0] for d in cursor.description or ()]
        builders = [_ColumnBuilder(*_pg_arrow(d) if postgres else (None,)) for d in cursor.description or ()]
        rows = 0
        while batch:
            rows += len(batch)
            for builder, values in zip(builders, zip(*batch, strict=True), strict=True):
                builder.add(values)
            batch = cursor.fetchmany(_BATCH)
    finally:
        cursor.close()
    cols = {n: b.finish() for n, b in zip(names, builders, strict=True)}
    cols[ROW] = pa.array(range(1, rows + 1), pa.int64())
    origin = f"{shown}:{'query' if query else name}"
    return RawTable(pa.table(cols), origin, unit="row", available=available or names)


def _column(values: list[object]) -> pa.Array:
    """An Arrow array from database values; Decimals become floats, mixed types text."""
    from decimal import Decimal

    plain = [float(v) if isinstance(v, Decimal) else v for v in values]
    try:
        return pa.array(plain)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else str(v) for v in plain], pa.string())


def _first_line(exc: BaseException, url: str) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return scrub(re.sub(r"\s+", " ", text.splitlines()[0] if text else type(exc).__name__), url)


def _connect_error(exc: BaseException, url: str, shown: str, table: str, target: Any) -> DataLoadError:
    """One clear message (what failed, and the fix) for a failed connection; never the password.

    ``target`` is the engine's URL: its host and port name the server when the driver's text does not, and
    its ``connect_timeout`` is the time waited."""
    orig = getattr(exc, "orig", None)
    full = scrub(str(orig if orig is not None else exc), url)
    detail = _first_line(exc, url)
    at = re.search(r'server at "([^"]+)"(?: \([^)]*\))?, port (\d+)', full)
    sock = re.search(r'server on socket "([^"]+)"', full)
    if at:
        server = f"the server at {at[1]}:{at[2]}"
    elif sock:
        server = f"the server on socket {sock[1]}"
    elif target.host:
        server = f"the server at {target.host}:{target.port or 5432}"
    else:
        server = "the server"
    timeout = target.query.get("connect_timeout", _CONNECT_TIMEOUT)
    user = re.search(r'for user "([^"]+)"', full)
    db = re.search(r'database "([^"]+)" does not exist', full)
    role = re.search(r'role "([^"]+)" does not exist', full)
    host = re.search(r"(?:resolve host|translate host name) [\"']([^\"']+)[\"']", full)
    fix_url = "correct `url:` in the source file"
    if "Connection refused" in full or "No such file or directory" in full:
        what = f"{server} refused the connection (is PostgreSQL running there, on that port?)"
        fix = f"start the database server, or {fix_url} (host and port)."
    elif "timeout expired" in full or "timed out" in full:
        what = f"no answer from {server} within {timeout} s (a wrong host, a firewall, a VPN not connected?)"
        fix = f"check that this machine can reach the database server, or {fix_url} (host and port)."
    elif host:
        what = f"the host name '{host[1]}' is unknown (DNS)"
        fix = f"{fix_url} (the host after '@')."
    elif "password authentication failed" in full or "no password supplied" in full:
        who = f" for user '{user[1]}'" if user else ""
        what = f"password authentication failed{who} on {server} (a wrong password, or no such user)"
        fix = "check the user name and the password in `url:` (or the environment variable it names)."
    elif db:
        what = f"database '{db[1]}' does not exist on {server}"
        fix = f"correct the database name at the end of `url:` in the source file.{_close_databases(url, db[1])}"
    elif role:
        what = f"the user '{role[1]}' does not exist on {server}"
        fix = f"{fix_url} (the user name before ':'), or ask the database administrator for an account."
    elif "no pg_hba.conf entry" in full:
        what = f"{server} does not accept this connection ({detail})"
        fix = "ask the database administrator to allow it (pg_hba.conf), or check `sslmode` in `url:`."
    else:
        said = re.sub(
            r'^(?:connection (?:failed|is bad): )?connection to server (?:at "[^"]+"(?: \([^)]*\))?, port \d+|'
            r'on socket "[^"]+") failed: (?:FATAL: )?',
            "",
            detail,
        )
        what = f"cannot connect to {server}: {said}"
        fix = f"check that the database server is running and reachable, and {fix_url}."
    msg = f"database {shown}: {what}. Fix: {fix}"
    return DataLoadError(msg, table=table, url=shown)


def _close_databases(url: str, wanted: str) -> str:
    """`` Did you mean 'crm'?`` from the databases the same login sees (via the ``postgres`` database), or ``""``."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(
            _driver_url(url).set(database="postgres"), connect_args={"connect_timeout": _CONNECT_TIMEOUT}
        )
    except (sa.exc.SQLAlchemyError, ImportError, ValueError):
        return ""
    try:
        with engine.connect() as con:
            found = con.exec_driver_sql("SELECT datname FROM pg_database WHERE NOT datistemplate").scalars().all()
    except (sa.exc.SQLAlchemyError, ImportError):
        return ""
    finally:
        engine.dispose()
    from salesreports.errors import close_matches

    return close_matches(wanted, [str(d) for d in found])


def _read_error(con: Any, exc: BaseException, url: str, shown: str, table: str, name: str, query: str) -> DataLoadError:
    """A clear message for a failed read: an unknown table, view or schema (with close matches), a
    query that fails, a missing permission; never the password."""
    detail = _first_line(exc, url)
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error; a DBAPI cursor's is bare
    state = str(getattr(orig, "sqlstate", "") or "")
    if query:
        msg = (
            f"database {shown}: reading the query of table '{table}' failed: {detail}. Fix: correct `query:` of "
            f"'{table}' in the source file (try it in the database's own client first)."
        )
    elif state in ("42P01", "3F000") or "no such table" in detail:
        msg = (
            f"database {shown}: reading table '{name}' failed: {detail}.{_close_tables(con, name)} Fix: correct "
            f"`table:` of '{table}' in the source file (a schema-qualified name is written schema.table)."
        )
    elif state == "42501":
        msg = (
            f"database {shown}: reading table '{name}' failed: {detail}. Fix: ask the database administrator to "
            f"GRANT SELECT on it (and USAGE on its schema) to the user in `url:`."
        )
    else:
        msg = (
            f"database {shown}: reading table '{name}' failed: {detail}. "
            f"Fix: check the connection, and the `table:` of '{table}' in the source file."
        )
    return DataLoadError(msg, table=table, url=shown)


def _close_tables(con: Any, name: str) -> str:
    """Close matches for an unknown table or view among those of its schema (or the schemas, when the
    schema itself is unknown); ``""`` when they cannot be listed."""
    import sqlalchemy as sa

    from salesreports.errors import close_matches

    schema = name.rpartition(".")[0]
    try:
        con.connection.dbapi_connection.rollback()  # PostgreSQL refuses every statement in a failed transaction
        con.rollback()
        inspector = sa.inspect(con)
        if schema:
            schemas = inspector.get_schema_names()
            if schema not in schemas:
                hint = close_matches(schema, schemas) or f" The database's schemas: {', '.join(sorted(schemas)[:10])}."
                return f" The schema '{schema}' does not exist.{hint}"
        names = [*inspector.get_table_names(schema=schema or None), *inspector.get_view_names(schema=schema or None)]
    except (sa.exc.SQLAlchemyError, NotImplementedError, con.dialect.loaded_dbapi.Error):
        return ""
    prefix = f"{schema}." if schema else ""
    full = sorted(f"{prefix}{n}" for n in names)
    hint = close_matches(name, full)
    if hint:
        return hint
    if not full:
        return f" {'Schema ' + repr(schema) if schema else 'The database'} has no table or view this user can see."
    where = f"Schema '{schema}'" if schema else "The database"
    return f" {where} has: {', '.join(full[:10])}{', …' if len(full) > 10 else ''}."
