"""The KPI registry: the project's declarations, and every validation rule (reported at once, with file:line)."""

from __future__ import annotations

import math
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest

from salesreports.data.schema import TABLES
from salesreports.errors import ConfigError, UnknownKpiError
from salesreports.metrics.kpis import FORMATS, KPI_FILE, Expr, format_value, get, parse, registry
from salesreports.metrics.measures import COHORTS, MEASURES

MEASURE_NEEDS = {name: m.needs for name, m in MEASURES.items()}
FUNCTION_NEEDS = {name: c.needs for name, c in COHORTS.items()}


def _parse(tmp_path: Path, text: str) -> object:
    path = tmp_path / "kpis.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return parse(path, MEASURE_NEEDS, FUNCTION_NEEDS, set(TABLES))


GOOD = """
- name: revenue
  label: Revenue
  description: Won amounts.
  type: simple
  measure: revenue
  format: currency
  higher_is_better: true
  needs: [deals, deals.amount]
"""


# ------------------------------------------------------------------------- the project's registry


def test_project_registry_loads() -> None:
    reg = registry()
    assert len(reg) == len(reg.names()) >= 19
    assert reg.names()[0] == "revenue"
    assert "win_rate" in reg
    assert registry() is reg  # parsed once


@pytest.mark.parametrize("kpi", registry(), ids=lambda k: k.name)
def test_every_declared_kpi_is_complete(kpi: object) -> None:
    from salesreports.metrics.kpis import Kpi

    assert isinstance(kpi, Kpi)
    assert kpi.label
    assert kpi.description.endswith(".")
    assert kpi.format in FORMATS
    assert kpi.file == str(KPI_FILE)
    assert kpi.line > 0
    assert set(kpi.tables) <= set(TABLES)
    if kpi.type == "ratio":
        assert kpi.numerator is not None
        assert kpi.denominator is not None
        assert kpi.when_zero != "not enough data", "a ratio says why it is not available"
    for name in kpi.inputs:
        for need in MEASURES[name].needs:
            assert need in kpi.needs or any(n.startswith(need + ".") for n in kpi.needs)


def test_headline_and_lookup() -> None:
    heads = [k.name for k in registry().headline()]
    assert heads[:2] == ["revenue", "quota_attainment"]
    assert get("win_rate").label == "Win rate"
    assert get("win_rate").tables == ("deals",)
    assert get("profit_margin").columns == (("deals", "amount"), ("deals", "cost"))
    assert get("sales_cycle_days").is_better(20, 30)
    assert get("revenue").is_better(2, 1)


def test_unknown_kpi_suggests_close_matches() -> None:
    with pytest.raises(UnknownKpiError) as info:
        get("win_rte")
    assert "Did you mean 'win_rate'" in str(info.value)
    assert info.value.kpi == "win_rte"
    assert "Known KPIs: revenue" in str(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (12345.4, "currency", "$12,345"),
        (-5.0, "currency", "-$5"),
        (12_500_000, "currency", "$12.5M"),
        (0.3456, "percent", "34.6%"),
        (1234, "count", "1,234"),
        (1, "days", "1 day"),
        (45.2, "days", "45 days"),
        (2.04, "per_week", "2.0/wk"),
        (3.5, "ratio", "3.50×"),
        (None, "percent", "not available"),
        (float("nan"), "currency", "not available"),
    ],
)
def test_format_value(value: float | None, fmt: str, text: str) -> None:
    assert format_value(value, fmt) == text


def test_kpi_format_value_uses_currency() -> None:
    assert get("revenue").format_value(1500, currency="€") == "€1,500"


# ------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "revenue ** 2",
        "revenue // 2",
        "revenue % 2",
        "revenue.real",
        "lambda: 1",
        "[revenue]",
        "revenue if deals_won else 0",
        "'text'",
        "True",
        "",
        "   ",
        "revenue +",
        "a = 1",
    ],
)
def test_expression_refuses_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(ValueError, match=r"arithmetic|measure names|numbers"):
        Expr.parse(text)


@pytest.mark.parametrize("value", [None, True, ["revenue"], {"a": 1}])
def test_expression_refuses_non_text(value: object) -> None:
    with pytest.raises(ValueError, match="not an arithmetic expression"):
        Expr.parse(value)


def test_expression_evaluates_on_arrays() -> None:
    e = Expr.parse("(meetings + demos) * 7 - -1 / 2")
    assert e.names == {"meetings", "demos"}
    out = e.evaluate({"meetings": np.array([1.0, 2.0]), "demos": np.array([0.0, 1.0])})
    assert out.tolist() == [7.5, 21.5]
    assert Expr.parse(5).evaluate({}) == 5


# ------------------------------------------------------------------------- validation rules


def test_minimal_file_parses(tmp_path: Path) -> None:
    reg = _parse(tmp_path, GOOD)
    assert [k.name for k in reg] == ["revenue"]  # type: ignore[attr-defined]


