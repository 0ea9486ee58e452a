"""Execute report jobs: a notebook run with papermill, then rendered to HTML and PDF.

Two modes, chosen per run:

``fresh``
    papermill with a new Jupyter kernel per report (the standard, slowest path).
``fast``
    each worker process imports pandas, altair, IPython and salesreports once and
    keeps vl-convert and WeasyPrint warm; per report it **forks** a child that runs
    the notebook in-process (:mod:`salesreports.nbengine`) and exits. Every report
    starts from the same clean, warm state and nothing it does (variables, pandas
    options, the altair theme, module attributes) survives it. A child that crashes
    or exceeds the timeout is killed and recorded as failed; the batch goes on.

Jobs run in a pool of worker processes (``LocalExecutor``) or on a
dask.distributed cluster (``salesreports.distributed``). Every output is written
atomically: a temp file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Job", "JobResult", "LocalExecutor", "run_job"]

Mode = Literal["fast", "fresh"]


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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def _describe_error(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    return f"{ename}{where}: {evalue}".strip()


def _execute_here(job: Job, out: Path, engine: str | None) -> None:
    import papermill as pm

    os.environ["SALESREPORTS_BATCH"] = "1"
    kwargs: dict[str, Any] = {}
    if engine is None:
        kwargs["execution_timeout"] = job.timeout
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


def _execute_forked(job: Job, out: Path) -> str:
    """Run the notebook in a forked child; returns "" on success or the error text."""
    from salesreports.nbengine import ENGINE_NAME

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is saved by the os._exit patch
        os.close(read_fd)
        message = ""
        try:
            _execute_here(job, out, ENGINE_NAME)
        except BaseException as exc:
            message = _describe_error(exc)
        with contextlib.suppress(OSError):
            os.write(write_fd, json.dumps({"error": message}).encode())
        os.close(write_fd)
        os._exit(0)
    os.close(write_fd)
    deadline = time.monotonic() + job.timeout
    status = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return f"timed out after {job.timeout} s (the report was stopped; raise run.timeout if it needs longer)"
        time.sleep(0.005)
    with os.fdopen(read_fd, "rb") as pipe:
        raw = pipe.read()
    if os.WIFSIGNALED(status):
        return f"the report process crashed (signal {os.WTERMSIG(status)})"
    if not raw:
        return f"the report process exited without a result (exit status {os.WEXITSTATUS(status)})"
    return str(json.loads(raw.decode()).get("error", ""))


def run_job(job: Job, mode: Mode = "fast") -> JobResult:
    """Execute one job and render its outputs; never raises for a failing report.

    Parameters
    ----------
    job : the job
    mode : ``fast`` (forked warm child) or ``fresh`` (a new kernel)

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
    t0 = time.perf_counter()
    try:
        if mode == "fast":
            error = _execute_forked(job, tmp)
        else:
            error = ""
            try:
                _execute_here(job, tmp, None)
            except Exception as exc:  # noqa: BLE001 - every failure of a report is recorded, not raised
                error = _describe_error(exc)
        timings["execute"] = time.perf_counter() - t0
        if error:
            _discard_outputs(job)
            if tmp.exists():
                os.replace(tmp, failed)
            return JobResult(job.key, "failed", error, str(failed) if failed.exists() else "", timings, os.getpid())
        os.replace(tmp, notebook)
        with contextlib.suppress(FileNotFoundError):
            failed.unlink()
        _render(job, notebook, timings)
    except Exception as exc:  # noqa: BLE001 - rendering failures are recorded per report
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        _discard_outputs(job)
        detail = str(exc) if getattr(exc, "fields", None) is not None else traceback.format_exc(limit=3)
        return JobResult(job.key, "failed", f"rendering failed: {detail}", "", timings, os.getpid())
    timings["total"] = time.perf_counter() - t0
    return JobResult(job.key, "ok", "", "", timings, os.getpid())


def _discard_outputs(job: Job) -> None:
    """Remove outputs of an earlier run so a failed report never shows stale pages."""
    for name in (job.notebook, job.html, job.pdf):
        if name:
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()


def _stamp(job: Job, notebook: Path) -> Any:
    """Put the report's header (from its context) into the executed notebook's metadata."""
    import nbformat

    from salesreports.paths import atomic_write_text
    from salesreports.scope import header

    nb = nbformat.read(str(notebook), as_version=4)
    context = job.parameters.get("context")
    if context:
        nb.metadata["salesreports"] = header(json.loads(Path(context).read_text(encoding="utf-8")))
        atomic_write_text(notebook, nbformat.writes(nb))
    return nb


def _render(job: Job, notebook: Path, timings: dict[str, float]) -> None:
    nb = _stamp(job, notebook)
    if not job.html:
        return
    from salesreports.render import render_html, render_pdf

    t = time.perf_counter()
    render_html(nb, Path(job.html), page_size=job.page_size)  # type: ignore[arg-type]
    timings["html"] = time.perf_counter() - t
    if job.pdf:
        t = time.perf_counter()
        render_pdf(Path(job.html), Path(job.pdf), page_size=job.page_size)  # type: ignore[arg-type]
        timings["pdf"] = time.perf_counter() - t


def warm_up(mode: Mode = "fast") -> None:
    """Import everything a report needs, once per worker (the fast mode's whole point)."""
    os.environ["SALESREPORTS_BATCH"] = "1"
    if mode != "fast":
        return
    import altair  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401
    import pandas  # noqa: F401
    import papermill  # noqa: F401

    import salesreports.nbengine  # noqa: F401

    for name in ("salesreports.views", "salesreports.charts", "salesreports.display", "salesreports.theme"):
        with contextlib.suppress(ImportError):
            __import__(name)
    from salesreports.render import _default

    _default().warm()


def _worker_job(job: Job, mode: Mode) -> JobResult:
    return run_job(job, mode)


class LocalExecutor:
    """Run jobs in a pool of worker processes on this machine."""

    def __init__(self, workers: int = 2, mode: Mode = "fast") -> None:
        self.workers = max(1, workers)
        self.mode = mode

    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
        """Run every job; ``on_result`` is called as each finishes (for progress bars)."""
        import multiprocessing as mp

        jobs = list(jobs)
        if not jobs:
            return []
        results: list[JobResult] = []
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=warm_up, initargs=(self.mode,)) as pool:
            pending: dict[Future[JobResult], Job] = {pool.submit(_worker_job, j, self.mode): j for j in jobs}
            for fut, job in _as_completed(pending):
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its job, not the batch
                    result = JobResult(job.key, "failed", f"worker failed: {exc!r}")
                results.append(result)
                if on_result is not None:
                    on_result(result)
        return results


def _as_completed(pending: dict[Future[JobResult], Job]) -> Iterator[tuple[Future[JobResult], Job]]:
    waiting = set(pending)
    while waiting:
        done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
        for fut in done:
            yield fut, pending[fut]
