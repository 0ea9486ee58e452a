"""The KPI registry: load, check and look up the declarations in ``kpis.yaml``.

Each KPI is declared once (name, label, definition, type, inputs, format,
direction, the tables it needs). :func:`registry` parses the file into frozen
:class:`Kpi` objects, keeping each entry's file and line, and reports every
problem at once. Formulas are small arithmetic expressions over the base
measures of :mod:`salesreports.metrics.measures`, parsed here without ``eval``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from salesreports.errors import ConfigError, UnknownKpiError, close_matches
from salesreports.i18n import N_
from salesreports.metrics.formats import DEFAULT as DEFAULT_FORMATS
from salesreports.metrics.formats import Formatter, formatter

__all__ = [
    "DEFAULT_FORMATS",
    "Expr",
    "Formatter",
    "Kpi",
    "Registry",
    "as_formatter",
    "format_value",
    "formatter",
    "get",
    "kpi_file",
    "registry",
]

KPI_FILE = Path(__file__).with_name("kpis.yaml")
# why a KPI has no value when its entry names no reason (``when_zero``): stored in English, shown by retranslate
NOT_ENOUGH_DATA = N_("not enough data")
KPI_FILE_ENV = "SALESREPORTS_KPI_FILE"
FORMATS = ("currency", "percent", "count", "days", "per_week", "ratio")
TYPES = ("simple", "ratio", "cohort")

Format = Literal["currency", "percent", "count", "days", "per_week", "ratio"]


@dataclass(frozen=True)
class Expr:
    """A parsed arithmetic expression over measure names (+, -, *, /, parentheses, numbers)."""

    text: str
    tree: ast.expr = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: object) -> Expr:
        """Parse ``text``; raises ``ValueError`` for anything but plain arithmetic."""
        if isinstance(text, bool) or not isinstance(text, (str, int, float)) or not str(text).strip():
            raise ValueError(f"{text!r} is not an arithmetic expression over measure names")
        try:
            node = ast.parse(str(text), mode="eval").body
        except SyntaxError as exc:
            raise ValueError(f"'{text}' is not an arithmetic expression ({exc.msg})") from None
        for sub in ast.walk(node):
            if not isinstance(
                sub,
                (
                    ast.BinOp,
                    ast.Name,
                    ast.Constant,
                    ast.Load,
                    ast.UnaryOp,
                    ast.USub,
                    ast.Add,
                    ast.Sub,
                    ast.Mult,
                    ast.Div,
                ),
            ):
                raise ValueError(f"'{text}' may only use measure names, numbers and + - * / ( )")
            number = isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float))
            if isinstance(sub, ast.Constant) and (isinstance(sub.value, bool) or not number):
                raise ValueError(f"'{text}': only numbers may appear as constants")
        return cls(str(text), node)

    @property
    def names(self) -> frozenset[str]:
        """The measure names the expression reads."""
        return frozenset(n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name))

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate with ``values`` (numbers or numpy arrays) bound to the names."""
        return _eval(self.tree, values)


