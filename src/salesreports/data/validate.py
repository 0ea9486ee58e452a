"""Check a loaded data set against the canonical model and return *all* issues.

Column rules (missing values, allowed values, bounds, uniqueness) are pandera
schemas generated from :data:`salesreports.data.schema.TABLES`, so each rule is
declared once. Cross-table and business invariants (close after create, won
deals have a close date, every rep known, ...) are checked here too. Every
check is a named rule of :data:`salesreports.data.schema.RULES`: errors stop a
report run, warnings are shown and the run goes on, and a source file may
change a rule's severity (``severity: {close_before_create: warning}``).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from salesreports.data.loading import Dataset
from salesreports.data.readers import ROW
from salesreports.data.schema import MAX_AMOUNT_CEILING, SUMMED, TABLES, Column, rule_issue
from salesreports.errors import DataValidationError, Issue, close_matches

__all__ = ["Report", "check", "pandera_schema", "validate"]

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
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


def _pandera() -> Any:
    """``pandera.pandas``, imported without ``hypothesis`` when this process has not imported it.

    pandera imports hypothesis (a test library, installed with the dev tools) when it can, for its data
    synthesis strategies, which validation never uses: about 0.25 s of every first validation. The block
    lasts only for pandera's own import (and its pandas checks', which it imports on the first validation);
    a later ``import hypothesis`` works as usual.
    """
    if "pandera" not in sys.modules and "hypothesis" not in sys.modules:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
        try:
            import pandera.backends.pandas.builtin_checks  # imported here, without hypothesis
            import pandera.backends.pandas.builtin_hypotheses
            import pandera.pandas  # noqa: F401
        finally:
            if "hypothesis" in sys.modules and sys.modules["hypothesis"] is None:
                del sys.modules["hypothesis"]
    import pandera.pandas as pa

    return pa


@cache
def pandera_schema(table: str) -> Any:
    """The pandera ``DataFrameSchema`` for a canonical table, built from its declaration."""
    pa = _pandera()

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


class _Checker:
    """Collects the issues of one data set, at the severities its source asks for."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.issues: list[Issue] = []

    def add(
        self,
        rule: str,
        table: str,
        frame: pd.DataFrame,
        mask: Any,
        column: str,
        message: str,
        fix: str = "",
        *,
        whole: bool = False,
    ) -> None:
        """Report the rows of ``frame`` where ``mask`` holds; ``{n}`` in the message is their count.

        ``whole``: the issue is about the table, not some of its rows (no row numbers are shown).
        """
        m = np.asarray(mask, dtype=bool)
        count = int(m.sum())
        if not count:
            return
        rows = () if whole else tuple(int(r) for r in frame[ROW].to_numpy()[m][:5])
        self.issues.append(
            rule_issue(
                rule,
                table,
                message.format(n=count),
                severity=self.data.severity,
                file=self.data.origins.get(table, table),
                column=column,
                rows=rows,
                count=count,
                fix=fix,
            )
        )

    def add_rows(
        self, rule: str, table: str, rows: np.ndarray[Any, Any], column: str, message: str, fix: str = ""
    ) -> None:
        """Report given source rows."""
        if not len(rows):
            return
        self.issues.append(
            rule_issue(
                rule,
                table,
                message.format(n=len(rows)),
                severity=self.data.severity,
                file=self.data.origins.get(table, table),
                column=column,
                rows=tuple(int(r) for r in rows[:5]),
                count=len(rows),
                fix=fix,
            )
        )


def _sample(values: pd.Series | np.ndarray[Any, Any], n: int = 3) -> str:
    return ", ".join(repr(str(v)) for v in pd.unique(np.asarray(values, dtype=object))[:n])


def _check_columns(c: _Checker, name: str, frame: pd.DataFrame) -> None:
    _pandera()
    import pandera.errors as pe

    try:
        pandera_schema(name).validate(frame, lazy=True, inplace=True)  # checks only: no copy
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            _translate(c, name, frame, str(column), str(check), group)


