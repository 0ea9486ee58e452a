"""An in-process papermill engine: run a notebook's cells in *this* process with IPython.

papermill normally starts a Jupyter kernel per notebook (~1.5 s of start-up,
imports and shut-down before any cell runs). This engine runs the cells in an
``IPython.core.interactiveshell.InteractiveShell`` inside the calling process,
capturing display data, results, streams and errors as notebook outputs, just
as a kernel would. It gives no isolation by itself: the fast executor
(:mod:`salesreports.executors`) runs it in a freshly forked child per report,
so nothing a report does can reach the next one.

Registered with papermill as ``salesreports-inprocess`` (a registry entry is the
only import-time side effect).
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import nbformat
from papermill.engines import Engine, papermill_engines

__all__ = ["ENGINE_NAME", "InProcessEngine"]

ENGINE_NAME = "salesreports-inprocess"


def _new_shell(sink: list[Any]) -> Any:
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Publisher(DisplayPublisher):  # type: ignore[misc]
        def publish(self, data: dict[str, Any], metadata: dict[str, Any] | None = None, *args: Any,
                    **kwargs: Any) -> None:
            sink.append(nbformat.v4.new_output("display_data", data=data, metadata=metadata or {}))

        def clear_output(self, wait: bool = False) -> None:
            sink.clear()

    class Hook(DisplayHook):  # type: ignore[misc]
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
            sink.append(nbformat.v4.new_output("execute_result", data=format_dict, metadata=md_dict or {},
                                               execution_count=self.prompt_count))

        def finish_displayhook(self) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=config)
    shell.display_pub = Publisher(shell=shell)
    shell.displayhook = Hook(shell=shell, cache_size=0)
    shell.display_trap.hook = shell.displayhook

    def show_traceback(etype: Any, evalue: Any, stb: list[str]) -> None:
        sink.append(nbformat.v4.new_output("error", ename=getattr(etype, "__name__", str(etype)),
                                           evalue=str(evalue), traceback=stb))

    shell._showtraceback = show_traceback
    return shell


class InProcessEngine(Engine):  # type: ignore[misc]
    """papermill engine that executes cells in the current process (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> None:
        """Run each code cell in order; stop at the first error, as papermill does."""
        sink: list[Any] = []
        shell = _new_shell(sink)
        count = 0
        try:
            for index, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code":
                    continue
                nb_man.cell_start(cell, index)
                count += 1
                sink.clear()
                out, err = io.StringIO(), io.StringIO()
                shell.execution_count = count
                with redirect_stdout(out), redirect_stderr(err):
                    result = shell.run_cell(cell.source, store_history=False, silent=False)
                outputs = []
                for name, buf in (("stdout", out), ("stderr", err)):
                    if buf.getvalue():
                        outputs.append(nbformat.v4.new_output("stream", name=name, text=buf.getvalue()))
                outputs.extend(sink)
                cell.outputs = outputs
                cell.execution_count = count
                failed = not result.success
                if failed:
                    if not any(o.output_type == "error" for o in outputs):
                        exc = result.error_in_exec or result.error_before_exec
                        cell.outputs.append(nbformat.v4.new_output(
                            "error", ename=type(exc).__name__, evalue=str(exc), traceback=[repr(exc)]))
                    nb_man.cell_exception(cell, index, exception=result.error_in_exec)
                    nb_man.cell_complete(cell, index)
                    break
                nb_man.cell_complete(cell, index)
        finally:
            from IPython.core.interactiveshell import InteractiveShell

            InteractiveShell.clear_instance()
            sys.displayhook = sys.__displayhook__


papermill_engines.register(ENGINE_NAME, InProcessEngine)
