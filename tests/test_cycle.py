"""salesreports cycle: the due periods, the lock, and whole cycles against a real SMTP server (aiosmtpd).

The cycles run the real templates on the tiny fixture (its last complete month is 2025-02), or on the same data
as it stood on 20 February 2025 (its last complete month: 2025-01). One report can be made to fail through an
environment variable read by a copy of the rep template, so that the next cycle sees the same inputs and must
redo only what is left.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import ROOT, TINY, write_config
from salesreports.cli import app
from salesreports.errors import ConfigError
from salesreports.mail.cycle import BUSY_EXIT, CycleBusyError, cycle_lock, due_periods, open_periods, run_cycle
from salesreports.params import load_config
from test_delivery import Recorder, Servers, servers  # noqa: F401 - the aiosmtpd fixture

PERIOD = "2025-02"
FAIL_ENV = "SALESREPORTS_TEST_FAIL_FOR"
PLANTED = f"""import os

if rep_id in os.environ.get("{FAIL_ENV}", "").split(","):
    raise RuntimeError(f"planted failure for {{rep_id}}")
"""


@pytest.mark.parametrize(
    ("as_of", "due"),
    [
        ("2026-10-30", ["2026-10"]),  # Friday: no working day of October left
        ("2026-11-16", ["2026-10"]),  # November is not complete
        ("2026-09-30", ["2026-09", "2026-Q3"]),  # the month ends a quarter
        ("2027-01-04", ["2026-12", "2026-Q4", "2026"]),  # December ends the quarter and the year
        ("2026-12-31", ["2026-12", "2026-Q4", "2026"]),
        ("2026-12-30", ["2026-11"]),  # one working day of December left
    ],
)
def test_due_periods_are_the_last_complete_month_and_the_quarter_or_year_it_ends(as_of: str, due: list[str]) -> None:
    assert due_periods(pd.Timestamp(as_of)) == due


def _hold_lock(folder: Path) -> subprocess.Popen[str]:
    code = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from salesreports.mail.cycle import cycle_lock
        with cycle_lock(Path(sys.argv[1])):
            print("held", flush=True)
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait(timeout=10)
    if holder.stdout:
        holder.stdout.close()


def test_two_cycles_at_once_the_second_refuses_or_waits(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(CycleBusyError) as caught, cycle_lock(tmp_path):
            pass
        assert f"pid {holder.pid}" in str(caught.value) and "--wait" in str(caught.value)
        assert caught.value.exit_code == BUSY_EXIT
        killer = threading.Timer(1.0, holder.kill)  # a killed holder releases the lock (the OS drops the flock)
        killer.start()
        with cycle_lock(tmp_path, wait=30) as lock:
            assert f"pid {__import__('os').getpid()}" in lock.read_text(encoding="utf-8")
        killer.join()
    finally:
        _release(holder)


def test_the_cli_says_another_cycle_is_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    holder = _hold_lock(tmp_path / "reports")
    try:
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "salesreports"), "cycle", "-p", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _release(holder)
    assert done.returncode == BUSY_EXIT, done.stderr
    assert "another `salesreports cycle` is running" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports" / PERIOD).exists()  # nothing was run


def _template(folder: Path) -> Path:
    """The rep template with a cell that fails for the reps named in the environment."""
    nb = json.loads((ROOT / "reports" / "rep_scorecard.ipynb").read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", []))
    nb["cells"].insert(
        at + 1, {"cell_type": "code", "metadata": {}, "source": PLANTED, "outputs": [], "execution_count": None}
    )
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i}"
    path = folder / "rep_scorecard.ipynb"
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def _config(root: Path, port: int, source: Path = TINY / "source.yaml") -> Any:
    smtp = {"host": "127.0.0.1", "port": port, "timeout": 5, "rate_per_minute": 60000, "backoff_seconds": 0.05}
    mail = {"cc_manager": False, "leadership": ["Lea Der <lea@example.com>"]}
    extra = f"smtp: {json.dumps(smtp)}\nmail: {json.dumps(mail)}\n"
    return load_config(write_config(root, source, extra=extra, rep=_template(root)), environ={})


def _cli_cycle(config: Any) -> Any:
    result = CliRunner().invoke(app, ["cycle", "-p", str(config.path)], env={"COLUMNS": "250"})
    assert "Traceback" not in result.output
    return result


def _tiny_as_of(folder: Path, last: str) -> Path:
    """The tiny fixture as it stood on ``last``: deals created later and later activities, leads and feedback
    are not there yet, a deal closed later is still open. Returns its source file."""
    import csv
    import shutil

    shutil.copytree(TINY, folder)

    def rewrite(name: str, column: str) -> None:
        with (folder / name).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        kept = [r for r in rows if r[column] <= last]
        for r in kept:
            if r.get("close_date", "") > last:
                r.update(close_date="", stage="open")
        with (folder / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)

    for name, column in (("deals.csv", "created_date"), ("leads.csv", "created_date")):
        rewrite(name, column)
    for name in ("activities.csv", "feedback.csv"):
        rewrite(name, "date")
    return folder / "source.yaml"


@pytest.mark.smtp
@pytest.mark.notebooks
def test_a_cycle_delivers_once_then_does_nothing(tmp_path: Path, servers: Servers) -> None:  # noqa: F811
    recorder = Recorder()
    config = _config(tmp_path, servers.start(recorder))

    first = run_cycle(config)
    assert first.periods == [PERIOD] and first.ok, first.failures
    assert {r["key"] for r in first.run.results} == {
        "rep/R1",
        "rep/R2",
        "rep/R3",
        "team/North",
        "team/South",
        "team/company",
    }
    got = recorder.count()
    # R1 and R2 have addresses (R3 none); each team summary goes to its manager, the company summary to leadership
    assert got == Counter(
        {
            "ann.archer@example.com": 1,
            "bob.baker@example.com": 1,
            "mia.north@example.com": 1,
            "sam.south@example.com": 1,
            "lea@example.com": 1,
        }
    )
    assert not first.idle

    second = _cli_cycle(config)  # the command, as a scheduler runs it
    assert second.exit_code == 0, second.output
    out = " ".join(second.stdout.split())
    assert f"{PERIOD}: 0 report(s) run, 0 failed; mail: 5 already sent, 1 no email" in out
    assert "6 report(s) already up to date; 0 run" in out
    assert "Nothing to do: every report is up to date and every message is sent." in out
    assert recorder.count() == got  # nothing new


@pytest.mark.smtp
@pytest.mark.notebooks
def test_a_failed_report_is_named_the_rest_delivered_and_only_it_redone_even_a_month_later(
    tmp_path: Path,
    servers: Servers,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """January fails for R1; by the next cycle the data has reached February: January's R1 is run again and
    sent beside February's reports (not dropped), nothing else of January is redone or resent."""
    recorder = Recorder()
    port = servers.start(recorder)
    config = _config(tmp_path, port, _tiny_as_of(tmp_path / "data", "2025-02-20"))
    monkeypatch.setenv(FAIL_ENV, "R1")

    first = _cli_cycle(config)
    assert first.exit_code == 1, first.output
    err = " ".join(first.stderr.split())
    assert "left: 2025-01: report rep/R1 failed" in err and "planted failure for R1" in err
    assert "Run `salesreports cycle` again once fixed" in err
    assert "2025-01: 4 report(s) run, 1 failed" in " ".join(first.stdout.split())
    # the rest was delivered: each team's summary to its manager, the company's to leadership (R2 joined in
    # February: no January report; R3 has no address)
    assert recorder.count() == Counter({"mia.north@example.com": 1, "sam.south@example.com": 1, "lea@example.com": 1})
    assert open_periods(tmp_path / "reports") == ["2025-01"]

    monkeypatch.delenv(FAIL_ENV)
    config = _config(tmp_path, port)  # the data now runs to March: February is due
    second = run_cycle(config)
    assert second.ok, second.failures
    assert (second.periods, second.earlier) == (["2025-01", PERIOD], ["2025-01"])
    # January: only the report that failed; February: all six
    assert sorted(r["key"] for r in second.run.results if r["period"] == "2025-01") == ["rep/R1"]
    assert len([r for r in second.run.results if r["period"] == PERIOD]) == 6
    january = {r.rep_id: r.state for r in second.mail["2025-01"].rows}
    assert january["R1"] == "sent" and january["team/North"] == "already sent"
    assert recorder.count() == Counter(
        {
            "ann.archer@example.com": 2,  # January's (late) and February's
            "bob.baker@example.com": 1,
            "mia.north@example.com": 2,
            "sam.south@example.com": 2,
            "lea@example.com": 2,
        }
    )
    assert open_periods(tmp_path / "reports") == []  # both finished

    third = _cli_cycle(config)
    assert third.exit_code == 0, third.output
    out = " ".join(third.stdout.split())
    assert "Nothing to do" in out and "2025-01" not in out
    assert sum(recorder.count().values()) == 9


