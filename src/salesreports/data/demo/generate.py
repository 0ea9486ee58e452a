"""Deterministic demo CRM data in the canonical model: :func:`generate_demo`.

It writes ``reps``, ``deals``, ``leads``, ``activities``, ``targets`` and ``feedback`` (CSV or Parquet) for a
fictional sales organisation (:mod:`salesreports.data.demo.model`). The same arguments always give
byte-identical files: nothing depends on today's date (the last month is a parameter) and every random draw
comes from a stream derived from ``seed``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from salesreports.data.demo.model import MONTH_RE, Generator
from salesreports.data.demo.output import DEMO_TABLES, Format, check_out_dir, publish
from salesreports.errors import ConfigError

__all__ = ["DemoSummary", "generate_demo"]


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote.

    Attributes
    ----------
    out_dir : the directory holding the data set
    seed : the random seed used
    scale : the deal-volume multiplier used
    fmt : ``"csv"`` or ``"parquet"``
    rows : row count per table, in :data:`DEMO_TABLES` order
    first_month, last_month : the window, ``YYYY-MM``
    files : the files written, in :data:`DEMO_TABLES` order
    """

    out_dir: Path
    seed: int
    scale: float
    fmt: str
    rows: Mapping[str, int] = field(hash=False)
    first_month: str
    last_month: str
    files: tuple[Path, ...]


def generate_demo(
    out_dir: Path,
    *,
    seed: int = 7,
    scale: float = 1.0,
    end_month: str = "2026-10",
    months: int = 36,
    fmt: Format = "csv",
    n_reps: int = 44,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write a realistic, deterministic CRM data set in the canonical model.

    The six tables are written to a new directory beside ``out_dir`` and then
    renamed into place, so an interrupted run never leaves a half data set.

    Parameters
    ----------
    out_dir : Path
        Directory to (re)create. If it exists it may hold only files of an
        earlier demo data set (``<table>.csv`` / ``<table>.parquet``).
    seed : int
        Random seed (>= 0); the same arguments give byte-identical files.
    scale : float
        Multiplies the deal volume (leads follow; activities do not). About
        21 deals are created per rep per month at scale 1.
    end_month : str
        The last month of the window, ``YYYY-MM``. No date lies after it.
    months : int
        Length of the window in months (>= 3).
    fmt : {"csv", "parquet"}
        File format.
    n_reps : int
        Number of reps (8 to 999), split over four regional teams.
    progress : callable, optional
        Called with a short message after every generated month and step.

    Returns
    -------
    DemoSummary
        Row counts, window and files written.

    Raises
    ------
    ConfigError
        An argument is out of range, or ``out_dir`` holds files that are not
        part of a demo data set.
    """
    _check_args(seed, scale, end_month, months, fmt, n_reps)
    out_dir = Path(out_dir).resolve()
    check_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        gen = Generator(seed=seed, scale=scale, end_month=end_month, months=months, n_reps=n_reps)
        rows = gen.run(tmp, fmt, progress or _no_progress)
        publish(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = tuple(out_dir / f"{name}.{fmt}" for name in DEMO_TABLES)
    return DemoSummary(
        out_dir=out_dir,
        seed=seed,
        scale=scale,
        fmt=fmt,
        rows=MappingProxyType(rows),
        first_month=gen.first_month,
        last_month=end_month,
        files=files,
    )


def _no_progress(message: str) -> None:
    """Ignore a progress message."""


def _check_args(seed: int, scale: float, end_month: str, months: int, fmt: str, n_reps: int) -> None:
    problems = []
    if not isinstance(seed, int) or seed < 0:
        problems.append(f"seed must be a whole number >= 0, got {seed!r}")
    if not isinstance(scale, int | float) or not scale > 0 or not np.isfinite(scale):
        problems.append(f"scale must be a positive number, got {scale!r}")
    if not isinstance(end_month, str) or not MONTH_RE.match(end_month):
        problems.append(f"end_month must look like 2026-10 (YYYY-MM), got {end_month!r}")
    if not isinstance(months, int) or months < 3:
        problems.append(f"months must be a whole number >= 3, got {months!r}")
    if fmt not in ("csv", "parquet"):
        problems.append(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if not isinstance(n_reps, int) or not 8 <= n_reps <= 999:
        problems.append(f"n_reps must be a whole number from 8 to 999, got {n_reps!r}")
    if problems:
        msg = "Invalid demo-data arguments: " + "; ".join(problems) + "."
        raise ConfigError(msg, problems=problems)
