"""Execute report jobs: a notebook run with papermill, then rendered to HTML and PDF.

Two modes, chosen per run:

``fresh``
    papermill with a new Jupyter kernel per report (the standard, slowest path).
``fast``
    a warm **zygote** process per worker forks one child per report; the child runs
    the notebook in-process (:mod:`salesreports.nbengine`) and exits, and the worker
    renders HTML and PDF with a warm renderer. Every report starts from the same
    clean, warm state and nothing it does (variables, pandas options, the altair
    theme, module attributes) survives it. A child that crashes or exceeds its
    timeout is killed (with any process it started) and recorded as failed; the
    batch goes on.

Why a zygote, and fork safety
    ``fork()`` copies only the calling thread. Forking a process in which other
    threads run (vl-convert's V8/tokio threads, WeasyPrint's pango/fontconfig
    threads, jemalloc's or OpenBLAS's helpers, a dask worker's event loop) can
    leave the child with a lock held by a thread that no longer exists: a deadlock
    the first time the child needs it. So reports are never forked from the
    process that renders. Each worker forks its zygote right after importing the
    report libraries and **before** its renderer starts any thread, with OpenBLAS,
    OpenMP and pyarrow's jemalloc told not to start helper threads
    (:data:`QUIET_THREADS`). The zygote stays single-threaded (it checks before
    every fork), fills the caches every report would otherwise fill and lose
    again with its child (schemas and validators, a pristine IPython shell, the
    toolkit's and its libraries' modules that reports import: see
    :func:`learnable`), and never renders. When the calling process already has
    threads (a dask worker, a test process), the zygote is started as a fresh
    interpreter instead of a fork.

    Measured on the demo (2 cores): a child forked from a zygote with only the
    imports done spent 0.46-0.50 s CPU on a scorecard; with the caches filled,
    0.19 s, against 0.15-0.18 s for the same cells in a warm process without fork.

Jobs run in a pool of worker processes on this machine (:class:`LocalExecutor`)
or on a dask.distributed cluster (:mod:`salesreports.distributed`). Every output is
written atomically: a temp file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = [
    "QUIET_THREADS",
    "Job",
    "JobResult",
    "LocalExecutor",
    "Zygote",
    "learnable",
    "report_metadata",
    "run_job",
    "warm_up",
]

Mode = Literal["fast", "fresh"]

# Set in every process that forks reports, before numpy/pyarrow load: their helper threads would make fork unsafe.
# Reports are CPU-bound and already run one per core, so single-threaded BLAS loses nothing.
QUIET_THREADS: dict[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}
# Imported by a worker before it forks its zygote: what every report needs.
REPORT_MODULES = (
    "pandas",
    "altair",
    "IPython.core.interactiveshell",
    "papermill",
    "nbformat",
    "salesreports.nbengine",
    "salesreports.report.views",
    "salesreports.report.charts",
    "salesreports.report.display",
    "salesreports.report.theme",
    "salesreports.report.scope",
    "salesreports.report.contexts",
    "pyarrow.parquet",  # a report reads its KPI tables from Parquet
)
# Modules a report imported are preloaded into the zygote for the next reports only when they belong to the
# standard library or to these packages (the toolkit and its own dependencies, whose imports change no state a
# report can see). A template's own ``import foo`` is never preloaded: the zygote's state must not depend on
# what reports did.
LEARNABLE = frozenset(
    {
        "salesreports",
        "pandas",
        "numpy",
        "pyarrow",
        "altair",
        "narwhals",
        "jsonschema",
        "jsonschema_specifications",
        "referencing",
        "rpds",
        "IPython",
        "traitlets",
        "nbformat",
        "papermill",
        "pydantic",
        "pydantic_core",
        "typing_inspection",
        "annotated_types",
        "dateutil",
        "yaml",
        "jinja2",
        "markupsafe",
        "pygments",
        "prompt_toolkit",
        "jedi",
        "parso",
        "decorator",
        "stack_data",
        "executing",
        "asttokens",
        "pure_eval",
        "matplotlib_inline",
        "typing_extensions",
        "packaging",
        "tzdata",
        "pytz",
    }
)
_NOT_LEARNABLE = frozenset({"__main__", "antigravity", "this", "idlelib", "tkinter", "turtle", "webbrowser"})
# A stuck zygote (it never should be) is given up on this long after its report's own timeout.
_ZYGOTE_GRACE = 60.0
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


# ----------------------------------------------------------------------------------------------- process helpers


def os_threads() -> int:
    """The number of OS threads of this process (Python's and native ones)."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError:  # pragma: no cover - not Linux
        return threading.active_count()


def _quiet_threads() -> None:
    for name, value in QUIET_THREADS.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables that are not set yet, for the processes started inside the block."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphaned, hung reports)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def _describe_error(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    return f"{ename}{where}: {evalue}".strip()[:_MAX_ERROR]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


# ------------------------------------------------------------------------------------------------------ execution


def report_metadata(job: Job) -> dict[str, Any]:
    """The executed notebook's ``salesreports`` metadata: the page header, from the job's context."""
    context = job.parameters.get("context")
    if not context:
        return {}
    from salesreports.report.scope import header

    return {"salesreports": header(json.loads(Path(context).read_text(encoding="utf-8")))}


def _execute_here(job: Job, out: Path, engine: str | None) -> None:
    import papermill as pm

    os.environ["SALESREPORTS_BATCH"] = "1"
    kwargs: dict[str, Any] = {}
    if engine is None:
        kwargs["execution_timeout"] = job.timeout
        # the kernel's own log (an unencrypted-TCP warning at every start, "KeyboardInterrupt caught" at every
        # shutdown) would flood the run's progress display; its errors reach the notebook anyway
        kwargs["extra_arguments"] = ["--IPKernelApp.log_level=CRITICAL"]
    else:
        kwargs["metadata"] = report_metadata(job)
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


DEFAULTS_NOTE = "# The template's default parameters are left out of executed reports: see the injected cell below."


def strip_default_parameters(notebook: Path) -> bool:
    """Blank the template's ``parameters`` cell in an executed notebook; True when the file changed.

    papermill keeps the template's defaults (e.g. ``rep_id = "R007"``, whatever rep the analyst last
    previewed) above the injected parameters, so every rep's notebook would name that rep. Only the
    injected parameters are kept.
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
    if changed:
        atomic_write_text(notebook, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


# --------------------------------------------------------------------------------------------------------- zygote


class ZygoteDiedError(RuntimeError):
    """The zygote process went away (killed, out of memory)."""


class ZygoteGoneError(ZygoteDiedError):
    """The zygote was gone before it forked the report: the report never started and can be retried."""


class Zygote:
    """A warm, single-threaded process that forks one child per report (see the module docstring).

    Use :meth:`start`; then :meth:`execute` runs one job's notebook in a fresh child and
    returns ``{"error": str, "execute": seconds, "execute_cpu": seconds}`` (an empty error on success).
    """

    def __init__(self, conn: Connection, pid: int, how: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.conn = conn
        self.pid = pid
        self.how = how
        self.ready: dict[str, Any] = {}
        self.closed = False
        self._process = process

    @classmethod
    def start(
        cls, how: Literal["auto", "fork", "spawn"] = "auto", *, learn: bool = True, close_fds: Iterable[int] = ()
    ) -> Zygote:
        """Start a zygote: forked from this process when it is single-threaded, else a fresh interpreter.

        Parameters
        ----------
        how : ``fork``, ``spawn`` or ``auto`` (fork only when this process has exactly one thread)
        learn : preload, in the zygote, the modules its reports imported (see :func:`learnable`)
        close_fds : descriptors of this process the forked zygote must not keep open (e.g. the worker's pipe)
        """
        from multiprocessing.connection import Pipe

        if how == "auto":
            how = "fork" if hasattr(os, "fork") and os_threads() == 1 else "spawn"
        mine, theirs = Pipe()
        if how == "fork":
            pid = os.fork()
            if pid == 0:
                mine.close()
                for fd in close_fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _die_with_parent()
                _zygote_main(theirs, learn=learn, how="fork")
            theirs.close()
            return cls(mine, pid, "fork")
        env = {**os.environ, **QUIET_THREADS, "SALESREPORTS_BATCH": "1"}
        code = "import sys; from salesreports.executors import _zygote_entry; _zygote_entry(int(sys.argv[1]))"
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), "1" if learn else "0"],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            cwd=Path.cwd(),
        )
        theirs.close()
        return cls(mine, process.pid, "spawn", process)

    def wait_ready(self, timeout: float = 300.0) -> dict[str, Any]:
        """Wait until the zygote has warmed up; returns its ``ready`` message (pid, threads, how)."""
        if not self.ready:
            if not self.conn.poll(timeout):
                msg = f"the report zygote did not start within {timeout:.0f} s"
                raise ZygoteDiedError(msg)
            self.ready = self._recv()
        return self.ready

    def execute(self, job: Job, out: Path) -> dict[str, Any]:
        """Run ``job``'s notebook into ``out`` in a forked child; never raises for a failing report.

        Raises
        ------
        ZygoteGoneError
            The zygote was gone before the report started (retry with a new zygote).
        ZygoteDiedError
            The zygote died while the report ran.
        """
        try:
            self.wait_ready()
            self.conn.send(("run", job, str(out)))
            started = self._recv()
        except (OSError, ZygoteDiedError) as exc:
            raise ZygoteGoneError(str(exc)) from exc
        if "forked" not in started:  # it declined (e.g. it has threads): that is its answer
            return started
        if not self.conn.poll(job.timeout + _ZYGOTE_GRACE):
            self.kill()
            msg = f"the report zygote did not answer within {job.timeout + _ZYGOTE_GRACE:.0f} s"
            raise ZygoteDiedError(msg)
        return self._recv()

    def alive(self) -> bool:
        """Whether the zygote process still runs (it may have been killed between two reports)."""
        if self.closed:
            return False
        if self._process is not None:
            return self._process.poll() is None
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return not done

    def ping(self) -> dict[str, Any]:
        """The zygote's pid, thread count and learnt modules (for tests and the benchmark)."""
        self.wait_ready()
        self.conn.send(("ping",))
        return self._recv()

    def _recv(self) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.closed = True
            msg = f"the report zygote (pid {self.pid}) exited"
            raise ZygoteDiedError(msg) from exc
        return reply

    def kill(self) -> None:
        """Stop the zygote at once."""
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap(5.0)

    def close(self, timeout: float = 10.0) -> None:
        """Ask the zygote to exit and reap it."""
        if self.closed:
            self._reap(0.1)
            return
        self.closed = True
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("stop",))
        with contextlib.suppress(OSError):
            self.conn.close()
        if not self._reap(timeout):
            self.kill()

    def _reap(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return True
            if done:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)


def _zygote_entry(fd: int) -> NoReturn:
    """Entry point of a zygote started as a fresh interpreter (``Zygote.start("spawn")``)."""
    from multiprocessing.connection import Connection

    learn = len(sys.argv) < 3 or sys.argv[2] != "0"
    _zygote_main(Connection(fd), learn=learn, how="spawn")


def _zygote_main(conn: Connection, *, learn: bool, how: str) -> NoReturn:
    status = 0
    try:
        os.environ["SALESREPORTS_BATCH"] = "1"
        _quiet_threads()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for name in REPORT_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        from salesreports import nbengine

        nbengine.prepare()
        learnt: set[str] = set()
        conn.send({"pid": os.getpid(), "threads": os_threads(), "how": how})
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "stop":
                break
            if message[0] == "ping":
                conn.send({"pid": os.getpid(), "threads": os_threads(), "how": how, "learnt": sorted(learnt)})
                continue
            _, job, out = message
            threads = os_threads()
            reply: dict[str, Any]
            if threads > 1:
                reply = {"error": f"the report zygote has {threads} threads and cannot fork safely", "retire": True}
                reply["retry"] = True
            else:
                reply = _fork_report(job, Path(out), conn)
            modules: list[str] = list(reply.pop("modules", None) or [])
            if learn and modules:
                learnt.update(_preimport(modules))
                if os_threads() > 1:  # a learnt module started a thread: this zygote must not fork again
                    reply["retire"] = True
            conn.send(reply)
    except BaseException:
        status = 1
    os._exit(status)


def learnable(name: str) -> bool:
    """Whether a module a report imported may be preloaded into the zygote (see :data:`LEARNABLE`)."""
    root = name.partition(".")[0]
    if root in _NOT_LEARNABLE or name.startswith("__"):
        return False
    return root in LEARNABLE or root in sys.stdlib_module_names


def _preimport(names: Iterable[str]) -> list[str]:
    """Import modules a report imported, so the next reports find them loaded (a forkserver-style preload)."""
    done = []
    for name in names:
        if name in sys.modules or not learnable(name):
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)
            done.append(name)
    return done