def test_an_earlier_period_that_cannot_run_is_named_and_holds_nothing_back(tmp_path: Path) -> None:
    """Two open periods: one the data no longer covers is named; the other, whose reports were never made (its
    cycle stopped half-way), is planned beside the due period (dry run)."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / ".cycle.json").write_text('{"open": ["2020-01", "2025-01"]}', encoding="utf-8")
    config = load_config(write_config(tmp_path), environ={})
    summary = run_cycle(config, dry_run=True)
    assert (summary.periods, summary.earlier) == (["2025-01", PERIOD], ["2025-01"])
    assert len(summary.planned[PERIOD]) == 6
    assert summary.planned["2025-01"] == ["rep/R1", "rep/R3", "team/North", "team/South", "team/company"]
    assert list(summary.stuck) == ["2020-01"]
    assert summary.failures == [
        "2020-01: could not be run again: there is no data for January 2020: the data covers 2024-03 to 2025-03. "
        "Fix: pass a period in that range, e.g. --period 2025-03."
    ]
    assert open_periods(tmp_path / "reports") == ["2020-01", "2025-01"]  # a dry run changes nothing
    (tmp_path / "reports" / ".cycle.json").write_text('{"open": "2020-01"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.cycle\.json is unreadable .* delete it to give those periods up"):
        open_periods(tmp_path / "reports")


def test_a_cycle_loads_the_data_once_however_many_earlier_periods_are_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The due run, the earlier periods' run and, when one cannot run, each earlier period alone: one load."""
    from salesreports.data import loading

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / ".cycle.json").write_text('{"open": ["2020-01", "2025-01"]}', encoding="utf-8")
    config = load_config(write_config(tmp_path), environ={})
    loads = []
    real = loading.load_dataset
    monkeypatch.setattr(loading, "load_dataset", lambda *a, **k: loads.append(1) or real(*a, **k))
    summary = run_cycle(config, dry_run=True)
    assert summary.periods == ["2025-01", PERIOD] and list(summary.stuck) == ["2020-01"]
    assert len(loads) == 1