def _eval(node: ast.expr, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return -_eval(node.operand, values)
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        return a / b
    raise TypeError(node)  # pragma: no cover - Expr.parse rejects other nodes


@dataclass(frozen=True)
class Kpi:
    """One KPI declaration."""

    name: str
    label: str
    description: str
    type: str
    format: Format
    higher_is_better: bool
    needs: tuple[str, ...]
    measure: str = ""
    numerator: Expr | None = None
    denominator: Expr | None = None
    function: str = ""
    when_zero: str = NOT_ENOUGH_DATA
    positive_denominator: bool = False
    target: str = ""
    headline: bool = False
    tile_grain: str = "month"
    tile_note: str = ""
    file: str = ""
    line: int = 0

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables this KPI needs."""
        return tuple(n for n in self.needs if "." not in n)

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """Optional (table, column) pairs this KPI needs."""
        return tuple(tuple(n.split(".", 1)) for n in self.needs if "." in n)  # type: ignore[misc]

    @property
    def inputs(self) -> frozenset[str]:
        """The base measures this KPI reads."""
        if self.type == "simple":
            return frozenset({self.measure})
        if self.type == "ratio":
            assert self.numerator is not None
            assert self.denominator is not None
            return self.numerator.names | self.denominator.names
        return frozenset()

    def shown_grain(self, period_grain: str = "month") -> str:
        """The grain of this KPI's tile on a page of a period whose figures have ``period_grain``
        (:attr:`Period.kpi_grain <salesreports.metrics.periods.Period.kpi_grain>`): a monthly page shows
        :attr:`tile_grain`, a quarter's or year's page every KPI over the whole quarter or year."""
        return self.tile_grain if period_grain == "month" else period_grain

    def shown_note(self, period_grain: str = "month") -> str:
        """:attr:`tile_note` when the tile shows :attr:`tile_grain` (the note describes that span), else ""."""
        return self.tile_note if self.shown_grain(period_grain) == self.tile_grain else ""

    def format_value(self, value: float | None, currency: str | Formatter = "$") -> str:
        """Format a value for people: ``$12,345``, ``34.5%``, ``12``, ``45 days`` (``12.345 €`` with a German
        :class:`~salesreports.metrics.formats.Formatter`)."""
        return format_value(value, self.format, currency)

    def is_better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is better than ``b`` for this KPI."""
        return a > b if self.higher_is_better else a < b

    def in_bottom_quarter(self, value: float, p25: float, median: float, p75: float) -> bool:
        """Whether ``value`` is in the team's bottom quarter on this KPI: at or past its worse quartile and worse
        than its median (ties at $0 included), the one rule of a rep's page and the team's "needing attention"."""
        if self.higher_is_better:
            return value <= p25 and value < median
        return value >= p75 and value > median


def format_value(value: float | None, fmt: str, currency: str | Formatter = "$") -> str:
    """Format a number by a KPI format; missing values read "not available".

    ``currency`` is a :class:`~salesreports.metrics.formats.Formatter` (a locale and currency), or, as before
    locales, a currency symbol or code written in US English (``"$"``, ``"€"``, ``"EUR"``).
    """
    return as_formatter(currency).value(value, fmt)


def as_formatter(currency: str | Formatter) -> Formatter:
    """A formatter as given, or the en_US one of a currency symbol or code (the callers from before locales)."""
    if isinstance(currency, Formatter):
        return currency
    return formatter(None, currency)


class Registry:
    """All KPIs, by name, in declaration order."""

    def __init__(self, kpis: list[Kpi]) -> None:
        self._kpis = {k.name: k for k in kpis}

    def __iter__(self) -> Iterator[Kpi]:
        return iter(self._kpis.values())

    def __len__(self) -> int:
        return len(self._kpis)

    def __contains__(self, name: object) -> bool:
        return name in self._kpis

    def names(self) -> list[str]:
        """KPI names in declaration order."""
        return list(self._kpis)

    def get(self, name: str) -> Kpi:
        """The KPI called ``name``.

        Raises
        ------
        UnknownKpiError
            With close matches and the list of known names.
        """
        try:
            return self._kpis[name]
        except KeyError:
            hint = close_matches(name, self._kpis)
            msg = f"unknown KPI '{name}'.{hint} Known KPIs: {', '.join(self._kpis)} (see `salesreports kpis`)."
            raise UnknownKpiError(msg, kpi=name) from None

    def headline(self) -> list[Kpi]:
        """The KPIs shown as tiles at the top of a scorecard."""
        return [k for k in self if k.headline]


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that records each mapping's line as ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping  # type: ignore[return-value]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_KEYS = {
    "name", "label", "description", "type", "measure", "numerator", "denominator", "function", "when_zero",
    "positive_denominator", "format", "higher_is_better", "needs", "target", "headline", "tile_grain", "tile_note",
}  # fmt: skip
_REQUIRED = ("name", "label", "description", "type", "format", "higher_is_better")
_BY_TYPE = {"simple": ("measure",), "ratio": ("numerator", "denominator"), "cohort": ("function",)}
_BOOLS = ("higher_is_better", "positive_denominator", "headline")
_TEXTS = ("label", "description", "when_zero", "tile_note")
_TILE_GRAINS = ("month", "quarter", "ytd", "t12m")


