"""Goals that name owners, metrics or scope values absent from the data set are warnings (validate and run)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app
from salesreports.data.loading import Dataset, load_dataset
from salesreports.metrics.goals.fit import goals_fit_file

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parents[1]
GOALS = """
goals:
  - {id: fits, owner: R1, metric: revenue, target: 5000, start: 2025-01, deadline: 2025-Q1, objective: Grow.}
  - {id: team-fits, owner: North, metric: win_rate, scope: {product: Core}, target: 50%, start: 2025-01,
     deadline: 2025-12, objective: Win more.}
  - {id: demo-rep, owner: R011, metric: revenue, target: 500000, start: 2026-01, deadline: 2026-Q1, objective: x}
  - {id: demo-product, owner: company, metric: revenue, scope: {product: Analytix}, target: 5, start: 2026-01,
     deadline: 2026-Q1, objective: x}
  - {id: bad-metric, owner: company, metric: revenu, target: 5, start: 2026-01, deadline: 2026-Q1, objective: x}
  - {id: no-source, owner: company, metric: leads, scope: {source: billboard}, target: 5, start: 2026-01,
     deadline: 2026-Q1, objective: x}
"""


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return load_dataset(FIXTURES / "tiny" / "source.yaml")


def test_goals_naming_what_the_data_lacks_are_warnings_with_their_line(tmp_path: Path, tiny: Dataset) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(textwrap.dedent(GOALS).lstrip(), encoding="utf-8")
    issues = goals_fit_file(path, tiny)
    assert {i.severity for i in issues} == {"warning"}
    by_goal = {i.message.split("'")[1]: i for i in issues}
    assert set(by_goal) == {"demo-rep", "demo-product", "bad-metric", "no-source"}
    assert "the owner 'R011' is neither a rep nor a team of the data (reps R1, R2, R3; teams North, South)" in str(
        by_goal["demo-rep"]
    )
    assert "(line 5)" in str(by_goal["demo-rep"])
    assert str(by_goal["demo-rep"]).startswith(str(path))
    assert "the scope's product 'Analytix' is not in the data" in by_goal["demo-product"].message
    assert "Did you mean 'Analytics'?" in by_goal["demo-product"].message
    assert "Did you mean 'revenue'?" in by_goal["bad-metric"].message
    assert "the scope's source 'billboard' is not in the data" in by_goal["no-source"].message


def test_validate_shows_foreign_goals_as_warnings(tmp_path: Path) -> None:
    (tmp_path / "goals.yaml").write_text(textwrap.dedent(GOALS).lstrip(), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        f"company: T\nsource: {FIXTURES / 'tiny' / 'source.yaml'}\ngoals: goals.yaml\ncoaching: ''\n", encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["validate", "--params", str(tmp_path / "config.yaml")])
    out = " ".join(result.stdout.split())
    assert result.exit_code == 0, result.output
    assert "warning goals.yaml" in out.replace(str(tmp_path) + "/", "")
    assert "goal 'demo-rep': the owner 'R011'" in out
    assert "goal 'fits'" not in out
    assert "6 warning(s)" in out  # the data's 2 and the 4 goals'


class _NoNotebooks:
    """An executor that marks every job done without running it: this test is about the run's warnings."""

    def run(self, jobs: list, on_result: object = None) -> list:
        from salesreports.run.jobs import JobResult

        return [JobResult(job.key, "failed", "not run by this test") for job in jobs]


def test_run_reports_foreign_goals_as_warnings(tmp_path: Path) -> None:
    from salesreports.params import load_config
    from salesreports.run.batch import run_reports

    (tmp_path / "goals.yaml").write_text(textwrap.dedent(GOALS).lstrip(), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        f"company: T\nsource: {FIXTURES / 'tiny' / 'source.yaml'}\ngoals: goals.yaml\noutput_dir: out\n"
        f"coaching: ''\ntemplates: {{rep: {ROOT / 'reports' / 'rep_scorecard.ipynb'}}}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "config.yaml", environ={})
    summary = run_reports(config, periods="2025-03", reps=["R1"], kinds=("rep",), executor=_NoNotebooks())
    named = [i.message.split("'")[1] for i in summary.warnings]
    assert named == ["demo-rep", "demo-product", "bad-metric", "no-source"]
