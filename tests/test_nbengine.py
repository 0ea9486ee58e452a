"""The in-process papermill engine: outputs as a kernel would give them, errors, one write, the prepared shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest

from salesreports.run import nbengine
from salesreports.run.nbengine import ENGINE_NAME, execute_cells

v4: Any = nbformat.v4


def notebook(*sources: str, parameters: str = 'name = "x"') -> Any:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [v4.new_markdown_cell("# test"), cell, *(v4.new_code_cell(s) for s in sources)]
    return nb


def write(tmp_path: Path, nb: Any, name: str = "in.ipynb") -> Path:
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_outputs_are_captured_like_a_kernel(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        notebook(
            'print("out", name)',
            'import sys\nprint("err", file=sys.stderr)',
            "from IPython.display import HTML, display\ndisplay(HTML('<b>shown</b>'))",
            "40 + 2",
            "x = 1",
        ),
    )
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(source), str(out), parameters={"name": "Ann"}, engine_name=ENGINE_NAME, progress_bar=False)
    nb = nbformat.read(str(out), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # papermill injected a parameters cell after the defaults
    assert "injected-parameters" in code[1].metadata.tags
    assert code[2].outputs[0] == {"output_type": "stream", "name": "stdout", "text": "out Ann\n"}
    assert code[3].outputs[0]["name"] == "stderr"
    assert code[4].outputs[0]["output_type"] == "display_data"
    assert code[4].outputs[0]["data"]["text/html"] == "<b>shown</b>"
    assert code[5].outputs[0]["output_type"] == "execute_result"
    assert code[5].outputs[0]["data"]["text/plain"] == "42"
    assert code[6].outputs == []
    assert [c.execution_count for c in code] == [1, 2, 3, 4, 5, 6, 7]
    nbformat.validate(nb)


def test_an_error_stops_the_notebook_and_is_marked(tmp_path: Path) -> None:
    source = write(tmp_path, notebook("a = 1", 'raise ValueError("planted")', "b = 2"))
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(source), str(out), engine_name=ENGINE_NAME, progress_bar=False)
    assert info.value.ename == "ValueError" and info.value.evalue == "planted"
    nb = nbformat.read(str(out), as_version=4)
    failing = next(c for c in nb.cells if c.cell_type == "code" and "planted" in c.source)
    assert failing.metadata.papermill.status == "failed"
    assert failing.outputs[-1]["output_type"] == "error"
    assert nb.cells[-1].execution_count is None, "cells after the error do not run"
    assert any("An Exception was encountered" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_syntax_errors_are_errors(tmp_path: Path) -> None:
    nb = notebook("def broken(:")
    assert execute_cells(nb) is False
    assert nb.cells[-1].outputs[-1]["ename"] == "SyntaxError"


def test_the_notebook_is_written_once_and_stamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill.engines
    import papermill.execute

    writes: list[str] = []
    real = papermill.engines.write_ipynb

    def counting(nb: Any, path: str) -> None:
        writes.append(path)
        real(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counting)
    monkeypatch.setattr(papermill.execute, "write_ipynb", counting)
    source = write(tmp_path, notebook("a = 1", "b = 2", "c = 3"))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(source),
        str(out),
        engine_name=ENGINE_NAME,
        progress_bar=False,
        metadata={"salesreports": {"title": "Stamped"}},
    )
    # papermill writes at notebook start and end (and its final write); never per cell
    assert len(writes) <= 3
    assert nbformat.read(str(out), as_version=4).metadata.salesreports.title == "Stamped"


def test_prepare_hands_a_warm_unused_shell_to_the_next_notebook() -> None:
    nbengine.prepare()
    prepared = nbengine._PREPARED
    assert prepared is not None
    nb = notebook("import sys\nshell = get_ipython()\nfrom IPython.display import display\ndisplay(id(shell))")
    assert execute_cells(nb)
    assert nbengine._PREPARED is None, "the prepared shell is used once"
    assert nb.cells[-1].outputs[0]["data"]["text/plain"] == str(id(prepared))
    # the next notebook gets a new shell: nothing of the first one's namespace
    nb2 = notebook('assert "shell" not in globals()')
    assert execute_cells(nb2)


def test_hooks_are_called_in_order() -> None:
    calls: list[tuple[str, int]] = []
    nb = notebook("a = 1", "raise KeyError('k')", "b = 2")
    ok = execute_cells(
        nb,
        on_start=lambda c, i: calls.append(("start", i)),
        on_error=lambda c, i: calls.append(("error", i)),
        on_complete=lambda c, i: calls.append(("complete", i)),
    )
    assert not ok
    assert calls == [
        ("start", 1),
        ("complete", 1),
        ("start", 2),
        ("complete", 2),
        ("start", 3),
        ("error", 3),
        ("complete", 3),
    ]
