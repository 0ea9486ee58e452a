"""Send built messages over SMTP: one reused connection, a rate limit, retries with backoff, a ledger.

What is retried
---------------
* **Temporary** (retried with exponential backoff and jitter, at most ``smtp.max_attempts`` attempts per
  message): the connection is refused, times out or drops *before the message's final ``.`` was sent*, or
  the server answers 4xx (421 also closes the connection; the next attempt reconnects).
* **Permanent** (recorded, the batch goes on): a 5xx reply to MAIL, to the rep's RCPT or to DATA.
* **A refused copy** (a Cc recipient, the manager) does not stop the rep's message. When the server
  accepts the message for the rep but refuses the copy, the row becomes ``partly-sent``: a 4xx refusal
  is retried like any temporary failure (backoff, ``smtp.max_attempts``; then by the next run), sending
  the same message to the owed copies *only*, so the rep never gets it twice; a 5xx refusal is recorded
  with the server's reply and not retried (``--resend`` sends the whole message again, to everyone).
  Either way the run exits 1 while a copy is missing.
* **Fatal for the batch** (:class:`~salesreports.errors.DeliveryError`): the login is refused, TLS cannot
  be set up, the server lacks STARTTLS or AUTH: every message would fail the same way.
* When the server cannot be reached ``max_attempts`` times in a row, the remaining messages are recorded
  ``failed-temporary`` and the batch stops (a later run tries them again).

Crash safety: the guarantee
---------------------------
Messages go out one at a time. For each, the ledger row is committed ``sending`` after the server's
``354`` to DATA and *before* the message body is transmitted; it is committed ``sent`` after the server's
``250``. Hence:

1. **No duplicates without ``--resend``.** A message is transmitted again only if the previous
   transmission certainly failed: an error before the body's final ``.`` was written, or a 4xx/5xx
   reply. If the fate is unknown, the row becomes ``possibly-sent`` and is never sent again unless the
   operator passes ``--resend``. The fate is unknown in exactly two cases: the sender process died
   between the two commits (the next run turns the leftover ``sending`` row into ``possibly-sent``), or
   the connection broke or timed out after the final ``.`` and before the reply.
2. **No silent loss.** A ``possibly-sent`` message the server did *not* accept is not delivered, but it
   is listed in every run's summary and in ``--status`` and makes ``send`` exit 1, until ``--resend``
   sends it again (which duplicates it if the server had in fact accepted it: at most one copy per
   ``--resend``).
3. Because one message is in flight at a time, a killed sender leaves at most **one** ``possibly-sent``
   row.

The password is read from the environment variable named by ``smtp.password_env`` and used only for the
SMTP login; every reply and error text is scrubbed of it (and of its base64 forms) before it is stored
or shown.
"""

from __future__ import annotations

import base64
import contextlib
import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from salesreports.errors import DeliveryError
from salesreports.mail.ledger import Key, Ledger, State
from salesreports.params import SmtpSettings

__all__ = [
    "Attempt",
    "Outcome",
    "Parcel",
    "RateLimiter",
    "SmtpTransport",
    "backoff_delay",
    "deliver",
    "password_from_env",
]

OutcomeKind = Literal["sent", "temporary", "permanent", "unknown"]
MAX_BACKOFF: Final = 300.0