def _fork_report(job: Job, out: Path, conn: Connection) -> dict[str, Any]:
    """Fork a child that runs ``job``; wait for it with the job's timeout; describe what happened."""
    from salesreports.nbengine import ENGINE_NAME

    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        with contextlib.suppress(OSError):
            conn.close()
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        _die_with_parent()
        before = set(sys.modules)
        reply: dict[str, Any] = {"error": ""}
        try:
            _execute_here(job, out, ENGINE_NAME)
        except BaseException as exc:
            reply["error"] = _describe_error(exc)
        reply["modules"] = sorted(set(sys.modules) - before)
        data = json.dumps(reply).encode()
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(write_fd, data) :]
        os.close(write_fd)
        os._exit(0)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    os.close(write_fd)
    conn.send({"forked": pid})  # from here on the report runs: if the zygote dies now, the report failed
    raw, status, cpu = _wait_child(pid, read_fd, job.timeout)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # anything the report started and left behind
    seconds = {"execute": time.perf_counter() - started, "execute_cpu": cpu}
    if status is None:
        error = f"timed out after {job.timeout} s (the report was stopped; raise run.timeout if it needs longer)"
        return {"error": error, **seconds}
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return {"error": f"the report process crashed (signal {number}, {_signal_name(number)})", **seconds}
    try:
        reply = json.loads(raw.decode())
    except ValueError:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
        return {"error": f"the report process exited without a result (exit status {code})", **seconds}
    reply.update(seconds)
    return reply


