"""Tests for `salesreports goals check` and `salesreports goals show` (exit codes, stdout, stderr)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app

FIXTURE = Path(__file__).parent / "fixtures" / "goals_small" / "source.yaml"
GOOD = """\
goals:
  - id: g1-q1
    owner: G1
    metric: revenue
    target: 1200
    start: 2025-01
    deadline: 2025-Q1
    objective: Grow revenue in the East territory this year.
"""


def _params(tmp_path: Path, goals: str) -> Path:
    (tmp_path / "goals.yaml").write_text(textwrap.dedent(goals), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {FIXTURE}\ngoals: goals.yaml\n", encoding="utf-8")
    return config


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_check_passes_smart_goals(tmp_path: Path) -> None:
    code, out, err = _run("goals", "check", "--params", str(_params(tmp_path, GOOD)))
    assert code == 0, err
    assert "g1-q1" in out
    # $1,200 needs 2.0x G1's best quarter: a warning, not an error
    assert "warning g1-q1 (goals.yaml:2) Achievable: $1,200 needs 2.0x G1's best quarter (Q1 2024: $600)" in out
    assert out.strip().endswith("1 goal(s): 0 SMART, 1 with warnings, 0 with errors.")


def test_check_exits_1_when_a_goal_has_errors(tmp_path: Path) -> None:
    goals = GOOD + "  - {id: bad, owner: G1, metric: revenu, target: 5, start: 2025-03, deadline: 2025-01}\n"
    code, out, _ = _run("goals", "check", "--params", str(_params(tmp_path, goals)))
    assert code == 1
    assert "error   bad (goals.yaml:9) Measurable: unknown metric 'revenu'. Did you mean 'revenue'?" in out
    assert "Time-bound: the deadline (Jan 2025) is before the start (Mar 2025)" in out
    assert "Relevant: no objective" in out
    assert "2 goal(s): 0 SMART, 1 with warnings, 1 with errors." in out


@pytest.mark.parametrize(
    ("goals", "fragment"),
    [
        (
            "goals:\n  - {id: a, owner: G1, metrc: revenue}\n",
            "key 'goals.0.metrc' is not known. Did you mean 'metric'?",
        ),
        ("goals: [\n", "invalid YAML"),
    ],
)
def test_check_reports_a_broken_goal_file_without_traceback(tmp_path: Path, goals: str, fragment: str) -> None:
    code, out, err = _run("goals", "check", "--params", str(_params(tmp_path, goals)))
    assert code == 2
    assert err.startswith("error: ")
    assert fragment in " ".join(err.split())
    assert "Traceback" not in err + out


def test_show_prints_progress_as_of_a_period(tmp_path: Path) -> None:
    code, out, err = _run("goals", "show", "--params", str(_params(tmp_path, GOOD)), "--period", "2025-01")
    assert code == 0, err
    assert "Goal progress as of 2025-01-31" in out
    row = next(line for line in out.splitlines() if line.startswith("│ g1-q1"))
    # target, actual, expected by now (last year's shape: 1,200 x 150 / 650), projected (150 / (150 / 650))
    assert [c.strip() for c in row.strip("│").split("│")] == [
        "g1-q1",
        "G1",
        "revenue",
        "$1,200",
        "$150",
        "$277",
        "$650",
        "at risk",
    ]
    assert "g1-q1: $150 of $1,200 (12%) so far" in out


def test_show_defaults_to_the_datas_last_day(tmp_path: Path) -> None:
    code, out, _ = _run("goals", "show", "--params", str(_params(tmp_path, GOOD)))
    assert code == 0
    assert "Goal progress as of 2025-02-28" in out


def test_show_rejects_a_bad_period(tmp_path: Path) -> None:
    code, _, err = _run("goals", "show", "--params", str(_params(tmp_path, GOOD)), "--period", "Q1")
    assert code == 2
    assert "'Q1' is not a period" in err


def test_goals_without_a_command_shows_help() -> None:
    code, out, err = _run("goals")
    assert "check" in out + err
    assert "show" in out + err
    assert code in (0, 2)