def test_a_cycle_that_did_nothing_but_left_something_is_not_idle() -> None:
    """An earlier period stuck (or a message still unsent) while nothing was run or sent: not "Nothing to do"."""
    from salesreports.mail.cycle import CycleSummary
    from salesreports.mail.send import MailRow, SendSummary
    from salesreports.run.batch import RunSummary

    assert CycleSummary([PERIOD], RunSummary([PERIOD])).idle
    stuck = CycleSummary([PERIOD], RunSummary([PERIOD]), stuck={"2020-01": "there is no data for January 2020"})
    assert not stuck.ok and not stuck.idle
    unsent = CycleSummary([PERIOD], RunSummary([PERIOD]))
    unsent.mail[PERIOD] = SendSummary(PERIOD, "send", [MailRow("R1", "Ann", "a@example.com", "failed-permanent")])
    assert not unsent.idle


def test_a_message_failed_on_its_address_names_how_to_make_and_send_it_again() -> None:
    """The address is read from the report's kept context.json: a corrected reps table alone never reaches an
    earlier period, so the failure names the two commands that do (quoted for the shell)."""
    import shlex

    from salesreports.mail.cycle import CycleSummary
    from salesreports.mail.send import MailRow, SendSummary
    from salesreports.run.batch import RunSummary

    cycle = CycleSummary(["2025-01", PERIOD], RunSummary(["2025-01", PERIOD]), earlier=["2025-01"])
    rows = [
        MailRow("Ivan Petrov", "Ivan Petrov", "ivan@example", "invalid address", "bad email"),
        MailRow("team/Inside Sales", "Inside Sales", "boss@example.com", "failed-permanent", "550 5.1.1 no such user"),
        MailRow("R3", "Cy", "c@example.com", "failed-temporary", "451 try later"),
    ]
    cycle.mail["2025-01"] = SendSummary("2025-01", "send", rows)
    rep, team, temporary = cycle.failures
    commands = re.findall(r"`([^`]*)`", rep)
    assert [shlex.split(c) for c in commands] == [
        ["salesreports", "run", "--force", "--period", "2025-01", "--reps", "Ivan Petrov", "--template", "rep"],
        ["salesreports", "send", "--send", "--resend", "--period", "2025-01", "--reps", "Ivan Petrov"],
    ]
    run, send = (shlex.split(c) for c in re.findall(r"`([^`]*)`", team))
    assert run == ["salesreports", "run", "--force", "--period", "2025-01", "--template", "team"]
    assert send[-2:] == ["--reps", "team/Inside Sales"]
    assert "`" not in temporary  # a temporary failure is tried again by the next cycle as it is