def _wait_child(pid: int, read_fd: int, timeout: float) -> tuple[bytes, int | None, float]:
    """A child's reply, exit status and CPU seconds; SIGKILL its process group at the deadline (status None)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    eof = False
    pidfd = -1
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(pid)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                _, _, usage = os.wait4(pid, 0)
                return b"", None, usage.ru_utime + usage.ru_stime
            watch = ([] if eof else [read_fd]) + ([pidfd] if pidfd >= 0 else [])
            wait = remaining if pidfd >= 0 else min(remaining, 0.01)
            ready: list[int] = []
            if watch:
                ready = select.select(watch, [], [], wait)[0]
            else:
                time.sleep(wait)
            if read_fd in ready:
                chunk = os.read(read_fd, 1 << 16)
                if chunk:
                    chunks.append(chunk)
                else:
                    eof = True
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                while not eof and select.select([read_fd], [], [], 0)[0]:
                    chunk = os.read(read_fd, 1 << 16)
                    eof = not chunk
                    chunks.append(chunk)
                return b"".join(chunks), status, usage.ru_utime + usage.ru_stime
    finally:
        os.close(read_fd)
        if pidfd >= 0:
            os.close(pidfd)


class _ZygotePool:
    """This process's idle zygotes (one per concurrently running report: dask workers may run several)."""

    def __init__(self) -> None:
        self._idle: list[Zygote] = []
        self._lock = threading.Lock()

    def add(self, zygote: Zygote) -> None:
        with self._lock:
            self._idle.append(zygote)

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Zygote]:
        with self._lock:
            zygote = self._idle.pop() if self._idle else None
        if zygote is not None and not zygote.alive():  # killed between two reports: replace it, fail nothing
            zygote.closed = True
            zygote.close(0.5)
            zygote = None
        if zygote is None:
            zygote = Zygote.start()
        try:
            yield zygote
        finally:
            if zygote.closed:
                zygote.close(0.5)
            else:
                self.add(zygote)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for zygote in idle:
            zygote.close()