def test_every_problem_is_reported_at_once_with_file_and_line(tmp_path: Path) -> None:
    text = GOOD + textwrap.dedent(
        """
        - name: revenue
          label: Revenue again
          description: Duplicate.
          type: simple
          measure: revenue
          format: currency
          higher_is_better: true
          needs: [deals, deals.amount]

        - name: bad_measure
          label: Bad
          description: Unknown measure.
          type: simple
          measure: revenu
          format: currency
          higher_is_better: true
          needs: [deals]

        - name: bad_function
          label: Bad
          description: Unknown function.
          type: cohort
          function: retension
          format: percent
          higher_is_better: true
          needs: [deals]

        - name: bad_table
          label: Bad
          description: Unknown table.
          type: simple
          measure: deals_won
          format: count
          higher_is_better: true
          needs: [deal]

        - name: bad_format
          label: Bad
          description: Bad format and type.
          type: fancy
          format: money
          higher_is_better: true
          needs: [deals]

        - name: evil
          label: Evil
          description: Not arithmetic.
          type: ratio
          numerator: __import__('os')
          denominator: revenue ** 2
          format: percent
          higher_is_better: true
          needs: [deals, deals.amount]

        - name: undeclared
          label: Undeclared
          description: Reads cost without declaring it.
          type: ratio
          numerator: cost_won
          denominator: revenue
          format: percent
          higher_is_better: maybe
          needs: [deals]
          colour: red
          target: median
        """
    )
    with pytest.raises(ConfigError) as info:
        _parse(tmp_path, text)
    err = info.value
    msg = str(err)
    path = str(tmp_path / "kpis.yaml")
    problems = err.problems
    expected = [
        (10, "KPI 'revenue' is declared twice (first at line 1)"),
        (19, "reads unknown measure 'revenu'. Did you mean 'revenue'"),
        (28, "uses unknown function 'retension'. Did you mean 'retention'"),
        (37, "needs unknown table 'deal'. Did you mean 'deals'"),
        (46, "has type 'fancy'"),
        (46, "has format 'money'"),
        (54, "numerator: '__import__('os')' may only use measure names"),
        (54, "denominator: 'revenue ** 2' may only use measure names"),
        (37, "reads measure 'deals_won', which needs deals: add it to needs"),
        (64, "unknown key 'colour'. Known keys: denominator, description"),
        (64, "higher_is_better must be true or false"),
        (64, "has target 'median'"),
        (64, "reads measure 'cost_won', which needs deals.amount, deals.cost: add them to needs"),
        (64, "reads measure 'revenue', which needs deals.amount: add it to needs"),
    ]
    for line, text_part in expected:
        assert any(p.startswith(f"{path}:{line}: ") and text_part in p for p in problems), (line, text_part, problems)
    assert f"{len(problems)} problem(s)" in msg
    assert len(problems) == len(expected)
    assert all(f"  - {p}" in msg for p in problems)
    assert err.file == path


def test_missing_keys_and_keys_of_another_type(tmp_path: Path) -> None:
    text = """
    - name: a
      type: ratio
      measure: revenue
      numerator: revenue
      format: percent
      label: ''
      needs: deals
    - name: 3
    - just a string
    """
    with pytest.raises(ConfigError) as info:
        _parse(tmp_path, text)
    msg = str(info.value)
    assert ":1: 'a' lacks description, higher_is_better, denominator" in msg
    assert "'a' is of type ratio and may not have 'measure'" in msg
    assert "'a': label must be a non-empty text" in msg
    assert "'a': needs must be a list" in msg
    assert ":8: entry without a valid name" in msg
    assert "entry 3 is 'just a string', not a mapping" in msg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1\n", "invalid YAML"),
        ("name: revenue\n", "expected a list of KPI entries"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(tmp_path, text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the KPI file"):
        parse(tmp_path / "nope.yaml", MEASURE_NEEDS, FUNCTION_NEEDS, set(TABLES))


def test_empty_file_is_an_empty_registry(tmp_path: Path) -> None:
    reg = _parse(tmp_path, "# nothing yet\n")
    assert len(reg) == 0  # type: ignore[arg-type]


def test_registry_values_are_nan_safe() -> None:
    assert math.isnan(float("nan"))
    assert format_value(np.float64("nan"), "count") == "not available"


def test_a_yaml_mistake_names_the_file_and_line(tmp_path: Path) -> None:
    from salesreports.metrics import kpis as kpis_module

    path = tmp_path / "kpis.yaml"
    path.write_text("# KPIs\n- name: a\n  label: A\n  type simple\n  format: count\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        kpis_module.parse(path, {}, {}, frozenset())
    assert str(caught.value).startswith(f"{path}, line 5: invalid YAML"), str(caught.value)
    assert caught.value.fields["line"] == 5 and "Fix:" in str(caught.value)


def test_the_registry_follows_edits_of_kpis_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A running kernel sees a KPI added to kpis.yaml without a restart (the file is parsed again on change)."""
    import os

    from salesreports.metrics import kpis as kpis_module

    path = tmp_path / "kpis.yaml"
    original = kpis_module.KPI_FILE.read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    monkeypatch.setattr(kpis_module, "KPI_FILE", path)
    before = kpis_module.registry()
    assert kpis_module.registry() is before, "parsed once while the file does not change"
    with pytest.raises(UnknownKpiError):
        kpis_module.get("demos_per_week")
    path.write_text(original + textwrap.dedent(DEMOS_PER_WEEK), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert kpis_module.get("demos_per_week").label == "Demos per week"


DEMOS_PER_WEEK = """\
    - name: demos_per_week
      label: Demos per week
      description: Demos logged in the period per week the rep was employed.
      type: ratio
      numerator: demos * 7
      denominator: active_days
      when_zero: the rep was not employed in the period
      format: per_week
      higher_is_better: true
      needs: [activities]
"""
