"""Process hygiene for processes that fork reports: thread counts, quiet thread pools, parent-death signals."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "QUIET_THREADS",
    "die_with_parent",
    "environment",
    "os_threads",
    "quiet_threads",
    "signal_name",
    "usable_cores",
]

# Set in every process that forks reports, before numpy/pyarrow load: their helper threads would make fork unsafe.
# Reports are CPU-bound and already run one per core, so single-threaded BLAS loses nothing.
QUIET_THREADS: dict[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}


def os_threads() -> int:
    """The number of OS threads of this process (Python's and native ones)."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError:  # pragma: no cover - not Linux
        return threading.active_count()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share; else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# Optional modules that a dependency imports eagerly and this package never needs: ``jsonschema`` (under
# nbformat) imports ``rfc3987_syntax`` when it is installed, which compiles its lark grammars (~1.5 s) for
# the ``iri`` formats that notebook validation never checks.
UNNEEDED_MODULES = ("rfc3987_syntax",)


def skip_unneeded_imports() -> None:
    """Make the optional imports of :data:`UNNEEDED_MODULES` fail at once (the importer then goes without)."""
    for name in UNNEEDED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None in sys.modules: ImportError


def quiet_threads() -> None:
    for name, value in QUIET_THREADS.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables that are not set yet, for the processes started inside the block."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphaned, hung reports)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