@dataclass(frozen=True)
class Parcel:
    """One message ready for SMTP.

    Attributes
    ----------
    key : its ledger key ``(period, rep_id, report_hash)``
    sender : the envelope sender (an address)
    recipients : envelope recipients; the first is the rep (To), the others Cc
    data : the message, serialised with CRLF line ends
    message_id : its Message-ID header
    label : how summaries name it (``R002 Gustav Iyer``)
    copies : the rep already has this message: ``recipients`` are copies still owed (a ``partly-sent``
        row), each refusal of one leaves the others to go
    refused : copies refused permanently before, ``(address, reply)`` pairs, kept in the ledger
    """

    key: Key
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str
    label: str = ""
    copies: bool = False
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What one SMTP transaction did."""

    kind: OutcomeKind
    reply: str
    began_body: bool = False
    refused: dict[str, str] = field(default_factory=dict)


@dataclass
class Attempt:
    """The final result of one parcel after all its attempts.

    ``owed`` and ``refused`` (``{address: reply}``) are the copies a ``partly-sent`` message still owes
    (refused temporarily) and those refused permanently.
    """

    parcel: Parcel
    state: State
    attempts: int
    reply: str
    owed: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)


class _ConnectionError(Exception):
    """The server could not be reached or the connection broke before a transaction began."""


def password_from_env(settings: SmtpSettings, environ: dict[str, str] | None = None) -> str | None:
    """The SMTP password from the environment variable named by ``smtp.password_env``.

    Returns ``None`` when no username is set (no login).

    Raises
    ------
    DeliveryError
        A username is set but the variable is unset or empty.
    """
    import os

    if not settings.username:
        return None
    env = os.environ if environ is None else environ
    value = env.get(settings.password_env, "")
    if not value:
        msg = (
            f"SMTP username '{settings.username}' is set but the environment variable {settings.password_env} "
            f"is empty. Fix: export {settings.password_env}=... before sending (the password never goes into "
            "params files)."
        )
        raise DeliveryError(msg, variable=settings.password_env)
    return value


def _secret_forms(username: str, password: str | None) -> list[str]:
    if not password:
        return []
    forms = {password}
    for raw in (password, f"\0{username}\0{password}", f"{username}\0{username}\0{password}"):
        forms.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
    forms.add(repr(password)[1:-1])
    return sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)


class RateLimiter:
    """At most ``per_minute`` starts per minute, evenly spaced (``60 / per_minute`` seconds apart)."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / max(1, per_minute)
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> float:
        """Sleep until the next start is allowed; return the seconds slept."""
        now = self._clock()
        pause = 0.0
        if self._last is not None:
            pause = max(0.0, self._last + self.interval - now)
            if pause:
                self._sleep(pause)
        self._last = now + pause
        return pause


