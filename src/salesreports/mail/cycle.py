"""The monthly cycle as one idempotent command for a scheduler: run what is due, then send what is not sent.

:func:`run_cycle` takes the last complete month in the data (and the quarter or the year when that month ends
one), runs every report of those periods that is not already up to date (:func:`~salesreports.run.batch.run_reports`
validates the data first and skips reports whose inputs did not change), then mails what the ledger has not
sent yet to reps, managers and leadership (:func:`~salesreports.mail.send.send_reports`, exactly once per
message). Running it again does nothing new; after a failure it redoes only what is left.

**Earlier periods are not dropped.** A period the cycle has taken on stays *open* (``.cycle.json`` in the
output folder, ``{"open": ["2026-09"]}``) until a cycle finishes it with nothing left: no failed report and
no message unsent. Once the data has moved on to the next month, the cycle takes up each open earlier
period beside the due ones, again only what is left: its failed reports, and any never made, are run
(``retry_failed``: the others keep the pages their messages were built from), its unsent messages are sent
(the ledger keeps sent ones from going twice), and what is still left is named, with exit 1. An earlier
period that cannot be run or mailed any more (the data no longer covers it) is named every time and never
holds back the due ones; removing it from ``.cycle.json`` gives it up. A message of an earlier period that
failed on its address is not finished by correcting the reps table: the address is in the kept report's
context, so the failure names the commands that make that report again and send it (:func:`readdress`).

One cycle at a time: a lock file in the output folder (``.cycle.lock``, an advisory ``flock`` that the
operating system releases when the process ends, even when it is killed) makes a second cycle wait up to
``wait`` seconds and then refuse with :class:`CycleBusyError`, naming the process that holds it.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
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

__all__ = ["CycleBusyError", "CycleSummary", "cycle_lock", "due_periods", "open_periods", "run_cycle"]

LOCK_NAME = ".cycle.lock"
STATE_NAME = ".cycle.json"  # the periods taken on and not finished yet
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


def open_periods(folder: Path) -> list[str]:
    """The periods earlier cycles took on and did not finish (``<folder>/.cycle.json``; none when absent).

    Raises
    ------
    ConfigError
        The file is not what a cycle writes.
    """
    import json

    from salesreports.errors import ConfigError

    path = folder / STATE_NAME
    if not path.exists():
        return []
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("open", [])
        if not isinstance(found, list) or not all(isinstance(p, str) for p in found):
            raise TypeError(found)
    except (ValueError, TypeError, AttributeError) as exc:
        msg = (
            f"{path} is unreadable ({exc}): it lists the periods earlier cycles left unfinished. Fix: correct it "
            '(e.g. {"open": ["2026-09"]}), or delete it to give those periods up.'
        )
        raise ConfigError(msg, file=str(path)) from None
    return list(dict.fromkeys(found))


def _save_open(folder: Path, periods: list[str]) -> None:
    import json

    from salesreports.paths import atomic_write_text

    atomic_write_text(folder / STATE_NAME, json.dumps({"open": sorted(set(periods))}, indent=1) + "\n")


# a message's states that can come from a wrong address (read from the report's kept context.json)
ADDRESS_FAILURES = frozenset({"invalid address", "failed-permanent"})


def readdress(period: str, ident: str, params: str = "") -> str:
    """How to send a report of ``period`` (``ident``: a rep id or ``team/<team>``) to a corrected address: the
    address is read from the report's context.json, which a cycle keeps for an earlier period (it runs only the
    failed reports there), so the report is made again first and then sent again."""
    from salesreports.mail.send import command_words, resend_command

    words = [*command_words("run", params), "--force", "--period", period]
    words += ["--template", "team"] if ident.startswith("team/") else ["--reps", ident, "--template", "rep"]
    return (
        "if the address is wrong: correct it (the reps table), then, as a cycle keeps the report made for an earlier "
        f"period and the address in it, `{shlex.join(words)}` and `{resend_command(period, [ident], params)}`"
    )


@dataclass
class CycleSummary:
    """What a cycle did: the run and, per period, the mail.

    ``earlier`` are the periods of earlier cycles it took up again (something was left in them); ``stuck``
    names those it could not run at all (period -> why).
    """

    periods: list[str]
    run: RunSummary
    mail: dict[str, SendSummary] = field(default_factory=dict)
    dry_run: bool = False
    planned: dict[str, list[str]] = field(default_factory=dict)
    earlier: list[str] = field(default_factory=list)
    stuck: dict[str, str] = field(default_factory=dict)
    unmailed: dict[str, str] = field(default_factory=dict)  # an earlier period whose mail could not start: why
    params: str = ""  # the settings file, for the commands a failure names

    def failures_of(self, period: str) -> list[str]:
        """What is left of one period, named."""
        return [line for line in self.failures if line.startswith(f"{period}: ")]

    @property
    def failures(self) -> list[str]:
        """Every report that failed and every message left unsent, named."""
        out = [f"{p}: could not be run again: {why}" for p, why in self.stuck.items()]
        out += [f"{p}: could not be mailed: {why}" for p, why in self.unmailed.items()]
        out += [
            f"{r['period']}: report {r['key']} failed: {r.get('error') or 'see the manifest'}" for r in self.run.failed
        ]
        for period, sent in self.mail.items():
            out += [
                f"{period}: mail to {row.to or row.rep_id} {row.state}: {row.detail}"
                + (f"; {readdress(period, row.rep_id, self.params)}" if row.state in ADDRESS_FAILURES else "")
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
        """Nothing was run, nothing was sent and nothing is left: everything was already done."""
        ran = sum(1 for r in self.run.results if r.get("status") in ("ok", "failed"))
        sent = sum(s.count("sent") for s in self.mail.values())
        return ran == 0 and sent == 0 and not any(self.planned.values()) and self.ok


def run_cycle(
    config: Config,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    environ: dict[str, str] | None = None,
    on_stage: Callable[[str], None] | None = None,
    run_options: dict[str, Any] | None = None,
) -> CycleSummary:
    """Run the due periods' reports and send what is not sent yet, and take up what earlier cycles left
    (module docstring).

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
    from salesreports.errors import DeliveryError
    from salesreports.mail.send import send_reports
    from salesreports.run.batch import run_reports

    stage = on_stage or (lambda _msg: None)
    folder = config.output_path
    options = dict(run_options or {})
    options.setdefault("loaded", {})  # the data is loaded and its KPIs computed once, for every period's run
    with cycle_lock(folder, wait):
        earlier = open_periods(folder)
        due: list[str] = []

        def due_now(as_of: pd.Timestamp) -> list[str]:
            due[:] = due_periods(as_of)
            if not dry_run:  # taken on before anything runs: a cycle that dies half-way leaves them open
                _save_open(folder, [*earlier, *due])
            return due

        summary = run_reports(config, periods=due_now, plan_only=dry_run, on_stage=stage, **options)
        todo = [p for p in earlier if p not in due]
        stuck: dict[str, str] = {}
        if todo:
            stage(f"taking up {', '.join(todo)}, left unfinished by an earlier cycle")
            before, stuck = _take_up(config, todo, dry_run, stage, options)
            summary = _merged([*before, summary])
        cycle = CycleSummary(
            list(summary.periods),
            summary,
            dry_run=dry_run,
            planned=dict(summary.planned),
            earlier=[p for p in summary.periods if p not in due],
            stuck=stuck,
            params=config.path,
        )
        for period in summary.periods:
            if dry_run and cycle.planned.get(period):
                continue  # its reports are not made yet: the messages would show last run's pages
            stage(f"mailing {period}")
            try:
                cycle.mail[period] = send_reports(
                    config, period=period, send=not dry_run, environ=environ, audience=("all",)
                )
            except DeliveryError as exc:
                if period not in cycle.earlier:
                    raise
                cycle.unmailed[period] = str(exc)  # named; the due periods are still mailed
        if not dry_run:  # a period with nothing left is finished; the others stay open for the next cycle
            _save_open(folder, [*stuck, *(p for p in summary.periods if cycle.failures_of(p))])
    return cycle