def _translate(c: _Checker, name: str, frame: pd.DataFrame, column: str, check: str, group: pd.DataFrame) -> None:
    idx = pd.to_numeric(group["index"], errors="coerce").dropna().astype(np.int64).to_numpy()
    rows = frame[ROW].to_numpy()[idx] if len(idx) else np.array([], dtype=np.int64)
    col: Column | None = TABLES[name].column(column) if column in TABLES[name].names else None
    values = group["failure_case"].to_numpy()
    if check == "column_in_dataframe":
        for missing in map(str, values):
            if any(i.table == name and i.column == missing and "is missing" in i.message for i in c.data.notes):
                continue  # the loader already named it, with the source's close matches
            c.issues.append(
                rule_issue(
                    "missing_column",
                    name,
                    f"required column '{missing}' is missing",
                    severity=c.data.severity,
                    file=c.data.origins.get(name, name),
                    column=missing,
                    fix=f"add it to the export, or map it under `tables.{name}.columns` in the source file",
                )
            )
        return
    if check == "field_uniqueness":
        ids = pd.unique(np.asarray(values, dtype=object))
        c.add_rows(
            "duplicate_id",
            name,
            np.sort(rows),
            column,
            f"{{n:,}} row(s) share {len(ids)} id(s) that must be unique (e.g. {_sample(values)})",
            "remove the duplicate rows, or give each record its own id",
        )
        return
    if check == "not_nullable":
        bad = c.data.invalid.get((name, column))
        if bad is not None and len(bad):
            rows = rows[~np.isin(rows, bad)]  # their values were unreadable: already reported by the loader
        fix = f"fill in '{column}' in the export, or map a default with `defaults:`"
        if column == "rep_id" and name != "reps":
            fix += ", or attribute them to a pseudo-rep with `unassigned_rep: unassigned` in the source file"
        c.add_rows("missing_value", name, rows, column, "{n:,} row(s) have no value, which this column requires", fix)
        return
    if "greater_than_or_equal_to" in check or "less_than_or_equal_to" in check:
        low = "greater_than_or_equal_to" in check
        bound = (col.min if low else col.max) if col else ""
        word = "below the minimum" if low else "above the maximum"
        fix = "correct the values"
        if low and column in ("amount", "cost"):
            fix = "correct the values (a refund or credit note is not a negative deal: record it as its own lost deal)"
        c.add_rows(
            "out_of_range", name, rows, column, f"{{n:,}} value(s) are {word} {bound} (e.g. {_sample(values)})", fix
        )
        return
    if check.startswith("isin"):
        allowed = ", ".join(col.allowed) if col else ""
        c.add_rows(
            "not_allowed",
            name,
            rows,
            column,
            f"{{n:,}} value(s) are not allowed (e.g. {_sample(values)})",
            f"use one of {allowed}, or map them with `values:`",
        )
        return
    c.add_rows("bad_value", name, rows, column, f"{{n:,}} value(s) fail the check {check} (e.g. {_sample(values)})")


def _check_reps(c: _Checker, today: dt.date) -> None:
    data = c.data
    reps = data.get("reps")
    pseudo = data.unassigned_rep
    if reps is None or "rep_id" not in reps.columns:
        return  # the missing column is reported on its own
    real = ~reps["rep_id"].eq(pseudo).to_numpy() if pseudo else np.ones(len(reps), dtype=bool)
    for column in ("email", "manager_email"):
        if column in reps.columns:
            _check_addresses(c, reps, column)
    if "locale" in reps.columns:
        _check_locales(c, reps)
    if "email" in reps.columns:
        email = reps["email"]
        c.add(
            "missing_email",
            "reps",
            reps,
            email.isna().to_numpy() & real,
            "email",
            "{n:,} rep(s) have no email address: their scorecards are built but cannot be sent",
            "add the addresses to the reps table",
        )
    else:
        c.add(
            "missing_email",
            "reps",
            reps,
            real,
            "email",
            "the reps table has no email column: the {n:,} reps' scorecards are built but cannot be sent",
            "map an email column under `tables.reps.columns` if the export has one",
            whole=True,
        )
    if {"hire_date", "leave_date"} <= set(reps.columns):
        c.add(
            "leave_before_hire",
            "reps",
            reps,
            (reps["leave_date"] < reps["hire_date"]).to_numpy(),
            "leave_date",
            "{n:,} rep(s) leave before they were hired",
            "correct hire_date or leave_date",
        )
    if "team" in reps.columns:
        c.add(
            "reserved_team",
            "reps",
            reps,
            reps["team"].fillna("").astype(str).str.strip().str.casefold().eq("company").to_numpy(dtype=bool),
            "team",
            "{n:,} rep(s) are in a team called 'company', the name of the company-wide summary",
            "rename the team in the export, or map it with `values: {team: {company: Company team}}`",
        )
    deals = data.get("deals")
    if deals is not None and "rep_id" in deals.columns:
        idle = ~reps["rep_id"].isin(deals["rep_id"].dropna().unique()).to_numpy() & real
        c.add(
            "rep_without_deals",
            "reps",
            reps,
            idle,
            "rep_id",
            "{n:,} rep(s) have no deals at all: their scorecards show deal KPIs as not available",
            "check the rep_id mapping if this is unexpected",
        )