def backoff_delay(attempt: int, base: float, rng: random.Random, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait after the ``attempt``-th failure: ``base * 2**(attempt-1)``, jittered by ×0.5–1.5, capped."""
    raw = base * (2 ** max(0, attempt - 1))
    return float(min(cap, raw * rng.uniform(0.5, 1.5)))


_EOL = re.compile(rb"\r\n|\r|\n")
_DOT = re.compile(rb"(?m)^\.")


def _wire(data: bytes) -> bytes:
    """The DATA payload: CRLF line ends, dot-stuffed, with the terminating ``.``."""
    body = _DOT.sub(b"..", _EOL.sub(b"\r\n", data))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class SmtpTransport:
    """One SMTP connection, opened on first use and reused across messages (reopened when dropped).

    Parameters
    ----------
    settings : host, port, security (none, starttls, tls), username, timeout
    password : the login password (see :func:`password_from_env`), or ``None``
    ca_file : a PEM bundle of CAs to trust besides the system's (a company relay's own CA)
    """

    def __init__(self, settings: SmtpSettings, password: str | None = None, *, ca_file: str = "") -> None:
        self.settings = settings
        self._password = password
        self._ca_file = ca_file
        self._secrets = _secret_forms(settings.username, password)
        self._smtp: smtplib.SMTP | None = None
        self.transactions = 0  # on the current connection
        self.connections = 0  # opened in all

    # -- helpers ------------------------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """``text`` with the password (and its base64 forms) replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        return f"{self.settings.host}:{self.settings.port}"

    def _context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self._ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            msg = f"cannot read the CA file {self._ca_file!r} (smtp.ca_file): {exc}. Fix: point it at a PEM bundle."
            raise DeliveryError(msg, file=self._ca_file) from None

    # -- connection ---------------------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the connection (TLS, STARTTLS and login as configured) unless one is open.

        Raises
        ------
        DeliveryError
            Login refused, TLS failure, STARTTLS or AUTH not offered (fatal for the batch).
        _ConnectionError
            The server cannot be reached or hung up (temporary).
        """
        if self._smtp is not None:
            return
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    msg = (
                        f"the SMTP server {self.where} does not offer STARTTLS. Fix: set smtp.security to tls "
                        "(implicit TLS, usually port 465) or none, as the server expects."
                    )
                    raise DeliveryError(msg, host=s.host)
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username:
                self._login(smtp)
        except DeliveryError:
            _close(smtp)
            raise
        except ssl.SSLError as exc:
            _close(smtp)
            msg = (
                f"TLS with the SMTP server {self.where} failed: {self.scrub(str(exc))}. Fix: check smtp.security "
                "and smtp.port, or trust the server's CA with smtp.ca_file."
            )
            raise DeliveryError(msg, host=s.host) from None
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise _ConnectionError(self.scrub(f"{exc.smtp_code} {_text(exc.smtp_error)}")) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise _ConnectionError(self.scrub(f"{type(exc).__name__}: {exc}") + f" ({self.where})") from None
        self._smtp = smtp
        self.transactions = 0
        self.connections += 1

    def _login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        if not smtp.has_extn("auth"):
            msg = (
                f"the SMTP server {self.where} offers no AUTH (login) on this connection. Fix: use "
                "smtp.security starttls or tls if the server only allows login over TLS, or clear smtp.username."
            )
            raise DeliveryError(msg, host=s.host)
        try:
            smtp.login(s.username, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            reply = self.scrub(f"{exc.smtp_code} {_text(exc.smtp_error)}")
            if 400 <= exc.smtp_code < 500:
                raise _ConnectionError(f"login: {reply}") from None
            msg = (
                f"SMTP login as '{s.username}' on {self.where} failed: {reply}. Fix: check smtp.username and the "
                f"password in the environment variable {s.password_env}."
            )
            raise DeliveryError(msg, host=s.host, username=s.username) from None
        except smtplib.SMTPNotSupportedError:
            msg = f"the SMTP server {self.where} supports none of smtplib's login methods. Fix: clear smtp.username."
            raise DeliveryError(msg, host=s.host) from None

    def close(self) -> None:
        """QUIT (politely) and close the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _close(smtp)

    # -- one message --------------------------------------------------------------------------------------------
    def send(self, parcel: Parcel, before_body: Callable[[], None] = lambda: None) -> Outcome:
        """Run one SMTP transaction for ``parcel``.

        ``before_body`` runs after the server's 354 and before the message is transmitted (the ledger commits
        ``sending`` there). A stale reused connection is reopened once, transparently.

        Raises
        ------
        _ConnectionError
            The server could not be reached, or the connection dropped before the body was sent.
        DeliveryError
            Fatal for the batch (see :meth:`connect`).
        """
        for fresh in (False, True):
            reused = self._smtp is not None and self.transactions > 0
            self.connect()
            try:
                return self._transaction(parcel, before_body)
            except _StaleConnectionError as exc:
                self._drop()
                if fresh or not reused:
                    raise _ConnectionError(str(exc)) from None
        raise _ConnectionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _transaction(self, parcel: Parcel, before_body: Callable[[], None]) -> Outcome:
        smtp = self._smtp
        assert smtp is not None
        self.transactions += 1
        try:
            code, reply = smtp.mail(parcel.sender)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _StaleConnectionError(self.scrub(f"connection lost before MAIL: {exc}")) from None
        if code != 250:
            return self._refused("MAIL", code, reply)
        refused: dict[str, str] = {}
        try:
            for i, rcpt in enumerate(parcel.recipients):
                code, reply = smtp.rcpt(rcpt)
                if code in (250, 251):
                    continue
                if (i == 0 and not parcel.copies) or code == 421:
                    return self._refused(f"RCPT {rcpt}", code, reply)
                refused[rcpt] = self.scrub(f"{code} {_text(reply)}")
            if len(refused) == len(parcel.recipients):  # owed copies only, every one refused: no DATA
                out = self._refused(f"RCPT {', '.join(refused)}", code, reply, refused)
                temporary = any(_temporary(r) for r in refused.values())
                return replace(out, kind="temporary" if temporary else "permanent")
            smtp.putcmd("data")
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise _ConnectionError(self.scrub(f"connection lost before DATA: {exc}")) from None
        if code != 354:
            return self._refused("DATA", code, reply, refused)
        try:
            before_body()
        except BaseException:
            self._drop()  # the body is never sent: the server discards the open transaction
            raise
        try:
            smtp.send(_wire(parcel.data))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            # the final "." was not written: the server cannot have accepted the message
            return Outcome("temporary", self.scrub(f"connection lost while sending the message: {exc}"), True, refused)
        try:
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            text = f"no reply after the message was sent ({exc}): the server may have accepted it"
            return Outcome("unknown", self.scrub(text), True, refused)
        text = self.scrub(f"{code} {_text(reply)}")
        if refused:
            text += "; refused: " + "; ".join(f"{k}: {v}" for k, v in refused.items())
        if code == 250:
            return Outcome("sent", text, True, refused)
        if code == 421:
            self._drop()
        return Outcome("temporary" if 400 <= code < 500 else "permanent", text, True, refused)

    def _refused(self, stage: str, code: int, reply: bytes | str, refused: dict[str, str] | None = None) -> Outcome:
        text = self.scrub(f"{stage}: {code} {_text(reply)}")
        if code == 421 or code < 0:
            self._drop()
        else:
            try:
                assert self._smtp is not None
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self._drop()
        kind: OutcomeKind = "permanent" if 500 <= code < 600 else "temporary"
        return Outcome(kind, text, False, refused or {})