def _covered(need: str, needs: Collection[str]) -> bool:
    """Whether a KPI's ``needs`` cover one need of a measure (a table is covered by any of its columns)."""
    return need in needs or ("." not in need and any(n.split(".", 1)[0] == need for n in needs))


def _check_entry(entry: dict[str, Any], where: str, name: str, tables: Collection[str]) -> list[str]:
    """Rules on the shape of one entry: keys, required fields, types of values."""
    problems = [
        f"{where}: unknown key '{key}'.{close_matches(key, _KEYS) or ' Known keys: ' + ', '.join(sorted(_KEYS))}"
        for key in entry
        if key not in _KEYS and key != "__line__"
    ]
    ktype = entry.get("type")
    missing = [k for k in _REQUIRED if k not in entry]
    missing += [k for k in _BY_TYPE.get(str(ktype), ()) if k not in entry]
    if missing:
        problems.append(f"{where}: '{name}' lacks {', '.join(missing)}")
    for key in sorted({k for keys in _BY_TYPE.values() for k in keys} - set(_BY_TYPE.get(str(ktype), ()))):
        if key in entry and ktype in TYPES:
            problems.append(f"{where}: '{name}' is of type {ktype} and may not have '{key}'")
    if ktype not in TYPES:
        problems.append(f"{where}: '{name}' has type {ktype!r}; use one of {', '.join(TYPES)}")
    if "format" in entry and entry["format"] not in FORMATS:
        problems.append(f"{where}: '{name}' has format {entry['format']!r}; use one of {', '.join(FORMATS)}")
    for key in _BOOLS:
        if key in entry and not isinstance(entry[key], bool):
            problems.append(f"{where}: '{name}': {key} must be true or false, not {entry[key]!r}")
    for key in _TEXTS:
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            problems.append(f"{where}: '{name}': {key} must be a non-empty text")
    needs = entry.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        problems.append(f"{where}: '{name}': needs must be a list of tables or table.column names")
    else:
        for need in needs:
            if need.split(".", 1)[0] not in tables:
                problems.append(f"{where}: '{name}' needs unknown table '{need}'.{close_matches(need, tables)}")
    if entry.get("target", "") not in ("", "sum", "mean"):
        problems.append(f"{where}: '{name}' has target {entry.get('target')!r}; use sum or mean")
    return problems


