"""Sending scorecard emails: the dry run, the SMTP send loop and its ledger decisions.

``send_reports`` is what ``salesreports send`` runs. By default it is a **dry run**: every message is
written as ``<outbox>/<period>/<folder>.eml`` for review (``<folder>``: the report's folder in the period,
e.g. ``R007`` or ``team-North``, unique even on a case-insensitive file system) and nothing
is sent. With ``send=True`` the
messages go out over SMTP (:mod:`salesreports.mail.delivery`) and each step is recorded in the delivery
ledger (:mod:`salesreports.mail.ledger`, ``<outbox>/ledger.sqlite``). ``test_to`` sends every message to
one address instead, with ``[TEST]`` in the subject, and records nothing in the ledger.

A re-run sends only what was not sent: a row ``sent`` or ``possibly-sent`` for the same report hash is
skipped; so is a *changed* report (new hash) of a rep who already got the period's scorecard, unless
``resend=True``. ``failed-temporary`` and ``pending`` rows are tried again; ``failed-permanent`` only with
``resend``. ``resend`` applies to the reports selected: with ``reps=["team/South"]`` only the South summary
is sent again. A ``partly-sent`` row (the rep got the message, a Cc copy was refused) sends the same message
to the copies refused temporarily only, never to the rep again; copies refused permanently are not
retried, and the run exits 1 while any copy is missing. See :mod:`salesreports.mail.delivery` for the
crash-safety guarantee.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from salesreports.errors import DeliveryError
from salesreports.mail.message import BuiltMail, build_message
from salesreports.mail.recipients import Candidate, Selection, check_address, select_reports
from salesreports.params import Config

__all__ = ["MailRow", "SendSummary", "ledger_rows", "resend_command", "send_reports"]


# States of a summary row that make ``salesreports send`` exit 1.
FAILING: Final = frozenset(
    {
        "failed-temporary",
        "failed-permanent",
        "possibly-sent",
        "report failed",
        "invalid address",
        "incomplete report",
        "pending",
        "partly-sent",
        "error",
    }
)


def nameable(ident: str) -> bool:
    """Whether ``--reps`` can name this report id: the option splits on commas and strips each id, so an id
    holding a comma (or starting or ending with a space) cannot be named (there is no escape)."""
    return "," not in ident and ident == ident.strip() and bool(ident)


def command_words(command: str, params: str | Path | None = None) -> list[str]:
    """``salesreports <command>``, with ``--params`` when the settings file is not the default one: the start of
    a command a message tells someone to run."""
    from salesreports.params import DEFAULT_PARAMS

    words = ["salesreports", command]
    if params and Path(params).resolve() != DEFAULT_PARAMS.resolve():
        words += ["--params", str(params)]
    return words


def resend_command(period: str, ids: Sequence[str], params: str | Path | None = None) -> str:
    """The ``salesreports send`` command that sends again ``ids`` of ``period``, and only them, quoted for a
    POSIX shell (the whole ``--reps`` value is one word: ids are often names, ``Ivan Petrov``,
    ``team/Inside Sales``). ``params``: the settings file, left out when it is the default one.

    An id that ``--reps`` cannot name (:func:`nameable`) is left out of the command and said so: a command
    without ``--reps`` would send the whole period again.
    """
    words = [*command_words("send", params), "--send", "--resend", "--period", period]
    named = [i for i in ids if nameable(i)]
    odd = [i for i in ids if not nameable(i)]
    text = f"{shlex.join(words)} --reps {shlex.quote(','.join(named))}" if named else ""
    if odd:
        which = ", ".join(map(repr, odd))
        note = (
            f"--reps cannot name {which} (a comma in an id, or a space at its start or end: there is no escape), "
            "so no command sends only it again: send it by hand, or give it an id without one"
        )
        text = f"{text} ({note})" if text else note
    return text


@dataclass
class MailRow:
    """One line of the send summary."""

    rep_id: str
    name: str
    to: str
    state: str
    detail: str = ""
    attempts: int = 0
    path: str = ""
    size: int = 0

    @property
    def failing(self) -> bool:
        """Whether this row makes the command exit 1."""
        return self.state in FAILING


@dataclass
class SendSummary:
    """What ``send_reports`` did."""

    period: str
    mode: str  # dry-run, send, test
    rows: list[MailRow] = field(default_factory=list)
    outbox: Path | None = None
    ledger: Path | None = None
    recovered: list[str] = field(default_factory=list)
    seconds: float = 0.0
    resend_keys: list[tuple[str, str]] = field(default_factory=list)  # (period, report) found possibly sent

    def resend_commands(self, params: str | Path | None = None) -> list[str]:
        """The ``salesreports send`` commands that send again, and only, what an interrupted run left in doubt
        (one per period; :func:`resend_command`)."""
        by_period: dict[str, list[str]] = {}
        for period, ident in self.resend_keys:
            by_period.setdefault(period, []).append(ident)
        return [resend_command(p, ids, params) for p, ids in by_period.items()]

    @property
    def ok(self) -> bool:
        """True when nothing is left unsent that should have gone (see :data:`FAILING`)."""
        return not any(r.failing for r in self.rows)

    def count(self, state: str) -> int:
        """How many rows are in ``state``."""
        return sum(1 for r in self.rows if r.state == state)


def _decide(
    rows: Sequence[Any], report_hash: str, resend: bool, ident: str, params: str | Path | None = None
) -> tuple[bool, str, str]:
    """(send?, state when not sent, detail) for a report (``ident``: its rep id or ``team/<team>``) from its
    ledger rows in the period (``params``: the settings file, for the command a detail names)."""
    current = next((r for r in rows if r.report_hash == report_hash), None)
    if resend:
        return True, "", "resend requested" if current or rows else ""
    if current is not None:
        if current.state in ("pending", "failed-temporary"):
            return True, "", f"retry after {current.state} ({current.attempts} attempt(s))"
        if current.state == "partly-sent":
            if current.owed_copies:
                return True, "", f"only the copy to {', '.join(current.owed_copies)}, refused temporarily before"
            return False, "partly-sent", _copies_detail((), current.refused_copies)
        if current.state == "sent":
            return False, "already sent", f"sent {current.sent_at}"
        if current.state in ("possibly-sent", "sending"):
            return (
                False,
                "possibly-sent",
                f"interrupted during SMTP: check whether it arrived; "
                f"{resend_command(current.period, [ident], params)} sends it again",
            )
        return False, current.state, f"{current.last_reply} (--resend tries again)"
    earlier = [r for r in rows if r.state in ("sent", "possibly-sent", "sending", "partly-sent")]
    if earlier:
        when = earlier[-1].sent_at or earlier[-1].updated_at
        return False, "not resent", f"the report changed after it was sent ({when}); --resend sends the new one"
    return True, "", ""


def _copies_detail(owed: Sequence[str], refused: dict[str, str]) -> str:
    """What a ``partly-sent`` row says: the rep has the message; which copies are owed or refused."""
    parts = ["the rep's copy was delivered"]
    if owed:
        parts.append(f"the copy to {', '.join(owed)} was refused temporarily: the next run sends it (only it)")
    for address, reply in refused.items():
        parts.append(
            f"the copy to {address} was refused permanently ({reply}): not retried; fix the address, then "
            "--resend sends the whole message again, to the rep too"
        )
    return "; ".join(parts)


def send_reports(
    config: Config,
    *,
    period: str | None = None,
    reps: Sequence[str] | None = None,
    send: bool = False,
    test_to: str | None = None,
    resend: bool = False,
    environ: dict[str, str] | None = None,
    on_row: Callable[[MailRow], None] | None = None,
    audience: Sequence[str] | None = None,
) -> SendSummary:
    """Mail a period's rep scorecards (and team and company summaries): dry run, real send, or test send.

    Parameters
    ----------
    config : settings (``mail``, ``smtp``, ``outbox_dir``, ``output_dir``)
    period : the period label (default: the newest with a manifest)
    reps : only these reports: rep ids, ``team/<team>``, ``company`` (default: every report of the audience);
        ``resend`` then resends only them
    send : really send (default: write ``.eml`` files only)
    test_to : send every message to this address instead (``[TEST]`` subject, no ledger)
    resend : send again what the ledger says was sent, possibly sent, failed permanently, or changed
    environ : the environment holding the SMTP password (default ``os.environ``)
    on_row : called with each summary row as soon as it is final (progress)
    audience : who is sent to: ``reps``, ``managers`` (each team summary to its manager), ``leadership`` (the
        company summary to ``mail.leadership``), or ``all``; default: the audiences of the reports ``reps``
        names, else ``reps``. See :mod:`salesreports.mail.recipients`. Every message has its own ledger row,
        keyed by its report.

    Returns
    -------
    SendSummary
        ``ok`` is False when anything is left unsent that should have gone.

    Raises
    ------
    DeliveryError, ConfigError, ParamsError
        No reports for the period, bad settings, unknown reps, login refused, another sender running.
    """
    started = time.perf_counter()
    if test_to:
        check_address(test_to, rep_id="(none)", role="--test-to address")
    sel = select_reports(config, period, reps, audience)
    mode = "test" if test_to else "send" if send else "dry-run"
    outbox = config.resolve(config.outbox_dir)
    summary = SendSummary(sel.period, mode, outbox=outbox / sel.period, ledger=outbox / "ledger.sqlite")
    emit = on_row or (lambda _row: None)

    def add(row: MailRow) -> None:
        summary.rows.append(row)
        emit(row)

    ready = []
    for c in sel.candidates:
        if c.ready:
            ready.append(c)
        else:
            add(MailRow(c.rep_id, c.name, c.to.address if c.to else "", c.state, c.problem))
    if not send:
        _dry_run(config, sel, ready, summary, add, test_to)
    elif test_to:
        _send(config, sel, ready, summary, add, test_to=test_to, resend=False, environ=environ)
    else:
        _send(config, sel, ready, summary, add, test_to=None, resend=resend, environ=environ)
    order = {c.rep_id: i for i, c in enumerate(sel.candidates)}
    summary.rows.sort(key=lambda r: order.get(r.rep_id, len(order)))
    summary.seconds = time.perf_counter() - started
    return summary


def _dry_run(
    config: Config,
    sel: Selection,
    ready: list[Candidate],
    summary: SendSummary,
    add: Callable[[MailRow], None],
    test_to: str | None,
) -> None:
    from salesreports.mail.ledger import Ledger
    from salesreports.paths import atomic_write_bytes, inside

    assert summary.outbox is not None
    assert summary.ledger is not None
    ledger = Ledger(summary.ledger) if summary.ledger.exists() and not test_to else None
    try:
        for c in ready:
            to = test_to or (c.to.address if c.to else "")
            try:
                built = build_message(config, sel, c, test_to=test_to)
            except DeliveryError as exc:
                add(MailRow(c.rep_id, c.name, to, "error", str(exc)))
                continue
            name = f"{c.file_name}{'.test' if test_to else ''}.eml"
            path = atomic_write_bytes(inside(summary.outbox, name), built.data)
            others = built.recipients[1:]
            label = "with Cc " if c.kind == "rep" else "also to "
            detail = "; ".join(d for d in (label + ", ".join(others) if others else "", c.note) if d)
            if ledger is None and not test_to:
                detail = "; ".join(d for d in (detail, "--send would send it") if d)
            elif ledger is not None:
                go, state, why = _decide(
                    ledger.for_rep(sel.period, c.rep_id), c.report_hash, False, c.rep_id, config.path
                )
                detail = "; ".join(
                    d
                    for d in (
                        detail,
                        ("--send would send it" if go else f"--send skips it: {state}") + (f" ({why})" if why else ""),
                    )
                    if d
                )
            add(MailRow(c.rep_id, c.name, to, "written", detail, path=str(path), size=built.size))
    finally:
        if ledger is not None:
            ledger.close()


def _send(
    config: Config,
    sel: Selection,
    ready: list[Candidate],
    summary: SendSummary,
    add: Callable[[MailRow], None],
    *,
    test_to: str | None,
    resend: bool,
    environ: dict[str, str] | None,
) -> None:
    from salesreports.mail.delivery import Attempt, Parcel, SmtpTransport, deliver, password_from_env
    from salesreports.mail.ledger import Ledger

    assert summary.ledger is not None
    password = password_from_env(config.smtp, environ)
    ca_file = str(config.resolve(config.smtp.ca_file)) if config.smtp.ca_file else ""
    ledger = None if test_to else Ledger(summary.ledger)
    built: dict[str, BuiltMail] = {}
    recovered: list[Any] = []
    try:
        if ledger is not None:
            ledger.acquire()
            recovered = ledger.recover()
            summary.recovered.extend(
                r.rep_id if r.period == sel.period else f"{r.rep_id} ({r.period})" for r in recovered
            )
            summary.resend_keys.extend((r.period, r.rep_id) for r in recovered)
        parcels: list[Parcel] = []
        for c in ready:
            to = test_to or (c.to.address if c.to else "")
            if ledger is not None:
                go, state, why = _decide(
                    ledger.for_rep(sel.period, c.rep_id), c.report_hash, resend, c.rep_id, config.path
                )
                if not go:
                    current = ledger.get((sel.period, c.rep_id, c.report_hash))
                    add(MailRow(c.rep_id, c.name, to, state, why, attempts=current.attempts if current else 0))
                    continue
            try:
                one = build_message(config, sel, c, test_to=test_to)
            except DeliveryError as exc:
                add(MailRow(c.rep_id, c.name, to, "error", str(exc)))
                continue
            key = (sel.period, c.rep_id, c.report_hash)
            label = f"{c.rep_id} {c.name}"
            built[c.rep_id] = one
            if ledger is not None:
                existing = ledger.add(key, message_id=one.message_id, recipients=one.recipients)
                if existing.state == "partly-sent" and not resend:  # the same message, to the owed copies only
                    owed, refused = existing.owed_copies, tuple(existing.refused_copies.items())
                    parcels.append(Parcel(key, one.sender, owed, one.data, one.message_id, label, True, refused))
                    continue
                if existing.state != "pending":
                    ledger.mark(
                        key,
                        "pending",
                        "resend requested" if resend else "retry",
                        recipients=one.recipients,
                        owed=(),
                        refused={},
                    )
            parcels.append(Parcel(key, one.sender, one.recipients, one.data, one.message_id, label))

        def done(result: Attempt) -> None:
            one = built[result.parcel.key[1]]
            c = one.candidate
            state: str = result.state
            if test_to and state == "sent":
                state = "test sent"
            detail = result.reply
            if state == "partly-sent":
                detail = f"{_copies_detail(result.owed, result.refused)} ({result.reply})"
            if c.note:
                detail = f"{detail}; {c.note}" if detail else c.note
            add(
                MailRow(
                    c.rep_id,
                    c.name,
                    ", ".join(result.parcel.recipients),
                    state,
                    detail,
                    attempts=result.attempts,
                    size=one.size,
                )
            )

        if parcels:
            s = config.smtp
            with SmtpTransport(s, password, ca_file=ca_file) as transport:
                deliver(
                    parcels,
                    transport,
                    ledger=ledger,
                    max_attempts=s.max_attempts,
                    backoff=s.backoff_seconds,
                    rate_per_minute=s.rate_per_minute,
                    backoff_cap=s.backoff_max_seconds,
                    on_result=done,
                )
    finally:
        if ledger is not None:
            ledger.close()
    seen = {r.rep_id for r in summary.rows}
    for row in recovered:  # not selected this time (another rep or period): still report it
        if row.period != sel.period or row.rep_id not in seen:
            add(
                MailRow(
                    row.rep_id,
                    "",
                    row.recipients,
                    "possibly-sent",
                    f"{row.period}: found after an interrupted run; "
                    f"{resend_command(row.period, [row.rep_id], config.path)} sends it again",
                )
            )


def ledger_rows(config: Config, period: str | None = None) -> tuple[Path, list[Any]]:
    """The ledger file and its rows (:class:`~salesreports.mail.ledger.Delivery`), of one period or all.

    An absent ledger gives no rows (and is not created).
    """
    from salesreports.mail.ledger import FILE, Ledger

    path = config.resolve(config.outbox_dir) / FILE
    if not path.exists():
        return path, []
    with Ledger(path) as ledger:
        return path, ledger.rows(period)
