"""`salesreports send`: dry run, real send, --status, exit codes, and a sender killed in the middle of a batch."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from salesreports.cli import app
from salesreports.mail.ledger import Ledger
from salesreports.params import Config
from test_delivery import Recorder, Servers, free_port, ledger_states, servers, smtp_config  # noqa: F401
from test_mail import PERIOD, extra_reps, mail_config, shared_reports
from test_progress import ESCAPE_ID, ESCAPE_SHOWN, FORCE_TERMINAL, MARKUP_NAME, assert_printed_literally

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def _send(config: Config, *args: str) -> Result:
    return runner.invoke(app, ["send", "--params", config.path, *args], env=WIDE)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _cells(text: str) -> str:
    """A table's words without its lines (box-drawing characters)."""
    return _flat(re.sub("[\u2500-\u257f]", " ", text))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_reports(tmp_path_factory)


@pytest.mark.notebooks
def test_dry_run_is_the_default(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(reports, tmp_path)
    result = _send(cfg, "--reps", "R1,R2,R3")
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "Scorecard emails 2025-03 (dry-run)" in out
    assert "2 written, 1 no email" in out
    assert f"Review the .eml files in {tmp_path / PERIOD}" in out
    assert sorted(p.name for p in (tmp_path / PERIOD).glob("*.eml")) == ["R1.eml", "R2.eml"]
    assert "written R2 Bob Baker → bob.baker@example.com" in _flat(result.stderr)


@pytest.mark.notebooks
def test_unsendable_reports_exit_1_and_name_the_rep(reports: Path, tmp_path: Path) -> None:
    result = _send(mail_config(reports, tmp_path), "--reps", "R7,R8,R9", "--dry-run")
    assert result.exit_code == 1
    out = _flat(result.stdout)
    # the context keeps the line break (CR LF made LF by text.clean where the context is written): still refused
    assert "rep R9: email 'rep9@example.com\\nBcc: spy@example.org' contains a line break" in out
    assert "rep R7: email 'rep7@example.com, rep7b@example.org' holds several addresses" in out
    assert "report failed" in out
    assert "Traceback" not in result.output


@pytest.mark.notebooks
def test_user_errors_have_exit_codes_and_no_traceback(reports: Path, tmp_path: Path) -> None:
    cfg = mail_config(reports, tmp_path)
    unknown = _send(cfg, "--reps", "R99")
    assert unknown.exit_code == 2
    assert "rep(s) 'R99' have no report for 2025-03" in _flat(unknown.stderr)
    bad = _send(cfg, "--reps", "R2", "--test-to", "qa@example.org\r\nBcc: x@example.org")
    assert bad.exit_code == 1
    assert "--test-to address" in _flat(bad.stderr)
    period = _send(cfg, "--period", "2030-01")
    assert period.exit_code == 1
    assert "no manifest for period 2030-01" in _flat(period.stderr)
    for r in (unknown, bad, period):
        assert "Traceback" not in r.output


@pytest.mark.smtp
@pytest.mark.notebooks
def test_send_then_status(reports: Path, tmp_path: Path, servers: Servers) -> None:  # noqa: F811
    cfg = smtp_config(reports, tmp_path, servers.start(handler := Recorder()))
    empty = _send(cfg, "--status")
    assert empty.exit_code == 0
    assert "No deliveries recorded" in empty.stdout
    sent = _send(cfg, "--send", "--reps", "R2,R10,team/North")
    assert sent.exit_code == 0, sent.output
    assert "3 sent" in _flat(sent.stdout)
    assert "report name to state" in _cells(sent.stdout)  # a summary is a report, not a rep
    assert handler.count() == Counter({"bob.baker@example.com": 1, "r10@example.com": 1, "mia.north@example.com": 1})
    status = _send(cfg, "--status", "--period", PERIOD)
    assert status.exit_code == 0
    out = _cells(status.stdout)
    assert "period report hash state tries" in out
    assert "R10" in out and "team/North" in out
    assert "3 sent" in out
    assert "250 2.0.0 OK queued" in out
    assert "The period to mail: a month 2026-10, a quarter 2026-Q3 or a year 2026" in _flat(_send(cfg, "--help").stdout)
    test = _send(cfg, "--reps", "R2", "--test-to", "qa@example.org")  # --test-to sends unless --dry-run
    assert test.exit_code == 0, test.output
    assert "1 test sent" in _flat(test.stdout)
    assert handler.received[-1].rcpt_tos == ["qa@example.org"]


@pytest.mark.smtp
@pytest.mark.notebooks
def test_unreachable_server_exits_1(reports: Path, tmp_path: Path) -> None:
    cfg = smtp_config(reports, tmp_path, free_port(), max_attempts=2, backoff_seconds=0.01)
    result = _send(cfg, "--send", "--reps", "R10")
    assert result.exit_code == 1
    assert "failed-temporary" in result.stdout


def _sqlite_state(path: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT rep_id, state FROM deliveries"))


@pytest.mark.smtp
@pytest.mark.notebooks
@pytest.mark.slow
def test_sender_killed_between_data_and_ledger_update(reports: Path, tmp_path: Path, servers: Servers) -> None:  # noqa: F811
    """SIGKILL while the server holds R11's reply: the re-run sends the rest, R11 is possibly-sent, never twice."""
    handler = Recorder(stall_on="r11@example.com")
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    reps = "R10,R11,R12"
    cmd = [sys.executable, "-m", "salesreports.cli", "send", "--send", "--params", cfg.path, "--reps", reps]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert handler.stalled.wait(timeout=60), proc.communicate(timeout=5)
        # the server has the whole message; the sender waits for its reply with the row committed "sending"
        assert _sqlite_state(tmp_path / "ledger.sqlite") == {"R10": "sent", "R11": "sending", "R12": "pending"}
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assertion above failed
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        handler.release.set()

    rerun = _send(cfg, "--send", "--reps", reps)
    assert rerun.exit_code == 1  # the possibly-sent message needs a decision
    assert "R11 may or may not have been delivered" in _flat(rerun.stderr)
    assert handler.count() == Counter({"r10@example.com": 1, "r11@example.com": 1, "r12@example.com": 1})
    states = ledger_states(cfg)
    assert {r: s[0] for r, s in states.items()} == {"R10": "sent", "R11": "possibly-sent", "R12": "sent"}
    assert states["R11"][1] == 1

    again = _send(cfg, "--send", "--reps", reps)
    assert again.exit_code == 1
    assert "possibly-sent" in again.stdout
    assert sum(handler.count().values()) == 3  # nothing sent twice

    resend = _send(cfg, "--send", "--reps", "R11", "--resend")  # the operator decides: send it again
    assert resend.exit_code == 0, resend.output
    assert handler.count()["r11@example.com"] == 2
    assert ledger_states(cfg)["R11"][:2] == ("sent", 2)


def _summary_config(reports: Path, outbox: Path, port: int) -> Config:
    from test_mail import mail_config

    smtp = {"host": "127.0.0.1", "port": port, "timeout": 5, "rate_per_minute": 60000, "backoff_seconds": 0.05}
    return mail_config(reports, outbox, smtp=smtp, mail={"leadership": ["ceo@example.org"]})


@pytest.mark.notebooks
def test_to_chooses_who_is_sent_to(reports: Path, tmp_path: Path) -> None:
    cfg = _summary_config(reports, tmp_path, free_port())
    result = _send(cfg, "--to", "managers,leadership")
    assert result.exit_code == 0, result.output
    assert "3 written" in _flat(result.stdout)
    names = sorted(p.name for p in (tmp_path / PERIOD).glob("*.eml"))
    assert names == ["team-North.eml", "team-South.eml", "team-company.eml"]  # named after the report's folder
    assert "written team/North Team North summary → mia.north@example.com" in _flat(result.stderr)
    bad = _send(cfg, "--to", "bosses")
    assert bad.exit_code == 2
    assert "unknown recipient kind 'bosses'" in _flat(bad.stderr)


@pytest.mark.smtp
@pytest.mark.notebooks
@pytest.mark.slow
def test_sender_killed_in_the_middle_of_the_manager_messages(reports: Path, tmp_path: Path, servers: Servers) -> None:  # noqa: F811
    """SIGKILL while the server holds the South summary's reply: nothing lost, nothing sent twice."""
    handler = Recorder(stall_on="sam.south@example.com")
    cfg = _summary_config(reports, tmp_path, servers.start(handler))
    to = "managers,leadership"
    cmd = [sys.executable, "-m", "salesreports.cli", "send", "--send", "--params", cfg.path, "--to", to]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert handler.stalled.wait(timeout=60), proc.communicate(timeout=5)
        assert _sqlite_state(tmp_path / "ledger.sqlite") == {
            "team/North": "sent",
            "team/South": "sending",
            "team/company": "pending",
        }
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assertion above failed
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        handler.release.set()

    rerun = _send(cfg, "--send", "--to", to)
    assert rerun.exit_code == 1  # the possibly-sent summary needs a decision
    assert "team/South may or may not have been delivered" in _flat(rerun.stderr)
    # the hint names the command that resends that summary and nothing else
    assert f"salesreports send --params {cfg.path} --send --resend --period {PERIOD} --reps team/South" in _flat(
        rerun.stderr
    )
    expected = Counter({"mia.north@example.com": 1, "sam.south@example.com": 1, "ceo@example.org": 1})
    assert handler.count() == expected
    assert {r: s[0] for r, s in ledger_states(cfg).items()} == {
        "team/North": "sent",
        "team/South": "possibly-sent",
        "team/company": "sent",
    }
    again = _send(cfg, "--send", "--to", to)
    assert again.exit_code == 1
    assert f"--send --resend --period {PERIOD} --reps team/South sends it again" in _flat(again.stdout)
    assert handler.count() == expected  # nothing sent twice
    reps = _send(cfg, "--send", "--reps", "R10")  # the reps' run is separate: no summary goes with it
    assert reps.exit_code == 0, reps.output
    assert handler.count() == expected + Counter({"r10@example.com": 1})
    south = _send(cfg, "--send", "--resend", "--period", PERIOD, "--reps", "team/South")  # the operator decides
    assert south.exit_code == 0, south.output
    assert handler.count() == expected + Counter({"r10@example.com": 1, "sam.south@example.com": 1})
    assert {r: s[:2] for r, s in ledger_states(cfg).items() if r.startswith("team/")} == {
        "team/North": ("sent", 1),  # untouched: North is not sent again
        "team/South": ("sent", 2),
        "team/company": ("sent", 1),
    }


HOSTILE_REPLY = "250 [link=https://evil.example/]queued[/link] [bold red]as[/bold red] [link]"


@pytest.mark.smtp
@pytest.mark.notebooks
def test_item3_send_and_status_print_crm_strings_literally(reports: Path, tmp_path: Path, servers: Servers) -> None:  # noqa: F811
    """A rep whose id holds a raw terminal hyperlink and whose name holds rich markup, a server whose reply does."""
    root = extra_reps(reports, tmp_path / "hostile", {ESCAPE_ID: (MARKUP_NAME, "hostile@example.com")})
    handler = Recorder(data_replies={"hostile@example.com": [HOSTILE_REPLY]})
    cfg = smtp_config(root, tmp_path / "outbox", servers.start(handler))

    def send(*args: str) -> Result:
        result = runner.invoke(app, ["send", "--params", cfg.path, *args], env=FORCE_TERMINAL)
        assert "Traceback" not in result.output
        return result

    dry = send("--reps", ESCAPE_ID)
    assert dry.exit_code == 0, dry.output
    assert_printed_literally(dry.stderr, f"{ESCAPE_SHOWN} {MARKUP_NAME} → hostile@example.com")  # the progress line
    assert_printed_literally(dry.stdout, MARKUP_NAME)  # the summary table
    sent = send("--send", "--reps", ESCAPE_ID)
    assert sent.exit_code == 0, sent.output
    assert_printed_literally(sent.stderr, f"{ESCAPE_SHOWN} {MARKUP_NAME}", HOSTILE_REPLY)
    assert_printed_literally(sent.stdout, MARKUP_NAME, HOSTILE_REPLY)
    status = send("--status")
    assert status.exit_code == 0, status.output
    assert_printed_literally(status.stdout, ESCAPE_SHOWN, HOSTILE_REPLY)


def _ledger_row(cfg: Config, rep: str) -> Any:
    with Ledger(cfg.resolve(cfg.outbox_dir) / "ledger.sqlite") as led:
        (row,) = led.for_rep(PERIOD, rep)
        return row


@pytest.mark.smtp
@pytest.mark.notebooks
def test_item10_a_cc_refused_temporarily_exits_1_and_the_next_send_delivers_only_the_copy(
    reports: Path,
    tmp_path: Path,
    servers: Servers,  # noqa: F811
) -> None:
    handler = Recorder(rcpt_scripts={"mia.north@example.com": ["451 4.7.1 try again later"]})
    cfg = smtp_config(reports, tmp_path, servers.start(handler), max_attempts=1)  # no retry within the run
    first = _send(cfg, "--send", "--reps", "R10")
    assert first.exit_code == 1, first.output
    out = _flat(first.stdout)
    assert "1 partly-sent" in out
    assert "the copy to mia.north@example.com was refused temporarily: the next run sends it" in out
    assert [r.rcpt_tos for r in handler.received] == [["r10@example.com"]]
    row = _ledger_row(cfg, "R10")
    assert (row.state, row.owed_copies, row.sent_at != "") == ("partly-sent", ("mia.north@example.com",), True)
    assert "partly-sent" in _flat(_send(cfg, "--status").stdout)
    dry = _send(cfg, "--reps", "R10")  # a dry run says what --send would do
    assert "--send would send it (only the copy to mia.north@example.com, refused temporarily before)" in _flat(
        dry.stderr
    )

    second = _send(cfg, "--send", "--reps", "R10")
    assert second.exit_code == 0, second.output
    assert "1 sent" in _flat(second.stdout)
    assert [r.rcpt_tos for r in handler.received] == [["r10@example.com"], ["mia.north@example.com"]]
    assert len(handler.message_ids()) == 1  # the copy is the same message (Message-ID) as the rep's
    row = _ledger_row(cfg, "R10")
    assert (row.state, row.owed_copies) == ("sent", ())

    third = _send(cfg, "--send", "--reps", "R10")
    assert third.exit_code == 0, third.output
    assert "1 already sent" in _flat(third.stdout)
    assert handler.count() == Counter({"r10@example.com": 1, "mia.north@example.com": 1})


@pytest.mark.smtp
@pytest.mark.notebooks
def test_item10_a_cc_refused_permanently_exits_1_with_the_reason(
    reports: Path,
    tmp_path: Path,
    servers: Servers,  # noqa: F811
) -> None:
    handler = Recorder(rcpt_replies={"mia.north@example.com": "550 5.1.1 <mia.north@example.com>: no such user"})
    cfg = smtp_config(reports, tmp_path, servers.start(handler))
    for _ in range(2):  # not retried: the same report, the same exit code, no second message to the rep
        result = _send(cfg, "--send", "--reps", "R10")
        assert result.exit_code == 1, result.output
        out = _flat(result.stdout)
        assert "1 partly-sent" in out
        assert "the copy to mia.north@example.com was refused permanently (550 5.1.1" in out
        assert handler.count() == Counter({"r10@example.com": 1})
