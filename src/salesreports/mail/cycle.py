"""The monthly cycle as one idempotent command for a scheduler: run what is due, then send what is not sent.

:func:`run_cycle` takes the last complete month in the data (and the quarter or the year when that month ends
one), runs every report of those periods that is not already up to date (:func:`~salesreports.run.batch.run_reports`
validates the data first and skips reports whose inputs did not change), then mails what the ledger has not
sent yet to reps, managers and leadership (:func:`~salesreports.mail.send.send_reports`, exactly once per
message). Running it again does nothing new; after a failure it redoes only what is left.

One cycle at a time: a lock file in the output folder (``.cycle.lock``, an advisory ``flock`` that the
operating system releases when the process ends, even when it is killed) makes a second cycle wait up to
``wait`` seconds and then refuse with :class:`CycleBusyError`, naming the process that holds it.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesreports.errors import SalesReportsError

if TYPE_CHECKING:
    from salesreports.mail.send import SendSummary
    from salesreports.params import Config
    from salesreports.run.batch import RunSummary

__all__ = ["CycleBusyError", "CycleSummary", "cycle_lock", "due_periods", "run_cycle"]

LOCK_NAME = ".cycle.lock"
BUSY_EXIT = 75  # EX_TEMPFAIL: another cycle holds the lock; try again later


class CycleBusyError(SalesReportsError):
    """Another cycle holds the lock."""

    exit_code = BUSY_EXIT


def due_periods(as_of: pd.Timestamp) -> list[str]:
    """The periods a cycle runs for data that ends on ``as_of``: the last complete month, plus its quarter when
    the month ends a quarter, plus its year when it ends the year (e.g. ``2026-12, 2026-Q4, 2026``)."""
    from salesreports.run.batch import default_period

    month = default_period(as_of).end
    labels = [str(month)]
    if month.month % 3 == 0:
        labels.append(f"{month.year}-Q{month.quarter}")
    if month.month == 12:
        labels.append(str(month.year))
    return labels


@contextmanager
def cycle_lock(folder: Path, wait: float = 0.0) -> Iterator[Path]:
    """Hold the cycle lock of ``folder`` (created when missing) for the ``with`` block.

    Raises
    ------
    CycleBusyError
        Another process holds it for longer than ``wait`` seconds.
    """
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                    msg = (
                        f"another `salesreports cycle` is running on {folder} ({holder}); this one stops and "
                        f"leaves everything to it. Fix: wait for it to finish (or pass --wait SECONDS); the lock "
                        f"({path}) is released when that process ends, even if it is killed."
                    )
                    raise CycleBusyError(msg, file=str(path)) from None
                time.sleep(0.2)
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass
class CycleSummary:
    """What a cycle did: the run and, per period, the mail."""

    periods: list[str]
    run: RunSummary
    mail: dict[str, SendSummary] = field(default_factory=dict)
    dry_run: bool = False
    planned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        """Every report that failed and every message left unsent, named."""
        out = [
            f"{r['period']}: report {r['key']} failed: {r.get('error') or 'see the manifest'}" for r in self.run.failed
        ]
        for period, sent in self.mail.items():
            out += [
                f"{period}: mail to {row.to or row.rep_id} {row.state}: {row.detail}"
                for row in sent.rows
                if row.failing
            ]
        return out

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing that should have gone is left."""
        return not self.failures

    @property
    def idle(self) -> bool:
        """Nothing was run and nothing was sent: everything was already done."""
        ran = sum(1 for r in self.run.results if r.get("status") in ("ok", "failed"))
        sent = sum(s.count("sent") for s in self.mail.values())
        return ran == 0 and sent == 0 and not any(self.planned.values())


def run_cycle(
    config: Config,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    environ: dict[str, str] | None = None,
    on_stage: Callable[[str], None] | None = None,
    run_options: dict[str, Any] | None = None,
) -> CycleSummary:
    """Run the due periods' reports and send what is not sent yet (module docstring).

    Parameters
    ----------
    config : the settings
    dry_run : plan the reports without running them and write the messages to the outbox without sending
    wait : seconds to wait for another cycle to finish before refusing
    environ : the environment holding the SMTP password (default ``os.environ``)
    on_stage : called with a short description of each step (progress)
    run_options : more keyword arguments for :func:`~salesreports.run.batch.run_reports` (e.g. ``executor``)

    Raises
    ------
    CycleBusyError
        Another cycle is running.
    DataValidationError, ConfigError
        The data or the settings are wrong (nothing is run or sent).
    """
    from salesreports.mail.send import send_reports
    from salesreports.run.batch import run_reports

    stage = on_stage or (lambda _msg: None)
    with cycle_lock(config.output_path, wait):
        summary = run_reports(config, periods=due_periods, plan_only=dry_run, on_stage=stage, **dict(run_options or {}))
        cycle = CycleSummary(list(summary.periods), summary, dry_run=dry_run, planned=dict(summary.planned))
        for period in summary.periods:
            if dry_run and cycle.planned.get(period):
                continue  # its reports are not made yet: the messages would show last run's pages
            stage(f"mailing {period}")
            cycle.mail[period] = send_reports(
                config, period=period, send=not dry_run, environ=environ, audience=("all",)
            )
    return cycle