def _settle_copies(item: _Item, outcome: Outcome) -> None:
    """After a transaction that delivered the message to the rep (now or before): which copies are owed."""
    targets = (item.current or item.parcel).recipients
    owed = [a for a, r in outcome.refused.items() if _temporary(r)]
    refused = {a: r for a, r in outcome.refused.items() if not _temporary(r)}
    if outcome.kind != "sent":  # nothing was delivered: every target not refused by itself shares the fate
        rest = [a for a in targets if a not in outcome.refused]
        if outcome.kind == "temporary":
            owed += rest
        else:
            refused.update(dict.fromkeys(rest, outcome.reply))
    item.partial = True
    item.refused.update(refused)
    item.owed = tuple(owed)


def _temporary(reply: str) -> bool:
    """Whether a recipient's refusal (``"451 4.7.1 ..."``) is temporary."""
    return reply[:1] == "4"


class _StaleConnectionError(Exception):
    """The first command on a reused connection failed: reopen and try once more."""


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


@dataclass
class _Item:
    due: float
    seq: int
    parcel: Parcel
    attempts: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # copies refused permanently
    partial: bool = False  # the rep has the message: only copies are owed
    owed: tuple[str, ...] = ()  # copies refused temporarily, still to send
    current: Parcel | None = None  # what the next transaction sends, when not the parcel itself


