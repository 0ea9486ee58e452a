"""The run/preview/check/new-template commands through the real CLI (exit codes, messages, no traceback)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, TINY, write_config, write_review_settings
from salesreports.cli import app
from test_progress import ESCAPE_ID, ESCAPE_SHOWN, FORCE_TERMINAL, MARKUP_NAME, assert_printed_literally

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--period", "2030-01"], 2, "there is no data for January 2030"),
        (["--period", "2025-13"], 2, "is not a period"),
        (["--reps", "R9"], 2, "unknown rep id(s) 'R9'"),
        (["--template", "manager"], 2, "--template must be rep, team or all"),
        (["--executor", "spark"], 2, "--executor must be local or dask"),
    ],
)
def test_run_refuses_bad_requests(make_config: Callable[..., Path], args: list[str], code: int, message: str) -> None:
    exit_code, output = invoke("run", "--params", str(make_config()), *args)
    assert exit_code == code, output
    assert message in " ".join(output.split())
    assert "Traceback" not in output


def test_missing_settings_file(tmp_path: Path) -> None:
    exit_code, output = invoke("run", "--params", str(tmp_path / "nope.yaml"))
    assert exit_code == 2
    assert "file not found" in output


@pytest.mark.notebooks
def test_run_and_preview(make_config: Callable[..., Path]) -> None:
    params = str(make_config())
    exit_code, output = invoke("run", "--params", params, "--period", "2025-03", "--reps", "R1", "--template", "rep")
    assert exit_code == 0, output
    assert "1 report(s) written, 0 failed" in output and "index.html" in output
    exit_code, output = invoke("preview", "--params", params, "--rep", "R1", "--period", "2025-03")
    assert exit_code == 0, output
    assert "preview/2025-03/R1/rep_scorecard.html" in output  # its own folder, never the period's reports


@pytest.mark.notebooks
def test_run_a_quarter_and_a_year_review_to_html_and_pdf(tmp_path: Path) -> None:
    """`run --period 2026` (refused: the data ends in November 2026), then `--period 2026-Q3,2025` on the review
    fixture; the year's review shows the whole year's feedback themes, not the last six months'."""
    import subprocess

    data = tmp_path / "review"
    shutil.copytree(FIXTURES / "review", data)
    with (data / "feedback.csv").open("a", encoding="utf-8") as fh:  # R1's objections, in February and November
        fh.write("R1,2025-02-14,client,2,objections,Rushed past the price objection.\n")
        fh.write("R1,2025-11-20,manager,3,objections,Still answers objections too quickly.\n")
    params = str(write_review_settings(tmp_path, data))
    run = ("run", "--params", params, "--reps", "R1", "--template", "rep")

    exit_code, output = invoke(*run, "--period", "2026")
    assert exit_code == 2, output
    flat = " ".join(output.split())
    assert "2026 is not over in the data: it ends in November 2026" in flat and "--period 2026-11-YTD" in flat
    assert not (tmp_path / "reports" / "2026").exists()

    exit_code, output = invoke(*run, "--period", "2026-Q3,2025")  # one data load and kernel for both
    assert exit_code == 0, output
    assert "2 report(s) written, 0 failed" in " ".join(output.split())
    quarter = (tmp_path / "reports" / "2026-Q3" / "R1" / "scorecard.html").read_text(encoding="utf-8")
    assert "Ann Archer\u2069 — review" in quarter and "Q3 2026 against the last review (Q2 2026)" in quarter
    folder = tmp_path / "reports" / "2025" / "R1"
    html = (folder / "scorecard.html").read_text(encoding="utf-8")
    assert "Ann Archer\u2069 — review" in html and "Goals for 2026" in html
    # February's note is outside the last six months of 2025, inside the year under review
    assert "objections: 2 notes from client or manager" in html
    assert "Rushed past the price objection." in html
    text = subprocess.run(
        ["pdftotext", str(folder / "scorecard.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Ann Archer — review" in flat and "objections: 2 notes" in flat and "Notes from the review" in flat


def test_new_template_and_check(tmp_path: Path) -> None:
    exit_code, output = invoke("new-template", "weekly", "--folder", str(tmp_path))
    assert exit_code == 0, output
    exit_code, output = invoke("check", str(tmp_path / "weekly.ipynb"), "--no-execute")
    assert exit_code == 0, output
    assert "✓" in output
    (tmp_path / "bad.ipynb").write_text("{")
    exit_code, output = invoke("check", str(tmp_path / "bad.ipynb"))
    assert exit_code == 1 and "not a readable notebook" in output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["validate"],
        ["demo-data"],
        ["kpis"],
        ["preview"],
        ["check"],
        ["new-template"],
        ["goals", "check"],
        ["goals", "show"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    exit_code, output = invoke(*command, "--help")
    assert exit_code == 0
    assert "Usage" in output
    if command and command != ["goals"]:
        assert "Example" in output, command


def _rewrite(path: Path, change: Callable[[list[dict[str, str]]], None]) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    change(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def hostile_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data with rich markup in a rep's name and a goal's id, and a raw terminal link in a deal's rep id."""
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(TINY, root / "data")
    _rewrite(root / "data" / "reps.csv", lambda rows: rows[2].update(name=MARKUP_NAME))
    _rewrite(root / "data" / "deals.csv", lambda rows: rows[-1].update(rep_id=ESCAPE_ID))
    goal = f"""goals:
      - id: "{MARKUP_NAME}"
        owner: R3
        metric: revenue
        target: 1200
        start: 2025-01
        deadline: 2025-Q1
        objective: Grow revenue.
    """
    (root / "goals.yaml").write_text(goal.replace("\n    ", "\n"), encoding="utf-8")
    config = write_config(root, root / "data" / "source.yaml")
    config.write_text(config.read_text().replace('goals: ""', f"goals: {root / 'goals.yaml'}"), encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("command", "code", "shown"),
    [
        (["validate"], 1, ESCAPE_SHOWN),
        (["goals", "check"], 0, MARKUP_NAME),
        (["goals", "show", "--period", "2025-03"], 0, MARKUP_NAME),
        (["run", "--period", "2025-03"], 1, ESCAPE_SHOWN),
        (["run", "--reps", ESCAPE_ID], 1, ESCAPE_SHOWN),
        (["preview", "--rep", ESCAPE_ID, "--period", "2025-03"], 1, ESCAPE_SHOWN),
        (["cycle", "--dry-run"], 1, ESCAPE_SHOWN),
        (["check"], 1, ESCAPE_SHOWN),
    ],
)
def test_item3_every_command_prints_crm_strings_literally(
    hostile_config: Path, command: list[str], code: int, shown: str
) -> None:
    """On a terminal: no hyperlink, colour or escape sequence from the data; the text itself is shown.

    ``send`` and ``send --status``: test_cli_send.py; the console helper itself: test_progress.py.
    """
    result = runner.invoke(app, [*command, "--params", str(hostile_config)], env=FORCE_TERMINAL)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert_printed_literally(result.stdout + result.stderr, shown)


def test_item3_console_text_carries_no_control_characters() -> None:
    """Every data string the CLI prints goes through _esc: an ESC sequence in a name or id cannot clear or
    restyle the terminal, and rich markup in it is shown as text."""
    from salesreports.cli import _esc

    shown = _esc("Ann\x1b[2J\x07 [bold]Lee\x0c")
    assert shown == "Ann\\x1b[2J\\x07 \\[bold]Lee\\x0c"  # controls shown as text, never sent to the terminal
    assert not any(ord(c) < 32 or ord(c) == 127 for c in shown)


def test_run_warns_of_an_old_currency_symbol(make_config: Callable[..., Path]) -> None:
    exit_code, output = invoke("run", "--params", str(make_config(extra='currency: "€"\n')), "--period", "2030-01")
    flat = " ".join(output.split())
    assert exit_code == 2 and "there is no data for January 2030" in flat  # the run goes on to its own checks
    assert "warning" in flat and '`currency: "€"` is a symbol' in flat and "Fix: write `currency: EUR`" in flat


def test_kpis_in_another_language(tmp_path: Path) -> None:
    """`kpis --locale de_DE` writes the catalogue's labels, definitions and headings in German."""
    from _catalog import tiny_catalog
    from salesreports.metrics.kpis import get

    revenue = get("revenue")
    with tiny_catalog(
        tmp_path, {"Revenue": "Umsatz", revenue.description: "Summe der gewonnenen Abschlüsse", "label": "Bezeichnung"}
    ):
        exit_code, output = invoke("kpis", "--locale", "de-DE")
        assert exit_code == 0, output
        flat = " ".join(output.split())
        assert "Umsatz" in flat
        assert "Bezeichnung" in flat
        assert "Summe der" in flat
        assert "Win rate" in flat  # no translation in this catalog: as written
        exit_code, output = invoke("kpis")
        assert exit_code == 0, output
        assert "Umsatz" not in output and "Revenue" in output  # without --locale: English


@pytest.mark.parametrize(("value", "hint"), [("de_DF", "Did you mean 'de_DE'"), ("klingon", "CLDR locale id")])
def test_kpis_refuses_an_unknown_locale(value: str, hint: str) -> None:
    exit_code, output = invoke("kpis", "--locale", value)
    assert exit_code == 2, output
    flat = " ".join(output.split())
    assert f"--locale: unknown locale '{value}'." in flat
    assert hint in flat
    assert "Traceback" not in output
