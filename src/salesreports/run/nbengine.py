"""An in-process papermill engine: run a notebook's cells in *this* process with IPython.

papermill normally starts a Jupyter kernel per notebook (~1.5 s of start-up,
imports and shut-down before any cell runs). This engine runs the cells in an
``IPython.core.interactiveshell.InteractiveShell`` inside the calling process,
capturing display data, results, streams and errors as notebook outputs, just
as a kernel would. It gives no isolation by itself: the fast executor
(:mod:`salesreports.run.zygote`) runs it in a freshly forked child per report,
so nothing a report does can reach the next one.

:func:`prepare` readies a process for that: it builds a pristine shell and fills
the caches a report would otherwise fill on its own (the Vega-Lite and notebook
JSON schemas and their validators). A process that forks children after
``prepare()`` hands each of them a warm, never-used shell; the child's first cell
runs at full speed.

Registered with papermill as ``salesreports-inprocess`` (a registry entry is the
only import-time side effect). Extra keyword ``metadata`` (a dict) is merged into
the notebook's metadata before the first cell runs. The executed notebook is
written once, at the end (papermill would otherwise rewrite it at every cell's
start and end), already stamped.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import nbformat
from papermill.engines import Engine, papermill_engines

_v4: Any = nbformat.v4  # nbformat's functions are untyped

__all__ = ["ENGINE_NAME", "InProcessEngine", "execute_cells", "prepare"]

ENGINE_NAME = "salesreports-inprocess"

# A shell built by prepare() and not used yet: the next notebook run in this process takes it.
_PREPARED: Any = None


def _new_shell() -> Any:
    """A fresh InteractiveShell whose displays, results and tracebacks go to ``shell.sr_sink``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    sink: list[Any] = []

    class Publisher(DisplayPublisher):
        def publish(
            self, data: dict[str, Any], metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any
        ) -> None:
            sink.append(_v4.new_output("display_data", data=data, metadata=metadata or {}))

        def clear_output(self, wait: bool = False) -> None:
            sink.clear()

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
            sink.append(
                _v4.new_output(
                    "execute_result", data=format_dict, metadata=md_dict or {}, execution_count=self.prompt_count
                )
            )

        def finish_displayhook(self) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    shell: Any = InteractiveShell.instance(config=config)
    publisher: Any = Publisher
    hook: Any = Hook
    shell.display_pub = publisher(shell=shell)
    shell.displayhook = hook(shell=shell, cache_size=0)
    shell.display_trap.hook = shell.displayhook

    def show_traceback(etype: Any, evalue: Any, stb: list[str]) -> None:
        sink.append(
            _v4.new_output("error", ename=getattr(etype, "__name__", str(etype)), evalue=str(evalue), traceback=stb)
        )

    shell._showtraceback = show_traceback
    shell.sr_sink = sink
    return shell


def prepare() -> None:
    """Warm this process for running report notebooks, without running any report code.

    Builds a pristine shell for the next notebook and fills the JSON-schema caches
    (altair's Vega-Lite validator, nbformat's notebook validator). Nothing here
    changes what a report sees: no option, theme or module attribute is set.
    Starts no thread, so the process can still fork safely afterwards.
    """
    global _PREPARED
    import altair as alt
    import pandas as pd

    alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").to_dict()
    nbformat.validate(_v4.new_notebook())
    _PREPARED = _new_shell()


def _take_shell() -> Any:
    global _PREPARED
    shell, _PREPARED = _PREPARED, None
    return shell if shell is not None else _new_shell()


CellHook = Callable[[Any, int], None]


def execute_cells(
    nb: Any,
    *,
    on_start: CellHook | None = None,
    on_error: CellHook | None = None,
    on_complete: CellHook | None = None,
) -> bool:
    """Run every code cell of ``nb`` in order in a fresh shell, storing outputs in the cells.

    Stops at the first failing cell (its outputs end with an ``error`` output). The hooks
    get ``(cell, index)``. Returns True when every cell ran without error.
    """
    from salesreports import guard

    shell = _take_shell()
    guard.watch(shell)
    sink: list[Any] = shell.sr_sink
    count = 0
    injected = 0  # papermill's injected parameters cell is not in the template: cells are named as there
    try:
        for index, cell in enumerate(nb.cells):
            if "injected-parameters" in cell.metadata.get("tags", []):
                injected += 1
            if cell.cell_type != "code":
                continue
            if on_start is not None:
                on_start(cell, index)
            count += 1
            guard.set_cell(index + 1 - injected, cell.source)
            sink.clear()
            out, err = io.StringIO(), io.StringIO()
            shell.execution_count = count
            with redirect_stdout(out), redirect_stderr(err):
                result = shell.run_cell(cell.source, store_history=False, silent=False)
            outputs = [
                _v4.new_output("stream", name=name, text=buf.getvalue())
                for name, buf in (("stdout", out), ("stderr", err))
                if buf.getvalue()
            ]
            outputs.extend(sink)
            cell.outputs = outputs
            cell.execution_count = count
            if not result.success:
                if not any(o.output_type == "error" for o in outputs):
                    exc = result.error_in_exec or result.error_before_exec
                    cell.outputs.append(
                        _v4.new_output("error", ename=type(exc).__name__, evalue=str(exc), traceback=[repr(exc)])
                    )
                if on_error is not None:
                    on_error(cell, index)
                if on_complete is not None:
                    on_complete(cell, index)
                return False
            if on_complete is not None:
                on_complete(cell, index)
        return True
    finally:
        from IPython.core.interactiveshell import InteractiveShell

        InteractiveShell.clear_instance()
        sys.displayhook = sys.__displayhook__


class InProcessEngine(Engine):  # type: ignore[misc]
    """papermill engine that executes cells in the current process (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> None:
        """Run each code cell in order; stop at the first error, as papermill does."""
        metadata = kwargs.get("metadata")
        if isinstance(metadata, Mapping):
            nb_man.nb.metadata.update(metadata)

        def on_error(cell: Any, index: int) -> None:
            nb_man.cell_exception(cell, index, exception=True)

        # papermill saves the whole notebook at every cell start and end when it has an output path; in-process
        # that is pure overhead (a report takes a second), so the notebook is written once, by papermill, at the end.
        output_path, nb_man.output_path = nb_man.output_path, None
        try:
            execute_cells(nb_man.nb, on_start=nb_man.cell_start, on_error=on_error, on_complete=nb_man.cell_complete)
        finally:
            nb_man.output_path = output_path


papermill_engines.register(ENGINE_NAME, InProcessEngine)
