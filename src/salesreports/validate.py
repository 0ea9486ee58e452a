"""Check a loaded data set against the canonical model and return *all* issues.

Column rules (types, missing values, allowed values, bounds, uniqueness) are
pandera schemas generated from :data:`salesreports.schema.TABLES`, so each rule
is declared once. Cross-table and business invariants (close after create, won
deals have a close date, every rep known, ...) are checked here too. Errors
stop a report run; warnings are shown and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from salesreports.data import Dataset
from salesreports.errors import DataValidationError, Issue
from salesreports.readers import ROW
from salesreports.schema import TABLES, Column

__all__ = ["Report", "check", "pandera_schema", "validate"]

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
ABSURD_AMOUNT = 1e9


@dataclass(frozen=True)
class Report:
    """The outcome of validation: every issue, errors first."""

    issues: tuple[Issue, ...]

    @property
    def errors(self) -> list[Issue]:
        """Issues that stop a report run."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues that are shown but do not stop a run."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise :class:`DataValidationError` listing every error, if there is any."""
        if self.errors:
            raise DataValidationError(list(self.issues))


@cache
def pandera_schema(table: str) -> Any:
    """The pandera ``DataFrameSchema`` for a canonical table, built from its declaration."""
    import pandera.pandas as pa

    columns = {}
    for col in TABLES[table].columns:
        checks = []
        if col.allowed:
            checks.append(pa.Check.isin(list(col.allowed)))
        if col.min is not None:
            checks.append(pa.Check.ge(col.min))
        if col.max is not None:
            checks.append(pa.Check.le(col.max))
        columns[col.name] = pa.Column(
            None, checks=checks, nullable=col.nullable, unique=col.unique, required=col.required
        )
    return pa.DataFrameSchema(columns, strict=False, name=table)


def _check_columns(name: str, frame: pd.DataFrame, origin: str) -> list[Issue]:
    import pandera.errors as pe

    issues: list[Issue] = []
    try:
        pandera_schema(name).validate(frame, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            issues.append(_translate(name, frame, origin, str(column), str(check), group))
    return issues


def _translate(name: str, frame: pd.DataFrame, origin: str, column: str, check: str, group: pd.DataFrame) -> Issue:
    idx = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).tolist()
    rows = tuple(int(r) for r in frame[ROW].to_numpy()[idx][:5]) if idx else ()
    count = len(idx) if idx else len(group)
    sample = ", ".join(repr(v) for v in pd.unique(group["failure_case"].astype(str))[:3])
    col: Column | None = TABLES[name].column(column) if column in TABLES[name].names else None
    if check == "column_in_dataframe":
        return Issue(
            "error",
            name,
            f"required column '{group['failure_case'].iloc[0]}' is missing",
            file=origin,
            column=str(group["failure_case"].iloc[0]),
            fix=f"add it to the export, or map it under `tables.{name}.columns` in the source file",
        )
    if check == "field_uniqueness":
        return Issue(
            "error", name, f"{count} row(s) share an id that must be unique (e.g. {sample})", file=origin,
            column=column, rows=rows, count=count, fix="remove the duplicate rows or give each record its own id",
        )
    if check == "not_nullable":
        return Issue(
            "error", name, f"{count} row(s) have no value, which this column requires", file=origin,
            column=column, rows=rows, count=count, fix=f"fill in '{column}' in the export (or map a default)",
        )
    if "greater_than_or_equal_to" in check:
        return Issue(
            "error", name, f"{count} value(s) are below the minimum {col.min if col else ''} (e.g. {sample})",
            file=origin, column=column, rows=rows, count=count,
            fix="correct the values (a refund or credit note is not a negative deal)",
        )
    if "less_than_or_equal_to" in check:
        return Issue(
            "error", name, f"{count} value(s) are above the maximum {col.max if col else ''} (e.g. {sample})",
            file=origin, column=column, rows=rows, count=count, fix="correct the values",
        )
    if check.startswith("isin"):
        return Issue(
            "error", name, f"{count} value(s) are not allowed (e.g. {sample})", file=origin, column=column,
            rows=rows, count=count, fix=f"use one of {', '.join(col.allowed) if col else ''}, or map them with `values:`",
        )
    return Issue("error", name, f"{count} value(s) fail the check {check} (e.g. {sample})", file=origin,
                 column=column, rows=rows, count=count)


def _rows(frame: pd.DataFrame, mask: Iterable[bool] | np.ndarray | pd.Series) -> tuple[tuple[int, ...], int]:
    m = np.asarray(mask, dtype=bool)
    rows = frame[ROW].to_numpy()[m]
    return tuple(int(r) for r in rows[:5]), int(m.sum())


def _rule(issues: list[Issue], severity: str, table: str, frame: pd.DataFrame, mask: Any, origin: str,
          column: str, message: str, fix: str) -> None:
    rows, count = _rows(frame, mask)
    if count:
        issues.append(Issue(severity, table, message.format(n=count), file=origin, column=column, rows=rows,
                            count=count, fix=fix))


def _check_rules(data: Dataset, today: dt.date) -> list[Issue]:
    issues: list[Issue] = []
    o = data.origins
    future = pd.Timestamp(today)
    reps = data.get("reps")
    known = set(reps["rep_id"].dropna()) if reps is not None and "rep_id" in reps else None
    for name, frame in data.tables.items():
        if "rep_id" in frame.columns and known is not None and name != "reps":
            unknown = frame["rep_id"].notna() & ~frame["rep_id"].isin(known)
            sample = ", ".join(repr(v) for v in pd.unique(frame.loc[unknown, "rep_id"])[:3])
            _rule(issues, "error", name, frame, unknown, o[name], "rep_id",
                  f"{{n}} row(s) name a rep that is not in the reps table (e.g. {sample})",
                  "add the rep to the reps table, or correct the rep_id")
        for col in TABLES[name].columns:
            if col.kind == "date" and col.name in frame.columns:
                _rule(issues, "error", name, frame, frame[col.name] > future, o[name], col.name,
                      f"{{n}} date(s) are in the future (after {today})",
                      "correct the dates, or check the date format (day and month swapped?)")
    if reps is not None:
        if "email" in reps.columns:
            email = reps["email"]
            bad = email.notna() & ~email.fillna("").str.match(EMAIL)
            _rule(issues, "error", "reps", reps, bad, o["reps"], "email",
                  "{n} email address(es) are not one plain address (line breaks, several addresses or a typo)",
                  "give each rep exactly one address like name@example.com")
            _rule(issues, "warning", "reps", reps, email.isna(), o["reps"], "email",
                  "{n} rep(s) have no email address: their scorecards are built but cannot be sent",
                  "add the addresses to the reps table")
        if {"hire_date", "leave_date"} <= set(reps.columns):
            _rule(issues, "error", "reps", reps, reps["leave_date"] < reps["hire_date"], o["reps"], "leave_date",
                  "{n} rep(s) leave before they were hired", "correct hire_date or leave_date")
    deals = data.get("deals")
    if deals is not None and {"stage", "close_date", "created_date"} <= set(deals.columns):
        closed = deals["stage"].isin(["won", "lost"])
        _rule(issues, "error", "deals", deals, closed & deals["close_date"].isna(), o["deals"], "close_date",
              "{n} won or lost deal(s) have no close date", "fill in close_date for closed deals")
        _rule(issues, "error", "deals", deals, closed & (deals["close_date"] < deals["created_date"]), o["deals"],
              "close_date", "{n} deal(s) close before they were created",
              "correct created_date or close_date (day and month swapped?)")
        if "amount" in deals.columns:
            _rule(issues, "error", "deals", deals, (deals["stage"] == "won") & deals["amount"].isna(), o["deals"],
                  "amount", "{n} won deal(s) have no amount", "fill in the amount of won deals")
            _rule(issues, "warning", "deals", deals, deals["amount"] > ABSURD_AMOUNT, o["deals"], "amount",
                  f"{{n}} amount(s) are above {ABSURD_AMOUNT:,.0f}: check the unit (cents?) and decimal separator",
                  "correct the amounts, or remove test deals")
        if reps is not None and "rep_id" in deals.columns:
            idle = ~reps["rep_id"].isin(set(deals["rep_id"].dropna()))
            _rule(issues, "warning", "reps", reps, idle, o["reps"], "rep_id",
                  "{n} rep(s) have no deals at all: their scorecards show KPIs as not available",
                  "check the rep_id mapping if this is unexpected")
    leads = data.get("leads")
    if leads is not None and deals is not None and "converted_deal_id" in leads.columns:
        dangling = leads["converted_deal_id"].notna() & ~leads["converted_deal_id"].isin(set(deals["deal_id"]))
        _rule(issues, "error", "leads", leads, dangling, o["leads"], "converted_deal_id",
              "{n} lead(s) point at a deal that is not in the deals table", "correct converted_deal_id")
    targets = data.get("targets")
    if targets is not None:
        _check_targets(issues, targets, o["targets"])
    return issues


def _check_targets(issues: list[Issue], targets: pd.DataFrame, origin: str) -> None:
    from salesreports.kpis import registry

    period = targets["period"].astype("string")
    _rule(issues, "error", "targets", targets, ~period.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False),
          origin, "period", "{n} period(s) are not months written YYYY-MM", "write periods like 2026-10")
    names = set(registry().names())
    unknown = ~targets["metric"].isin(names)
    sample = ", ".join(repr(v) for v in pd.unique(targets.loc[unknown, "metric"].astype(str))[:3])
    _rule(issues, "error", "targets", targets, unknown, origin, "metric",
          f"{{n}} target(s) name an unknown KPI (e.g. {sample})", "use a name from `salesreports kpis`")
    owner = targets.get("rep_id", pd.Series(None, index=targets.index)).isna()
    if "team" in targets.columns:
        owner &= targets["team"].isna()
    _rule(issues, "error", "targets", targets, owner, origin, "rep_id",
          "{n} target(s) have neither a rep_id nor a team", "fill in who the target is for")


def check(data: Dataset, *, today: dt.date | None = None) -> Report:
    """Validate a data set and return every issue found (load-time issues included).

    Parameters
    ----------
    data : a loaded :class:`~salesreports.data.Dataset`
    today : dates after this day are errors (default: today)

    Returns
    -------
    Report
    """
    issues = list(data.notes)
    for name, frame in data.tables.items():
        issues.extend(_check_columns(name, frame, data.origins.get(name, name)))
    issues.extend(_check_rules(data, today or dt.date.today()))
    # a value that could not be typed is reported once, by the loader, not again as "missing"
    typed = {(i.table, i.column) for i in data.notes if i.column}
    issues = [i for i in issues if i in data.notes or not (i.column and (i.table, i.column) in typed and "no value" in i.message)]
    issues.sort(key=lambda i: (i.severity != "error", i.table, i.column))
    return Report(tuple(issues))


def validate(data: Dataset, *, today: dt.date | None = None) -> Report:
    """Validate and raise on errors.

    Raises
    ------
    DataValidationError
        Listing every error, when there is one.
    """
    report = check(data, today=today)
    report.raise_for_errors()
    return report