@pytest.mark.notebooks
def test_dry_run_plans_and_sends_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, rep=_template(tmp_path))
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "salesreports"), "cycle", "--dry-run", "-p", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"{PERIOD}: would run 6 report(s): rep/R1, rep/R2, rep/R3, team/North, team/South, team/company" in done.stdout
    )
    assert not list((tmp_path / "reports" / PERIOD).glob("*/scorecard.html"))  # nothing was run
    assert not (tmp_path / "reports" / PERIOD / "manifest.json").exists()
    assert not (tmp_path / "outbox").exists()


# --------------------------------------------------------------------------- docs/scheduling.md

SCHEDULING = ROOT / "docs" / "scheduling.md"
_CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _blocks(lang: str) -> list[str]:
    import re

    return re.findall(rf"```{lang}\n(.*?)```", SCHEDULING.read_text(encoding="utf-8"), re.DOTALL)


def _valid_cron(expr: str) -> bool:
    fields = expr.split()
    if len(fields) != 5:
        return False
    for text, (low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and not step.isdigit():
                return False
            if base == "*":
                continue
            bounds = base.split("-")
            if not all(b.isdigit() and low <= int(b) <= high for b in bounds) or len(bounds) > 2:
                return False
    return True


def test_the_crontab_line_is_valid_and_runs_the_cycle() -> None:
    (line,) = [x for x in _blocks("crontab")[0].splitlines() if x.strip() and not x.startswith("#")]
    schedule, command = " ".join(line.split()[:5]), " ".join(line.split()[5:])
    assert _valid_cron(schedule), schedule
    assert "salesreports cycle" in command
    assert not _valid_cron("61 6 * * *") and not _valid_cron("15 6 * *")  # the check itself can fail


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    import configparser
    import shutil

    service, timer = _blocks("ini")
    exe = ROOT / ".venv" / "bin" / "salesreports"
    service = service.replace("/srv/salesreports/.venv/bin/salesreports", str(exe)).replace(
        "/srv/salesreports", str(tmp_path)
    )
    units = {"salesreports-cycle.service": service, "salesreports-cycle.timer": timer}
    for name, text in units.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        parsed = configparser.ConfigParser(strict=True, interpolation=None)
        parsed.optionxform = str  # type: ignore[assignment,method-assign]
        parsed.read_string(text)
    assert "salesreports cycle" in service and "Type=oneshot" in service and "SuccessExitStatus=75" in service
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    tool = shutil.which("systemd-analyze")
    if tool is None:  # no systemd here: the structural checks above are what can be checked
        return
    done = subprocess.run(
        [tool, "verify", *(str(tmp_path / n) for n in units)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr
    (tmp_path / "bad.service").write_text(service.replace("ExecStart=", "ExecStrt="), encoding="utf-8")
    bad = subprocess.run([tool, "verify", str(tmp_path / "bad.service")], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 or "Unknown key" in bad.stderr  # the verification can fail


def test_the_kubernetes_cronjob_is_a_forbid_concurrency_batch_v1_cronjob() -> None:
    import yaml

    (job,) = [yaml.safe_load(b) for b in _blocks("yaml")]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "CronJob"
    spec = job["spec"]
    assert _valid_cron(spec["schedule"]) and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["command"][:2] == ["salesreports", "cycle"]
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts == {v["name"] for v in pod["volumes"]}  # the output folder (ledger, lock) on a volume


def test_a_cycle_after_a_quarter_runs_the_month_and_the_quarter(tmp_path: Path) -> None:
    """Data that ends with September: the cycle is due September and Q3 (dry run: planned, nothing run)."""
    import csv
    import shutil

    from conftest import FIXTURES

    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "review", data)
    with (data / "deals.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kept = [r for r in rows if max(r["created_date"], r["close_date"]) <= "2026-09-30"]
    assert 0 < len(kept) < len(rows)
    last = dict(kept[-1], deal_id="D-last", rep_id="R1", created_date="2026-09-01", close_date="2026-09-30")
    kept.append({**last, "stage": "lost"})  # the data runs to the quarter's last day
    with (data / "deals.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    config = load_config(write_config(tmp_path, data / "source.yaml"), environ={})
    summary = run_cycle(config, dry_run=True)
    assert summary.periods == ["2026-09", "2026-Q3"]
    assert {p: sorted(keys) for p, keys in summary.planned.items()} == {
        p: ["rep/R1", "rep/R2", "team/North", "team/company"] for p in ("2026-09", "2026-Q3")
    }
    assert summary.mail == {} and summary.run.results == []
    assert not (tmp_path / "reports" / "2026-Q3" / "manifest.json").exists()
