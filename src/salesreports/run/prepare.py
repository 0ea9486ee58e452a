"""A period's contexts: built from its scope and written, in this process or by forked processes sharing it.

Planning a large organisation is mostly building and writing one context per report (a few milliseconds
each: 5,000 reps take half a minute on one core). With many reports the work is split over forked
processes, which share the scope (data, KPI table, benchmarks) with this process copy-on-write: nothing is
pickled but each report's small result (its context's hash, the rep's name and team, the index figures).

Every context is the same file whichever process writes it (each report's folder is written by one process
only). A report whose context cannot be built (a bug, bad data the checks let through) is built again in
this process, so that its error is raised here as it would be without workers; a worker that dies (out of
memory) leaves its reports to this process too.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesreports.run.processes import usable_cores

__all__ = ["MIN_PARALLEL", "Made", "Wanted", "make_contexts", "workers_for"]

MIN_PARALLEL = 200  # fewer reports than this are written here: forking costs more than it saves
CHUNK = 50  # reports per task: small enough to balance the workers, large enough to cost nothing to send


@dataclass(frozen=True)
class Wanted:
    """One report whose context is to be written.

    Attributes
    ----------
    kind, ident : ``rep`` and the rep's id, or ``team`` and the team's name (or ``company``)
    path : its ``context.json``
    previous : the inputs of the report as made before when its files are all there, else None
    """

    kind: str
    ident: str
    path: Path
    previous: str | None


@dataclass(frozen=True)
class Made:
    """A written context: its hash, the report's inputs, whose it is and (when it must run) its index figures."""

    context_hash: str
    inputs: str
    name: str
    team: str
    headline: dict[str, Any] | None


# make_contexts' scope, inputs, headline and force: set before the workers fork, which inherit them
_SHARED: dict[str, Any] = {}


def workers_for(count: int, limit: int | None = None) -> int:
    """Processes to write ``count`` contexts with: one per usable core (at most ``limit``), one when few."""
    if count < MIN_PARALLEL or not hasattr(os, "fork"):
        return 1
    cores = usable_cores()
    return max(1, min(cores, limit or cores, count // CHUNK))


def make_contexts(
    scope: Any,
    wanted: Sequence[Wanted],
    *,
    inputs: Callable[[str, str], str],
    headline: Callable[[dict[str, Any]], dict[str, Any]],
    force: bool,
    workers: int = 1,
) -> list[Made]:
    """Build and write the contexts of ``wanted`` (in its order), with ``workers`` processes.

    ``inputs(kind, context_hash)`` gives a report's inputs hash; ``headline(context)`` its index figures, made
    only for a report that must run (``force``, or inputs that differ from its ``previous``).
    """
    _SHARED.update(scope=scope, inputs=inputs, headline=headline, force=force)
    try:
        if workers <= 1 or len(wanted) < 2:
            return [_make(w) for w in wanted]
        out: list[Made | None] = [_make(wanted[0])]  # here first: caches the scope fills on first use are shared
        out.extend(_in_workers(wanted[1:], workers))
        # a report a worker could not make is made here: its error is raised as without workers
        return [m if m is not None else _make(w) for w, m in zip(wanted, out, strict=True)]
    finally:
        _SHARED.clear()


def _make(w: Wanted) -> Made:
    from salesreports.report.contexts import write_context

    scope = _SHARED["scope"]
    if w.kind == "rep":
        context = scope.rep_context(w.ident)
        name, team = str(context["rep"]["name"]), str(context["rep"]["team"])
    else:
        context = scope.team_context(w.ident)
        name, team = w.ident, w.ident
    digest = write_context(context, w.path)
    inputs = _SHARED["inputs"](w.kind, digest)
    runs = _SHARED["force"] or w.previous != inputs
    return Made(digest, inputs, name, team, _SHARED["headline"](context) if runs else None)


def _made_or_none(chunk: Sequence[Wanted]) -> list[Made | None]:
    """In a worker: the chunk's contexts, None for one that fails (this process makes it again, see above)."""
    out: list[Made | None] = []
    for w in chunk:
        try:
            out.append(_make(w))
        except Exception:  # raised again, with its own message, when the parent makes it
            out.append(None)
    return out


def _in_workers(wanted: Sequence[Wanted], workers: int) -> list[Made | None]:
    import multiprocessing  # here: a preview (one report) never loads the process pool
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    chunks = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    results: list[list[Made | None]] = [[None] * len(c) for c in chunks]
    gc.collect()
    _trim()  # what the scope's making freed goes back to the system, not into each worker's copy of the heap
    gc.freeze()  # the workers' collector never writes to the objects they share: their pages stay shared
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_made_or_none, c) for c in chunks]
            for i, future in enumerate(futures):
                try:
                    results[i] = future.result()
                except BrokenProcessPool:  # a worker died (killed, out of memory): its chunks are made here
                    continue
    finally:
        gc.unfreeze()
    return [m for chunk in results for m in chunk]


def _trim() -> None:
    """Return the C library's free heap pages to the system (glibc's ``malloc_trim``; nothing elsewhere)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - no C library to load
        return
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
