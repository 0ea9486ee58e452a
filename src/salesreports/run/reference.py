"""``docs/mapping.md``: the reference of source files and the settings file, generated from their models.

Every key of a source file (:class:`~salesreports.data.mapping.SourceSpec`, ``TableSpec``, ``Join``,
``DistinctFrom``) and of the settings file (:class:`~salesreports.params.Config`) is listed with its type,
whether it is required, its default and its description, which come from the models' ``Field(description=...)``.
The canonical tables and columns come from :data:`salesreports.data.schema.TABLES`, the data rules from
:data:`~salesreports.data.schema.RULES`. What happens when a table lacks an optional date is written here once,
beside the code it describes. ``salesreports mapping-docs`` (``make docs``) writes the page; a test fails when
the page and the models differ.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["EXAMPLE", "mapping_reference"]

EXAMPLE = """\
# params/sources/crm.yaml: a deals export with its owners' list, order lines and leads
name: crm
base_dir: ../../exports                 # the export files' folder, relative to this file
null_values: ['', 'NULL', 'n/a']         # these texts mean "missing" in every table
severity: {close_before_create: warning} # known in this export: show it, still run the reports
tables:
  reps:
    file: users.xlsx                    # Excel: the first sheet unless `sheet:` says otherwise
    columns: {rep_id: User ID, email: Email, team: Team, hire_date: Start Date}
    derive:
      name: "\\"First Name\\" || ' ' || \\"Last Name\\""
    dates: {hire_date: '%d/%m/%Y'}
  deals:
    file: opportunities.csv
    delimiter: ';'
    encoding: cp1252
    columns:
      deal_id: Opportunity ID
      rep_id: Owner ID
      account_id: Account Name
      created_date: Created Date
      close_date: Close Date
      stage: Stage
    join:                               # the amount is the sum of the order lines of each opportunity
      - file: order-lines.csv
        on: {Opportunity ID: opportunity}
        aggregate:
          net: sum(price * quantity * (1 - discount))
    derive:
      amount: net
    values:
      stage: {Closed Won: won, Closed Lost: lost, Prospecting: open, Negotiation: open}
    defaults: {segment: SMB}            # a constant: the export has no segment column
    date_format: '%d/%m/%Y'
    where: "\\"Pipeline\\" = 'New business'"   # renewals are left out (a warning counts them)
  leads:
    file: leads.csv
    columns: {lead_id: Lead ID, rep_id: Owner ID, created_date: Created, source: Lead Source, qualified: Status}
    values:
      qualified: {MQL: false, SQL: true}
"""


def _optional_dates() -> str:
    from salesreports.metrics.measures import NO_SIGN, NOT_EMPLOYED

    return f"""\
Only a few dates are required. This is what happens when an export lacks the others. *The data's latest
date* is the latest date of any deal (created or closed), lead, activity or feedback: KPIs are computed as
of that day.

**Deals**

- `created_date` (the column must be mapped, its values may be empty). A deal without a created date is
  kept, and a warning (`missing_created_date`) counts them. An *open* deal without one counts in the open
  pipeline from the data's latest month on (the month it was known to be open); a *won* one counts in
  revenue, deals won and every KPI of the closed deals, but not in the sales cycle. When no won deal has a
  created date, the sales cycle is left out of the pages ("Not in your data"); when every won deal is
  created and won on the same day, too. An export with no created date at all (a list of orders or won
  deals) maps an empty column with `defaults: {{created_date: null}}`.
- `close_date` (must be mapped, may be empty). A won or lost deal needs one: without it, the error
  `closed_without_date`. Revenue, deals won and lost, win rate, average deal size, units, margin, new
  customers, repeat business and the sales cycle count a deal in the month of its close date. An open
  deal's close date is its expected one: it is not a date of the data (the data's latest month comes
  from deals won or lost, leads and activities), so an export with expected close dates can keep them.
- A leads or activities export that stops before the deals do: its KPIs are "not available" (the leads
  data ends in ...) for the months after its last row, not zero.
- An export of won deals only (no lost deals) has no win rate: it is left out of the pages.

**Leads, activities, feedback, targets**

- A lead's `created_date`, an activity's `date` and a feedback's `date` are required: a row without one
  is an error (`missing_value`). Fill them in, give a constant with `defaults:`, or leave such rows out
  with `where:` (a warning counts them). A lead counts in the month it was created, an activity in the
  month of its date. Lead-to-sale conversion counts the leads created in a period whose
  `converted_deal_id` is a deal won by the data's latest date.
