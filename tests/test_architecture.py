"""The executable half of docs/architecture.md: import rules between modules, and the public API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import salesreports

PACKAGE = Path(salesreports.__file__).parent
COMPUTING = {
    "schema",
    "readers",
    "mapping",
    "data",
    "validate",
    "kpis",
    "engine",
    "benchmarks",
    "goals",
    "coaching",
    "periods",
}
PRESENTATION_AND_DELIVERY = {
    "render",
    "display",
    "charts",
    "views",
    "index",
    "mail",
    "ledger",
    "delivery",
    "batch",
    "executors",
    "nbengine",
    "distributed",
    "theme",
}
PRESENTATION = {"display", "charts", "theme", "render", "index"}
DATA_AND_ENGINE = {"readers", "mapping", "data", "validate", "engine", "benchmarks", "goals", "coaching"}


def imports(module: Path, top_level_only: bool = False) -> set[str]:
    """salesreports modules imported by a file (function-level imports included unless top_level_only)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("salesreports"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "salesreports" and len(parts) > 1:
                    found.add(parts[1])
    return found


MODULES = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nothing_imports_cli(name: str) -> None:
    if name in ("cli",):
        return
    assert "cli" not in imports(MODULES[name])


@pytest.mark.parametrize("name", sorted(COMPUTING & set(MODULES)))
def test_computing_never_imports_presentation_or_delivery(name: str) -> None:
    assert not imports(MODULES[name]) & PRESENTATION_AND_DELIVERY


@pytest.mark.parametrize("name", sorted(PRESENTATION & set(MODULES)))
def test_presentation_never_imports_data_or_engine(name: str) -> None:
    assert not imports(MODULES[name]) & DATA_AND_ENGINE


def test_views_read_contexts_not_data() -> None:
    assert not imports(MODULES["views"], top_level_only=True) & {"data", "readers", "engine"}


def test_contexts_know_nothing_of_data() -> None:
    """What a notebook reads is a file format, not a door to the data set."""
    assert imports(MODULES["contexts"]) <= {"errors", "paths"}


def test_errors_is_a_leaf() -> None:
    assert imports(MODULES["errors"]) == set()


def test_every_module_is_on_the_map() -> None:
    text = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [m for m in MODULES if f"`{m}`" not in text]
    assert missing == []


def test_public_api() -> None:
    assert sorted(salesreports.__all__) == salesreports.__all__
    for name in salesreports.__all__:
        assert getattr(salesreports, name) is not None
    with pytest.raises(AttributeError):
        _ = salesreports.nope  # type: ignore[attr-defined]
