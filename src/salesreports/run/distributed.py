"""Run report jobs on a dask.distributed cluster: ``salesreports run --executor dask [--scheduler tcp://HOST:PORT]``.

Each report is one task. A task runs :func:`salesreports.run.worker.run_job` on a worker, in the same
mode as the local runner: ``fast`` forks the report from a warm zygote (the zygote is started as a fresh
interpreter, since a dask worker process has threads), ``fresh`` starts a kernel. A failing, crashing
or hanging report fails only its own task: the result (status, error, timings, the SHA-256 of every file
it wrote) comes back to the client as soon as it finishes, which records it in the manifest at once: a
worker lost mid-run costs only the reports it was running, the others are not run again.

Without ``scheduler`` a :class:`distributed.LocalCluster` of ``workers`` single-threaded worker
processes is started on 127.0.0.1 for the run and closed afterwards.

Before any report runs (and before the data is loaded: :meth:`DaskExecutor.start`)
    the client connects within ``connect_timeout`` seconds (an unreachable scheduler is one line, a
    :class:`~salesreports.errors.ClusterError`), then runs a **pre-flight check** on every worker: the same
    salesreports version and the same page font as the client, and it can write the output location *and
    the client sees what it wrote there* (a worker with a private mount at the output folder's path
    fails here). Stale temporary folders of killed tasks on the worker are removed.

What travels and what must be shared
    The client loads the data, computes the KPIs and writes one context per report; workers never read
    the data set. With ``ship_inputs`` (the default when a scheduler address is given) each task carries
    its report's context and template, so workers need no access to the client's files. A worker runs
    its report in a temporary folder (nothing half-written ever appears in the output folder) and then
    publishes the pages to the paths the runner planned, which must be on a file system every worker
    mounts at the same path, or, with ``output_url`` (any fsspec URL: ``s3://bucket/reports``,
    ``gcs://...``, ``file:///shared/reports``), under that URL with the layout of the output folder
    (``2026-10/R001/scorecard.pdf``). The client checks every file a result names, by its content hash,
    where the manifest says it is; a file it cannot see fails the report with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from salesreports import __version__
from salesreports.errors import ClusterError, SalesReportsError
from salesreports.run.jobs import Job, JobResult, Mode
from salesreports.run.storage import check_url, is_url, put, read_bytes, remove, remove_empty_folder, write_bytes
from salesreports.run.worker import run_job, warm_up

__all__ = ["DaskExecutor"]

_WARM: set[str] = set()
_WARM_LOCK = threading.Lock()
_SCRATCH = "salesreports-task-"
_PROBE = ".salesreports-preflight"
PAGE_FONT = "Liberation Sans"  # the pages' and charts' font (report/templates, report.vega)
_KINDS = ("notebook", "html", "pdf", "failed")


@dataclass(frozen=True)
class _Planned:
    """Where a job's files go: planned path (as the manifest names it) -> destination (a path or a URL)."""

    job: Job
    files: dict[str, tuple[str, str]]  # kind -> (planned path, destination)