def _check_locales(c: _Checker, reps: pd.DataFrame) -> None:
    """A rep's locale is a CLDR locale id (de_DE); an unknown one names the closest ids."""
    from salesreports.params import check_locale

    problems: dict[str, str] = {}
    for value in reps["locale"].dropna().astype(str).unique():
        if value.strip():
            try:
                check_locale(value)
            except ValueError as exc:
                problems[value] = str(exc).split(" Write")[0]
    if not problems:
        return
    shown = "; ".join(list(problems.values())[:3]).replace("{", "{{").replace("}", "}}")
    c.add(
        "bad_locale",
        "reps",
        reps,
        reps["locale"].isin(list(problems)).to_numpy(dtype=bool),
        "locale",
        "{n:,} rep(s) have a locale that is not a CLDR locale id (" + shown + "): their scorecards and emails "
        "use the settings' `locale`",
        "write a CLDR locale id such as de_DE, fr_FR, es_ES, en_GB or ja_JP, or leave it empty",
    )


def _check_addresses(c: _Checker, reps: pd.DataFrame, column: str) -> None:
    """One plain address per rep: no line breaks (header injection), no lists, no display names."""
    values = reps[column]
    text = values.fillna("").astype(str).str.strip(" \t")
    plain = np.array([EMAIL.fullmatch(v) is not None for v in text], dtype=bool)
    bad = values.notna().to_numpy(dtype=bool) & ~plain
    if not bad.any():
        return
    shown = "; ".join(
        f"rep '{rep}': {value!r}"
        for rep, value in zip(reps.loc[bad, "rep_id"].head(3), values[bad].head(3), strict=False)
    )
    whose = "a rep's manager" if column == "manager_email" else "the rep"
    c.add(
        "bad_email",
        "reps",
        reps,
        bad,
        column,
        "{n:,} address(es) are not one plain address (" + shown.replace("{", "{{").replace("}", "}}") + ")",
        f"write exactly one address like name@example.com for {whose}: no line breaks, no second address "
        "after a comma or semicolon, no display name",
    )


