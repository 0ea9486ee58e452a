"""The executable half of docs/architecture.md: the layer subpackages, their import rules, and the public API."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import salesreports

PACKAGE = Path(salesreports.__file__).parent
ROOT = PACKAGE.parents[1]
LAYERS = ("data", "metrics", "report", "run", "mail")  # bottom to top
TOP_LEVEL = {
    "bench",
    "catalogs",
    "cli",
    "errors",
    "guard",
    "i18n",
    "lazy",
    "params",
    "paths",
    "progress",
    "text",
    "views",
    "yamlio",
}
# Presentation formats what a context holds: it may read the KPI registry and period labels, never compute.
PRESENTATION = {"report.views", "report.display", "report.charts", "report.theme", "report.vega", "report.render"}
PRESENTATION |= {"report.index", "report.contexts", "report.redact"}
METRICS_DECLARATIONS = {"metrics.kpis", "metrics.measures", "metrics.periods"}


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_dotted(p): p for p in sorted(PACKAGE.rglob("*.py"))}  # "" is the package itself


def imports(name: str, top_level_only: bool = False) -> set[str]:
    """The package's modules a module imports ("data.loading"; "" for ``salesreports`` itself).

    ``from salesreports.x import y`` counts as ``x.y`` when ``y`` is a module, else as ``x``. Imports inside
    functions count too unless ``top_level_only``.
    """
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "salesreports":
            base = node.module.partition(".")[2]
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                found.add(full if full in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "salesreports")
    return found


def layer(name: str) -> str:
    """The layer subpackage a module belongs to, or its own name at the top level."""
    return name.split(".")[0]


def test_the_package_is_its_layers_and_a_few_top_level_modules() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert top | (packages - set(LAYERS)) == TOP_LEVEL
    assert set(LAYERS) <= packages


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nothing_imports_cli_or_bench(name: str) -> None:
    if layer(name) in ("cli", "bench"):
        return
    assert not {i for i in imports(name) if layer(i) in ("cli", "bench")}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) in LAYERS))
def test_a_layer_imports_only_layers_below_it(name: str) -> None:
    """data < metrics < report < run < mail; the data layer's one exception is the KPI registry (validate
    checks target metrics against the declared KPI names)."""
    rank = LAYERS.index(layer(name))
    above = {i for i in imports(name) if layer(i) in LAYERS and LAYERS.index(layer(i)) > rank}
    if layer(name) == "data":
        above -= {"metrics.kpis"}
    assert above == set()


def test_data_reads_only_the_registry_of_metrics() -> None:
    uses = {i for n in MODULES if layer(n) == "data" for i in imports(n) if layer(i) == "metrics"}
    assert uses <= {"metrics.kpis"}
    assert "data.validate" in {n for n in MODULES if "metrics.kpis" in imports(n) and layer(n) == "data"}


@pytest.mark.parametrize("name", sorted(PRESENTATION))
def test_presentation_never_imports_data_or_computation(name: str) -> None:
    for imported in imports(name):
        assert layer(imported) not in ("data", "run", "mail"), imported
        if layer(imported) == "metrics":
            assert imported in METRICS_DECLARATIONS, imported
        if layer(imported) == "report":
            assert imported in PRESENTATION or imported == "report.vega", imported


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if layer(n) in TOP_LEVEL - {"cli", "bench", "catalogs", "views"})
)
def test_top_level_infrastructure_imports_no_layer(name: str) -> None:
    """errors, lazy, params, paths, progress, text and yamlio serve every layer: they import none."""
    assert not {i for i in imports(name) if layer(i) in LAYERS}


def test_mail_never_reads_the_data_set() -> None:
    for name in (n for n in MODULES if layer(n) == "mail"):
        assert not {i for i in imports(name) if layer(i) == "data" or i in ("metrics.engine", "report.scope")}, name


def test_views_read_contexts_not_data() -> None:
    assert not {i for i in imports("report.views", top_level_only=True) if layer(i) in ("data", "run", "mail")}


def test_contexts_know_nothing_of_data() -> None:
    """What a notebook reads is a file format, not a door to the data set (its text cleaned on the way in)."""
    assert imports("report.contexts") <= {"errors", "paths", "text"}


def test_errors_and_lazy_are_leaves() -> None:
    assert imports("errors") == set()
    assert imports("lazy") == set()


def _cycles() -> list[list[str]]:
    graph = {n: sorted(i for i in imports(n) if i in MODULES and i != n and i != "") for n in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    """Function-level imports count: a cycle hidden inside a function is still a cycle."""
    assert _cycles() == []


def test_the_cycle_check_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    real = imports

    def with_cycle(name: str, top_level_only: bool = False) -> set[str]:
        extra = {"report.render"} if name == "report.display" else set()
        return real(name, top_level_only) | extra

    monkeypatch.setitem(globals(), "imports", with_cycle)
    assert ["report.display", "report.render"] in _cycles()


def _map_section(heading: str) -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    match = re.search(rf"^### {re.escape(heading)}.*?(?=^##)", text + "\n##", re.M | re.S)
    assert match, f"docs/architecture.md has no section '### {heading}'"
    return match.group(0)


@pytest.mark.parametrize("subpackage", LAYERS)
def test_every_module_is_on_the_map(subpackage: str) -> None:
    section = _map_section(f"`salesreports.{subpackage}`")
    modules = [n.partition(".")[2] for n, path in MODULES.items() if layer(n) == subpackage and path.stem != "__init__"]
    assert modules
    assert [m for m in modules if f"`{m}`" not in section] == []


def test_top_level_modules_are_on_the_map() -> None:
    section = _map_section("Top level")
    assert [m for m in sorted(TOP_LEVEL) if f"`{m}`" not in section] == []


@pytest.mark.parametrize("subpackage", [*LAYERS, "metrics.goals", "data.demo"])
def test_each_subpackage_says_what_it_owns_and_exports_its_public_names(subpackage: str) -> None:
    module = importlib.import_module(f"salesreports.{subpackage}")
    assert module.__doc__ and len(module.__doc__.split()) > 15
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_importing_a_layer_loads_none_of_its_modules() -> None:
    """A report kernel imports salesreports.report.views: its parent packages must not load DuckDB or the engine."""
    code = (
        "import sys, salesreports.report.views\n"
        "heavy = [m for m in ('duckdb', 'salesreports.data.loading', 'salesreports.metrics.engine', 'weasyprint')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_template_import_path_keeps_working() -> None:
    from salesreports.report import views
    from salesreports.views import rep_view, team_view

    assert (rep_view, team_view) == (views.rep_view, views.team_view)
    for template in (ROOT / "reports").glob("*.ipynb"):
        assert "salesreports.report.views" in template.read_text(encoding="utf-8"), template.name


def test_public_api() -> None:
    assert sorted(salesreports.__all__) == salesreports.__all__
    for name in salesreports.__all__:
        assert getattr(salesreports, name) is not None
    with pytest.raises(AttributeError):
        _ = salesreports.nope  # type: ignore[attr-defined]
