"""The delivery ledger: rows, transitions, history, recovery after a crash, the run lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesreports.errors import DeliveryError
from salesreports.mail.ledger import STATES, Ledger

KEY = ("2026-10", "R001", "abc123")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "outbox" / "ledger.sqlite") as led:
        yield led


def test_add_is_idempotent_and_keeps_the_first_row(ledger: Ledger) -> None:
    row = ledger.add(KEY, message_id="<m1@example.com>", recipients=["a@example.com", "m@example.com"])
    assert (row.state, row.attempts, row.recipients) == ("pending", 0, "a@example.com, m@example.com")
    again = ledger.add(KEY, message_id="<other@example.com>", recipients=["x@example.com"])
    assert again.message_id == "<m1@example.com>"
    assert len(ledger.rows()) == 1
    assert ledger.events(KEY) == [(row.created_at, "pending", "")]


def test_transitions_count_attempts_and_stamp_sent(ledger: Ledger) -> None:
    ledger.add(KEY, message_id="<m1@example.com>", recipients=["a@example.com"])
    ledger.mark(KEY, "sending", attempt=True)
    ledger.mark(KEY, "failed-temporary", "451 4.3.0 try later")
    ledger.mark(KEY, "sending", attempt=True)
    row = ledger.mark(KEY, "sent", "250 OK")
    assert (row.state, row.attempts, row.last_reply) == ("sent", 2, "250 OK")
    assert row.sent_at
    assert [s for _, s, _ in ledger.events(KEY)] == ["pending", "sending", "failed-temporary", "sending", "sent"]


def test_replies_are_one_line_and_clipped(ledger: Ledger) -> None:
    ledger.add(KEY, message_id="<m@example.com>", recipients=["a@example.com"])
    row = ledger.mark(KEY, "failed-permanent", "550 5.1.1\r\n" + "x" * 2000)
    assert "\n" not in row.last_reply
    assert len(row.last_reply) == 500


def test_rows_filter_by_period_and_rep(ledger: Ledger) -> None:
    ledger.add(KEY, message_id="<a@example.com>", recipients=["a@example.com"])
    ledger.add(("2026-10", "R001", "new-hash"), message_id="<b@example.com>", recipients=["a@example.com"])
    ledger.add(("2026-09", "R001", "old"), message_id="<c@example.com>", recipients=["a@example.com"])
    assert len(ledger.rows()) == 3
    assert len(ledger.rows("2026-10")) == 2
    assert [r.report_hash for r in ledger.for_rep("2026-10", "R001")] == ["abc123", "new-hash"]
    assert ledger.get(("2026-10", "R999", "x")) is None


def test_unknown_state_and_missing_row_raise(ledger: Ledger) -> None:
    with pytest.raises(DeliveryError, match="unknown delivery state 'delivered'"):
        ledger.mark(KEY, "delivered")  # type: ignore[arg-type]
    with pytest.raises(DeliveryError, match="no ledger row for period 2026-10, rep R001") as info:
        ledger.mark(KEY, "sent")
    assert info.value.rep == "R001"


def test_recover_turns_sending_into_possibly_sent(ledger: Ledger) -> None:
    ledger.add(KEY, message_id="<m@example.com>", recipients=["a@example.com"])
    ledger.add(("2026-10", "R002", "h"), message_id="<n@example.com>", recipients=["b@example.com"])
    ledger.mark(KEY, "sending", attempt=True)
    recovered = ledger.recover()
    assert [r.rep_id for r in recovered] == ["R001"]
    assert recovered[0].state == "possibly-sent"
    assert "may or may not" in recovered[0].last_reply
    assert ledger.get(("2026-10", "R002", "h")).state == "pending"  # type: ignore[union-attr]
    assert ledger.recover() == []


def test_sending_is_durable_across_a_killed_process(tmp_path: Path) -> None:
    """A row committed 'sending' by a process that dies by SIGKILL is there for the next process."""
    path = tmp_path / "ledger.sqlite"
    code = textwrap.dedent(f"""
        import os, signal
        from salesreports.mail.ledger import Ledger
        led = Ledger({str(path)!r})
        led.acquire()
        led.add({KEY!r}, message_id="<m@example.com>", recipients=["a@example.com"])
        led.mark({KEY!r}, "sending", attempt=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert proc.returncode == -9
    with Ledger(path) as led:
        led.acquire()  # the dead process's lock is gone
        assert led.get(KEY).state == "sending"  # type: ignore[union-attr]
        assert [r.state for r in led.recover()] == ["possibly-sent"]


def test_lock_excludes_a_second_sender(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as first, Ledger(path) as second:
        with first.lock(), pytest.raises(DeliveryError, match="another `salesreports send` is running"):
            second.acquire()
        second.acquire()  # released by the first
        second.unlock()


def test_a_file_that_is_not_a_ledger_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_text("not a database, just text" * 100)
    with pytest.raises(DeliveryError, match="not a delivery ledger") as info:
        Ledger(path)
    assert "move the file aside" in str(info.value)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(DeliveryError, match="newer than this salesreports"):
        Ledger(path)


def test_states_are_the_documented_ones() -> None:
    assert STATES == (
        "pending",
        "sending",
        "sent",
        "failed-temporary",
        "failed-permanent",
        "possibly-sent",
        "partly-sent",
    )


def test_item10_a_partly_sent_row_keeps_its_owed_and_refused_copies(ledger: Ledger) -> None:
    ledger.add(KEY, message_id="<m1@example.com>", recipients=["a@example.com", "m@example.com", "n@example.com"])
    ledger.mark(KEY, "sending", attempt=True)
    first = ledger.mark(
        KEY, "partly-sent", "250 OK", owed=["m@example.com"], refused={"n@example.com": "550 5.1.1 no such user"}
    )
    assert (first.state, first.owed_copies, first.refused_copies) == (
        "partly-sent",
        ("m@example.com",),
        {"n@example.com": "550 5.1.1 no such user"},
    )
    assert first.sent_at  # the rep's copy arrived
    later = ledger.mark(KEY, "partly-sent", "451 again", owed=["m@example.com"], refused=first.refused_copies)
    assert later.sent_at == first.sent_at  # when the rep got it, not when a copy was last tried
    resend = ledger.mark(KEY, "pending", "resend requested", owed=(), refused={})
    assert (resend.owed_copies, resend.refused_copies) == ((), {})


def test_item10_a_schema_1_ledger_gains_the_copy_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as con:  # the version-1 table, with a row
        con.executescript(
            """
            CREATE TABLE deliveries (period TEXT NOT NULL, rep_id TEXT NOT NULL, report_hash TEXT NOT NULL,
                state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_reply TEXT NOT NULL DEFAULT '',
                message_id TEXT NOT NULL DEFAULT '', recipients TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL, sent_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (period, rep_id, report_hash));
            INSERT INTO deliveries VALUES ('2026-10', 'R001', 'abc123', 'sent', 1, '250 OK', '<m1@example.com>',
                'a@example.com', '2026-11-01', '2026-11-01', '2026-11-01');
            PRAGMA user_version = 1;
            """
        )
    con.close()
    with Ledger(path) as led:
        (row,) = led.rows()
        assert (row.state, row.owed, row.refused) == ("sent", "", "")
        assert led.mark(KEY, "partly-sent", "250 OK", owed=["m@example.com"]).owed_copies == ("m@example.com",)
