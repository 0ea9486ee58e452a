from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from salesreports.errors import TemplateError
from salesreports.run.notebooks import check_template, execute_defaults, scaffold

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["rep_scorecard.ipynb", "team_summary.ipynb"])
def test_shipped_templates_pass_the_static_checks(name: str) -> None:
    assert check_template(ROOT / "reports" / name) == []


def edit(tmp_path: Path, change: str) -> Path:
    nb = nbformat.read(str(ROOT / "reports" / "rep_scorecard.ipynb"), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    if change == "untagged":
        params.metadata["tags"] = []
    elif change == "outputs":
        nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="R1 revenue 4000")]
        nb.cells[-1].execution_count = 3
    elif change == "uncommented":
        params.source = params.source.replace("  # the rep, as in the reps table", "")
    elif change == "computed":
        params.source += "\nyear = int(period[:4])  # derived"
    elif change == "missing":
        params.source = params.source.replace("context = ", "ctx = ")
    elif change == "syntax":
        nb.cells.append(nbformat.v4.new_code_cell("view.tiles("))
    path = tmp_path / f"{change}.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("untagged", "no code cell is tagged 'parameters'"),
        ("outputs", "carry outputs"),
        ("uncommented", "parameter 'rep_id' has no comment"),
        ("computed", "parameter 'year' has a default that is not a literal"),
        ("missing", "lacks context"),
        ("syntax", "syntax error"),
    ],
)
def test_broken_templates_are_named(tmp_path: Path, change: str, message: str) -> None:
    findings = check_template(edit(tmp_path, change))
    assert any(message in str(f) for f in findings), findings
    assert all("Fix:" in str(f) for f in findings)


def test_unreadable_template(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(TemplateError, match="not a readable notebook"):
        check_template(bad)
    with pytest.raises(TemplateError, match="not found"):
        check_template(tmp_path / "missing.ipynb")


@pytest.mark.parametrize("kind", ["rep", "team"])
def test_scaffold_passes_the_checks(tmp_path: Path, kind: str) -> None:
    path = scaffold("quarterly_review", tmp_path, kind=kind)
    assert check_template(path) == []
    with pytest.raises(TemplateError, match="already exists"):
        scaffold("quarterly_review", tmp_path, kind=kind)


@pytest.mark.parametrize("name", ["../x", "a b", ""])
def test_scaffold_refuses_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(TemplateError, match="not a template name"):
        scaffold(name, tmp_path)


@pytest.mark.notebooks
def test_execute_defaults_names_the_failing_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1  # a number")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = x / 0")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(TemplateError, match=r"cell \[2\] fails with its default parameters \(ZeroDivisionError\)"):
        execute_defaults(path, tmp_path / "out.ipynb")


def test_cells_are_named_as_jupyterlab_shows_them_and_the_scaffold_title_appears_once(tmp_path: Path) -> None:
    import nbformat

    path = scaffold("quarterly_review", tmp_path)
    nb = nbformat.read(str(path), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert text.count("Quarterly review") == 1, text
    assert nb.metadata["kernelspec"]["name"] == "salesreports"
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    nb.cells.append(nbformat.v4.new_code_cell("x = (\n"))
    nbformat.write(nb, str(path))
    found = [str(f) for f in check_template(path)]
    assert any("cell(s) carry outputs or execution counts: cell 4 (`from salesreports.report.views" in f for f in found)
    assert any(f"cell {len(nb.cells)} (`x = (`) has a syntax error at line" in f for f in found), found
