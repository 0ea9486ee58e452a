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


# Modules by their leaf name (the layer subpackages keep leaf names unique); two leaves were renamed by the move.
_RENAMED = {"data.loading": "data"}


def _leaf(dotted: str) -> str:
    return _RENAMED.get(dotted, dotted.rpartition(".")[2])


def imports(module: Path, top_level_only: bool = False) -> set[str]:
    """salesreports modules imported by a file, by leaf name (function-level imports included unless top_level_only)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("salesreports"):
            rest = node.module.partition(".")[2]
            if rest and ("." in rest or rest not in SUBPACKAGES):
                found.add(_leaf(rest))
            else:
                found.update(_leaf(f"{rest}.{a.name}" if rest else a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                rest = alias.name.partition(".")[2]
                if alias.name.startswith("salesreports.") and rest:
                    found.add(_leaf(rest))
    return found


SUBPACKAGES = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file() and p.name != "bench"}
MODULES = {
    _leaf(".".join(p.relative_to(PACKAGE).with_suffix("").parts)): p
    for p in PACKAGE.rglob("*.py")
    if p.stem != "__init__" and "bench" not in p.relative_to(PACKAGE).parts
}


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