def _check_deals(c: _Checker, deals: pd.DataFrame) -> None:
    if not {"stage", "close_date", "created_date"} <= set(deals.columns):
        return
    closed = deals["stage"].isin(["won", "lost"]).to_numpy()
    c.add(
        "closed_without_date",
        "deals",
        deals,
        closed & deals["close_date"].isna().to_numpy(),
        "close_date",
        "{n:,} won or lost deal(s) have no close date",
        "fill in close_date for closed deals",
    )
    undated = deals["created_date"].isna().to_numpy().copy()
    unreadable = c.data.invalid.get(("deals", "created_date"))
    if unreadable is not None and len(unreadable):  # already reported by the loader as not dates
        undated &= ~np.isin(deals[ROW].to_numpy(), unreadable)
    if undated.any():
        n_open = int((undated & ~closed).sum())
        n_won = int((undated & deals["stage"].eq("won").to_numpy()).sum())
        uses = {
            (True, True): "open deals count in the open pipeline from the data's latest month, won deals in "
            "revenue and deals won",
            (True, False): "they count in the open pipeline from the data's latest month",
            (False, True): "won deals count in revenue and deals won",
            (False, False): "lost deals count in the win rate",
        }[(n_open > 0, n_won > 0)]
        cycle = f". The sales cycle, which needs the date, leaves out these {n_won:,} won deal(s)" if n_won else ""
        c.add(
            "missing_created_date",
            "deals",
            deals,
            undated,
            "created_date",
            f"{{n:,}} deal(s) have no created date ({n_open:,} open, {int(undated.sum()) - n_open:,} won or lost). "
            f"They are kept: {uses}{cycle}",
            "fill in created_date in the export if the CRM has it (nothing else to do: the reports handle it)",
        )
    before = closed & (deals["close_date"] < deals["created_date"]).to_numpy()
    example = ""
    if before.any():
        first = deals[before].iloc[0]
        example = (
            (
                f" (e.g. deal '{first['deal_id']}': created {first['created_date']:%Y-%m-%d}, closed "
                f"{first['close_date']:%Y-%m-%d})"
            )
            if "deal_id" in deals.columns
            else ""
        )
    c.add(
        "close_before_create",
        "deals",
        deals,
        before,
        "close_date",
        "{n:,} deal(s) close before they were created" + example.replace("{", "{{").replace("}", "}}"),
        "correct created_date or close_date (day and month swapped?)",
    )
    won = deals["stage"].eq("won").to_numpy()
    if "amount" in deals.columns:
        c.add(
            "won_without_amount",
            "deals",
            deals,
            won & deals["amount"].isna().to_numpy(),
            "amount",
            "{n:,} won deal(s) have no amount",
            "fill in the amount of won deals",
        )
        c.add(
            "large_amount",
            "deals",
            deals,
            ((deals["amount"] > ABSURD_AMOUNT) & (deals["amount"] <= c.data.max_amount)).to_numpy(),
            "amount",
            f"{{n:,}} amount(s) are above {ABSURD_AMOUNT:,.0f}: check the unit (cents?) and decimal separator",
            "correct the amounts, or remove test deals",
        )
    else:
        from salesreports.metrics.kpis import registry

        needing = ", ".join(k.label.lower() for k in registry() if ("deals", "amount") in k.columns) or "revenue"
        c.add(
            "no_amount",
            "deals",
            deals,
            np.ones(len(deals), dtype=bool),
            "amount",
            f"the {{n:,}} deals have no amount column: KPIs that need it ({needing}) are shown as not available",
            "map an amount column under `tables.deals.columns` if the export has deal values",
            whole=True,
        )


def _check_rules(c: _Checker, today: dt.date) -> None:
    data = c.data
    future = pd.Timestamp(today)
    reps = data.get("reps")
    known = reps["rep_id"].dropna().unique() if reps is not None and "rep_id" in reps else None
    for name, frame in data.tables.items():
        if name != "reps" and "rep_id" in frame.columns and known is not None:
            unknown = (frame["rep_id"].notna() & ~frame["rep_id"].isin(known)).to_numpy()
            c.add(
                "unknown_rep",
                name,
                frame,
                unknown,
                "rep_id",
                f"{{n:,}} row(s) name a rep that is not in the reps table (e.g. {_sample(frame['rep_id'][unknown])})",
                "add the rep to the reps table, or correct the rep_id",
            )
        for col in TABLES[name].columns:
            if col.kind in ("float", "int") and col.name in frame.columns:
                c.add(
                    "bad_value",
                    name,
                    frame,
                    np.isinf(frame[col.name].to_numpy(dtype=np.float64, na_value=np.nan)),
                    col.name,
                    "{n:,} value(s) are infinite (a number too large to store, such as 1e999, or a division by zero "
                    "in the export)",
                    "correct the values in the export",
                )
        if name == "reps":
            continue
        for col in TABLES[name].columns:
            if col.kind != "date" or col.name not in frame.columns:
                continue
            late = (frame[col.name] > future).to_numpy()
            if name == "deals" and col.name == "close_date" and "stage" in frame.columns:
                late = late & frame["stage"].isin(["won", "lost"]).to_numpy()  # an open deal's is the expected close
            c.add(
                "future_date",
                name,
                frame,
                late,
                col.name,
                f"{{n:,}} date(s) are in the future (after {today})",
                "correct the dates, or check the date format (day and month swapped?)",
            )
    _check_reps(c, today)
    deals = data.get("deals")
    if deals is not None:
        _check_deals(c, deals)
    leads = data.get("leads")
    if leads is not None and deals is not None and "converted_deal_id" in leads.columns and "deal_id" in deals.columns:
        dangling = leads["converted_deal_id"].notna().to_numpy() & ~_isin(leads["converted_deal_id"], deals["deal_id"])
        c.add(
            "unknown_conversion",
            "leads",
            leads,
            dangling,
            "converted_deal_id",
            "{n:,} lead(s) point at a deal that is not in the deals table",
            "correct converted_deal_id",
        )
    targets = data.get("targets")
    if targets is not None and {"period", "metric"} <= set(targets.columns):
        _check_targets(c, targets)