class DaskExecutor:
    """Run jobs as tasks on a dask.distributed cluster (see the module docstring).

    Parameters
    ----------
    scheduler : ``tcp://HOST:PORT`` of a running scheduler; ``None`` starts a LocalCluster for the run
    mode : ``fast`` or ``fresh``, as for the local runner
    workers : worker processes of the LocalCluster (ignored with a scheduler)
    output_url : an fsspec URL the workers publish the outputs to (written locally on the worker first)
    ship_inputs : send each report's context and template with its task (default: when ``scheduler`` is set)
    local_root : the folder the jobs' output paths are relative to for ``output_url`` (default: the output
        folder given to :meth:`start`, else the parent of the jobs' period folders)
    client : an existing ``distributed.Client`` to use (it is not closed)
    connect_timeout : seconds to reach the scheduler (and to wait for a first worker)

    Used as a context manager (``with DaskExecutor(...) as executor``), the connection opened by
    :meth:`start` lasts until the end of the block; otherwise :meth:`run` closes it when it returns.
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
        connect_timeout: float = 10.0,
    ) -> None:
        self.scheduler = scheduler
        self.mode = mode
        self.workers = max(1, workers)
        self.output_url = output_url.rstrip("/") if output_url else None
        self.ship_inputs = ship_inputs if ship_inputs is not None else scheduler is not None
        self.local_root = local_root
        self.client = client
        self.connect_timeout = connect_timeout
        self.preflight: list[str] = []  # the pre-flight check's lines, one per worker
        self._stack: contextlib.ExitStack | None = None
        self._active: Any = None
        self._entered = False  # inside ``with``: the connection outlives :meth:`run`

    # ------------------------------------------------------------------ connecting and checking

    def __enter__(self) -> DaskExecutor:
        self._entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._entered = False
        self.close()

    def close(self) -> None:
        """Close the client (and the LocalCluster) this executor opened; a given client stays open."""
        stack, self._stack, self._active = self._stack, None, None
        if stack is not None:
            stack.close()

    def start(self, output: str | os.PathLike[str] | None = None) -> list[str]:
        """Connect to the cluster and run the pre-flight check on every worker; idempotent.

        Parameters
        ----------
        output : the output folder the reports will be written to (ignored for the check with
            ``output_url``, which is checked instead)

        Returns
        -------
        list[str]
            One line per worker: its address, salesreports version, page font and output location.

        Raises
        ------
        ClusterError
            The scheduler cannot be reached, has no worker, or a worker differs from this machine
            (version, font) or cannot write the output location where this machine sees it.
        """
        if self._active is not None:
            return self.preflight
        if self.local_root is None and output is not None:
            self.local_root = str(output)
        if self.output_url:
            check_url(self.output_url)
        client = self._connect()
        try:
            target = self.output_url or (str(Path(self.local_root).resolve()) if self.local_root else "")
            self.preflight = _preflight_all(client, target, self._where())
        except BaseException:
            self.close()
            raise
        self._active = client
        return self.preflight

    def _where(self) -> str:
        return f"the Dask scheduler at {self.scheduler}" if self.scheduler else "the local Dask cluster"

    def _connect(self) -> Any:
        import distributed

        dd: Any = distributed  # untyped
        if self._stack is None:
            self._stack = contextlib.ExitStack()
        if self.client is not None:
            client = self.client
        elif self.scheduler:
            try:
                with _quiet_logs():
                    client = dd.Client(self.scheduler, timeout=self.connect_timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                msg = (
                    f"cannot reach the Dask scheduler at {self.scheduler} within {self.connect_timeout:g} s "
                    f"({reason}). Fix: start it (`dask scheduler`), check the address and that its port is open "
                    "from here, or give it longer with --connect-timeout. Nothing was run."
                )
                raise ClusterError(msg, scheduler=self.scheduler) from None
            self._stack.callback(client.close)
        else:
            cluster = dd.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # any free port: never "8787 is already in use"
                silence_logs=logging.WARNING,
            )
            self._stack.callback(cluster.close)
            client = dd.Client(cluster)
            self._stack.callback(client.close)
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except (TimeoutError, OSError):
            self.close()
            msg = (
                f"{self._where()} has no worker (waited {self.connect_timeout:g} s). Fix: start one "
                f"(`dask worker {self.scheduler or 'ADDRESS'}`). Nothing was run."
            )
            raise ClusterError(msg, scheduler=self.scheduler) from None
        return client

    # ------------------------------------------------------------------ running

    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
        """Run every job on the cluster; ``on_result`` is called on the client as each finishes.

        Raises
        ------
        ClusterError
            As :meth:`start` (when it was not called before).
        """
        jobs = list(jobs)
        if not jobs:
            return []
        try:
            self.start(self.local_root or _common_root(jobs))
            client = self._active
            root = self.local_root or _common_root(jobs)
            pending: dict[Any, _Planned] = {}
            results: list[JobResult] = []

            def done(result: JobResult) -> None:
                results.append(result)
                if on_result is not None:
                    on_result(result)

            for job in jobs:
                planned = _Planned(job, {k: (p, self._destination(p, root)) for k, p in _planned(job).items()})
                try:
                    inputs = _inputs(job) if self.ship_inputs else None
                except SalesReportsError as err:  # this report's files are broken: it fails, the others run
                    _discard(planned)
                    done(JobResult(job.key, "failed", str(err)))
                    continue
                destinations = {k: d for k, (_, d) in planned.files.items()}
                future = client.submit(
                    _run_task,
                    job,
                    self.mode,
                    inputs,
                    destinations,
                    __version__,
                    key=_task_key(job),
                    pure=False,
                    retries=0,
                )
                pending[future] = planned
            _collect(pending, done)
            return results
        finally:
            if not self._entered:
                self.close()

    def _destination(self, planned: str, root: str) -> str:
        if not planned or not self.output_url:
            return planned
        return f"{self.output_url}/{Path(planned).relative_to(root).as_posix()}"


def _task_key(job: Job) -> str:
    """A task name the dashboard groups by kind and period (``rep_2026_10-<id>``): dask splits keys at ``-``."""
    group = re.sub(r"\W", "_", f"{job.kind}_{job.parameters.get('period') or 'report'}")
    return f"{group}-{uuid.uuid4().hex}"


def _planned(job: Job) -> dict[str, str]:
    notebook = Path(job.notebook)
    return {
        "notebook": job.notebook,
        "html": job.html,
        "pdf": job.pdf,
        "failed": str(notebook.with_name(notebook.stem + ".failed.ipynb")),
    }


def _collect(pending: dict[Any, _Planned], done: Callable[[JobResult], None]) -> None:
    """Hand each result back as its task finishes, verified; release it at once (a lost worker then
    costs only the reports it was running: dask re-runs the tasks whose results it still holds)."""
    import distributed

    dd: Any = distributed  # untyped
    # with_results: each result is fetched as soon as its task finishes, not left in the worker's memory.
    # loop: the futures' own client's, not the process's default client's (another Client in the process,
    # a notebook's or a test's, made the iterator track our futures on its loop: hangs and "Event is bound
    # to a different event loop", seen in CI)
    futures = list(pending)
    if not futures:  # every report failed before it was submitted (e.g. broken context files)
        return
    try:
        for future, value in dd.as_completed(
            futures, loop=futures[0].client.loop, with_results=True, raise_errors=False
        ):
            _collected(pending, future, value, done)
    finally:
        if pending:  # stopped early (Ctrl-C, a callback that raised): the tasks left must not run on
            with contextlib.suppress(Exception):
                futures[0].client.cancel(list(pending))


def _collected(pending: dict[Any, _Planned], future: Any, value: Any, done: Callable[[JobResult], None]) -> None:
    """One finished task: its result verified (or its failure described), handed to ``done``."""
    planned = pending.pop(future)
    job = planned.job
    future.release()
    if isinstance(value, JobResult):
        result = value
    elif "connection-lost" in str(value):  # the scheduler is gone: every unfinished report says why
        msg = (
            "the connection to the Dask scheduler was lost before this report finished. Fix: restart the "
            "scheduler and run again (the finished reports are skipped)"
        )
        result = JobResult(job.key, "failed", msg)
    else:  # an exception: a worker that died running it (KilledWorker), a lost connection
        text = str(value).splitlines()[0] if str(value) else ""
        result = JobResult(job.key, "failed", f"the dask task failed: {type(value).__name__}: {text}".strip())
    if result.status == "ok":
        problem = _verify(result, planned)
        if problem:
            result = replace(result, status="failed", error=problem, failed_notebook="")
    if result.status == "failed":
        _discard(planned)
    done(result)


def _verify(result: JobResult, planned: _Planned) -> str:
    """Why the files a result names are not where the manifest will say (empty when they all are)."""
    wanted = [k for k in ("notebook", "html", "pdf") if planned.files[k][0]]
    missing = [planned.files[k][0] for k in wanted if planned.files[k][0] not in result.files]
    if missing:
        return f"the worker{_at(result)} did not report writing {', '.join(missing)}"
    for kind in wanted:
        path, destination = planned.files[kind]
        try:
            seen = _sha256(read_bytes(destination))
        except FileNotFoundError:
            seen = ""
        except Exception as exc:  # an URL that cannot be read from here
            return f"cannot read {destination} from this machine ({type(exc).__name__}: {exc})"
        if seen != result.files[path]:
            what = "does not see it there" if not seen else "sees another file there"
            fix = (
                "the output URL must be the same storage for the workers and this machine"
                if is_url(destination)
                else "the output folder is not shared at the same path by the workers and this machine (a "
                "private mount on the worker?). Fix: mount the same storage at the same path everywhere, or "
                "use --output-url"
            )
            return f"the worker{_at(result)} wrote {destination}, but this machine {what}: {fix}."
    return ""


def _at(result: JobResult) -> str:
    return f" {result.where}" if result.where else ""


def _discard(planned: _Planned) -> None:
    """Remove a failed report's pages where this machine sees them: never last month's pages for this month."""
    for kind in ("notebook", "html", "pdf"):
        destination = planned.files[kind][1]
        if destination:
            with contextlib.suppress(Exception):
                remove(destination)


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- the pre-flight check


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Silence distributed's connection errors (a screenful per attempt): the caller says it in one line."""
    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.client", "distributed.comm")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def page_font() -> str:
    """The font family this machine's fontconfig gives for the pages' font (what WeasyPrint will draw with)."""
    try:
        done = subprocess.run(
            ["fc-match", "--format=%{family[0]}", PAGE_FONT], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown (fc-match: {type(exc).__name__})"
    return done.stdout.strip() or "unknown"


def _preflight_all(client: Any, target: str, where: str) -> list[str]:
    """Run :func:`_preflight` on every worker; raise ClusterError naming every problem, else the lines."""
    token = uuid.uuid4().hex
    answers: dict[str, dict[str, Any]] = client.run(_preflight, target, token)
    font = page_font()
    problems: list[str] = []
    lines: list[str] = []
    try:
        for address, answer in sorted(answers.items()):
            found = []
            if answer["version"] != __version__:
                found.append(
                    f"salesreports {answer['version']}, this machine {__version__} (a report would say "
                    f"'Made by salesreports {answer['version']}'). Fix: install salesreports=={__version__} on "
                    "the worker (the same image as the client)"
                )
            if answer["font"] != font:
                found.append(
                    f"its font for '{PAGE_FONT}' is {answer['font']}, this machine's is {font} (the PDFs would "
                    "differ). Fix: install the fonts-liberation package on the worker"
                )
            if answer["error"]:
                found.append(f"cannot write {target}: {answer['error']}")
            elif target:
                found.extend(_probe_seen(answer["probe"], answer["content"], target))
            state = "ok" if not found else "REFUSED"
            lines.append(
                f"{address}  salesreports {answer['version']}  font {answer['font']}  "
                f"writes {target or '(no output folder)'}: {state}"
            )
            problems.extend(f"{address}: {p}" for p in found)
    finally:
        probes = [a["probe"] for a in answers.values() if a["probe"]]
        with contextlib.suppress(Exception):
            client.run(_remove_probes, probes)  # a worker's private folder, too
        _remove_probes(probes)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        msg = (
            f"the pre-flight check of {len(answers)} worker(s) of {where} failed:\n{shown}\n"
            "Nothing was run (the data was not loaded)."
        )
        raise ClusterError(msg, problems=problems)
    return lines


def _probe_seen(probe: str, content: str, target: str) -> list[str]:
    try:
        seen = read_bytes(probe).decode("utf-8", "replace")
    except FileNotFoundError:
        seen = ""
    except Exception as exc:
        return [f"this machine cannot read {probe} ({type(exc).__name__}: {exc})"]
    if seen == content:
        return []
    if is_url(target):
        return [f"wrote {probe}, but this machine does not see it: {target} is not the same storage here"]
    return [
        f"wrote {probe}, but this machine does not see it: {target} on the worker is not the folder this "
        "machine has at that path (a private mount, or a local folder of the worker's own). Fix: mount the "
        "same shared storage at the same path on every worker and here, or use --output-url"
    ]


def _probe_folder(target: str) -> str:
    return f"{target.rstrip('/')}/{_PROBE}"


def _preflight(target: str, token: str, dask_worker: Any = None) -> dict[str, Any]:
    """On a worker: its version and font; write a probe file under ``target``; clean stale task folders."""
    import salesreports

    address = str(getattr(dask_worker, "address", "") or os.getpid())
    content = f"{token} {address}"
    answer: dict[str, Any] = {
        "version": salesreports.__version__,
        "font": page_font(),
        "error": "",
        "probe": "",
        "content": content,
        "cleaned": _clean_scratch(),
    }
    if target:
        name = f"{token}-{hashlib.sha256(address.encode()).hexdigest()[:12]}"
        answer["probe"] = probe = f"{_probe_folder(target)}/{name}"
        try:
            write_bytes(probe, content.encode())
        except Exception as exc:
            answer["error"] = f"{type(exc).__name__}: {exc}"
    return answer


def _remove_probes(probes: list[str]) -> None:
    """Remove the probe files (where this process sees them) and their folder when it is empty."""
    for probe in probes:
        with contextlib.suppress(Exception):
            remove(probe)
    for folder in {p.rsplit("/", 1)[0] for p in probes}:
        remove_empty_folder(folder)


def _clean_scratch() -> int:
    """Remove the temporary folders of tasks whose worker process is gone (a killed worker); how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{_SCRATCH}*-*"):
        pid = folder.name[len(_SCRATCH) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------- one report on a worker


def _ensure_warm(mode: Mode) -> None:
    """Warm this worker process once (the zygote, the renderer), from a task thread."""
    with _WARM_LOCK:
        if mode not in _WARM:
            warm_up(mode)
            _WARM.add(mode)


def _worker_address() -> str:
    with contextlib.suppress(Exception):
        import distributed

        dd: Any = distributed
        return str(dd.get_worker().address)
    return f"pid {os.getpid()}"


def _run_task(
    job: Job, mode: Mode, inputs: dict[str, bytes] | None, destinations: dict[str, str], version: str
) -> JobResult:
    """One report on a dask worker, in a temporary folder; then its files published to ``destinations``.

    The report's folder in the temporary folder holds its context (so the executed notebook records
    ``context = "context.json"``, relative to the report's folder), the notebook and the pages. Each page is
    then copied to its destination (a path or a URL) and its SHA-256 returned; a page this run did not
    produce is removed there (a failed report never leaves last month's page).
    """
    where = _worker_address()
    if version != __version__:
        msg = (
            f"the worker {where} has salesreports {__version__}, the client {version} (a worker that joined after "
            f"the pre-flight check). Fix: install salesreports=={version} on that worker (the client's image) or "
            "stop it, then run again: the finished reports are skipped"
        )
        return JobResult(job.key, "failed", msg, where=where)
    _ensure_warm(mode)
    scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH}{os.getpid()}-"))
    try:
        report = scratch / "report"
        report.mkdir()
        parameters = dict(job.parameters)
        template, cwd = job.template, job.cwd
        if inputs is not None:
            shipped = scratch / "template" / Path(job.template).name
            shipped.parent.mkdir()
            shipped.write_bytes(inputs["template"])
            template, cwd = str(shipped), str(shipped.parent)
            files = {name.split("/", 1)[1]: data for name, data in inputs.items() if name.startswith("context/")}
        else:
            files = _context_files(job)
        for name, data in files.items():
            (report / Path(name).name).write_bytes(data)
        if files:
            parameters["context"] = str(report / Path(str(job.parameters["context"])).name)
        local = {k: str(report / Path(destinations[k]).name) if destinations.get(k) else "" for k in _KINDS}
        result = run_job(
            replace(
                job,
                template=template,
                cwd=cwd,
                parameters=parameters,
                notebook=local["notebook"],
                html=local["html"],
                pdf=local["pdf"],
            ),
            mode,
        )
        planned = _planned(job)
        hashes: dict[str, str] = {}
        for kind in _KINDS:
            if not destinations.get(kind):
                continue
            source = Path(local[kind])
            if source.is_file():
                put(source, destinations[kind])
                hashes[planned[kind]] = _sha256(source.read_bytes())
            else:
                remove(destinations[kind])
        return replace(
            result,
            files=hashes,
            where=where,
            failed_notebook=planned["failed"] if result.failed_notebook else "",
        )
    except SalesReportsError as err:
        return JobResult(job.key, "failed", str(err), where=where)
    except OSError as exc:  # the destination cannot be written from this worker
        msg = f"the worker {where} cannot write the report's files: {type(exc).__name__}: {exc}"
        return JobResult(job.key, "failed", msg, where=where)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _context_files(job: Job) -> dict[str, bytes]:
    """The context's files read from the shared output folder (without ``ship_inputs``)."""
    from salesreports.report.contexts import context_files

    context = job.parameters.get("context")
    return {f.name: f.read_bytes() for f in context_files(Path(context))} if context else {}
