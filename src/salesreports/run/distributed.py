"""Run report jobs on a dask.distributed cluster: ``salesreports run --executor dask [--scheduler tcp://HOST:PORT]``.

Each report is one task. A task runs :func:`salesreports.run.worker.run_job` on a worker, in the same
mode as the local runner: ``fast`` forks the report from a warm zygote (the zygote is started as a fresh
interpreter, since a dask worker process has threads), ``fresh`` starts a kernel. A failing, crashing
or hanging report fails only its own task: the result (status, error, timings) comes back to the
client, which writes the manifest and index as for a local run. A worker process that dies is retried
by dask, then reported as a failed report.

Without ``scheduler`` a :class:`distributed.LocalCluster` of ``workers`` single-threaded worker
processes is started on 127.0.0.1 for the run and closed afterwards.

What travels and what must be shared
    The client loads the data, computes the KPIs and writes one context per report; workers never read
    the data set. With ``ship_inputs`` (the default when a scheduler address is given) each task carries
    its report's context and template, so workers need no access to the client's files. Outputs go to
    the paths the runner planned, which must then be on a file system every worker mounts at the same
    path, or, with ``output_url`` (any fsspec URL: ``s3://bucket/reports``, ``gcs://...``,
    ``file:///shared/reports``), are written on the worker's local disk and uploaded there, keeping the
    layout under the output folder (``2026-10/R001/scorecard.pdf``). Workers need the same salesreports
    version and dependencies as the client (and the fonts the PDFs use).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from salesreports.errors import SalesReportsError
from salesreports.run.jobs import Job, JobResult, Mode
from salesreports.run.worker import run_job, warm_up

__all__ = ["DaskExecutor"]

_WARM: set[str] = set()
_WARM_LOCK = threading.Lock()


class DaskExecutor:
    """Run jobs as tasks on a dask.distributed cluster (see the module docstring).

    Parameters
    ----------
    scheduler : ``tcp://HOST:PORT`` of a running scheduler; ``None`` starts a LocalCluster for the run
    mode : ``fast`` or ``fresh``, as for the local runner
    workers : worker processes of the LocalCluster (ignored with a scheduler)
    output_url : an fsspec URL to upload outputs to (written locally on the worker first)
    ship_inputs : send each report's context and template with its task (default: when ``scheduler`` is set)
    local_root : the folder the jobs' output paths are relative to for ``output_url`` (default: the parent of
        their period folders)
    client : an existing ``distributed.Client`` to use (it is not closed)
    """

    def __init__(
        self,
        scheduler: str | None = None,
        mode: Mode = "fast",
        workers: int = 2,
        *,
        output_url: str | None = None,
        ship_inputs: bool | None = None,
        local_root: str | None = None,
        client: Any = None,
    ) -> None:
        self.scheduler = scheduler
        self.mode = mode
        self.workers = max(1, workers)
        self.output_url = output_url.rstrip("/") if output_url else None
        self.ship_inputs = ship_inputs if ship_inputs is not None else scheduler is not None
        self.local_root = local_root
        self.client = client

    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
        """Run every job on the cluster; ``on_result`` is called on the client as each finishes."""
        jobs = list(jobs)
        if not jobs:
            return []
        with contextlib.ExitStack() as stack:
            client = self.client or stack.enter_context(self._client())
            root = self.local_root or _common_root(jobs)
            futures = {}
            unsent: list[JobResult] = []
            for job in jobs:
                try:
                    inputs = _inputs(job) if self.ship_inputs else None
                except SalesReportsError as err:  # this report's files are broken: it fails, the others run
                    unsent.append(JobResult(job.key, "failed", str(err)))
                    if on_result is not None:
                        on_result(unsent[-1])
                    continue
                future = client.submit(
                    _run_task,
                    job,
                    self.mode,
                    inputs,
                    self.output_url,
                    root,
                    key=f"salesreports-{job.key}-{uuid.uuid4().hex[:8]}",
                    pure=False,
                    retries=0,
                )
                futures[future] = job
            return unsent + _collect(futures, on_result)

    @contextlib.contextmanager
    def _client(self) -> Any:
        import distributed

        dd: Any = distributed  # untyped
        Client, LocalCluster = dd.Client, dd.LocalCluster  # noqa: N806

        if self.scheduler:
            with Client(self.scheduler) as client:
                yield client
            return
        cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        with cluster, Client(cluster) as client:
            yield client


def _collect(futures: dict[Any, Job], on_result: Callable[[JobResult], None] | None) -> list[JobResult]:
    import distributed

    dd: Any = distributed  # untyped
    results = []
    for future in dd.as_completed(list(futures)):
        job = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # a worker that died running it (KilledWorker), a lost connection
            result = JobResult(job.key, "failed", f"the dask task failed: {type(exc).__name__}: {exc}")
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _common_root(jobs: list[Job]) -> str:
    """The folder above the jobs' period folders (``<output>/<period>/<report>/scorecard.ipynb``)."""
    periods = {str(Path(j.notebook).parent.parent) for j in jobs}
    return str(Path(os.path.commonpath(sorted(periods))).parent) if periods else ""


