"""Tests for salesreports.mail.delivery (and salesreports.mail.send) against a real SMTP server.

Every server is an aiosmtpd ``Controller`` on 127.0.0.1 and a free port, started by a fixture that stops it
(and releases any stalled handler) at teardown. The handler records every accepted message and can be told
to misbehave: refuse a recipient, answer 4xx/5xx to DATA, drop the connection at MAIL or after the body.
"""

from __future__ import annotations

import asyncio
import base64
import email
import itertools
import random
import re
import shlex
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from salesreports import mail
from salesreports.errors import DeliveryError
from salesreports.mail import delivery
from salesreports.mail.ledger import Ledger
from salesreports.params import Config, SmtpSettings
from test_mail import CLONES, PERIOD, UNICODE_SUBJECTS, mail_config, shared_reports

pytestmark = pytest.mark.smtp

PASSWORD = "hunter2-Sup3r$ecret"
STALL_SECONDS = 15.0


# -- the server ----------------------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: Any
    at: float

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]


@dataclass
class Recorder:
    """An aiosmtpd handler that records accepted messages and misbehaves on request."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # recipient -> reply (e.g. 550)
    rcpt_scripts: dict[str, list[str]] = field(default_factory=dict)  # recipient -> replies to its next RCPTs
    data_replies: dict[str, list[str]] = field(default_factory=dict)  # To -> replies for successive attempts
    drop_at_mail: set[int] = field(default_factory=set)  # drop the connection at these MAIL commands (1-based)
    drop_after_body: set[str] = field(default_factory=set)  # To: keep the message, hang up without a reply
    stall_on: str = ""  # To: keep the message, then wait for `release` before answering
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    mails: int = 0
    logins: list[str] = field(default_factory=list)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.mails += 1
        if self.mails in self.drop_at_mail:
            server.transport.close()
            return "421 4.4.2 gone"  # never reaches the client: the connection is closed
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        if self.rcpt_scripts.get(address):
            return self.rcpt_scripts[address].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        to = envelope.rcpt_tos[0]
        script = self.data_replies.get(to)
        if script:
            return script.pop(0)
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session.peer, time.monotonic()
            )
        )
        if to in self.drop_after_body:
            self.drop_after_body.discard(to)
            server.transport.close()
            return "250 OK"
        if to == self.stall_on:
            self.stalled.set()
            for _ in range(int(STALL_SECONDS / 0.05)):
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
        return "250 2.0.0 OK queued"

    def count(self) -> Counter[str]:
        return Counter(r.to for r in self.received)

    def message_ids(self) -> Counter[str]:
        return Counter(str(r.message["Message-ID"]) for r in self.received)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Servers:
    """Starts controllers and stops every one of them at teardown."""

    def __init__(self) -> None:
        self.controllers: list[Controller] = []
        self.timers: list[threading.Timer] = []
        self.handlers: list[Recorder] = []

    def start(self, handler: Recorder, port: int | None = None, *, delay: float = 0.0, **kw: Any) -> int:
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **kw)
        self.controllers.append(controller)
        self.handlers.append(handler)
        if delay:
            timer = threading.Timer(delay, controller.start)
            self.timers.append(timer)
            timer.start()
        else:
            controller.start()
        return port

    def stop(self) -> None:
        for handler in self.handlers:
            handler.release.set()
        for timer in self.timers:
            timer.cancel()
            timer.join(timeout=10)
        for controller in self.controllers:
            if getattr(controller, "_thread", None) is not None:
                controller.stop(no_assert=True)


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_reports(tmp_path_factory)


def smtp_config(reports: Path, outbox: Path, port: int, **smtp: Any) -> Config:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "timeout": 5,
        "rate_per_minute": 60000,
        "max_attempts": 6,
        "backoff_seconds": 0.05,
        "backoff_max_seconds": 1.0,
        **smtp,
    }
    return mail_config(reports, outbox, smtp=settings, mail={"cc_manager": True})


def ledger_states(cfg: Config) -> dict[str, tuple[str, int, str]]:
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:
        return {r.rep_id: (r.state, r.attempts, r.last_reply) for r in led.rows(PERIOD)}


def sent_message_ids(cfg: Config) -> Counter[str]:
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:
        return Counter(r.message_id for r in led.rows(PERIOD) if r.state == "sent")


# -- units without a server --------------------------------------------------------------------------------------------


def test_rate_limiter_spaces_starts_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = delivery.RateLimiter(30, clock=lambda: now[0], sleep=sleep)  # one every 2 s
    assert limiter.wait() == 0
    assert limiter.wait() == pytest.approx(2.0)
    now[0] += 5  # a slow message: no extra wait
    assert limiter.wait() == 0
    now[0] += 0.5
    assert limiter.wait() == pytest.approx(1.5)
    assert slept == [pytest.approx(2.0), pytest.approx(1.5)]


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 20])
def test_backoff_is_exponential_jittered_and_capped(attempt: int) -> None:
    rng = random.Random(7)
    delays = [delivery.backoff_delay(attempt, 2.0, rng, cap=60) for _ in range(200)]
    base = 2.0 * 2 ** (attempt - 1)
    assert min(delays) >= min(60, base * 0.5)
    assert max(delays) <= min(60, base * 1.5)
    if base * 1.5 < 60:
        assert len(set(delays)) > 100  # jittered


def test_wire_format_is_dot_stuffed_with_crlf() -> None:
    assert delivery._wire(b"a\n.b\r\n..c\rd") == b"a\r\n..b\r\n...c\r\nd\r\n.\r\n"
    assert delivery._wire(b"x\r\n") == b"x\r\n.\r\n"


def test_password_comes_from_the_named_variable() -> None:
    s = SmtpSettings(username="scorecards", password_env="MY_SMTP_SECRET")
    assert delivery.password_from_env(s, {"MY_SMTP_SECRET": PASSWORD}) == PASSWORD
    assert delivery.password_from_env(SmtpSettings(), {}) is None
    with pytest.raises(DeliveryError, match="environment variable MY_SMTP_SECRET is empty") as info:
        delivery.password_from_env(s, {})
    assert info.value.variable == "MY_SMTP_SECRET"


def test_scrub_hides_the_password_and_its_base64_forms() -> None:
    t = delivery.SmtpTransport(SmtpSettings(username="scorecards"), PASSWORD)
    plain = base64.b64encode(f"\0scorecards\0{PASSWORD}".encode()).decode()
    login = base64.b64encode(PASSWORD.encode()).decode()
    text = t.scrub(f"535 bad: {PASSWORD} / {plain} / {login}")
    assert PASSWORD not in text
    assert plain not in text
    assert login not in text
    assert text.count("***") == 3


def _reps_option(value: str) -> list[str]:
    """How `salesreports send --reps` reads its value (cli.send)."""
    return [r.strip() for r in value.split(",") if r.strip()]


def test_resend_commands_are_shell_quoted_and_name_only_what_is_in_doubt() -> None:
    from types import SimpleNamespace

    from salesreports.mail.send import SendSummary, _decide

    summary = SendSummary(PERIOD, "send")
    summary.resend_keys = [(PERIOD, "Ivan Petrov"), (PERIOD, "team/Inside Sales"), ("2025-02", "R1")]
    first, second = summary.resend_commands("my params/config.yaml")
    words = shlex.split(first)  # what a shell makes of the printed command
    assert words[:4] == ["salesreports", "send", "--params", "my params/config.yaml"]
    assert words[words.index("--period") + 1] == PERIOD
    assert _reps_option(words[words.index("--reps") + 1]) == ["Ivan Petrov", "team/Inside Sales"]
    assert {"--send", "--resend"} <= set(words)
    assert shlex.split(second)[-4:] == ["--period", "2025-02", "--reps", "R1"]
    # the detail of a row left possibly sent names the same command
    row = SimpleNamespace(period=PERIOD, report_hash="h", state="possibly-sent", attempts=1, sent_at="", updated_at="")
    _go, _state, detail = _decide([row], "h", False, "Ivan Petrov")
    assert f"--period {PERIOD} --reps 'Ivan Petrov' sends it again" in detail


def test_an_id_holding_a_comma_is_said_to_be_unnameable_not_resent_with_the_whole_period() -> None:
    from salesreports.mail.send import resend_command

    alone = resend_command(PERIOD, ["Petrov, Ivan"])
    assert "--reps" in alone and "cannot name 'Petrov, Ivan'" in alone
    assert not alone.startswith("salesreports send")  # no command: without --reps it would resend everyone
    mixed = resend_command(PERIOD, ["Petrov, Ivan", "R1"])
    command, note = mixed.split(" (", 1)
    assert _reps_option(shlex.split(command)[-1]) == ["R1"]
    assert "cannot name 'Petrov, Ivan'" in note


# -- a real server ---------------------------------------------------------------------------------------------------


def test_messages_arrive_over_one_connection(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder()
    port = servers.start(handler)
    cfg = smtp_config(reports, tmp_path, port)
    summary = mail.send_reports(cfg, reps=["R1", "R2", "R10"], send=True)
    assert summary.ok
    assert [r.state for r in summary.rows] == ["sent", "sent", "sent"]
    assert len(handler.received) == 3
    assert len({r.peer for r in handler.received}) == 1  # one connection for the batch
    by_to = {r.to: r for r in handler.received}
    assert set(by_to) == {"ann.archer@example.com", "bob.baker@example.com", "r10@example.com"}
    for r in handler.received:
        assert r.mail_from == "sales-ops@example.com"
        assert r.rcpt_tos[1:] == ["mia.north@example.com"]  # Cc the manager (mail.cc_manager)
        msg = r.message
        assert msg["Cc"] == "mia.north@example.com"
        assert msg["Reply-To"] is None or "@example.com" in str(msg["Reply-To"])
        types = [p.get_content_type() for p in msg.walk()]
        assert types[:5] == ["multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html"]
        html_part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
        html = html_part.get_content()
        cids = {str(p["Content-ID"]).strip("<>") for p in msg.walk() if p.get_content_type() == "image/png"}
        assert cids
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == cids
        assert "<script" not in html.lower()
        assert "<svg" not in html.lower()
        assert len(html.encode()) < 100_000
        pdf = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
        assert len(pdf) == 1
        assert pdf[0].get_content_disposition() == "attachment"
    assert by_to["ann.archer@example.com"].message["To"].addresses[0].display_name.startswith("Ann script")
    states = ledger_states(cfg)
    assert {k: v[:2] for k, v in states.items()} == {"R1": ("sent", 1), "R2": ("sent", 1), "R10": ("sent", 1)}
    assert states["R1"][2].startswith("250 2.0.0 OK queued")
    assert sent_message_ids(cfg) == handler.message_ids()

    again = mail.send_reports(cfg, reps=["R1", "R2", "R10"], send=True)
    assert [r.state for r in again.rows] == ["already sent"] * 3
    assert again.ok
    assert len(handler.received) == 3


def test_item7_unicode_subjects_survive_a_real_smtp_round_trip(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder()
    port = servers.start(handler)
    for i, subject in enumerate(UNICODE_SUBJECTS):
        settings = {"host": "127.0.0.1", "port": port, "timeout": 5, "rate_per_minute": 60000}
        cfg = mail_config(reports, tmp_path / str(i), smtp=settings, mail={"subject": subject})
        summary = mail.send_reports(cfg, reps=["R10"], send=True)
        assert [r.state for r in summary.rows] == ["sent"]
        received = email.message_from_bytes(handler.received[-1].content, policy=policy.default)
        assert str(received["Subject"]) == " ".join(subject.replace("{period}", PERIOD).split())
    assert len(handler.received) == len(UNICODE_SUBJECTS)


def test_rate_limit(reports: Path, tmp_path: Path, servers: Servers) -> None:
    """Starts are 0.4 s apart. The server sees arrivals, which lag their start by the machine's latency (CI
    showed a 0.1 s spacing arriving 0.08 s apart under load): the last arrives at least 3 × 0.4 s after the
    first started, so the span allows 0.3 s of latency for the first message, and every gap 0.2 s."""
    handler = Recorder()
    cfg = smtp_config(reports, tmp_path, servers.start(handler), rate_per_minute=150)  # one per 0.4 s
    mail.send_reports(cfg, reps=["R10", "R11", "R12", "R13"], send=True)
    times = sorted(r.at for r in handler.received)
    assert len(times) == 4
    assert times[-1] - times[0] >= 3 * 0.4 - 0.3
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.2


@pytest.mark.parametrize(
    ("report", "address"), [("R10", "r10@example.com"), ("team/North", "mia.north@example.com")], ids=["rep", "team"]
)
def test_changed_reports_are_not_resent_without_resend(
    reports: Path, tmp_path: Path, servers: Servers, report: str, address: str
) -> None:
    handler = Recorder()
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:  # an older version of the report was sent
        led.add((PERIOD, report, "an-older-hash"), message_id="<old@example.com>", recipients=[address])
        led.mark((PERIOD, report, "an-older-hash"), "sent", "250 OK")
    summary = mail.send_reports(cfg, reps=[report], send=True)
    assert [(r.rep_id, r.state) for r in summary.rows] == [(report, "not resent")]
    assert "the report changed after it was sent" in summary.rows[0].detail
    assert "--resend sends the new one" in summary.rows[0].detail
    assert summary.ok
    assert not handler.received
    resent = mail.send_reports(cfg, reps=[report], send=True, resend=True)
    assert [r.state for r in resent.rows] == ["sent"]
    assert handler.count() == Counter({address: 1})
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:
        assert sorted(r.state for r in led.for_rep(PERIOD, report)) == ["sent", "sent"]


def test_faults_refused_4xx_5xx_and_a_dropped_connection(reports: Path, tmp_path: Path, servers: Servers) -> None:
    """The server starts late, greylists one message, shuts down on another, rejects one recipient and
    drops the connection mid-batch: every deliverable message arrives exactly once, the 550 is permanent."""
    handler = Recorder(
        rcpt_replies={"r13@example.com": "550 5.1.1 <r13@example.com>: no such user"},
        data_replies={
            "r11@example.com": ["451 4.7.1 Greylisted, try again later"],
            "r12@example.com": ["421 4.3.2 Service shutting down"],
        },
        drop_at_mail={4},
    )
    port = free_port()
    servers.start(handler, port, delay=0.4)  # connections are refused until then
    cfg = smtp_config(reports, tmp_path, port)
    reps = ["R2", *CLONES]
    summary = mail.send_reports(cfg, reps=reps, send=True)
    deliverable = {"bob.baker@example.com", *(f"{r.lower()}@example.com" for r in CLONES if r != "R13")}
    assert handler.count() == Counter(dict.fromkeys(deliverable, 1))
    states = ledger_states(cfg)
    assert states["R13"][0] == "failed-permanent"
    assert "550 5.1.1" in states["R13"][2]
    assert {r for r, s in states.items() if s[0] == "sent"} == set(reps) - {"R13"}
    assert states["R11"][1] == 2  # greylisted once
    assert states["R12"][1] == 2  # 421 once, then reconnected
    assert sum(s[1] for s in states.values()) >= len(reps) + 3  # refused connection(s), 451, 421, the drop
    assert sent_message_ids(cfg) == handler.message_ids()
    assert not summary.ok
    assert [r.rep_id for r in summary.rows if r.failing] == ["R13"]

    again = mail.send_reports(cfg, reps=reps, send=True)  # a re-run sends nothing new
    assert handler.count() == Counter(dict.fromkeys(deliverable, 1))
    assert {r.rep_id: r.state for r in again.rows}["R13"] == "failed-permanent"
    assert sorted({r.state for r in again.rows}) == ["already sent", "failed-permanent"]


def test_lost_reply_after_the_body_is_possibly_sent_and_not_retried(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    handler = Recorder(drop_after_body={"r10@example.com"})
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, reps=["R10", "R11"], send=True)
    assert {r.rep_id: r.state for r in summary.rows} == {"R10": "possibly-sent", "R11": "sent"}
    assert "may have accepted it" in summary.rows[0].detail
    assert not summary.ok
    assert handler.count() == Counter({"r10@example.com": 1, "r11@example.com": 1})  # the server did keep it
    again = mail.send_reports(cfg, reps=["R10", "R11"], send=True)
    assert {r.rep_id: r.state for r in again.rows} == {"R10": "possibly-sent", "R11": "already sent"}
    assert handler.count()["r10@example.com"] == 1
    resent = mail.send_reports(cfg, reps=["R10"], send=True, resend=True)  # the documented duplicate
    assert [r.state for r in resent.rows] == ["sent"]
    assert handler.count()["r10@example.com"] == 2
    assert ledger_states(cfg)["R10"][:2] == ("sent", 2)


def test_item10_a_cc_refused_permanently_is_partly_sent_reported_and_not_retried(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    handler = Recorder(rcpt_replies={"mia.north@example.com": "550 5.1.1 no such user"})
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, reps=["R10"], send=True)
    assert [r.state for r in summary.rows] == ["partly-sent"]
    assert not summary.ok  # a copy is missing: exit 1
    assert (
        "the copy to mia.north@example.com was refused permanently (550 5.1.1 no such user)" in summary.rows[0].detail
    )
    assert [r.rcpt_tos for r in handler.received] == [["r10@example.com"]]  # the rep's message went out
    state, attempts, reply = ledger_states(cfg)["R10"]
    assert (state, attempts) == ("partly-sent", 1)
    assert "refused: mia.north@example.com: 550 5.1.1 no such user" in reply
    again = mail.send_reports(cfg, reps=["R10"], send=True)  # not retried: the address is wrong
    assert [r.state for r in again.rows] == ["partly-sent"]
    assert "--resend sends the whole message again" in again.rows[0].detail
    assert not again.ok
    assert len(handler.received) == 1


def test_item10_a_cc_refused_temporarily_is_retried_in_the_run_without_a_second_copy_for_the_rep(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    handler = Recorder(rcpt_scripts={"mia.north@example.com": ["451 4.7.1 greylisted", "452 4.2.2 mailbox full"]})
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, reps=["R10"], send=True)
    assert [r.state for r in summary.rows] == ["sent"]
    assert summary.ok
    # the rep's message (the copy refused), then the copy alone: refused again at RCPT (no DATA), then accepted
    assert [r.rcpt_tos for r in handler.received] == [["r10@example.com"], ["mia.north@example.com"]]
    assert len(handler.message_ids()) == 1  # the same message (Message-ID) both times
    assert ledger_states(cfg)["R10"][:2] == ("sent", 3)
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:
        (row,) = led.for_rep(PERIOD, "R10")
        history = [state for _, state, _ in led.events(row.key)]
    assert history == ["pending", "sending", "partly-sent", "partly-sent", "sending", "sent"]


def test_a_dropped_idle_connection_is_reopened_transparently(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder(drop_at_mail={2})  # the second message finds the reused connection dead
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, reps=["R10", "R11"], send=True)
    assert [(r.state, r.attempts) for r in summary.rows] == [("sent", 1), ("sent", 1)]
    assert handler.count() == Counter({"r10@example.com": 1, "r11@example.com": 1})
    assert len({r.peer for r in handler.received}) == 2


def test_unreachable_server_gives_up_quickly(reports: Path, tmp_path: Path) -> None:
    cfg = smtp_config(reports, tmp_path, free_port(), max_attempts=3, backoff_seconds=0.01)
    started = time.monotonic()
    summary = mail.send_reports(cfg, reps=["R10", "R11", "R12"], send=True)
    assert time.monotonic() - started < 10
    assert [r.state for r in summary.rows] == ["failed-temporary"] * 3
    assert "ConnectionRefusedError" in summary.rows[0].detail
    assert summary.rows[1].detail.startswith("not tried")
    assert not summary.ok
    states = ledger_states(cfg)
    assert {s[0] for s in states.values()} == {"failed-temporary"}
    assert states["R10"][1] == 3


def test_test_sends_go_to_one_address_and_are_not_recorded(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder()
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, reps=["R1", "R2", "R3"], send=True, test_to="qa@example.org")
    assert {r.rep_id: r.state for r in summary.rows} == {"R1": "test sent", "R2": "test sent", "R3": "no email"}
    assert [r.rcpt_tos for r in handler.received] == [["qa@example.org"], ["qa@example.org"]]
    assert all(str(r.message["Subject"]).startswith("[TEST] ") for r in handler.received)
    assert not (tmp_path / "ledger.sqlite").exists()
    real = mail.send_reports(cfg, reps=["R1", "R2"], send=True)  # the test did not count as delivered
    assert [r.state for r in real.rows] == ["sent", "sent"]


# -- login and TLS ---------------------------------------------------------------------------------------------------


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def test_failed_login_never_shows_the_password(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder()
    port = servers.start(
        handler, authenticator=lambda *a: AuthResult(success=False, handled=False), auth_require_tls=False
    )
    cfg = smtp_config(reports, tmp_path, port, username="scorecards")
    with pytest.raises(DeliveryError) as info:
        mail.send_reports(cfg, reps=["R10"], send=True, environ={"SALESREPORTS_SMTP_PASSWORD": PASSWORD})
    text = f"{info.value} {info.value!r} {info.value.fields}"
    assert "SMTP login as 'scorecards' on 127.0.0.1" in text
    assert "535" in text
    assert PASSWORD not in text
    assert base64.b64encode(f"\0scorecards\0{PASSWORD}".encode()).decode() not in text
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert not handler.received


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return ctx


def test_starttls_and_login(reports: Path, tmp_path: Path, servers: Servers, certificate: tuple[Path, Path]) -> None:
    handler = Recorder()
    port = servers.start(
        handler,
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    cfg = smtp_config(reports, tmp_path, port, security="starttls", username="scorecards", ca_file=str(certificate[0]))
    summary = mail.send_reports(cfg, reps=["R10", "R11"], send=True, environ={"SALESREPORTS_SMTP_PASSWORD": PASSWORD})
    assert [r.state for r in summary.rows] == ["sent", "sent"]
    assert handler.count() == Counter({"r10@example.com": 1, "r11@example.com": 1})
    with sqlite3.connect(tmp_path / "ledger.sqlite") as con:
        dump = "\n".join(con.iterdump())
    assert PASSWORD not in dump


def test_implicit_tls(reports: Path, tmp_path: Path, servers: Servers, certificate: tuple[Path, Path]) -> None:
    handler = Recorder()
    port = servers.start(handler, ssl_context=_server_context(certificate))
    cfg = smtp_config(reports, tmp_path, port, security="tls", ca_file=str(certificate[0]))
    summary = mail.send_reports(cfg, reps=["R10"], send=True)
    assert [r.state for r in summary.rows] == ["sent"]
    assert handler.count() == Counter({"r10@example.com": 1})


def test_untrusted_certificate_stops_the_batch(
    reports: Path, tmp_path: Path, servers: Servers, certificate: tuple[Path, Path]
) -> None:
    handler = Recorder()
    port = servers.start(handler, ssl_context=_server_context(certificate))
    cfg = smtp_config(reports, tmp_path, port, security="tls")
    with pytest.raises(
        DeliveryError, match=r"TLS with the SMTP server 127\.0\.0\.1:\d+ failed: .*CERTIFICATE_VERIFY_FAILED"
    ):
        mail.send_reports(cfg, reps=["R10"], send=True)
    assert not handler.received
    assert ledger_states(cfg)["R10"][0] == "pending"


def test_starttls_required_but_not_offered(reports: Path, tmp_path: Path, servers: Servers) -> None:
    cfg = smtp_config(reports, tmp_path, servers.start(Recorder()), security="starttls")
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        mail.send_reports(cfg, reps=["R10"], send=True)


# -- team and company summaries ----------------------------------------------------------------------------------------

LEADERS = ["CEO <ceo@example.org>", "cfo@example.org"]
REP_ADDRESSES = {"ann.archer@example.com", "bob.baker@example.com", "r10@example.com"}


def summary_smtp_config(reports: Path, outbox: Path, port: int) -> Config:
    # 8 attempts: a server that starts late costs the first message one attempt per refused connection, and how
    # many depends on the machine's load (with 5, a loaded CI machine once used up North's retries before its 451)
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "timeout": 5,
        "rate_per_minute": 60000,
        "max_attempts": 8,
        "backoff_seconds": 0.05,
        "backoff_max_seconds": 1.0,
    }
    return mail_config(reports, outbox, smtp=settings, mail={"leadership": LEADERS})


def test_managers_get_their_own_summary_leadership_the_company_reps_nothing_else(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    handler = Recorder()
    cfg = summary_smtp_config(reports, tmp_path, servers.start(handler))
    every = ["R1", "R2", "R10", "team/North", "team/South", "company"]
    summary = mail.send_reports(cfg, reps=every, send=True, audience=["all"])
    assert summary.ok, summary.rows
    assert {r.rep_id: r.state for r in summary.rows} == {
        "R1": "sent",
        "R2": "sent",
        "R10": "sent",
        "team/North": "sent",
        "team/South": "sent",
        "team/company": "sent",
    }
    got = {tuple(r.rcpt_tos): str(r.message["Subject"]) for r in handler.received}
    assert got == {
        ("ann.archer@example.com",): "Your scorecard — March 2025",
        ("bob.baker@example.com",): "Your scorecard — March 2025",
        ("r10@example.com",): "Your scorecard — March 2025",
        ("mia.north@example.com",): "Team \u2068North\u2069 summary — March 2025",
        ("sam.south@example.com",): "Team \u2068South\u2069 summary — March 2025",
        ("ceo@example.org", "cfo@example.org"): "Company summary — March 2025",
    }
    for r in handler.received:
        if "summary" in str(r.message["Subject"]):
            assert not set(r.rcpt_tos) & REP_ADDRESSES  # a rep never gets a team or company summary
    states = ledger_states(cfg)
    assert {k: v[:2] for k, v in states.items() if k.startswith("team/")} == {
        "team/North": ("sent", 1),
        "team/South": ("sent", 1),
        "team/company": ("sent", 1),
    }
    assert sent_message_ids(cfg) == handler.message_ids()

    again = mail.send_reports(cfg, reps=every, send=True, audience=["all"])
    assert again.ok
    assert {r.state for r in again.rows} == {"already sent"}
    assert len(handler.received) == 6  # a re-run sends nothing new


def test_faults_among_the_summary_messages(reports: Path, tmp_path: Path, servers: Servers) -> None:
    """The reps' fault test for managers and leadership: the server starts late, greylists the North summary,
    shuts down on the company summary, drops the connection at the second MAIL and rejects South's manager:
    each deliverable summary arrives exactly once, the 550 is permanent, a re-run sends nothing new."""
    handler = Recorder(
        rcpt_replies={"sam.south@example.com": "550 5.1.1 <sam.south@example.com>: no such user"},
        data_replies={
            "mia.north@example.com": ["451 4.7.1 Greylisted, try again later"],
            "ceo@example.org": ["421 4.3.2 Service shutting down"],
        },
        drop_at_mail={2},
    )
    port = free_port()
    servers.start(handler, port, delay=0.4)  # connections are refused until then
    cfg = summary_smtp_config(reports, tmp_path, port)
    summary = mail.send_reports(cfg, send=True, audience=["managers", "leadership"])
    delivered = Counter({"mia.north@example.com": 1, "ceo@example.org": 1})
    assert handler.count() == delivered
    leaders = [r.rcpt_tos for r in handler.received if r.to == "ceo@example.org"]
    assert leaders == [["ceo@example.org", "cfo@example.org"]]
    states = ledger_states(cfg)
    assert {k: v[0] for k, v in states.items()} == {
        "team/North": "sent",
        "team/South": "failed-permanent",
        "team/company": "sent",
    }
    assert "550 5.1.1" in states["team/South"][2]
    assert states["team/North"][1] >= 2 and states["team/company"][1] >= 2  # 451 once, 421 once, then sent
    assert handler.mails == 3 + 3  # a MAIL for each, the 451's and the 421's retries, and the one dropped
    assert sent_message_ids(cfg) == handler.message_ids()
    assert [r.rep_id for r in summary.rows if r.failing] == ["team/South"]

    again = mail.send_reports(cfg, send=True, audience=["managers", "leadership"])
    assert handler.count() == delivered  # a re-run sends nothing new
    assert {r.rep_id: r.state for r in again.rows} == {
        "team/North": "already sent",
        "team/South": "failed-permanent",
        "team/company": "already sent",
    }


def test_a_manager_of_two_teams_gets_two_messages_and_two_ledger_rows(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    handler = Recorder()
    port = servers.start(handler)
    settings = {"host": "127.0.0.1", "port": port, "timeout": 5, "rate_per_minute": 60000}
    both = {"manager_email": "Pat Both <pat.both@example.org>"}
    cfg = mail_config(reports, tmp_path, smtp=settings, teams={"North": both, "South": both})
    summary = mail.send_reports(cfg, send=True, audience=["managers"])
    assert summary.ok
    assert {r.rep_id: (r.state, r.to) for r in summary.rows} == {
        "team/North": ("sent", "pat.both@example.org"),
        "team/South": ("sent", "pat.both@example.org"),
    }
    assert sorted((r.rcpt_tos, str(r.message["Subject"])) for r in handler.received) == [
        (["pat.both@example.org"], "Team \u2068North\u2069 summary — March 2025"),
        (["pat.both@example.org"], "Team \u2068South\u2069 summary — March 2025"),
    ]
    assert len(handler.message_ids()) == 2  # two messages, not one sent twice
    assert {k: v[:2] for k, v in ledger_states(cfg).items()} == {"team/North": ("sent", 1), "team/South": ("sent", 1)}
    again = mail.send_reports(cfg, send=True, audience=["managers"])
    assert [r.state for r in again.rows] == ["already sent", "already sent"]
    assert len(handler.received) == 2


def test_only_the_chosen_audience_is_sent(reports: Path, tmp_path: Path, servers: Servers) -> None:
    handler = Recorder()
    cfg = summary_smtp_config(reports, tmp_path, servers.start(handler))
    summary = mail.send_reports(cfg, send=True, audience=["managers"])
    assert summary.ok
    assert sorted(r.to for r in handler.received) == ["mia.north@example.com", "sam.south@example.com"]
    later = mail.send_reports(cfg, send=True, audience=["leadership"])
    assert [r.state for r in later.rows] == ["sent"]
    assert handler.count() == Counter({"mia.north@example.com": 1, "sam.south@example.com": 1, "ceo@example.org": 1})


def test_a_crash_among_the_manager_messages_loses_and_duplicates_nothing(
    reports: Path, tmp_path: Path, servers: Servers
) -> None:
    """The connection breaks after the South summary's body: it is possibly-sent; the others go out once."""
    handler = Recorder(drop_after_body={"sam.south@example.com"})
    cfg = summary_smtp_config(reports, tmp_path, servers.start(handler))
    first = mail.send_reports(cfg, send=True, audience=["managers", "leadership"])
    assert not first.ok
    assert {r.rep_id: r.state for r in first.rows} == {
        "team/North": "sent",
        "team/South": "possibly-sent",
        "team/company": "sent",
    }
    again = mail.send_reports(cfg, send=True, audience=["managers", "leadership"])
    assert {r.rep_id: r.state for r in again.rows} == {
        "team/North": "already sent",
        "team/South": "possibly-sent",
        "team/company": "already sent",
    }
    assert handler.count() == Counter({"mia.north@example.com": 1, "sam.south@example.com": 1, "ceo@example.org": 1})
    resent = mail.send_reports(cfg, reps=["team/South"], send=True, resend=True)  # the one in doubt, alone
    assert [(r.rep_id, r.state) for r in resent.rows] == [("team/South", "sent")]
    assert handler.count() == Counter({"mia.north@example.com": 1, "sam.south@example.com": 2, "ceo@example.org": 1})
    assert {k: v[:2] for k, v in ledger_states(cfg).items()} == {
        "team/North": ("sent", 1),
        "team/South": ("sent", 2),
        "team/company": ("sent", 1),
    }