- A target's `period` is a month written `YYYY-MM` (the error `bad_period` otherwise).

**Reps: hire and leave dates**

- With a `hire_date`, a rep counts from that day: in a period's team and company medians, quartiles and
  percentile ranks, and in per-week rates (activity per week divides by the days employed). Before it,
  their KPIs read "{NOT_EMPLOYED}" and they count in no team figure; a rep hired after a period gets no
  report for it. After a `leave_date`, the same.
- A rep **without a hire date** counts from the first day of the month of their first deal (created or
  closed), lead or activity. Before that month their KPIs read "{NO_SIGN}", and they count in no team
  figure. A rep in the reps table with no deal, lead or activity at all counts nowhere: their KPIs are
  not available, never $0. A rep who counts but closed nothing in a month counts, at $0.
- The ramp-up comparison (a rep's first months against earlier hires in the same month of tenure) needs
  hire dates: reps without one are not compared, and when no rep has one the section is left out of the
  pages.
"""


# --------------------------------------------------------------------------- rendering models


def _type(annotation: Any) -> str:
    """A field's type in words."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type(a) for a in args if a is not type(None)]
        return " or ".join(parts)
    if origin is list or origin is tuple:
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return {str: "text", int: "integer", float: "number", bool: "true/false"}.get(annotation, "any value")


def _bounds(info: FieldInfo) -> str:
    out = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(f"{sign} {value}")
    return f" ({', '.join(out)})" if out else ""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value in ({}, [], (), None, ""):
        return "—" if value != "" else '`""`'
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields(model: type[BaseModel], order: tuple[str, ...] = ()) -> list[tuple[str, FieldInfo]]:
    fields = {name: info for name, info in model.model_fields.items() if not info.exclude}
    first = [n for n in order if n in fields]
    return [(n, fields[n]) for n in [*first, *(n for n in fields if n not in first)]]


def _key_table(model: type[BaseModel], prefix: str = "", order: tuple[str, ...] = ()) -> list[str]:
    lines = ["| key | type | default | what it means |", "| --- | --- | --- | --- |"]
    for name, info in _fields(model, order):
        if not info.description:
            msg = f"{model.__name__}.{name} has no description: add Field(description=...)"
            raise ValueError(msg)
        kind = _type(info.annotation) + _bounds(info)
        lines.append(f"| `{prefix}{name}` | {_cell(kind)} | {_cell(_default(info))} | {_cell(info.description)} |")
    return lines


def _sections(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    return [
        (name, info.annotation)
        for name, info in _fields(model)
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    ]


# --------------------------------------------------------------------------- the page


_TABLE_ORDER = (
    "file",
    "table",
    "query",
    "distinct_from",
    "sheet",
    "encoding",
    "delimiter",
    "ragged",
    "null_values",
    "columns",
    "derive",
    "join",
    "defaults",
    "values",
    "date_format",
    "dates",
    "where",
)


def _canonical() -> list[str]:
    from salesreports.data.schema import TABLES

    kinds = {"str": "text", "date": "date", "float": "number", "int": "integer", "bool": "true/false"}
    out: list[str] = []
    for table in TABLES.values():
        out += ["", f"### `{table.name}`: {table.description}", ""]
        out += ["| column | type | must be mapped | may be empty | allowed values | what it means |"]
        out += ["| --- | --- | --- | --- | --- | --- |"]
        for col in table.columns:
            allowed = []
            if col.allowed:
                allowed.append(", ".join(f"`{a}`" for a in col.allowed))
            if col.min is not None:
                allowed.append(f"≥ {col.min:g}")
            if col.max is not None:
                allowed.append(f"≤ {col.max:g}")
            if col.unique:
                allowed.append("unique")
            if col.references:
                allowed.append(f"a `{col.references}`")
            cells = (
                f"`{col.name}`",
                kinds[col.kind],
                "yes" if col.required else "no",
                "yes" if col.nullable else "no",
                "; ".join(allowed) or "—",
                _cell(col.description) or "—",
            )
            out.append("| " + " | ".join(cells) + " |")
    return out


def _rules() -> list[str]:
    from salesreports.data.schema import RULES

    out = ["| rule | default | can be changed | what it checks |", "| --- | --- | --- | --- |"]
    for rule in RULES.values():
        out.append(
            f"| `{rule.name}` | {rule.severity} | {'yes' if rule.adjustable else 'no'} | {_cell(rule.description)} |"
        )
    return out


def mapping_reference() -> str:
    """The text of ``docs/mapping.md``, from the models of source files and settings.

    Returns
    -------
    str
        Markdown; the same models give the same text (no dates, no paths of this machine).

    Raises
    ------
    ValueError
        A model field has no description.
    """
    from salesreports.data.mapping import DistinctFrom, Join, SourceSpec, TableSpec
    from salesreports.params import Config

    out = [
        "# Mapping reference: source files and settings",
        "",
        "<!-- Generated by `salesreports mapping-docs` (`make docs`) from the models in src/salesreports/data/"
        "mapping.py, data/schema.py and params.py. Do not edit: edit the models' descriptions and run it again. "
        "tests/test_reference.py fails when this page is out of date. -->",
        "",
        "A **source file** (`params/sources/<name>.yaml`) says where each table of your CRM data lives and how "
        "its columns map onto the canonical tables. `salesreports init DIR --from-export EXPORTS` writes one for "
        "you from your export files; `salesreports validate --source FILE` checks it and lists every problem "
        "with its file and line. The **settings file** (`config.yaml`) names the source file and everything "
        "else a run needs.",
        "",
        "Contents: [an example](#an-example) · [source file keys](#source-file-keys) · "
        "[table keys](#table-keys-tablestable) · [the canonical tables](#the-canonical-tables) · "
        "[data rules](#data-rules) · [optional dates](#optional-dates) · "
        "[the settings file](#the-settings-file-configyaml)",
        "",
        "## An example",
        "",
        "```yaml",
        EXAMPLE.rstrip("\n"),
        "```",
        "",
        "## Source file keys",
        "",
        *_key_table(SourceSpec),
        "",
        "## Table keys (`tables.<table>`)",
        "",
        "Each table is read from one place (`file`, `distinct_from`, `table` or `query`); its columns are "
        "renamed (`columns`), computed (`derive`, which may use `join` aggregates), completed (`defaults`), "
        "translated (`values`) and read as dates (`date_format`, `dates`); `where` filters the export's rows "
        "(by the export's own column names). A column the mapping does not name keeps its name: an export "
        "whose columns already have canonical names needs no `columns`.",
        "",
        *_key_table(TableSpec, order=_TABLE_ORDER),
        "",
        "### `join` entries (`tables.<table>.join[]`)",
        "",
        "They also take `encoding`, `delimiter`, `ragged` and `sheet`, as a table does.",
        "",
        *_key_table(Join, order=("file", "on", "aggregate")),
        "",
        "### `distinct_from` (`tables.<table>.distinct_from`)",
        "",
        "It also takes `encoding`, `delimiter`, `ragged` and `sheet`, as a table does.",
        "",
        *_key_table(DistinctFrom, order=("file", "column")),
        "",
        "## The canonical tables",
        "",
        "What the reports read. *Must be mapped*: the column must come from the export, `columns`, `derive` or "
        "`defaults`. *May be empty*: rows without a value are allowed. A table may be missing altogether: the "
        'KPIs and page sections that need it are left out and named once in a "Not in your data" note, never '
        "shown as zero (`salesreports kpis` lists what each KPI needs).",
        *_canonical(),
        "",
        "## Data rules",
        "",
        "Every check of `salesreports validate` has a name. Errors stop a report run; warnings are shown and the "
        "run goes on. A source file may change a rule's severity with `severity: {rule: warning}`.",
        "",
        *_rules(),
        "",
        "## Optional dates",
        "",
        _optional_dates().rstrip("\n"),
        "",
        "## The settings file (`config.yaml`)",
        "",
        "Relative paths are relative to the settings file's folder. Merge order (later wins): these defaults < "
        "the file < environment variables `SALESREPORTS_<SECTION>__<KEY>` (e.g. `SALESREPORTS_RUN__WORKERS=4`) "
        "< command-line flags. Unknown keys are errors.",
        "",
        *_key_table(Config),
    ]
    for name, section in _sections(Config):
        out += ["", f"### `{name}:` {section.__doc__.strip().splitlines()[0] if section.__doc__ else ''}", ""]
        out += _key_table(section, prefix=f"{name}.")
    return "\n".join(out) + "\n"
