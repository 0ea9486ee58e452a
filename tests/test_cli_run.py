"""The run/preview/check/new-template commands through the real CLI (exit codes, messages, no traceback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app

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


def test_item2_console_text_carries_no_control_characters() -> None:
    """Every data string the CLI prints goes through _esc: an ESC sequence in a name or id cannot clear or
    restyle the terminal, and rich markup in it is shown as text."""
    from salesreports.cli import _esc

    assert _esc("Ann\x1b[2J\x07 [bold]Lee\x0c") == "Ann[2J \\[bold]Lee\n"
