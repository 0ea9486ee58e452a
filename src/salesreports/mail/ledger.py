"""The delivery ledger: which scorecard email went to whom, in one SQLite file.

One row per ``(period, rep, report hash)`` (the report hash is the manifest entry's ``inputs``: a
hash of template, context and render settings, so a changed report is a new row):

``pending``           planned, nothing sent yet
``sending``           committed *before* the SMTP transaction's DATA; only ever seen while a sender runs,
                      or after a sender died in the middle of one message
``sent``              the server answered 250 to the end of DATA
``failed-temporary``  connection refused or dropped before the message was complete, or a 4xx reply; a
                      later run tries again
``failed-permanent``  a 5xx reply (or an address that cannot be used); a later run does not retry it
                      unless told to (``--resend``)
``possibly-sent``     the sender does not know whether the server accepted the message: it died between
                      the ``sending`` commit and the ``sent`` commit, or the connection broke after the
                      message's final ``.`` was sent and before the server's reply. Never sent again
                      without ``--resend``.
``partly-sent``       the server accepted the message for the rep (To) but refused a copy (Cc, the
                      manager). ``owed`` lists the copies refused temporarily (4xx): a later run sends the
                      same message to them only, never to the rep again. ``refused`` holds the copies
                      refused permanently (5xx) with the server's reply: not retried; ``--resend`` sends
                      the whole message again, to everyone.

Every transition is committed (WAL journal, ``synchronous=FULL``) before the sender moves on, and
every transition is also appended to an ``events`` table, so ``salesreports send --status`` can show the
history. The ledger never holds a password: only addresses, Message-IDs and the server's replies
(scrubbed by :mod:`salesreports.mail.delivery`).

One sender at a time: :meth:`Ledger.lock` takes an exclusive ``flock`` on ``ledger.sqlite.lock``
that the operating system releases when the process ends, even by ``SIGKILL``. Only the lock holder
runs :meth:`Ledger.recover`, so a ``sending`` row found then belongs to a dead process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from salesreports.errors import DeliveryError

__all__ = [
    "FILE",
    "OPEN_STATES",
    "STATES",
    "UNSENT_STATES",
    "Delivery",
    "Key",
    "Ledger",
    "State",
]

FILE: Final = "ledger.sqlite"
SCHEMA_VERSION: Final = 2  # 2: the owed and refused copies of a partly-sent message
MAX_REPLY: Final = 500

State = Literal["pending", "sending", "sent", "failed-temporary", "failed-permanent", "possibly-sent", "partly-sent"]
STATES: Final[tuple[str, ...]] = get_args(State)
# States a normal run (re)tries (a partly-sent row: only its owed copies).
OPEN_STATES: Final = ("pending", "failed-temporary", "partly-sent")
# States that leave a recipient without a known delivery after a run (the exit code is 1 when one remains).
UNSENT_STATES: Final = ("pending", "failed-temporary", "failed-permanent", "possibly-sent", "partly-sent")

Key = tuple[str, str, str]
"""(period, rep_id, report_hash)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    period      TEXT NOT NULL,
    rep_id      TEXT NOT NULL,
    report_hash TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_reply  TEXT NOT NULL DEFAULT '',
    message_id  TEXT NOT NULL DEFAULT '',
    recipients  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    sent_at     TEXT NOT NULL DEFAULT '',
    owed        TEXT NOT NULL DEFAULT '',
    refused     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (period, rep_id, report_hash)
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    period      TEXT NOT NULL,
    rep_id      TEXT NOT NULL,
    report_hash TEXT NOT NULL,
    at          TEXT NOT NULL,
    state       TEXT NOT NULL,
    reply       TEXT NOT NULL DEFAULT ''
);
"""

_COLUMNS = (
    "period",
    "rep_id",
    "report_hash",
    "state",
    "attempts",
    "last_reply",
    "message_id",
    "recipients",
    "created_at",
    "updated_at",
    "sent_at",
    "owed",
    "refused",
)
# columns added after schema 1, with their definition: added to an older ledger when it is opened
_ADDED = {"owed": "TEXT NOT NULL DEFAULT ''", "refused": "TEXT NOT NULL DEFAULT ''"}


@dataclass(frozen=True)
class Delivery:
    """One ledger row.

    Attributes
    ----------
    period, rep_id, report_hash : the key
    state : see the module docstring
    attempts : SMTP transactions started for this row (``sending`` commits)
    last_reply : the last server reply or error (no secrets)
    message_id : the ``Message-ID`` header, stable per key
    recipients : the envelope recipients, comma-separated
    created_at, updated_at, sent_at : ISO timestamps (UTC); ``sent_at`` empty until sent (to the rep)
    owed : the copies (Cc addresses) a ``partly-sent`` message still owes, comma-separated
    refused : JSON ``{address: reply}`` of the copies refused permanently
    """

    period: str
    rep_id: str
    report_hash: str
    state: State
    attempts: int = 0
    last_reply: str = ""
    message_id: str = ""
    recipients: str = ""
    created_at: str = ""
    updated_at: str = ""
    sent_at: str = ""
    owed: str = ""
    refused: str = ""

    @property
    def key(self) -> Key:
        """``(period, rep_id, report_hash)``."""
        return (self.period, self.rep_id, self.report_hash)

    @property
    def owed_copies(self) -> tuple[str, ...]:
        """The addresses of :attr:`owed`."""
        return tuple(a for a in (x.strip() for x in self.owed.split(",")) if a)

    @property
    def refused_copies(self) -> dict[str, str]:
        """The copies refused permanently, ``{address: reply}``."""
        if not self.refused:
            return {}
        found = json.loads(self.refused)
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 1] + "…"


class Ledger:
    """The delivery ledger of an outbox folder (``<outbox>/ledger.sqlite``).

    Parameters
    ----------
    path : the SQLite file (created with its folder when missing)

    Raises
    ------
    DeliveryError
        The file exists but is not a ledger (the message says how to recover).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                msg = (
                    f"{self.path}: ledger schema {version} is newer than this salesreports understands "
                    f"({SCHEMA_VERSION}). Fix: upgrade salesreports."
                )
                raise DeliveryError(msg, file=str(self.path))
            self._db.executescript(_SCHEMA)
            have = {str(row[1]) for row in self._db.execute("PRAGMA table_info(deliveries)")}
            for column, definition in _ADDED.items():
                if column not in have:  # a schema-1 ledger: its rows keep their meaning (nothing owed)
                    self._db.execute(f"ALTER TABLE deliveries ADD COLUMN {column} {definition}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            msg = (
                f"{self.path}: not a delivery ledger ({exc}). Fix: move the file aside; the next send starts a "
                "new ledger (and would send every report again)."
            )
            raise DeliveryError(msg, file=str(self.path)) from None

    # -- life cycle --------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the run lock (if held) and close the database."""
        self.unlock()
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock_path(self) -> Path:
        """The lock file beside the ledger."""
        return self.path.with_name(self.path.name + ".lock")

    def acquire(self) -> None:
        """Take the exclusive run lock (released by :meth:`unlock`, :meth:`close` or the process's end).

        Raises
        ------
        DeliveryError
            Another ``salesreports send`` holds the lock.
        """
        if self._lock_fd is not None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
            return
        fd = os.open(str(self.lock_path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            msg = (
                f"another `salesreports send` is running with the ledger {self.path}. Fix: wait for it to "
                "finish (`salesreports send --status` shows its progress)."
            )
            raise DeliveryError(msg, file=str(self.path)) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the run lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @contextmanager
    def lock(self) -> Iterator[Ledger]:
        """``with ledger.lock():`` hold the run lock for the block."""
        self.acquire()
        try:
            yield self
        finally:
            self.unlock()

    # -- reading -----------------------------------------------------------------------------------------------
    def _select(self, where: str = "", args: Sequence[str] = ()) -> list[Delivery]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM deliveries {where} ORDER BY period, rep_id, created_at"
        return [Delivery(*row) for row in self._db.execute(sql, tuple(args))]

    def get(self, key: Key) -> Delivery | None:
        """The row of a key, or ``None``."""
        rows = self._select("WHERE period = ? AND rep_id = ? AND report_hash = ?", key)
        return rows[0] if rows else None

    def for_rep(self, period: str, rep_id: str) -> list[Delivery]:
        """Every row of a rep in a period (one per report hash), oldest first."""
        return self._select("WHERE period = ? AND rep_id = ?", (period, rep_id))

    def rows(self, period: str | None = None) -> list[Delivery]:
        """Every row, or those of one period."""
        return self._select("WHERE period = ?", (period,)) if period else self._select()

    def events(self, key: Key) -> list[tuple[str, str, str]]:
        """The history of a key: ``(at, state, reply)`` in order."""
        sql = "SELECT at, state, reply FROM events WHERE period = ? AND rep_id = ? AND report_hash = ? ORDER BY id"
        return [(str(a), str(s), str(r)) for a, s, r in self._db.execute(sql, key)]

    # -- writing -----------------------------------------------------------------------------------------------
    def add(
        self, key: Key, *, message_id: str, recipients: Sequence[str], state: State = "pending", reply: str = ""
    ) -> Delivery:
        """Insert a row for ``key`` unless it exists; return the (existing or new) row."""
        now = _now()
        with self._transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (period, rep_id, report_hash, state, last_reply, message_id, "
                "recipients, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, state, _clip(reply), message_id, ", ".join(recipients), now, now),
            )
            if cur.rowcount:
                self._event(key, state, reply, now)
        row = self.get(key)
        assert row is not None
        return row

    def mark(
        self,
        key: Key,
        state: State,
        reply: str = "",
        *,
        attempt: bool = False,
        message_id: str | None = None,
        recipients: Sequence[str] | None = None,
        owed: Sequence[str] | None = None,
        refused: Mapping[str, str] | None = None,
    ) -> Delivery:
        """Move a row to ``state`` (committed before returning).

        Parameters
        ----------
        key : the row
        state : the new state
        reply : the server's reply or the error (kept as ``last_reply`` when not empty)
        attempt : count one more SMTP attempt (used with ``sending``)
        message_id, recipients : update these columns too (a resend may change the recipients)
        owed, refused : the copies still owed and those refused permanently (``partly-sent``; empty to clear)

        Raises
        ------
        DeliveryError
            No such row, or an unknown state.
        """
        if state not in STATES:
            msg = f"unknown delivery state '{state}'; known: {', '.join(STATES)}."
            raise DeliveryError(msg, state=state)
        now = _now()
        sets = ["state = ?", "updated_at = ?", "attempts = attempts + ?"]
        args: list[object] = [state, now, 1 if attempt else 0]
        if reply:
            sets.append("last_reply = ?")
            args.append(_clip(reply))
        if state == "sent":
            sets.append("sent_at = ?")
            args.append(now)
        elif state == "partly-sent":  # the rep's copy arrived: keep when it first did
            sets.append("sent_at = CASE WHEN sent_at = '' THEN ? ELSE sent_at END")
            args.append(now)
        if message_id is not None:
            sets.append("message_id = ?")
            args.append(message_id)
        if recipients is not None:
            sets.append("recipients = ?")
            args.append(", ".join(recipients))
        if owed is not None:
            sets.append("owed = ?")
            args.append(", ".join(owed))
        if refused is not None:
            sets.append("refused = ?")
            args.append(json.dumps(dict(refused), ensure_ascii=False) if refused else "")
        with self._transaction():
            cur = self._db.execute(
                f"UPDATE deliveries SET {', '.join(sets)} WHERE period = ? AND rep_id = ? AND report_hash = ?",
                (*args, *key),
            )
            if not cur.rowcount:
                msg = f"no ledger row for period {key[0]}, rep {key[1]}, report {key[2]}."
                raise DeliveryError(msg, period=key[0], rep=key[1])
            self._event(key, state, reply, now)
        row = self.get(key)
        assert row is not None
        return row

    def recover(self) -> list[Delivery]:
        """Turn rows left ``sending`` by a dead sender into ``possibly-sent``; return them.

        Call it only while holding the run lock (:meth:`acquire`): then no live sender owns a ``sending`` row.
        """
        stale = self._select("WHERE state = 'sending'")
        for row in stale:
            self.mark(
                row.key,
                "possibly-sent",
                "the sender stopped during this message's SMTP transaction: the server may or may not have accepted it",
            )
        return [r for row in stale if (r := self.get(row.key)) is not None]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _event(self, key: Key, state: str, reply: str, at: str) -> None:
        self._db.execute(
            "INSERT INTO events (period, rep_id, report_hash, at, state, reply) VALUES (?, ?, ?, ?, ?, ?)",
            (*key, at, state, _clip(reply)),
        )
