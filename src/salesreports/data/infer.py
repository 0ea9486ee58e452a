"""Guess a source mapping from a company's CRM export files (``salesreports init --from-export``).

Given CSV or Excel exports, :func:`infer_source` recognises which canonical table each file holds from its
columns, maps columns by name and content, and proposes everything else a source file needs: the stage value
map (won, closed won, … → won; lost, closed lost → lost; anything else → open), date formats, amounts written
with currency symbols and thousands separators, the delimiter, the encoding and null markers. Without an id
column, deals are numbered by their line; without a rep list, the reps are the distinct deal owners, and the
owner's name (or id) is the rep id. :meth:`Guess.to_yaml` writes the mapping with every guess as a comment
(``# guessed from 'Deal owner': 14 distinct values``), so that the analyst can check it.

Files sharing the deals' id column are recognised by their columns' names and contents (not by file name):
(a) deals without an amount, and a file of lines with a unit price and a quantity (and a discount fraction
0..1): ``amount`` and ``units`` are their sums per deal; (b) deals without a created date, and a file with a
created or first contact date: the deal's earliest one (when a few deals close before it,
``close_before_create`` is lowered to a warning; when many do, it is not their created date); (c) a file of
one row per deal id with a created date and an origin, some of its ids not deals (a file of deal details,
every row a deal, is not leads): the leads table, with the rep and the deal joined back from the deals,
``qualified`` true when the file's name or a column says the leads are qualified (MQL), and
``unassigned_rep`` for the leads without a rep. An orders export (an order date, no stage and no close
date) is read as won deals closed on their order date; a file keyed by the deals' owner column (an
employees list) is the reps table.

Nothing here is interactive and nothing is silent: what could not be recognised is listed in
:attr:`Guess.notes` and in the written file, and what the analyst must add by hand in :attr:`Guess.todo`,
naming the table and column; when a second file shares the deals' key but no join could be guessed, it names
the file, the shared key and its columns, and shows the ``join:`` to write.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salesreports.data.readers import EXCEL_SUFFIXES, ROW, quote_ident, read_csv, read_excel
from salesreports.errors import DataLoadError

__all__ = ["FileGuess", "Guess", "infer_source"]

_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_NULLS = ("NULL", "null", "N/A", "n/a", "#N/A", "(null)", "None", "-", "--")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
)
_NULL = object()  # a YAML null in a written mapping (``None`` is a section header)
_WON = re.compile(r"\bwon\b|closedwon|^win$|^gagn|^gewonnen", re.IGNORECASE)
_LOST = re.compile(r"\blost\b|closedlost|^lose$|^perdu|^verloren|^deleted$", re.IGNORECASE)

# canonical column -> name patterns (on the normalised name: lower case, "deal - " and punctuation removed),
# best first. A pattern is a regular expression matched in full.
_DEAL_NAMES: dict[str, tuple[str, ...]] = {
    "deal_id": (r"(deal|opportunity|record|order)? ?id", r"(deal|opportunity|order) ?(number|no)", r"mql id"),
    "rep_id": (
        r"(opportunity|deal|account)? ?owner( name)?",
        r"(sales ?)?(person|rep|representative|agent)( name| id)?",
        r"salesperson",
        r"(assigned to|user|owner id|employee ?id|sr id)",
    ),
    "account_id": (
        r"(account|organi[sz]ation|company|customer|client)( name| id)?",
        r"associated company( name)?",
        r"seller id",
    ),
    "created_date": (
        r"(deal )?(created?|creation)( date| on| at| time)?",
        r"deal created",
        r"(first contact|engage(ment)?|open(ed)?)( date)?",
        r"order date",
    ),
    "close_date": (r"(close[d]?|won)( date| time| on)?", r"(actual )?close date", r"won date"),
    "stage": (r"status", r"(deal )?stage( name)?", r"(sales )?stage"),
    "amount": (
        r"amount( converted)?",
        r"(deal )?value",
        r"(total|net)? ?(amount|value|revenue|price)",
        r"weighted amount",
    ),
    "product": (r"product( name)?",),
    "segment": (r"segment|business segment|industry|type|pipeline",),
}
_REP_NAMES: dict[str, tuple[str, ...]] = {
    "rep_id": (r"(rep|user|employee|owner|sales ?person)? ?id", r"employeeid"),
    "name": (r"(full |display )?name", r"(rep|user|owner|employee) name"),
    "email": (r"e-?mail( address)?",),
    "team": (r"team|group|department",),
    "region": (r"region|territory|country",),
    "hire_date": (r"hire ?date|start date|hired( on)?",),
}


def _norm(name: str) -> str:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.strip()).lower()  # camelCase: orderDate -> order date
    text = re.sub(r"^(deal|opportunity|person|organization)\s*-\s*", "", text)
    text = re.sub(r"[_\-./()%#:]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class FileGuess:
    """What one export file holds, as read for guessing.

    Attributes
    ----------
    path : the file
    columns : header names, in order
    values : column -> its non-empty values (text as in the file)
    rows : number of records
    encoding, delimiter : how the CSV file reads (empty for Excel)
    notes : what the reader noticed (a byte-order mark, CRLF line ends, ...)
    ragged : rows whose field count differs from the header's (kept with their first fields)
    cells : column -> every row's value, in order (``None``: empty or a null marker), to relate files by key
    """

    path: Path
    columns: list[str]
    values: dict[str, list[str]]
    rows: int
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)
    ragged: int = 0
    cells: dict[str, list[str | None]] = field(default_factory=dict)


@dataclass
class Guess:
    """A guessed source mapping, ready to be written as YAML with a comment per guess.

    Attributes
    ----------
    name : the source's name
    base_dir : the folder the file paths are relative to
    tables : canonical table -> ``(key, value, comment)`` lines of its mapping (value ``None``: a section)
    null_values : texts read as missing
    null_why : the guess comment of ``null_values``
    unassigned_rep, unassigned_why : the pseudo-rep of rows without a rep (leads nobody won), and why
    severity : rule -> (its severity, why): a rule lowered to a warning, since a few rows of a guessed join break it
    notes : what was not recognised or needs a look
    todo : what the analyst must add by hand, each naming the table and column (and where the data may be)
    """

    name: str
    base_dir: str
    tables: dict[str, list[tuple[str, object, str]]] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=lambda: [""])
    null_why: str = "no null marker (N/A, NULL, -, ...) in the export: only empty cells are missing"
    unassigned_rep: str | None = None
    unassigned_why: str = ""
    severity: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)

    def mapped(self) -> dict[str, list[str]]:
        """Per table, what the mapping gives each canonical column, in words (``rep_id <- 'Deal owner'``)."""
        out: dict[str, list[str]] = {}
        for table, lines in self.tables.items():
            got = out.setdefault(table, [])
            values = {k: v for k, v, _ in lines}
            if "distinct_from" in values:
                got.append(f"one row per '{values['distinct_from.column']}' of {values['distinct_from.file']}")
            for key, value, _ in lines:
                section, _, canon = key.partition(".")
                entry, _, new = canon.partition(".aggregate.")
                if section == "join" and new:
                    got.append(f"{new} = {value} of {values[f'join.{entry}.file']} per '{values[f'join.{entry}.on']}'")
                if canon and "." not in canon:
                    if section == "columns":
                        got.append(f"{canon} <- '{value}'")
                    elif section == "derive":
                        got.append(f"{canon} = {value}")
                    elif section == "defaults":
                        shown = "empty" if value is _NULL else str(value).lower() if isinstance(value, bool) else value
                        got.append(f"{canon}: {shown}")
        return out

    def to_yaml(self) -> str:
        """The source file's text: every guess is a comment beside its line."""
        import json

        def scalar(value: object) -> str:
            if value is _NULL:
                return "null"
            if (
                isinstance(value, str)
                and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", value)
                and value
                not in (
                    "true",
                    "false",
                    "null",
                    "yes",
                    "no",
                    "on",
                    "off",
                )
            ):
                return value
            return json.dumps(value, ensure_ascii=False)

        out = [
            f"# Written by `salesreports init --from-export` on {dt.date.today()}: every guess says why.",
            "# Check the lines marked 'guessed', then run `salesreports validate`. Keys: docs/mapping.md.",
        ]
        out += [f"# NOTE: {n}" for n in self.notes]
        out += [f"# TODO (add by hand): {t}" for t in self.todo]
        out += [f"name: {scalar(self.name)}", f"base_dir: {scalar(self.base_dir)}"]
        out.append(f"null_values: {json.dumps(self.null_values, ensure_ascii=False)}  # {self.null_why}")
        if self.unassigned_rep is not None:
            out.append(f"unassigned_rep: {scalar(self.unassigned_rep)}  # {self.unassigned_why}")
        if self.severity:
            out.append("severity:")
            out += [f"  {rule}: {level}  # {why}" for rule, (level, why) in self.severity.items()]
        out.append("tables:")
        for table, lines in self.tables.items():
            out.append(f"  {table}:")
            items: set[str] = set()  # the list items begun (``join.0``: the first join entry)
            for key, value, comment in lines:
                indent = "    " + "  " * key.count(".")
                parts = key.split(".")
                if parts[0] == "join" and len(parts) > 2 and ".".join(parts[:2]) not in items:
                    items.add(".".join(parts[:2]))  # an entry's first key: "- file: ..."
                    indent = indent[:-2] + "- "
                leaf = parts[-1]
                text = f"{indent}{scalar(leaf)}:" + ("" if value is None else f" {scalar(value)}")
                out.append(f"{text}  # {comment}" if comment else text)
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- reading a file for guessing