def _inputs(job: Job) -> dict[str, bytes]:
    """The files a report reads, to send with its task: its template and its context."""
    from salesreports.report.contexts import context_files

    out = {"template": Path(job.template).read_bytes()}
    context = job.parameters.get("context")
    if context:
        for file in context_files(Path(context)):
            out[f"context/{file.name}"] = file.read_bytes()
    return out


def _ensure_warm(mode: Mode) -> None:
    """Warm this worker process once (the zygote, the renderer), from a task thread."""
    with _WARM_LOCK:
        if mode not in _WARM:
            warm_up(mode)
            _WARM.add(mode)


def _run_task(job: Job, mode: Mode, inputs: dict[str, bytes] | None, output_url: str | None, root: str) -> JobResult:
    """One report on a dask worker: local inputs and outputs as needed, then :func:`run_job`."""
    _ensure_warm(mode)
    if inputs is None and output_url is None:
        return run_job(job, mode)
    scratch = Path(tempfile.mkdtemp(prefix="salesreports-task-"))
    try:
        local = job
        if inputs is not None:
            template = scratch / "inputs" / Path(job.template).name
            template.parent.mkdir(parents=True)
            template.write_bytes(inputs["template"])
            parameters = dict(job.parameters)
            names = [name.split("/", 1)[1] for name in inputs if name.startswith("context/")]
            for name in names:
                (template.parent / Path(name).name).write_bytes(inputs[f"context/{name}"])
            if names:
                parameters["context"] = str(template.parent / Path(str(job.parameters["context"])).name)
            local = replace(local, template=str(template), parameters=parameters, cwd=str(template.parent))
        if output_url is None:
            return run_job(local, mode)
        moved = {name: _local_path(scratch, root, getattr(job, name)) for name in ("notebook", "html", "pdf")}
        result = run_job(replace(local, notebook=moved["notebook"], html=moved["html"], pdf=moved["pdf"]), mode)
        expected = [Path(p) for p in moved.values() if p]
        expected.append(expected[0].with_name(expected[0].stem + ".failed.ipynb"))
        _upload(scratch / "outputs", output_url, expected)
        if result.failed_notebook:
            rel = Path(result.failed_notebook).relative_to(scratch / "outputs").as_posix()
            result.failed_notebook = f"{output_url}/{rel}"
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _local_path(scratch: Path, root: str, path: str) -> str:
    if not path:
        return ""
    return str(scratch / "outputs" / Path(path).relative_to(root))


def _upload(folder: Path, url: str, expected: list[Path]) -> None:
    """Copy the outputs under ``folder`` to ``url`` (same layout) with fsspec; remove the expected ones that
    this run did not produce there (a failed report must not leave last month's pages behind)."""
    import importlib

    fsspec: Any = importlib.import_module("fsspec")  # untyped; a dependency of dask
    fs, base = fsspec.core.url_to_fs(url)
    base = base.rstrip("/")
    for path in expected:
        target = f"{base}/{path.relative_to(folder).as_posix()}"
        if path.is_file():
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(path), target)
        else:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(target)