_ZYGOTES = _ZygotePool()


def _execute_fast(job: Job, out: Path) -> tuple[str, dict[str, float]]:
    for attempt in (1, 2):
        with _ZYGOTES.acquire() as zygote:
            try:
                reply = zygote.execute(job, out)
            except ZygoteGoneError as exc:
                zygote.closed = True
                if attempt == 1:
                    continue  # the report never started: once more with a new zygote
                return f"the report could not start: {exc}", {}
            except ZygoteDiedError as exc:
                zygote.closed = True
                return f"the report process was lost: {exc} (a new one runs the next report)", {}
            if reply.get("retire"):
                zygote.close()
            if reply.get("retry") and attempt == 1:
                continue
            return str(reply.get("error", "")), {"execute_cpu": float(reply.get("execute_cpu", 0.0))}
    return "the report could not start", {}  # pragma: no cover - the loop always returns


# ----------------------------------------------------------------------------------------------------- one report


def run_job(job: Job, mode: Mode = "fast") -> JobResult:
    """Execute one job and render its outputs; never raises for a failing report.

    Parameters
    ----------
    job : the job
    mode : ``fast`` (a child forked from a warm zygote) or ``fresh`` (a new kernel)

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
            error, timings = _execute_fast(job, tmp)
        else:
            error = ""
            try:
                _execute_here(job, tmp, None)
            except Exception as exc:
                error = _describe_error(exc)
        timings["execute"] = time.perf_counter() - t0
        if error:
            _discard_outputs(job)
            if tmp.exists():
                strip_default_parameters(tmp)
                tmp.replace(failed)
            return JobResult(job.key, "failed", error, str(failed) if failed.exists() else "", timings, os.getpid())
        if mode != "fast":
            _stamp(job, tmp)
        strip_default_parameters(tmp)  # here, where the notebook is written: also on dask workers
        tmp.replace(notebook)
        with contextlib.suppress(FileNotFoundError):
            failed.unlink()
        _render(job, notebook, timings)
    except Exception as exc:
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


def _render(job: Job, notebook: Path, timings: dict[str, float]) -> None:
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
        t, cpu = time.perf_counter(), time.process_time()
        render_pdf(Path(job.html), Path(job.pdf), page_size=job.page_size)  # type: ignore[arg-type]
        timings["pdf"], timings["pdf_cpu"] = time.perf_counter() - t, time.process_time() - cpu


def warm_up(
    mode: Mode = "fast", *, zygote: Literal["auto", "fork", "spawn"] = "auto", close_fds: Iterable[int] = ()
) -> dict[str, Any]:
    """Make this process ready to run reports: the zygote (fast mode) first, then the warm renderer.

    Returns what was started (the zygote's pid and how), for logs and tests.
    """
    os.environ["SALESREPORTS_BATCH"] = "1"
    _quiet_threads()
    info: dict[str, Any] = {"pid": os.getpid(), "mode": mode}
    if mode == "fast":
        how = zygote
        if how != "spawn" and os_threads() == 1:
            for name in REPORT_MODULES:  # imported here, so that the forked zygote inherits them
                with contextlib.suppress(ImportError):
                    importlib.import_module(name)
        if how == "auto":
            how = "fork" if os_threads() == 1 else "spawn"
        started = Zygote.start(how, close_fds=close_fds)
        _ZYGOTES.add(started)
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


# -------------------------------------------------------------------------------------------------- local workers


def _worker_main(conn: Connection, mode: Mode) -> None:
    """A worker: warm up, then run the jobs it is sent until told to stop (or the parent goes away)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    try:
        info = warm_up(mode, close_fds=[conn.fileno()])
    except Exception:
        info = {"pid": os.getpid(), "error": traceback.format_exc(limit=5)}
    conn.send(("ready", info))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "stop":
                break
            conn.send(("result", run_job(message[1], mode)))
    finally:
        _ZYGOTES.close()


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: Job | None = None
    ready: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class LocalExecutor:
    """Run jobs in a pool of worker processes on this machine.

    A worker that dies (a crash while rendering, the out-of-memory killer) fails only the
    report it was rendering and is replaced. ``start()`` launches the workers early, so
    they warm up while the caller is still loading data and planning; ``run()`` starts
    them when that was not done, and stops them when it returns.
    """

    def __init__(self, workers: int = 2, mode: Mode = "fast") -> None:
        self.workers = max(1, workers)
        self.mode = mode
        self._pool: list[_Worker] = []
        self._restarts = 0
        self.worker_info: list[dict[str, Any]] = []

    def start(self) -> LocalExecutor:
        """Launch the worker processes now (they warm up in the background); returns self."""
        while len(self._pool) < self.workers:
            self._pool.append(self._spawn())
        return self

    def _spawn(self) -> _Worker:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(theirs, self.mode), daemon=True, name="salesreports-worker")
        # the spawned interpreter may import numpy/pyarrow before warm_up runs (it re-imports the caller's
        # __main__): give it the quiet-threads environment from its first instruction
        with _environment(QUIET_THREADS):
            process.start()
        theirs.close()
        return _Worker(process, mine)

    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
        """Run every job; ``on_result`` is called as each finishes (for progress bars)."""
        from multiprocessing.connection import wait

        todo = deque(jobs)
        if not todo:
            self.close()
            return []
        results: list[JobResult] = []

        def finish(result: JobResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        self.start()
        try:
            while todo or any(w.job is not None for w in self._pool):
                for worker in self._pool:
                    if worker.ready and worker.job is None and todo:
                        worker.job = todo.popleft()
                        with contextlib.suppress(OSError):  # a dead worker's sentinel fires below
                            worker.conn.send(("job", worker.job))
                waitables: list[Any] = [w.conn for w in self._pool] + [w.process.sentinel for w in self._pool]
                for ready in wait(waitables):
                    found = next((w for w in self._pool if ready in (w.conn, w.process.sentinel)), None)
                    if found is None:
                        continue
                    worker = found
                    if ready is worker.conn and worker.conn.poll():
                        try:
                            kind, payload = worker.conn.recv()
                        except (EOFError, OSError):
                            continue  # dying; the sentinel says so
                        if kind == "ready":
                            worker.ready, worker.info = True, payload
                            self.worker_info.append(payload)
                        elif worker.job is not None:
                            worker.job = None
                            finish(payload)
                    elif ready is worker.process.sentinel:
                        self._replace(worker, todo, finish)
        finally:
            self.close()
        return results

    def _replace(self, worker: _Worker, todo: deque[Job], finish: Callable[[JobResult], None]) -> None:
        worker.process.join(1.0)
        code = worker.process.exitcode
        how = f"signal {_signal_name(-code)}" if code is not None and code < 0 else f"exit status {code}"
        if worker.job is not None:
            finish(JobResult(worker.job.key, "failed", f"the worker process died ({how}) while running this report"))
        self._pool.remove(worker)
        with contextlib.suppress(OSError):
            worker.conn.close()
        self._restarts += 1
        if self._restarts > 2 * self.workers + 2:  # workers die on start-up: give up rather than loop
            while todo:
                job = todo.popleft()
                finish(JobResult(job.key, "failed", f"worker processes keep dying ({how}); see the log above"))
            return
        if todo:
            self._pool.append(self._spawn())

    def close(self) -> None:
        """Stop the workers (waiting briefly for each), then kill what is left."""
        pool, self._pool = self._pool, []
        for worker in pool:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(("stop",))
        deadline = time.monotonic() + 15
        for worker in pool:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            with contextlib.suppress(OSError):
                worker.conn.close()

    def __enter__(self) -> LocalExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