def _take_up(
    config: Config, periods: list[str], dry_run: bool, stage: Callable[[str], None], options: dict[str, Any]
) -> tuple[list[RunSummary], dict[str, str]]:
    """Run again only the failed reports of earlier periods (``retry_failed``: the others keep the pages their
    messages were built from); a period that cannot be run any more is returned with why, not raised, so that
    it never holds back the due periods."""
    from salesreports.errors import ParamsError
    from salesreports.run.batch import run_reports

    def run(labels: list[str]) -> RunSummary:
        return run_reports(
            config, periods=",".join(labels), retry_failed=True, plan_only=dry_run, on_stage=stage, **options
        )

    try:
        return [run(periods)], {}
    except ParamsError as exc:
        if len(periods) == 1:
            return [], {periods[0]: str(exc)}
    done: list[RunSummary] = []
    stuck: dict[str, str] = {}
    for period in periods:  # find which one cannot be run: each alone
        try:
            done.append(run([period]))
        except ParamsError as exc:
            stuck[period] = str(exc)
    return done, stuck


def _merged(runs: list[RunSummary]) -> RunSummary:
    """One summary of several runs, in their order."""
    from salesreports.run.batch import RunSummary

    out = RunSummary([])
    for r in runs:
        out.periods += r.periods
        out.results += r.results
        out.skipped += r.skipped
        out.unchanged += r.unchanged
        out.seconds += r.seconds
        out.index_paths += r.index_paths
        out.index_urls += r.index_urls
        out.warnings += [w for w in r.warnings if w not in out.warnings]
        out.notes += [n for n in r.notes if n not in out.notes]
        out.planned.update(r.planned)
    return out
