"""The zygote protocol: a warm, single-threaded process per worker that forks one child per report.

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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from salesreports.run.jobs import Job, describe_error, execute_here, guard_report, report_metadata
from salesreports.run.processes import (
    QUIET_THREADS,
    die_with_parent,
    os_threads,
    quiet_threads,
    signal_name,
    skip_unneeded_imports,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


__all__ = [
    "LEARNABLE",
    "REPORT_MODULES",
    "Zygote",
    "ZygoteDiedError",
    "ZygoteGoneError",
    "execute_fast",
    "import_report_modules",
    "learnable",
    "zygotes",
]

# Imported by a worker before it forks its zygote: what every report needs.
REPORT_MODULES = (
    "pandas",
    "altair",
    "IPython.core.interactiveshell",
    "papermill",
    "nbformat",
    "salesreports.run.nbengine",
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
                die_with_parent()
                _zygote_main(theirs, learn=learn, how="fork")
            theirs.close()
            return cls(mine, pid, "fork")
        env = {**os.environ, **QUIET_THREADS, "SALESREPORTS_BATCH": "1"}
        code = "import sys; from salesreports.run.zygote import _zygote_entry; _zygote_entry(int(sys.argv[1]))"
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


def import_report_modules() -> None:
    """Import :data:`REPORT_MODULES` (one that is missing is left for the report to meet and name): in a zygote,
    or before forking one, so that it inherits them."""
    for name in REPORT_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _zygote_entry(fd: int) -> NoReturn:
    """Entry point of a zygote started as a fresh interpreter (``Zygote.start("spawn")``)."""
    from multiprocessing.connection import Connection

    learn = len(sys.argv) < 3 or sys.argv[2] != "0"
    _zygote_main(Connection(fd), learn=learn, how="spawn")


def _zygote_main(conn: Connection, *, learn: bool, how: str) -> NoReturn:
    status = 0
    try:
        os.environ["SALESREPORTS_BATCH"] = "1"
        quiet_threads()
        skip_unneeded_imports()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        import_report_modules()
        from salesreports.run import nbengine

        nbengine.prepare()
        _warm_registry()
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


def _warm_registry() -> None:
    """Parse the KPI declarations once here rather than in every report (about 40 ms each).

    The registry is kept per file stamp (:func:`salesreports.metrics.kpis.registry`): a report forked after
    an edit of ``kpis.yaml`` parses the new file itself. A mistake in the file is left for the report to
    meet and name.
    """
    with contextlib.suppress(Exception):
        from salesreports.metrics.kpis import registry

        registry()


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
    from salesreports.run.nbengine import ENGINE_NAME

    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        with contextlib.suppress(OSError):
            conn.close()
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        die_with_parent()
        before = set(sys.modules)
        reply: dict[str, Any] = {"error": ""}
        try:
            metadata = report_metadata(job)  # the toolkit reads the page header first,
            guard_report(job)  # then the report runs guarded: only this child, never the zygote
            execute_here(job, out, ENGINE_NAME, metadata=metadata)
        except BaseException as exc:
            reply["error"] = describe_error(exc)
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
        return {"error": f"the report process crashed (signal {number}, {signal_name(number)})", **seconds}
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

    def idle(self) -> int:
        """How many zygotes wait for a report (0: the next report starts one)."""
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for zygote in idle:
            zygote.close()


zygotes = _ZygotePool()


def execute_fast(job: Job, out: Path) -> tuple[str, dict[str, float]]:
    for attempt in (1, 2):
        with zygotes.acquire() as zygote:
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