def deliver(
    parcels: Sequence[Parcel],
    transport: SmtpTransport,
    *,
    ledger: Ledger | None,
    max_attempts: int,
    backoff: float,
    rate_per_minute: int,
    backoff_cap: float = MAX_BACKOFF,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_result: Callable[[Attempt], None] | None = None,
) -> list[Attempt]:
    """Send every parcel over ``transport``, recording each step in ``ledger`` (``None``: test sends).

    Every ledger row must exist (``Ledger.add``) before. Parcels that fail temporarily are retried after
    an exponential, jittered backoff while the others go on; connection failures pause the whole batch.
    The loop is bounded: at most ``len(parcels) * max_attempts`` transactions.

    Returns
    -------
    list[Attempt]
        One final result per parcel, in the order of ``parcels``.

    Raises
    ------
    DeliveryError
        Fatal for the batch (login refused, TLS). Parcels not yet tried keep their ledger state.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    limiter = RateLimiter(rate_per_minute, clock=clock, sleep=sleep)
    queue = [
        _Item(clock(), i, p, refused=dict(p.refused), partial=p.copies, owed=p.recipients if p.copies else ())
        for i, p in enumerate(parcels)
    ]
    done: dict[int, Attempt] = {}
    not_before = clock()
    down = 0  # consecutive connection failures

    def settled(item: _Item, state: State) -> State:
        """A message the rep has is never again failed or pending: it is partly sent until its copies are."""
        return "partly-sent" if item.partial and state in ("failed-temporary", "failed-permanent") else state

    def finish(item: _Item, state: State, reply: str) -> None:
        queue.remove(item)
        state = settled(item, state)
        owed = item.owed if state == "partly-sent" else ()
        result = Attempt(item.parcel, state, item.attempts, reply, owed, dict(item.refused))
        done[item.seq] = result
        if on_result is not None:
            on_result(result)

    def record(item: _Item, state: State, reply: str, *, attempt: bool = False) -> None:
        state = settled(item, state)
        if ledger is None:
            return
        if state in ("sent", "partly-sent"):
            owed = item.owed if state == "partly-sent" else ()
            ledger.mark(item.parcel.key, state, reply, attempt=attempt, owed=owed, refused=item.refused)
        else:
            ledger.mark(item.parcel.key, state, reply, attempt=attempt)

    for _ in range(len(parcels) * max_attempts + 1):
        if not queue:
            break
        item = min(queue, key=lambda q: (q.due, q.seq))
        wait = max(item.due, not_before) - clock()
        if wait > 0:
            sleep(wait)
        limiter.wait()

        def sending(item: _Item = item) -> None:
            record(item, "sending", "", attempt=True)

        try:
            outcome = transport.send(item.current or item.parcel, before_body=sending)
        except _ConnectionError as exc:
            item.attempts += 1
            down += 1
            reply = str(exc)
            record(item, "failed-temporary", reply, attempt=True)
            if down >= max_attempts:
                for rest in list(queue):
                    if rest is not item:
                        record(rest, "failed-temporary", f"not tried: the server was unreachable ({reply})")
                    finish(rest, "failed-temporary", reply if rest is item else f"not tried: {reply}")
                break
            not_before = clock() + backoff_delay(down, backoff, rng, backoff_cap)
            if item.attempts >= max_attempts:
                finish(item, "failed-temporary", reply)
            continue
        down = 0
        item.attempts += 1
        attempt = not outcome.began_body  # began_body: "sending" already counted the attempt
        if outcome.kind == "sent" or (item.partial and outcome.kind != "unknown"):
            _settle_copies(item, outcome)
            if item.owed and item.attempts < max_attempts:  # retry the owed copies only, never the rep's
                record(item, "partly-sent", outcome.reply, attempt=attempt)
                item.current = replace(item.parcel, recipients=item.owed, copies=True)
                item.due = clock() + backoff_delay(item.attempts, backoff, rng, backoff_cap)
            else:
                state: State = "partly-sent" if item.owed or item.refused else "sent"
                record(item, state, outcome.reply, attempt=attempt)
                finish(item, state, outcome.reply)
        elif outcome.kind == "unknown":
            record(item, "possibly-sent", outcome.reply)
            finish(item, "possibly-sent", outcome.reply)
        elif outcome.kind == "permanent":
            record(item, "failed-permanent", outcome.reply, attempt=attempt)
            finish(item, "failed-permanent", outcome.reply)
        else:
            record(item, "failed-temporary", outcome.reply, attempt=attempt)
            if item.attempts >= max_attempts:
                finish(item, "failed-temporary", outcome.reply)
            else:
                item.due = clock() + backoff_delay(item.attempts, backoff, rng, backoff_cap)
    for item in list(queue):  # pragma: no cover - the bound above is never reached
        finish(item, "failed-temporary", "gave up: too many attempts")
    return [done[i] for i in sorted(done)]
