"""One report job, and executing its notebook in this process with papermill.

A :class:`Job` is picklable: it travels to local workers and dask workers alike. Errors are reported as
:class:`JobResult` values, never raised, so one report never stops a batch.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULTS_NOTE",
    "Job",
    "JobResult",
    "Mode",
    "describe_error",
    "execute_here",
    "guard_report",
    "report_metadata",
    "strip_default_parameters",
]

Mode = Literal["fast", "fresh"]

_MAX_ERROR = 8000


@dataclass(frozen=True)
class Job:
    """One report to produce (picklable, sent to workers)."""

    key: str
    kind: str
    template: str
    notebook: str
    parameters: dict[str, Any]
    cwd: str
    html: str = ""
    pdf: str = ""
    page_size: str = "A4"
    timeout: int = 300
    kernel: str = "python3"


@dataclass
class JobResult:
    """What became of a job."""

    key: str
    status: Literal["ok", "failed"]
    error: str = ""
    failed_notebook: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    worker: int = 0
    files: dict[str, str] = field(default_factory=dict)  # planned path -> SHA-256 of what was written (dask)
    where: str = ""  # the dask worker's address

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def describe_error(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    # an error that names its cell (as JupyterLab shows it: position and first line) needs no second number
    where = f" in cell [{cell}]" if cell is not None and not str(evalue).startswith("cell ") else ""
    return f"{ename}{where}: {evalue}".strip()[:_MAX_ERROR]


def report_metadata(job: Job) -> dict[str, Any]:
    """The executed notebook's ``salesreports`` metadata: the page header, from the job's context."""
    context = job.parameters.get("context")
    if not context:
        return {}
    from salesreports.report.scope import header

    return {"salesreports": header(json.loads(Path(context).read_text(encoding="utf-8")))}


def guard_report(job: Job) -> None:
    """Install the report guard (:mod:`salesreports.guard`) in this process: call it in the report's own process."""
    from salesreports import guard
    from salesreports.metrics.kpis import kpi_file

    context = str(job.parameters.get("context") or "")
    guard.install(context=context, template=job.template, allow=[kpi_file()])


def execute_here(job: Job, out: Path, engine: str | None, *, metadata: dict[str, Any] | None = None) -> None:
    """Execute ``job``'s notebook into ``out``: in a fresh kernel (``engine`` None) or with ``engine`` here.

    Either way the report runs guarded: a fresh kernel installs the guard before its first cell; with an
    in-process engine the caller must have called :func:`guard_report` (after computing ``metadata``, the
    page header, which reads the context with the toolkit's own code).
    """
    import papermill as pm

    from salesreports.guard import kernel_arguments

    os.environ["SALESREPORTS_BATCH"] = "1"
    kwargs: dict[str, Any] = {}
    if engine is None:
        kwargs["execution_timeout"] = job.timeout
        # the kernel's own log (an unencrypted-TCP warning at every start, "KeyboardInterrupt caught" at every
        # shutdown) would flood the run's progress display; its errors reach the notebook anyway
        guard = kernel_arguments(str(job.parameters.get("context") or ""), str(Path(job.template).resolve()))
        kwargs["extra_arguments"] = ["--IPKernelApp.log_level=CRITICAL", *guard]
    else:
        kwargs["metadata"] = report_metadata(job) if metadata is None else metadata
    pm.execute_notebook(
        job.template,
        str(out),
        parameters=job.parameters,
        engine_name=engine,
        kernel_name=job.kernel,
        progress_bar=False,
        cwd=job.cwd,
        request_save_on_cell_execute=False,
        **kwargs,
    )


DEFAULTS_NOTE = "# The template's default parameters are left out of executed reports: see the injected cell below."


def strip_default_parameters(notebook: Path, context: str = "") -> bool:
    """Blank the template's ``parameters`` cell in an executed notebook; True when the file changed.

    papermill keeps the template's defaults (e.g. ``rep_id = "R007"``, whatever rep the analyst last
    previewed) above the injected parameters, so every rep's notebook would name that rep. Only the
    injected parameters are kept. A ``context`` in the notebook's own folder is recorded relative to it
    (``context = "context.json"``), so that the report can be re-run from its folder wherever it was
    executed (a Dask worker runs it in a temporary folder that is gone afterwards).
    """
    from salesreports.paths import atomic_write_text

    if not notebook.is_file():
        return False
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except ValueError:  # a report process killed while writing: keep its partial notebook as it is
        return False
    changed = False
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []) and cell.get("source") != DEFAULTS_NOTE:
            cell["source"] = DEFAULTS_NOTE
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
            changed = True
    papermill = nb.get("metadata", {}).get("papermill", {})
    if papermill.get("default_parameters"):
        papermill["default_parameters"] = {}
        changed = True
    if context and Path(context).parent.resolve() == notebook.parent.resolve():
        changed = _relative_context(nb, context, Path(context).name) or changed
    if changed:
        atomic_write_text(notebook, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def _relative_context(nb: dict[str, Any], context: str, relative: str) -> bool:
    """Record ``relative`` instead of ``context`` in the injected parameters (cell and metadata)."""
    old, new = _python_str(context), _python_str(relative)
    changed = False
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
            if old in source:
                cell["source"] = source.replace(old, new)
                changed = True
    parameters = nb.get("metadata", {}).get("papermill", {}).get("parameters", {})
    if parameters.get("context") == context:
        parameters["context"] = relative
        changed = True
    return changed


def _python_str(value: str) -> str:
    """A string as papermill's PythonTranslator writes it into the injected-parameters cell (without importing
    papermill in the process that renders: half a second of a one-off preview)."""
    escaped = value.encode("unicode_escape").decode("utf-8").replace('"', r"\"")
    return f'"{escaped}"'