def _isin(values: pd.Series, pool: pd.Series) -> np.ndarray[Any, Any]:
    """``values.isin(pool)`` as a boolean array; hashed by Arrow when both hold Arrow text (pandas' ``isin``
    makes a Python string of each of the pool's values first: seconds for millions of deal ids)."""
    if getattr(values.dtype, "storage", None) == "pyarrow" and getattr(pool.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        left, right = pa.array(values.array), pa.array(pool.array)
        if left.type != right.type:
            left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
        return np.asarray(pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(values.isin(pool).to_numpy(), dtype=bool)


def _check_targets(c: _Checker, targets: pd.DataFrame) -> None:
    from salesreports.metrics.kpis import registry

    period = targets["period"].astype("string")
    bad = ~period.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False).to_numpy(dtype=bool)
    c.add(
        "bad_period",
        "targets",
        targets,
        bad & targets["period"].notna().to_numpy(),
        "period",
        "{n:,} period(s) are not months written YYYY-MM",
        "write periods like 2026-10",
    )
    names = set(registry().names())
    unknown = (targets["metric"].notna() & ~targets["metric"].isin(names)).to_numpy()
    first = str(targets["metric"][unknown].iloc[0]) if unknown.any() else ""
    hint = close_matches(first, names).strip()
    c.add(
        "unknown_metric",
        "targets",
        targets,
        unknown,
        "metric",
        f"{{n:,}} target(s) name an unknown KPI (e.g. {_sample(targets['metric'][unknown])})"
        + (f". {hint}".replace("{", "{{").replace("}", "}}") if hint else ""),
        "use a name from `salesreports kpis`",
    )
    owner = targets["rep_id"].isna() if "rep_id" in targets.columns else pd.Series(True, index=targets.index)
    if "team" in targets.columns:
        owner &= targets["team"].isna()
    c.add(
        "target_without_owner",
        "targets",
        targets,
        owner.to_numpy(),
        "rep_id",
        "{n:,} target(s) have neither a rep_id nor a team",
        "fill in who the target is for",
    )


def _check_amounts(c: _Checker) -> None:
    """Amounts, costs and targets beyond the source's ``max_amount`` (or infinite): their totals would overflow."""
    limit = c.data.max_amount
    for table, column in SUMMED:
        frame = c.data.get(table)
        if frame is None or column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            beyond = ~np.isnan(values) & ~(np.abs(values) <= limit)  # inf and -inf included
        if not beyond.any():
            continue
        c.add(
            "amount_too_large",
            table,
            frame,
            beyond,
            column,
            f"{{n:,}} value(s) are beyond the limit of {limit:,.0f} (`max_amount`) (e.g. "
            f"{_sample(values[beyond])}): no total can include them, so the periods holding them would show "
            "as not available",
            "correct them (a unit in cents? a decimal separator read as thousands? a test deal?); if deals "
            f"really are that large, raise `max_amount` in the source file (at most {MAX_AMOUNT_CEILING:,.0f})",
        )


def check(data: Dataset, *, today: dt.date | None = None) -> Report:
    """Validate a data set and return every issue found (load-time issues included).

    Parameters
    ----------
    data : a loaded :class:`~salesreports.data.loading.Dataset`
    today : dates of past events after this day are errors (default: today)

    Returns
    -------
    Report
        Errors first, then warnings; each issue names its file, column and sample lines (rows for
        Parquet files and databases).
    """
    c = _Checker(data)
    for name, frame in data.tables.items():
        _check_columns(c, name, frame)
    _check_rules(c, today or dt.date.today())
    _check_amounts(c)
    issues = [*data.notes, *c.issues]
    issues = [replace(i, unit="row") if i.rows and data.units.get(i.table) == "row" else i for i in issues]
    issues.sort(
        key=lambda i: (i.severity != "error", list(TABLES).index(i.table) if i.table in TABLES else 99, i.column)
    )
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
