"""Run jobs in a pool of worker processes on this machine (:class:`LocalExecutor`).

The same jobs run on a dask.distributed cluster through :mod:`salesreports.run.distributed`. Every output
is written atomically: a temp file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salesreports.run.jobs import Job, JobResult, Mode
from salesreports.run.processes import QUIET_THREADS, environment, signal_name
from salesreports.run.worker import run_job, warm_up
from salesreports.run.zygote import zygotes

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess


__all__ = ["LocalExecutor"]


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
        zygotes.close()


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
        with environment(QUIET_THREADS):
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
        how = f"signal {signal_name(-code)}" if code is not None and code < 0 else f"exit status {code}"
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