def parse(
    path: Path,
    measures: Mapping[str, Sequence[str]],
    functions: Mapping[str, Sequence[str]],
    tables: Collection[str],
) -> Registry:
    """Parse and check a KPI file, reporting every problem at once.

    Parameters
    ----------
    path : the YAML file
    measures : base measure name -> the tables and ``table.column`` entries it needs
    functions : cohort function name -> the tables and ``table.column`` entries it needs
    tables : the canonical table names

    Returns
    -------
    Registry

    Raises
    ------
    ConfigError
        Listing each problem with the file and line of the entry: unknown keys, missing or
        mistyped fields, unknown types, formats, tables, measures or functions, duplicate
        names, expressions that are not plain arithmetic, inputs whose tables are not declared.
    """
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the KPI file ({exc.strerror})", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        where = f"{path}, line {line}" if line else str(path)
        what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p) or exc
        msg = f"{where}: invalid YAML ({what}). Fix: correct that line (indentation, a missing ':' or quote)."
        raise ConfigError(msg, file=str(path), line=line) from None
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        msg = f"{path}: expected a list of KPI entries (each starting with '- name: ...')"
        raise ConfigError(msg, file=str(path))
    problems: list[str] = []
    kpis: list[Kpi] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            problems.append(f"{path}: entry {number} is {entry!r}, not a mapping of keys (name, label, ...)")
            continue
        line = int(entry.get("__line__", 0))
        where = f"{path}:{line}"
        name = entry.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(f"{where}: entry without a valid name (a lower_case identifier): {name!r}")
            continue
        if name in seen:
            problems.append(f"{where}: KPI '{name}' is declared twice (first at line {seen[name]})")
        else:
            seen[name] = line
        problems.extend(_check_entry(entry, where, name, tables))
        ktype = str(entry.get("type"))
        num = den = None
        if ktype == "ratio":
            for key in ("numerator", "denominator"):
                try:
                    parsed = Expr.parse(entry.get(key, ""))
                except ValueError as exc:
                    problems.append(f"{where}: '{name}' {key}: {exc}")
                    continue
                if key == "numerator":
                    num = parsed
                else:
                    den = parsed
        needs = entry.get("needs", [])
        needs = tuple(needs) if isinstance(needs, list) else ()
        kpi = Kpi(
            name=name,
            label=str(entry.get("label", name)),
            description=str(entry.get("description", "")),
            type=ktype,
            format=entry.get("format", "ratio"),
            higher_is_better=bool(entry.get("higher_is_better", True)),
            needs=needs,
            measure=str(entry.get("measure", "")),
            numerator=num,
            denominator=den,
            function=str(entry.get("function", "")),
            when_zero=str(entry.get("when_zero", NOT_ENOUGH_DATA)),
            positive_denominator=bool(entry.get("positive_denominator", False)),
            target=str(entry.get("target", "")),
            headline=bool(entry.get("headline", False)),
            tile_grain=str(entry.get("tile_grain", "month")),
            tile_note=str(entry.get("tile_note", "")),
            file=str(path),
            line=line,
        )
        if kpi.tile_grain not in _TILE_GRAINS:
            problems.append(
                f"{where}: '{name}' has tile_grain {kpi.tile_grain!r}; use one of {', '.join(_TILE_GRAINS)}"
            )
        reads: dict[str, Sequence[str]] = {}
        if ktype == "cohort":
            if kpi.function not in functions:
                hint = close_matches(kpi.function, functions)
                problems.append(f"{where}: '{name}' uses unknown function '{kpi.function}'.{hint}")
            else:
                reads[f"function '{kpi.function}'"] = functions[kpi.function]
        if ktype in ("simple", "ratio"):
            names = kpi.inputs if ktype == "simple" or (num is not None and den is not None) else frozenset()
            for m in sorted(names):
                if m not in measures:
                    problems.append(f"{where}: '{name}' reads unknown measure '{m}'.{close_matches(m, measures)}")
                else:
                    reads[f"measure '{m}'"] = measures[m]
        for what, wanted in reads.items():
            lacking = [n for n in wanted if not _covered(n, needs)]
            if lacking:
                problems.append(
                    f"{where}: '{name}' reads {what}, which needs {', '.join(lacking)}: add "
                    f"{'it' if len(lacking) == 1 else 'them'} to needs"
                )
        kpis.append(kpi)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        msg = f"{path}: {len(problems)} problem(s) in the KPI declarations:\n{shown}"
        raise ConfigError(msg, file=str(path), problems=problems)
    return Registry(kpis)


def kpi_file() -> Path:
    """The KPI declarations in use: the package's ``kpis.yaml``, or the file that the environment variable
    ``SALESREPORTS_KPI_FILE`` names (to try declarations on a copy without touching the package; every
    process of a run, kernels included, inherits it)."""
    override = os.environ.get(KPI_FILE_ENV, "").strip()
    return Path(override).expanduser() if override else KPI_FILE


def registry() -> Registry:
    """The project's KPI registry, parsed again when its file changes (path, mtime and size).

    So a running Jupyter kernel sees a KPI added to the file without a restart.
    """
    path = kpi_file()
    try:
        info = path.stat()
        stamp = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = (0, 0)  # parse() reports the missing file
    return _registry(path, stamp)


@cache
def _registry(path: Path, stamp: tuple[int, int]) -> Registry:
    from salesreports.data.schema import TABLES
    from salesreports.metrics.measures import COHORTS, MEASURES

    measures = {name: m.needs for name, m in MEASURES.items()}
    functions = {name: c.needs for name, c in COHORTS.items()}
    return parse(path, measures, functions, frozenset(TABLES))


registry.cache_clear = _registry.cache_clear  # type: ignore[attr-defined]


def get(name: str) -> Kpi:
    """Look a KPI up by name in the project's registry."""
    return registry().get(name)
