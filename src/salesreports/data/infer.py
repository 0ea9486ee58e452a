"""Guess a source mapping from a company's CRM export files (``salesreports init --from-export``).

Given CSV or Excel exports, :func:`infer_source` recognises which canonical table each file holds from its
columns, maps columns by name and content, and proposes everything else a source file needs: the stage value
map (won, closed won, … → won; lost, closed lost → lost; anything else → open), date formats, amounts written
with currency symbols and thousands separators, the delimiter, the encoding and null markers. Without an id
column, deals are numbered by their line; without a rep list, the reps are the distinct deal owners, and the
owner's name is the rep id. :meth:`Guess.to_yaml` writes the mapping with every guess as a comment
(``# guessed from 'Deal owner': 14 distinct values``), so that the analyst can check it.

Nothing here is interactive and nothing is silent: what could not be recognised is listed in
:attr:`Guess.notes` and in the written file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salesreports.data.readers import EXCEL_SUFFIXES, ROW, read_csv, read_excel
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
    "name": (r"(full )?name", r"(rep|user|owner) name"),
    "email": (r"e-?mail( address)?",),
    "team": (r"team|group|department",),
    "region": (r"region|territory|country",),
    "hire_date": (r"hire ?date|start date|hired( on)?",),
}


def _norm(name: str) -> str:
    text = name.strip().lower()
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
    """

    path: Path
    columns: list[str]
    values: dict[str, list[str]]
    rows: int
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Guess:
    """A guessed source mapping, ready to be written as YAML with a comment per guess.

    Attributes
    ----------
    name : the source's name
    base_dir : the folder the file paths are relative to
    tables : canonical table -> ``(key, value, comment)`` lines of its mapping (value ``None``: a section)
    null_values : texts read as missing
    notes : what was not recognised or needs a look
    """

    name: str
    base_dir: str
    tables: dict[str, list[tuple[str, object, str]]] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=lambda: [""])
    notes: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The source file's text: every guess is a comment beside its line."""
        import json

        def scalar(value: object) -> str:
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
        out += [f"name: {scalar(self.name)}", f"base_dir: {scalar(self.base_dir)}"]
        out.append(f"null_values: {json.dumps(self.null_values, ensure_ascii=False)}")
        out.append("tables:")
        for table, lines in self.tables.items():
            out.append(f"  {table}:")
            for key, value, comment in lines:
                indent = "    " + "  " * key.count(".")
                leaf = key.rsplit(".", 1)[-1]
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
    values = {c: [v for v in raw.table.column(c).to_pylist() if v is not None and v.strip()] for c in columns}
    return FileGuess(path, columns, values, raw.table.num_rows, encoding, delimiter, notes)


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


def _distinct(values: list[str]) -> int:
    return len(set(values))


def _map_deals(f: FileGuess, rel: str, notes: list[str]) -> tuple[list[tuple[str, object, str]], str | None]:
    """The deals table's mapping lines, and the owner column (for the reps table)."""
    lines: list[tuple[str, object, str]] = [("file", rel, f"{f.rows:,} rows; {', '.join(f.notes) or 'read as is'}")]
    if f.delimiter and f.delimiter != ",":
        lines.append(("delimiter", f.delimiter, "guessed from the header line"))
    if f.encoding not in ("", "utf-8"):
        lines.append(("encoding", f.encoding, "the file is not UTF-8"))
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
        if canon == "rep_id":
            why = f"guessed from '{col}': {_distinct(vals):,} distinct values (the owner's name is the rep id)"
        columns.append((f"columns.{canon}", col, why))
    if "deal_id" not in found:
        derive.append(("derive.deal_id", "'line ' || _row", "no id column: each deal is named by its line in the file"))
    if "stage" not in found:
        if "close_date" in found:
            defaults.append(("defaults.stage", "won", "no stage column: every deal with a close date is taken as won"))
        else:
            notes.append(f"{rel}: no stage or status column was recognised; map `stage` by hand")
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
    for canon in ("created_date", "close_date"):
        col = found.get(canon)
        if col is None:
            continue
        vals = f.values.get(col, [])
        if canon == "close_date" and lost_col:
            vals = vals + f.values.get(lost_col, [])
        formats = _date_formats(vals)
        if not formats or formats[0] == "%Y-%m-%d":
            continue
        fmt = formats[0]
        both = {"%d/%m/%Y", "%m/%d/%Y"} <= set(formats) or {"%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"} <= set(formats)
        why = f"guessed from {len(vals):,} values like {vals[0]!r}" + (
            "; day and month are ambiguous: check" if both else ""
        )
        dates.append((f"dates.{canon}", fmt, why))
    if dates:
        lines += [("dates", None, ""), *dates]
    if "created_date" not in found:
        notes.append(f"{rel}: no created date: the sales cycle is not available")
    return lines, found.get("rep_id")


def _map_reps(f: FileGuess, rel: str) -> list[tuple[str, object, str]]:
    lines: list[tuple[str, object, str]] = [("file", rel, f"{f.rows:,} rows")]
    taken: set[str] = set()
    columns = []
    for canon, patterns in _REP_NAMES.items():
        col = _match(f.columns, patterns, taken)
        if col is not None:
            taken.add(col)
            columns.append((f"columns.{canon}", col, f"guessed from '{col}'"))
    return [*lines, ("columns", None, ""), *columns]


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
    deals = max(files, key=_deal_score)
    if _deal_score(deals) < 3:
        listed = "; ".join(f"{f.path.name}: {', '.join(f.columns[:8])}" for f in files)
        msg = (
            f"none of the files looks like deals (opportunities): no stage, close date and amount columns ({listed}). "
            "Fix: export the deals or opportunities report, or write the mapping by hand (docs/mapping.md)."
        )
        raise DataLoadError(msg, file=str(deals.path))
    common = Path(os.path.commonpath([str(f.path.parent.resolve()) for f in files]))
    rel_base = os.path.relpath(common, base_dir.resolve())
    guess = Guess(name=name, base_dir=rel_base)

    def rel(f: FileGuess) -> str:
        return f.path.resolve().relative_to(common).as_posix()

    deal_lines, owner = _map_deals(deals, rel(deals), guess.notes)
    others = [f for f in files if f is not deals]
    reps = max(others, key=_rep_score) if others else None
    if reps is not None and _rep_score(reps) >= 2:
        guess.tables["reps"] = _map_reps(reps, rel(reps))
        others.remove(reps)
    elif owner is not None:
        guess.tables["reps"] = [
            ("distinct_from", None, f"no rep list: the reps are the {_distinct(deals.values[owner]):,} deal owners"),
            ("distinct_from.file", rel(deals), ""),
            ("distinct_from.column", owner, ""),
            *([("distinct_from.delimiter", deals.delimiter, "")] if deals.delimiter not in ("", ",") else []),
            *([("distinct_from.encoding", deals.encoding, "")] if deals.encoding not in ("", "utf-8") else []),
            ("columns", None, ""),
            ("columns.rep_id", owner, "the owner's name is the rep id"),
            ("derive", None, ""),
            ("derive.name", f'"{owner}"', "the display name"),
        ]
    else:
        guess.notes.append("no rep or owner column was recognised: map `rep_id` of the deals by hand")
    guess.tables["deals"] = deal_lines
    for f in others:
        guess.notes.append(f"{rel(f)} was not recognised as deals or reps and is left out ({', '.join(f.columns[:6])})")
    markers = sorted({v.strip() for f in files for vals in f.values.values() for v in vals if v.strip() in _NULLS})
    if markers:
        guess.null_values = ["", *markers]
    return guess
