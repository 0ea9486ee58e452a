"""One report in a worker process, from job to pages: a notebook run with papermill, then rendered to HTML and PDF.

Two modes, chosen per run:

``fresh``
    papermill with a new Jupyter kernel per report (the standard, slowest path).
``fast``
    a warm **zygote** process per worker forks one child per report; the child runs
    the notebook in-process (:mod:`salesreports.run.nbengine`) and exits, and the worker
    renders HTML and PDF with a warm renderer. Every report starts from the same
    clean, warm state and nothing it does (variables, pandas options, the altair
    theme, module attributes) survives it. A child that crashes or exceeds its
    timeout is killed (with any process it started) and recorded as failed; the
    batch goes on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from salesreports.run.jobs import (
    Job,
    JobResult,
    Mode,
    describe_error,
    execute_here,
    report_metadata,
    strip_default_parameters,
)
from salesreports.run.processes import os_threads, quiet_threads, skip_unneeded_imports
from salesreports.run.zygote import Zygote, execute_fast, import_report_modules, zygotes

__all__ = ["RendererWarming", "run_job", "warm_renderer_in_background", "warm_up"]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def _stamp(job: Job, notebook: Path) -> None:
    """Put the report's header into an executed notebook's metadata (fresh mode: the kernel cannot)."""
    import nbformat

    from salesreports.paths import atomic_write_text

    nbf: Any = nbformat
    meta = report_metadata(job)
    if meta:
        nb = nbf.read(str(notebook), as_version=4)
        nb.metadata.update(meta)
        atomic_write_text(notebook, nbf.writes(nb))


def run_job(
    job: Job,
    mode: Mode = "fast",
    *,
    before_render: Callable[[], Any] | None = None,
    before_pdf: Callable[[], Any] | None = None,
) -> JobResult:
    """Execute one job and render its outputs; never raises for a failing report.

    Parameters
    ----------
    job : the job
    mode : ``fast`` (a child forked from a warm zygote) or ``fresh`` (a new kernel)
    before_render : called once the report ran, before its pages are rendered (e.g. waiting for the HTML part
        of :func:`warm_renderer_in_background`)
    before_pdf : called once its HTML is written, before its PDF is made (e.g. waiting for the rest)

    Returns
    -------
    JobResult
        ``ok`` with timings, or ``failed`` with the error and the failed notebook's path.
    """
    timings: dict[str, float] = {}
    notebook = Path(job.notebook)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(notebook)
    failed = notebook.with_name(notebook.stem + ".failed.ipynb")
    context = str(job.parameters.get("context") or "")
    t0 = time.perf_counter()
    try:
        if mode == "fast":
            error, timings = execute_fast(job, tmp)
        else:
            error = ""
            try:
                execute_here(job, tmp, None)
            except Exception as exc:
                error = describe_error(exc)
        timings["execute"] = time.perf_counter() - t0
        if error:
            _discard_outputs(job)
            if tmp.exists():
                strip_default_parameters(tmp, context)
                tmp.replace(failed)
            return JobResult(job.key, "failed", error, str(failed) if failed.exists() else "", timings, os.getpid())
        if mode != "fast":
            _stamp(job, tmp)
        strip_default_parameters(tmp, context)  # here, where the notebook is written: also on dask workers
        tmp.replace(notebook)
        with contextlib.suppress(FileNotFoundError):
            failed.unlink()
        if before_render is not None:
            before_render()
        _render(job, notebook, timings, before_pdf)
    except Exception as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # the executed notebook is what to look at when its pages cannot be made: kept as the failed notebook
        with contextlib.suppress(FileNotFoundError):
            notebook.replace(failed)
        _discard_outputs(job)
        detail = str(exc) if getattr(exc, "fields", None) is not None else traceback.format_exc(limit=3)
        kept = str(failed) if failed.exists() else ""
        return JobResult(job.key, "failed", f"rendering failed: {detail}", kept, timings, os.getpid())
    timings["total"] = time.perf_counter() - t0
    return JobResult(job.key, "ok", "", "", timings, os.getpid())


def _discard_outputs(job: Job) -> None:
    """Remove outputs of an earlier run so a failed report never shows stale pages."""
    for name in (job.notebook, job.html, job.pdf):
        if name:
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()


def _render(job: Job, notebook: Path, timings: dict[str, float], before_pdf: Callable[[], Any] | None = None) -> None:
    if not job.html:
        return
    import nbformat

    from salesreports.report.render import render_html, render_pdf

    nbf: Any = nbformat
    t, cpu = time.perf_counter(), time.process_time()
    nb = nbf.read(str(notebook), as_version=4)
    render_html(nb, Path(job.html), page_size=job.page_size)  # type: ignore[arg-type]
    timings["html"], timings["html_cpu"] = time.perf_counter() - t, time.process_time() - cpu
    if job.pdf:
        if before_pdf is not None:
            before_pdf()
        t, cpu = time.perf_counter(), time.process_time()
        render_pdf(Path(job.html), Path(job.pdf), page_size=job.page_size)  # type: ignore[arg-type]
        timings["pdf"], timings["pdf_cpu"] = time.perf_counter() - t, time.process_time() - cpu


class RendererWarming:
    """A thread warming this process's renderer: first what the HTML needs (nbformat, vl-convert, the page
    template), then what the PDF needs (WeasyPrint), which can go on while the HTML is drawn."""

    def __init__(self, *, pdf: bool, page_size: str) -> None:
        self._html = threading.Event()
        self._thread = threading.Thread(
            target=self._warm, args=(pdf, page_size), name="salesreports-warm-renderer", daemon=True
        )
        self._thread.start()

    def _warm(self, pdf: bool, page_size: str) -> None:
        try:
            with contextlib.suppress(Exception):
                import nbformat  # noqa: F401  # reads the executed notebook

                from salesreports.report.render import default_renderer

                default_renderer().warm(pdf=False)
        finally:
            self._html.set()
        if pdf:
            with contextlib.suppress(Exception):
                from salesreports.report.render import default_renderer

                default_renderer().warm(pdf=True, page_size=page_size)

    def wait_html(self) -> None:
        """Wait until what the HTML needs is warm."""
        self._html.wait()

    def join(self) -> None:
        """Wait until everything is warm."""
        self._thread.join()


def warm_renderer_in_background(*, pdf: bool = True, page_size: str = "A4") -> RendererWarming:
    """Warm this process's renderer (nbformat, vl-convert, the HTML template, WeasyPrint) in a thread.

    For one report (``preview``): the imports and engine starts overlap the report running in a zygote's child,
    instead of following it. Only in a process that forks no more reports itself (its zygote is started);
    wait for its HTML part before rendering the HTML and join it before the PDF (``run_job``'s
    ``before_render`` and ``before_pdf``). A failure here is not reported: rendering meets it again and says it.
    """
    return RendererWarming(pdf=pdf, page_size=page_size)


def warm_up(
    mode: Mode = "fast", *, zygote: Literal["auto", "fork", "spawn"] = "auto", close_fds: Iterable[int] = ()
) -> dict[str, Any]:
    """Make this process ready to run reports: the zygote (fast mode) first, then the warm renderer.

    Returns what was started (the zygote's pid and how), for logs and tests.
    """
    os.environ["SALESREPORTS_BATCH"] = "1"
    quiet_threads()
    skip_unneeded_imports()
    info: dict[str, Any] = {"pid": os.getpid(), "mode": mode}
    if mode == "fast":
        how = zygote
        if how != "spawn" and os_threads() == 1:
            import_report_modules()  # here, so that the forked zygote inherits them
        if how == "auto":
            how = "fork" if os_threads() == 1 else "spawn"
        started = Zygote.start(how, close_fds=close_fds)
        zygotes.add(started)
        info.update(zygote_pid=started.pid, zygote_how=started.how)
    _warm_renderer()
    return info


def _warm_renderer() -> None:
    """Render a tiny report to HTML and PDF, so the first real report finds everything loaded.

    ``Renderer.warm()`` starts vl-convert and loads the template; this also loads the Vega-Lite
    version altair's specs name (vl-convert loads each version on first use), the report's CSS,
    fonts and text shaping in WeasyPrint (pango and fontconfig load lazily on the first PDF).
    """
    import tempfile

    import altair as alt
    import nbformat
    import pandas as pd

    from salesreports.report import display
    from salesreports.report.render import _default, render_html, render_pdf

    _default().warm()
    v4: Any = nbformat.v4
    chart = display.chart(alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y"), "a")
    tiles = display.tiles([display.Tile(label="Revenue", value="$1", sub=["target $2"], change="+1%")])
    fragment = {"text/html": tiles.html, "text/plain": tiles.text}
    outputs = [v4.new_output("display_data", data=chart.bundle()), v4.new_output("display_data", data=fragment)]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Warm-up"), v4.new_code_cell(outputs=outputs)])
    with tempfile.TemporaryDirectory(prefix="salesreports-warm-") as folder:
        html = render_html(nb, Path(folder) / "warm.html")
        render_pdf(html, Path(folder) / "warm.pdf")
