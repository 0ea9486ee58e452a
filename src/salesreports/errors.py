"""The exception hierarchy of salesreports.

Every error a user can fix derives from :class:`UserError`; our own bugs raise
:class:`InternalError`. Exceptions keep their fields (file, column, rows, rep,
period, ...) and build the message in ``__str__`` so they stay picklable and a
message always says *where*, *what* and *how to fix it*.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ClusterError",
    "ConfigError",
    "DataLoadError",
    "DataValidationError",
    "DeliveryError",
    "InternalError",
    "Issue",
    "ParamsError",
    "PrivacyError",
    "RenderError",
    "SalesReportsError",
    "TemplateError",
    "UnknownKpiError",
    "UserError",
    "close_matches",
    "format_rows",
]

MAX_SHOWN = 5


def format_rows(rows: Sequence[int], limit: int = MAX_SHOWN, unit: str = "line") -> str:
    """Format a sample of line (or row) numbers: ``lines 3, 7, 9, … (12 in all)``.

    ``unit`` is ``"line"`` for text files and spreadsheets (the number an editor shows, header = line 1)
    and ``"row"`` for Parquet files and database tables (1-based data rows).
    """
    rows = list(rows)
    if not rows:
        return ""
    shown = ", ".join(str(r) for r in rows[:limit])
    word = unit if len(rows) == 1 else f"{unit}s"
    more = f", … ({len(rows)} in all)" if len(rows) > limit else ""
    return f"{word} {shown}{more}"


def close_matches(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choices other than ``name`` itself, or ``""``."""
    found = difflib.get_close_matches(name, [c for c in choices if c != name], n=3, cutoff=0.6)
    if not found:
        return ""
    return " Did you mean " + " or ".join(f"'{m}'" for m in found) + "?"


class SalesReportsError(Exception):
    """Base of every error raised on purpose by salesreports."""

    exit_code = 1

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message, fields)
        self.message = message
        self.fields = fields

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)


def _rebuild(cls: type[SalesReportsError], message: str, fields: dict[str, Any]) -> SalesReportsError:
    err = cls.__new__(cls)
    SalesReportsError.__init__(err, message, **fields)
    return err


class UserError(SalesReportsError):
    """Something the user can fix: their data, params, templates or settings."""

    def _render_traceback_(self) -> list[str]:
        """How IPython (JupyterLab) shows it: the message alone, which says where and how to fix it."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self.message}"]


class ConfigError(UserError):
    """A settings or source file is invalid (bad key, bad value, missing file)."""

    exit_code = 2


class ParamsError(ConfigError):
    """Report parameters do not fit the template or the params files."""


class DataLoadError(UserError):
    """A data file could not be read at all (missing, empty, wrong encoding)."""


@dataclass(frozen=True)
class Issue:
    """One validation finding.

    Attributes
    ----------
    severity : "error" or "warning"
    table : canonical table name (deals, reps, ...)
    message : what is wrong and how to fix it
    file : where the table came from
    column : the column concerned, if any
    rows : a sample of the lines of the source file as an editor shows them (the header is line 1; for
        a spreadsheet, its row numbers), or of 1-based data rows for Parquet files and databases
    count : how many rows are affected in all
    unit : ``"line"`` (text files, spreadsheets) or ``"row"`` (Parquet, databases): how ``rows`` are named
    """

    severity: str
    table: str
    message: str
    file: str = ""
    column: str = ""
    rows: tuple[int, ...] = field(default_factory=tuple)
    count: int = 0
    fix: str = ""
    unit: str = "line"

    def __str__(self) -> str:
        where = self.file or self.table
        if self.column:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.rows:
            text += f" ({format_rows(self.rows, unit=self.unit)})"
        if self.fix:
            text += f"{' ' if text.endswith(('.', '?', '!')) else '. '}Fix: {self.fix}"
        return text


class DataValidationError(UserError):
    """The data breaks the canonical model; carries every issue found."""

    def __init__(self, issues: Sequence[Issue], message: str = "") -> None:
        issues = list(issues)
        errors = [i for i in issues if i.severity == "error"]
        shown = "\n".join(f"  - {i}" for i in errors[:10])
        more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        msg = message or f"The data has {len(errors)} error(s):\n{shown}{more}"
        super().__init__(msg, issues=issues)


class UnknownKpiError(UserError):
    """A KPI name is not in the registry."""


class TemplateError(UserError):
    """A notebook template is broken or a report notebook failed to execute."""


class PrivacyError(TemplateError):
    """A report tried to read beyond its own context (a file, the data layer, a database)."""


class RenderError(UserError):
    """An executed notebook could not be turned into HTML or PDF."""


class DeliveryError(UserError):
    """Mail could not be built or sent."""


class ClusterError(UserError):
    """The Dask cluster cannot run the reports: no scheduler, a worker that differs or cannot write the outputs."""


class InternalError(SalesReportsError):
    """A bug in salesreports itself: please report it with the traceback."""