def _sniff(path: Path) -> tuple[str, str, list[str]]:
    data = path.read_bytes()
    notes = []
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"
        notes.append("UTF-8 with a byte-order mark")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
            notes.append("not UTF-8: read as Windows-1252")
    text = data.decode(encoding if encoding != "utf-8" else "utf-8-sig", errors="replace")
    if "\r\n" in text[:65536]:
        notes.append("CRLF line ends")
    head = text.splitlines()[0] if text.strip() else ""
    counts = {d: next(csv.reader(io.StringIO(head), delimiter=d), []).__len__() for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    return encoding, delimiter, notes


def _read(path: Path) -> FileGuess:
    if path.suffix.lower() in EXCEL_SUFFIXES:
        raw = read_excel(path, table="export")
        encoding = delimiter = ""
        notes: list[str] = ["Excel workbook"]
    else:
        encoding, delimiter, notes = _sniff(path)
        raw = read_csv(path, table="export", encoding=encoding, delimiter=delimiter, ragged="keep_first")
    assert raw.table is not None
    columns = [c for c in raw.table.column_names if c != ROW]
    cells: dict[str, list[str | None]] = {}
    values: dict[str, list[str]] = {}
    for c in columns:
        column = raw.table.column(c).to_pylist()
        values[c] = [v for v in column if v is not None and v.strip()]
        cells[c] = [v.strip() if v is not None and v.strip() else None for v in column]
    ragged = sum(n.count for n in raw.notes if "fields" in n.message)
    return FileGuess(path, columns, values, raw.table.num_rows, encoding, delimiter, notes, ragged, cells)


# --------------------------------------------------------------------------- content tests


def _is_number(v: str) -> bool:
    return re.fullmatch(r"[+-]?\d+(\.\d+)?", v.strip()) is not None


def _money(values: list[str]) -> tuple[bool, str]:
    """(all values read as amounts, how): plain, or with currency symbols / thousands separators."""
    if not values:
        return False, ""
    if all(_is_number(v) for v in values):
        return True, "plain"
    pattern = re.compile(r"[^\d.,\-+]*[+-]?[\d.,\s\u00a0\u202f']+[^\d.,]*")
    if not all(pattern.fullmatch(v.strip()) for v in values):
        return False, ""
    comma_decimal = any(re.search(r",\d{1,2}\s*[^\d]*$", v.strip()) for v in values) and not any(
        re.search(r"\.\d{1,2}\s*[^\d]*$", v.strip()) for v in values
    )
    return True, "decimal_comma" if comma_decimal else "symbols"


def _date_formats(values: list[str]) -> list[str]:
    """The formats that read every value, best first."""
    sample = values[:500]
    found = []
    for fmt in _DATE_FORMATS:
        try:
            for v in sample:
                dt.datetime.strptime(v.strip(), fmt)
        except ValueError:
            continue
        found.append(fmt)
    return found


def _is_date(values: list[str]) -> bool:
    return bool(values) and bool(_date_formats(values))


def _order(fmt: str) -> str:
    """Which of day and month a format reads first ('day', 'month'), or '' when it has no such choice (ISO
    dates, month names)."""
    d, m = fmt.find("%d"), fmt.find("%m")
    if d < 0 or m < 0 or fmt.startswith("%Y"):
        return ""
    return "day" if d < m else "month"


@dataclass(frozen=True)
class _DateOrder:
    """The order of day and month in one file, as its unambiguous date columns show it.

    ``order``: 'day', 'month', or '' when no column shows it or the columns disagree; ``reason``: where it
    was read from, or why it is not known.
    """

    order: str
    reason: str


def _date_order(f: FileGuess) -> _DateOrder:
    """A file's day-and-month order, from its date columns whose values read in one order only (a 14 where
    the month would be): one order per file, so that a column of only ambiguous dates (02/01/2025) reads
    like its neighbours."""
    shown: dict[str, str] = {}  # order -> the first column showing it, with a value
    for col in f.columns:
        vals = f.values.get(col, [])
        orders = {_order(fmt) for fmt in _date_formats(vals)} - {""} if vals else set()
        if len(orders) == 1:
            (order,) = orders
            sample = next((v for v in vals if any(int(n) > 12 for n in re.findall(r"\d+", v)[:2])), vals[0])
            shown.setdefault(order, f"'{col}' ({sample!r})")
    if len(shown) == 1:
        ((order, where),) = shown.items()
        return _DateOrder(order, f"as {where} shows")
    if shown:
        return _DateOrder(
            "", f"the file's date columns disagree ({shown['day']}: day first; {shown['month']}: month first)"
        )
    return _DateOrder("", "no date column of the file shows which comes first")


def _date_line(vals: list[str], order: _DateOrder) -> tuple[str, str] | None:
    """The date format of a column and its guess comment, in the file's order of day and month when the
    column's own values are ambiguous; ``None`` for ISO dates (the default) or values that are no dates."""
    formats = _date_formats(vals)
    if not formats or formats[0] == "%Y-%m-%d":
        return None
    why = f"guessed from {len(vals):,} values like {vals[0]!r}"
    orders = {_order(fmt) for fmt in formats} - {""}
    if len(orders) < 2:  # the values read in one order only
        return formats[0], why
    if order.order:
        fmt = next(x for x in formats if _order(x) == order.order)
        return fmt, f"{why}; day and month are ambiguous here: {order.order} first, {order.reason}"
    fmt = formats[0]
    other = next(x for x in formats if _order(x) != _order(fmt))
    return fmt, (
        f"{why}; day and month are ambiguous and {order.reason}: {_order(fmt)} first (the default). "
        f"Check: write {other!r} if the CRM writes the {_order(other)} first"
    )


# --------------------------------------------------------------------------- recognising columns


def _match(columns: Sequence[str], patterns: tuple[str, ...], taken: set[str]) -> str | None:
    for pattern in patterns:
        for col in columns:
            if col not in taken and re.fullmatch(pattern, _norm(col)):
                return col
    return None


def _deal_score(f: FileGuess) -> int:
    names = [_norm(c) for c in f.columns]
    score = 0
    for canon in ("stage", "amount", "close_date", "created_date", "rep_id"):
        if any(re.fullmatch(p, n) for p in _DEAL_NAMES[canon] for n in names):
            score += 2 if canon in ("stage", "close_date") else 1
    return score


def _rep_score(f: FileGuess) -> int:
    names = [_norm(c) for c in f.columns]
    has_email = any(re.fullmatch(_REP_NAMES["email"][0], n) for n in names)
    has_name = any(n in ("name", "full name", "first name", "firstname", "last name", "lastname") for n in names)
    return (2 if has_email else 0) + (1 if has_name else 0) - (3 if _deal_score(f) >= 4 else 0)


def _orders_like(f: FileGuess) -> bool:
    """An orders export: an owner column and an order (created) date, but no stage, close date or amount."""
    owner = _match(f.columns, _DEAL_NAMES["rep_id"], set())
    date = _match(f.columns, _DEAL_NAMES["created_date"], set())
    return owner is not None and date is not None and _is_date(f.values.get(date, []))


def _drop_null_markers(files: Sequence[FileGuess]) -> dict[str, tuple[int, list[str]]]:
    """Remove the null markers (``N/A``, ``NULL``, ``-``, ...) from every file's values, before any content
    test: an amount or date column with a few ``N/A`` is still an amount or date column. Returns each marker
    found, with how often and the columns holding it."""
    found: dict[str, tuple[int, list[str]]] = {}
    for f in files:
        for col, vals in f.values.items():
            kept = [v for v in vals if v.strip() not in _NULLS]
            for v in vals:
                if v.strip() in _NULLS:
                    n, cols = found.get(v.strip(), (0, []))
                    found[v.strip()] = (n + 1, cols if col in cols else [*cols, col])
            f.values[col] = kept
        for col, cells in f.cells.items():
            f.cells[col] = [None if v is None or v in _NULLS else v for v in cells]
    return dict(sorted(found.items()))


def _names(values: list[str]) -> bool:
    """Whether a column holds people's names (letters, no digits: 'Lena Park'), not ids (12, R001, a hash)."""
    named = sum(1 for v in values if re.search(r"[^\W\d_]", v) and not re.search(r"\d", v))
    return bool(values) and named >= 0.9 * len(values)


def _distinct(values: list[str]) -> int:
    return len(set(values))


def _map_deals(
    f: FileGuess, rel: str, notes: list[str], todo: list[str]
) -> tuple[list[tuple[str, object, str]], dict[str, str]]:
    """The deals table's mapping lines, and the export's column of each canonical column found."""
    lines: list[tuple[str, object, str]] = [("file", rel, f"{f.rows:,} rows; {', '.join(f.notes) or 'read as is'}")]
    if f.delimiter and f.delimiter != ",":
        lines.append(("delimiter", f.delimiter, "guessed from the header line"))
    if f.encoding not in ("", "utf-8"):
        lines.append(("encoding", f.encoding, "the file is not UTF-8"))
    if f.ragged:
        lines.append(
            (
                "ragged",
                "keep_first",
                f"{f.ragged:,} rows have more fields than the header (an unquoted delimiter?): their first fields "
                "are kept; check that the mapped columns come before the shifted ones",
            )
        )
    taken: set[str] = set()
    found: dict[str, str] = {}
    order = ("stage", "close_date", "created_date", "amount", "rep_id", "account_id", "deal_id", "product", "segment")
    for canon in order:
        col = _match(f.columns, _DEAL_NAMES[canon], taken)
        if col is None:
            continue
        vals = f.values.get(col, [])
        if canon in ("close_date", "created_date") and vals and not _is_date(vals):
            continue
        if canon == "amount" and vals and not _money(vals)[0]:
            continue
        if canon == "deal_id" and vals and _distinct(vals) < len(vals):
            continue
        found[canon] = col
        taken.add(col)
    # Pipedrive-like exports: a won time and a lost time instead of one close date
    lost_col = next((c for c in f.columns if re.fullmatch(r"lost (time|date)", _norm(c))), None)
    columns: list[tuple[str, object, str]] = []
    derive: list[tuple[str, object, str]] = []
    defaults: list[tuple[str, object, str]] = []
    for canon, col in found.items():
        vals = f.values.get(col, [])
        why = f"guessed from '{col}': {_distinct(vals):,} distinct values"
        if canon == "close_date" and lost_col and lost_col not in taken:
            expr = f'coalesce("{col}", "{lost_col}")'
            derive.append((f"derive.{canon}", expr, f"guessed: won deals close at '{col}', lost ones at '{lost_col}'"))
            continue
        if canon == "amount":
            kind = _money(vals)[1]
            if kind != "plain":
                strip = f"regexp_replace(trim(\"{col}\"), '[^0-9,.\\-]', '', 'g')"
                expr = (
                    f"replace(replace({strip}, '.', ''), ',', '.')"
                    if kind == "decimal_comma"
                    else f"replace({strip}, ',', '')"
                )
                sample = vals[0] if vals else ""
                derive.append(
                    (
                        f"derive.{canon}",
                        expr,
                        f"guessed from '{col}': amounts like {sample!r}; symbols and separators removed",
                    )
                )
                continue
        columns.append((f"columns.{canon}", col, why))
    if "deal_id" not in found:
        derive.append(("derive.deal_id", "'line ' || _row", "no id column: each deal is named by its line in the file"))
    if "stage" not in found:
        if "close_date" in found:
            defaults.append(("defaults.stage", "won", "no stage column: every deal with a close date is taken as won"))
        elif "created_date" in found:  # an orders export: every order is a sale, closed when it was ordered
            col = found["created_date"]
            found["close_date"] = col
            columns.append(("columns.close_date", col, f"no close date: each order closes on its '{col}'"))
            defaults.append(("defaults.stage", "won", "no stage or close date: every row is taken as a won order"))
            notes.append(f"{rel}: no stage or close date: every row is read as a won deal, closed on its '{col}'")
        else:
            todo.append(f"deals.stage: {rel} has no stage or status column; map `stage` (open, won, lost) by hand")
    if "created_date" not in found:
        defaults.append(("defaults.created_date", _NULL, "no created date column: the sales cycle is not available"))
    if "account_id" not in found:
        notes.append(f"{rel}: no account/company column was recognised; each deal is its own account")
        derive.append(("derive.account_id", "'deal ' || _row", "no account column: new-customer KPIs count deals"))
    lines += [("columns", None, ""), *columns] if columns else []
    lines += [("derive", None, ""), *derive] if derive else []
    lines += [("defaults", None, ""), *defaults] if defaults else []
    if "stage" in found:
        values = sorted(set(f.values.get(found["stage"], [])))
        mapping = [(v, "won" if _WON.search(v) else "lost" if _LOST.search(v) else "open") for v in values]
        lines += [
            ("values", None, ""),
            ("values.stage", None, f"guessed from the {len(values)} values of '{found['stage']}'"),
        ]
        for v, canon in mapping:
            lines.append((f"values.stage.{v}", canon, ""))
    dates: list[tuple[str, object, str]] = []
    date_order = _date_order(f)
    for canon in ("created_date", "close_date"):
        col = found.get(canon)
        if col is None:
            continue
        vals = f.values.get(col, [])
        if canon == "close_date" and lost_col:
            vals = vals + f.values.get(lost_col, [])
        line = _date_line(vals, date_order)
        if line is not None:
            dates.append((f"dates.{canon}", *line))
    if dates:
        lines += [("dates", None, ""), *dates]
    return lines, found


def _reading(f: FileGuess) -> list[tuple[str, object, str]]:
    """How to read a file other than the deals: delimiter, encoding, ragged rows."""
    out: list[tuple[str, object, str]] = []
    if f.delimiter and f.delimiter != ",":
        out.append(("delimiter", f.delimiter, "guessed from the header line"))
    if f.encoding not in ("", "utf-8"):
        out.append(("encoding", f.encoding, "the file is not UTF-8"))
    if f.ragged:
        out.append(("ragged", "keep_first", f"{f.ragged:,} rows have more fields than the header"))
    return out


def _map_reps(f: FileGuess, rel: str, rep_id: str | None = None) -> list[tuple[str, object, str]]:
    """The reps table's mapping lines; ``rep_id``: the column known to hold the deals' owner ids."""
    lines: list[tuple[str, object, str]] = [("file", rel, f"{f.rows:,} rows"), *_reading(f)]
    taken: set[str] = set()
    columns: list[tuple[str, object, str]] = []
    derive: list[tuple[str, object, str]] = []
    dates: list[tuple[str, object, str]] = []
    for canon, patterns in _REP_NAMES.items():
        if canon == "rep_id" and rep_id is not None:
            col: str | None = rep_id
            why = f"the deals' owner column '{rep_id}' holds these ids"
        else:
            col = _match(f.columns, patterns, taken)
            why = f"guessed from '{col}'"
        if col is None:
            continue
        vals = f.values.get(col, [])
        if canon == "hire_date":
            if vals and not _is_date(vals):
                continue
            line = _date_line(vals, _date_order(f))
            if line is not None:
                dates.append((f"dates.{canon}", *line))
        taken.add(col)
        columns.append((f"columns.{canon}", col, why))
    if not any(k == "columns.name" for k, _, _ in columns):
        first = _match(f.columns, (r"first ?name", r"given ?name"), taken)
        last = _match(f.columns, (r"last ?name", r"sur ?name", r"family ?name"), taken)
        if first and last:
            derive.append(("derive.name", f'"{first}" || \' \' || "{last}"', f"guessed from '{first}' and '{last}'"))
    out = [*lines, ("columns", None, ""), *columns]
    out += [("derive", None, ""), *derive] if derive else []
    out += [("dates", None, ""), *dates] if dates else []
    return out


def _owner_list(others: Sequence[FileGuess], owner: str) -> FileGuess | None:
    """A file whose column named like the deals' owner column holds unique ids: the reps table (employees)."""
    for f in others:
        vals = f.values.get(owner, [])
        if vals and len(set(vals)) == len(vals) == f.rows:
            return f
    return None


def _numbers(f: FileGuess, skip: str) -> list[str]:
    """Columns of numbers, ids left out."""
    return [
        c
        for c in f.columns
        if c != skip
        and not re.search(r"(^| )id$", _norm(c))
        and f.values.get(c)
        and all(_is_number(v) for v in f.values[c])
    ]


# --------------------------------------------------------------------------- files sharing the deals' id column

_Line = tuple[str, object, str]
_PRICE = re.compile(r"\bprice\b")
_QUANTITY = re.compile(r"\b(quantity|qty|units?)\b")
_DISCOUNT = re.compile(r"\bdiscount\b")
_SOURCE_NAMES = (r"(lead )?(origin|source|channel)( name| type)?", r"utm source")
_CREATED_NAMES = (
    *_DEAL_NAMES["created_date"],
    r"(lead |contact )(created?|creation)( date| on| at| time)?",
    r"(first )?contact(ed)?( date| on| at| time)?",
)
_QUALIFIED = re.compile(r"\bmql\b|\bqualified\b")
_BEFORE_MAX = 0.05  # a joined date that more of the deals close before is not their created date


@dataclass
class _Link:
    """A file sharing the deals' id column ``key``: ``deals`` of the deals' ``of`` ids are there, in ``rows`` rows."""

    f: FileGuess
    rel: str
    key: str
    deals: int
    rows: int
    of: int

    def unique(self) -> bool:
        """One row per key value, and every row has one."""
        keys = self.f.cells.get(self.key, [])
        present = {k for k in keys if k is not None}
        return len(present) == len(keys) == self.f.rows

    def shares(self, deals: str) -> str:
        return (
            f"{self.rel} shares the column '{self.key}' with {deals} ({self.deals:,} of its {self.of:,} deals are "
            f"there, {self.rows / self.deals:.1f} rows each)"
        )


@dataclass
class _Join:
    """One ``join:`` entry being guessed: the file, its key and its aggregates ``(name, expression, why)``."""

    link: _Link
    why: str
    aggregate: list[tuple[str, str, str]] = field(default_factory=list)

    def lines(self, n: int) -> list[_Line]:
        at = f"join.{n}"
        f = self.link.f
        out: list[_Line] = [(f"{at}.file", self.link.rel, self.why), (f"{at}.on", self.link.key, "")]
        out += [(f"{at}.{k}", v, why) for k, v, why in _reading(f)]
        out.append((f"{at}.aggregate", None, ""))
        return out + [(f"{at}.aggregate.{name}", expr, why) for name, expr, why in self.aggregate]


def _ident(col: str) -> str:
    """A column's name in a DuckDB SQL expression: as it is when plain, else quoted."""
    return col if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", col) else quote_ident(col)


def _free(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ...: a new column's name that none of ``taken`` has."""
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    return out


def _day(value: str | None, fmt: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.datetime.strptime(value, fmt).date()
    except ValueError:
        return None


def _put(lines: list[_Line], section: str, items: list[_Line]) -> list[_Line]:
    """``lines`` with ``items`` at the end of ``section`` (added at the end when the table has none yet)."""
    if not items:
        return lines
    keys = [k for k, _, _ in lines]
    if section not in keys:
        return [*lines, (section, None, ""), *items]
    last = max(i for i, k in enumerate(keys) if k == section or k.startswith(f"{section}."))
    return [*lines[: last + 1], *items, *lines[last + 1 :]]


def _without(lines: list[_Line], key: str) -> list[_Line]:
    """``lines`` without ``key``, and without its section when nothing is left in it."""
    out = [line for line in lines if line[0] != key]
    section = key.split(".")[0]
    if not any(k.startswith(f"{section}.") for k, _, _ in out):
        out = [line for line in out if line[0] != section]
    return out


def _created_column(f: FileGuess, key: str) -> str | None:
    """The column of dates named as a created or first contact date (not the key), best name first."""
    for pattern in _CREATED_NAMES:
        for col in f.columns:
            if col != key and re.fullmatch(pattern, _norm(col)) and _is_date(f.values.get(col, [])):
                return col
    return None


def _amount_join(link: _Link, deals: FileGuess) -> tuple[_Join, list[_Line], list[str]] | None:
    """(a) The deals' amount and units as sums over a file of lines with a unit price and a quantity (and a
    discount fraction 0..1): the join, the deals' column lines and notes; ``None`` without price and quantity."""
    f, key = link.f, link.key
    numbers = _numbers(f, key)

    def signed(col: str) -> bool:
        return min(float(v) for v in f.values[col]) >= 0

    price = next((c for c in numbers if _PRICE.search(_norm(c)) and signed(c)), None)
    qty = next((c for c in numbers if c != price and _QUANTITY.search(_norm(c)) and signed(c)), None)
    if price is None or qty is None:
        return None
    notes: list[str] = []
    factor, also = "", ""
    discount = next((c for c in numbers if c not in (price, qty) and _DISCOUNT.search(_norm(c))), None)
    if discount is not None:
        if all(0 <= float(v) <= 1 for v in f.values[discount]):
            # an empty discount is no discount: `1 - NULL` would make the line NULL, and `sum` skip it
            factor = f" * (1 - coalesce({_ident(discount)}, 0))"
            also = f", less '{discount}' (fractions 0..1; an empty one is none)"
        else:
            notes.append(
                f"{link.rel}: '{discount}' holds values above 1 (an amount or a percentage, not a fraction 0..1): "
                "it is left out of the guessed amount; write it into the `join:` sum if the amounts need it"
            )
    blank = [c for c in (price, qty) if any(v is None for v in f.cells.get(c, []))]
    if blank:  # not read as 0: a line without a price or a quantity is not known to be worth nothing
        notes.append(
            f"{link.rel}: some lines have no {' or no '.join(repr(c) for c in blank)}: they count nothing in the "
            "guessed amount (and units); fill them in the export, or write the `join:` sum the amounts need"
        )
    net, units = _free("net_amount", deals.columns), _free("units", deals.columns)
    join = _Join(link, "")
    join.aggregate = [
        (
            net,
            f"sum({_ident(price)} * {_ident(qty)}{factor})",
            f"guessed: '{price}' times '{qty}'{also}, summed per deal; check that it is what a deal is worth",
        ),
        (units, f"sum({_ident(qty)})", f"guessed: '{qty}' summed per deal"),
    ]
    columns: list[_Line] = [
        ("columns.amount", net, f"guessed: the sum of the deal's lines in {link.rel} (the join below)"),
        ("columns.units", units, f"guessed: the sum of '{qty}' of the deal's lines in {link.rel} (the join below)"),
    ]
    return join, columns, notes


def _created_join(
    link: _Link, deals: FileGuess, found: dict[str, str]
) -> tuple[_Join, list[_Line], int, str] | str | None:
    """(b) The deals' created date as the earliest contact or created date of their rows in another file: the
    join, the deals' lines, how many deals close before it and an example; a reason when the file's date is
    not their created date (too many deals close before it); ``None`` without such a date column."""
    f, key = link.f, link.key
    col = _created_column(f, key)
    if col is None:
        return None
    line = _date_line(f.values[col], _date_order(f))
    fmt = line[0] if line else "%Y-%m-%d"
    first: dict[str, dt.date] = {}
    for k, v in zip(f.cells[key], f.cells[col], strict=True):
        day = _day(v, fmt)
        if k is not None and day is not None:
            first[k] = min(first.get(k, day), day)
    checked, before, example = 0, 0, ""
    close = found.get("close_date")
    if close is not None:
        close_line = _date_line(deals.values.get(close, []), _date_order(deals))
        close_fmt = close_line[0] if close_line else "%Y-%m-%d"
        for k, v in zip(deals.cells[key], deals.cells[close], strict=True):
            closed, created = _day(v, close_fmt), first.get(k or "")
            if closed is None or created is None:
                continue
            checked += 1
            if closed < created:
                before += 1
                example = example or f"'{k}': closed {closed}, '{col}' {created}"
    if checked and before > _BEFORE_MAX * checked:
        return (
            f"{before:,} of the {checked:,} deals found there close before their '{col}', so it is not read as "
            "their created date"
        )
    name = _free(col, deals.columns)
    sortable = fmt.startswith("%Y-%m-%d")  # ISO text: its smallest value is the earliest date
    expr = f"min({_ident(col)})" if sortable else f"min(try_strptime({_ident(col)}, '{fmt}'))"
    join = _Join(link, "")
    join.aggregate = [(name, expr, f"guessed: the deal's earliest '{col}' in {link.rel}")]
    lines: list[_Line] = [
        ("columns.created_date", name, f"guessed: the deal's first '{col}' in {link.rel} (the join below)")
    ]
    if sortable and line is not None:
        lines.append(("dates.created_date", *line))
    return join, lines, before, example


def _leads_table(
    link: _Link, deals: FileGuess, found: dict[str, str], deals_rel: str, guess: Guess
) -> list[_Line] | str | None:
    """(c) A file holding one row per deal id with a created (first contact) date and an origin, some of whose
    ids are not deals: the leads, with the rep and the deal joined back from the deals file; a reason when every
    row is a deal (a file of deal details, not leads: read as leads, every lead would be a deal); ``None`` when
    the file is not such."""
    f, key = link.f, link.key
    if not link.unique():
        return None
    rest = [c for c in f.columns if c != key]
    created = _created_column(f, key)
    source = _match(rest, _SOURCE_NAMES, set())
    owner = found.get("rep_id")
    if created is None or source is None or owner is None:
        return None
    if f.rows <= link.deals:
        return (
            f"{link.rel}: one row per '{key}' with a '{created}' and a '{source}', but every row is a deal of "
            f"{deals_rel}, so it is not read as leads (every lead would have become a deal: 100% conversion); "
            "a leads table also holds the leads that did not become deals"
        )
    own_rep = _match(rest, _DEAL_NAMES["rep_id"], {created, source})
    lines: list[_Line] = [
        (
            "file",
            link.rel,
            f"{f.rows:,} rows, one per '{key}' with a '{created}' and an '{source}': read as leads; {link.deals:,} "
            f"of them became deals of {deals_rel}",
        ),
        *_reading(f),
        ("columns", None, ""),
        ("columns.lead_id", key, f"guessed: '{key}', the deals' id column, is unique here"),
        (
            "columns.created_date",
            created,
            f"guessed from '{created}': {_distinct(f.values[created]):,} distinct values",
        ),
        ("columns.source", source, f"guessed from '{source}': {_distinct(f.values[source]):,} distinct values"),
    ]
    back = _Link(deals, deals_rel, key, link.deals, link.deals, link.of)
    join = _Join(back, f"the deals: the rep and the deal of each lead that became one, by '{key}'")
    if own_rep is not None:
        lines.append(("columns.rep_id", own_rep, f"guessed from '{own_rep}'"))
        unowned = sum(1 for v in f.cells[own_rep] if v is None)
    else:
        rep = _free("deal_rep", f.columns)
        join.aggregate.append((rep, f"any_value({_ident(owner)})", f"the deal's '{owner}'"))
        lines.append(("columns.rep_id", rep, f"joined: the rep ('{owner}') of the deal the lead became"))
        owners = {k: v for k, v in zip(deals.cells[key], deals.cells[owner], strict=True) if k is not None}
        unowned = sum(1 for k in f.cells[key] if owners.get(k or "") is None)
    deal = _free("converted_deal", [*f.columns, *(a for a, _, _ in join.aggregate)])
    join.aggregate.append((deal, f"any_value({_ident(key)})", f"the deal's '{key}'"))
    lines.append(("columns.converted_deal_id", deal, f"joined: the deal in {deals_rel} the lead became"))
    hint = (
        f"the file name '{f.path.name}'"
        if _QUALIFIED.search(_norm(f.path.stem))
        else next((f"the column '{c}'" for c in f.columns if _QUALIFIED.search(_norm(c))), "")
    )
    if hint:
        why = (
            f"guessed: {hint} says they are qualified leads, so every lead is taken as qualified; if some are "
            "not, map their status under `columns` and `values`"
        )
    else:
        why = "nothing in the file says which leads are qualified: every lead is taken as qualified (check)"
        guess.todo.append(
            f"leads.qualified: nothing in {link.rel} says which leads are qualified, so every lead is taken as "
            "qualified (`defaults: {qualified: true}`); if the CRM records it, map that column under "
            "`columns: {qualified: ...}` with `values: {qualified: {...: true, ...: false}}`"
        )
    lines += [("defaults", None, ""), ("defaults.qualified", True, why)]
    date = _date_line(f.values[created], _date_order(f))
    lines += [("dates", None, ""), ("dates.created_date", *date)] if date is not None else []
    lines += [("join", None, ""), *join.lines(0)]
    if unowned:
        reps = set(deals.values.get(owner, []))
        guess.unassigned_rep = _free("unassigned", sorted(reps))
        guess.unassigned_why = (
            f"guessed: {unowned:,} of the {f.rows:,} leads of {link.rel} have no rep (no deal, or a deal without "
            "one): they count in team and company lead totals under this pseudo-rep; a rep's own lead KPIs count "
            "only the leads that became their deals"
        )
        guess.notes.append(
            f"{link.rel}: {unowned:,} of the {f.rows:,} leads have no rep: they are given to the pseudo-rep "
            f"'{guess.unassigned_rep}' (`unassigned_rep`), so that team and company lead counts are right"
        )
    return lines


def _links(deals: FileGuess, key: str, others: Sequence[FileGuess], rel: Callable[[FileGuess], str]) -> list[_Link]:
    """The files sharing the deals' id column ``key`` and holding some of their ids."""
    ids = set(deals.values.get(key, []))
    out = []
    for f in others:
        if key not in f.columns:
            continue
        hits = [v for v in f.values.get(key, []) if v in ids]
        if hits:
            out.append(_Link(f, rel(f), key, len(set(hits)), len(hits), len(ids)))
    return out


def _relate(
    deals: FileGuess,
    found: dict[str, str],
    others: Sequence[FileGuess],
    rel: Callable[[FileGuess], str],
    guess: Guess,
    deal_lines: list[_Line],
) -> tuple[list[_Line], list[_Line] | None, list[FileGuess], list[FileGuess]]:
    """Guess what files sharing the deals' id column give: (a) the amount and units summed over order lines,
    (b) the created date as a first contact date, (c) the leads table. Adds what it guessed to ``found``, what
    could not be guessed to ``guess.todo`` (with the ``join:`` to write), and notes, ``unassigned_rep`` and
    ``severity`` to ``guess``.

    Returns
    -------
    (deal_lines, leads, used, not_leads)
        The deals' lines with the guessed joins, the leads table's lines (``None``: no leads file), the files
        used, the files that look like leads but hold only deals.
    """
    key = found.get("deal_id")
    if key is None:
        return deal_lines, None, [], []
    drel = rel(deals)
    joins: list[_Join] = []
    used: list[FileGuess] = []
    leads: list[_Line] | None = None
    not_leads: list[FileGuess] = []

    def joined(j: _Join) -> None:
        same = next((x for x in joins if x.link.f is j.link.f), None)
        if same is None:
            j.why = j.why or f"guessed: {j.link.shares(drel)}"
            joins.append(j)
        else:
            same.aggregate += j.aggregate
        if j.link.f not in used:
            used.append(j.link.f)

    for link in _links(deals, key, others, rel):
        shares = link.shares(drel)
        numbers = _numbers(link.f, key)
        if "amount" not in found and numbers:
            amount = _amount_join(link, deals)
            if amount is not None:
                join, columns, notes = amount
                joined(join)
                deal_lines = _put(deal_lines, "columns", columns)
                guess.notes += notes
                found["amount"] = "(joined)"
            else:
                todo = (
                    f"deals.amount: {drel} has no amount. {shares}, with the numbers {', '.join(numbers[:6])}, but "
                    "no unit price and quantity columns. If the amount is there, add under tables.deals `join: "
                    f"[{{file: {link.rel}, on: {key}, aggregate: {{net: 'sum({_ident(numbers[0])})'}}}}]` (write "
                    "the sum your amounts need) and `columns: {amount: net}`"
                )
                guess.todo.append(todo)
        dated = [c for c in link.f.columns if c != key and _is_date(link.f.values.get(c, []))]
        if "created_date" not in found and dated:
            created = _created_join(link, deals, found)
            if isinstance(created, tuple):
                join, lines, before, example = created
                joined(join)
                deal_lines = _without(deal_lines, "defaults.created_date")
                for line in lines:
                    deal_lines = _put(deal_lines, line[0].split(".")[0], [line])
                found["created_date"] = "(joined)"
                if before:
                    guess.severity["close_before_create"] = (
                        "warning",
                        f"guessed: {before:,} deal(s) close before their joined created date (e.g. {example}); "
                        "validation still lists them, and the reports run",
                    )
                    guess.notes.append(
                        f"{drel}: {before:,} deal(s) close before their created date joined from {link.rel} (e.g. "
                        f"{example}): `severity: {{close_before_create: warning}}` lets the reports run; check them"
                    )
            else:
                why = f", but {created}" if created else ", none of them named as a created or first contact date"
                guess.todo.append(
                    f"deals.created_date: {drel} has no created date. {shares}, with the dates "
                    f"{', '.join(dated[:4])}{why}. If a deal was created then, add under tables.deals `join: "
                    f"[{{file: {link.rel}, on: {key}, aggregate: {{created: 'min({_ident(dated[0])})'}}}}]` and "
                    "`columns: {created_date: created}`, and remove `created_date: null` under `defaults`"
                )
        if leads is None:
            table = _leads_table(link, deals, found, drel, guess)
            if isinstance(table, str):
                guess.notes.append(table)
                not_leads.append(link.f)
            elif table is not None:
                leads = table
                if link.f not in used:
                    used.append(link.f)
    if joins:
        deal_lines = [*deal_lines, ("join", None, "")]
        for n, j in enumerate(joins):
            deal_lines += j.lines(n)
    return deal_lines, leads, used, not_leads


def _leadlike(f: FileGuess) -> bool:
    return bool(re.search(r"lead|mql|prospect", f.path.stem, re.IGNORECASE)) or any(
        re.search(r"lead|mql", c, re.IGNORECASE) for c in f.columns
    )


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in (*_TEXT_SUFFIXES, *EXCEL_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            msg = f"{p}: no such file or folder. Fix: give CSV or Excel export files, or the folder holding them."
            raise DataLoadError(msg, file=str(p))
    if not out:
        shown = ", ".join(map(str, paths))
        msg = (
            f"{shown}: no CSV or Excel files there. Fix: export the deals (opportunities) from the CRM as CSV or .xlsx."
        )
        raise DataLoadError(msg, file=shown)
    return out


def infer_source(paths: Sequence[Path], *, base_dir: Path, name: str = "crm") -> Guess:
    """Guess a source mapping for export files.

    Parameters
    ----------
    paths : CSV or Excel files, or folders holding them
    base_dir : the folder the written source file will live in (file paths are written relative to it)
    name : the source's name

    Returns
    -------
    Guess
        The mapping; :meth:`Guess.to_yaml` writes it.

    Raises
    ------
    DataLoadError
        A path does not exist, there is no CSV or Excel file, a file cannot be read, or no file looks like
        deals (no stage, close date or amount column).
    """
    import os

    files = [_read(p) for p in _files(paths)]
    markers = _drop_null_markers(files)
    deals = max(files, key=_deal_score)
    if _deal_score(deals) < 3:
        orders = [f for f in files if _orders_like(f)]
        if not orders:
            listed = "; ".join(f"{f.path.name}: {', '.join(f.columns[:8])}" for f in files)
            msg = (
                "none of the files looks like deals (opportunities) or orders: no stage, close date and amount "
                f"columns, nor an owner and an order date ({listed}). "
                "Fix: export the deals or opportunities report, or write the mapping by hand (docs/mapping.md)."
            )
            raise DataLoadError(msg, file=str(deals.path))
        deals = max(orders, key=_deal_score)
    common = Path(os.path.commonpath([str(f.path.parent.resolve()) for f in files]))
    rel_base = os.path.relpath(common, base_dir.resolve())
    guess = Guess(name=name, base_dir=rel_base)

    def rel(f: FileGuess) -> str:
        return f.path.resolve().relative_to(common).as_posix()

    deal_lines, found = _map_deals(deals, rel(deals), guess.notes, guess.todo)
    owner = found.get("rep_id")
    others = [f for f in files if f is not deals]
    reps = max(others, key=_rep_score) if others else None
    employees = _owner_list(others, owner) if owner is not None else None
    if reps is not None and _rep_score(reps) >= 2:
        guess.tables["reps"] = _map_reps(reps, rel(reps))
        others.remove(reps)
    elif employees is not None:
        guess.tables["reps"] = _map_reps(employees, rel(employees), rep_id=owner)
        others.remove(employees)
    elif owner is not None:
        if _names(deals.values[owner]):
            rep_why, name_why = "the owner's name is the rep id", "the display name"
            deal_lines = [
                (key, value, f"{why} ({rep_why})" if key == "columns.rep_id" else why) for key, value, why in deal_lines
            ]
        else:
            rep_why = "the owner column holds ids, not names: they are the rep ids"
            name_why = "the display name: the export has no owner names, so the id is shown"
        guess.tables["reps"] = [
            ("distinct_from", None, f"no rep list: the reps are the {_distinct(deals.values[owner]):,} deal owners"),
            ("distinct_from.file", rel(deals), ""),
            ("distinct_from.column", owner, ""),
            *([("distinct_from.delimiter", deals.delimiter, "")] if deals.delimiter not in ("", ",") else []),
            *([("distinct_from.encoding", deals.encoding, "")] if deals.encoding not in ("", "utf-8") else []),
            ("columns", None, ""),
            ("columns.rep_id", owner, rep_why),
            ("derive", None, ""),
            ("derive.name", f'"{owner}"', name_why),
        ]
    else:
        guess.todo.append(f"deals.rep_id: no rep or owner column was recognised in {rel(deals)}; map it by hand")
    deal_lines, leads, used, not_leads = _relate(deals, found, others, rel, guess, deal_lines)
    guess.tables["deals"] = deal_lines
    if leads is not None:
        guess.tables["leads"] = leads
    if "amount" not in found:
        guess.notes.append(f"{rel(deals)}: no amount or value column: revenue KPIs are not available")
    if "created_date" not in found:
        guess.notes.append(f"{rel(deals)}: no created date: the sales cycle is not available")
    others = [f for f in others if f not in used]
    if others:
        guess.notes.append(f"not recognised as deals or reps, so left out: {', '.join(rel(f) for f in others)}")
    for f in others:
        if _leadlike(f) and f not in not_leads:
            guess.todo.append(
                f"leads: {rel(f)} may hold leads ({', '.join(f.columns[:6])}); to get the lead KPIs, map it by hand "
                "under tables.leads: lead_id, rep_id, created_date, qualified (and converted_deal_id)"
            )
    if markers:
        guess.null_values = ["", *markers]
        guess.null_why = "guessed: read as missing: " + "; ".join(
            f"{m!r} {n:,} time(s) (in {', '.join(cols[:4])}{', ...' if len(cols) > 4 else ''})"
            for m, (n, cols) in markers.items()
        )
    return guess
