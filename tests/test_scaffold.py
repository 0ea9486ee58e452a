"""`salesreports init DIR [--from-export ...]`: the settings folder, never overwriting, and a first real run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app
from salesreports.metrics.coaching import load_coaching
from salesreports.metrics.goals import load_goals
from salesreports.params import load_config

ROOT = Path(__file__).parents[1]
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_init_writes_a_settings_folder_without_the_demo_goals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "acme"
    result = runner.invoke(app, ["init", str(folder), "--company", "Acme", "--currency", "EUR"])
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "sources/crm.yaml", "goals.yaml", "coaching.yaml"):
        assert (folder / name).is_file(), name
    config = load_config(folder / "config.yaml", environ={})
    assert (config.company, config.currency, config.source_path) == ("Acme", "EUR", folder / "sources" / "crm.yaml")
    assert config.template("rep") == ROOT / "reports" / "rep_scorecard.ipynb"
    assert len(load_goals(folder / "goals.yaml")) == 0  # commented examples only: no demo goals
    assert (folder / "coaching.yaml").read_text() == (ROOT / "params" / "coaching.yaml").read_text()
    assert load_coaching(folder / "coaching.yaml").rules
    out = _flat(result.stdout)
    assert f"salesreports validate --params {folder / 'config.yaml'}" in out
    assert f"salesreports run --params {folder / 'config.yaml'}" in out


def test_init_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "goals.yaml").write_text("goals: []\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 2
    assert f"{folder / 'goals.yaml'}: exists already, and init never overwrites a file" in _flat(result.stderr)
    assert not (folder / "config.yaml").exists()
    assert (folder / "goals.yaml").read_text() == "goals: []\n"


@pytest.mark.parametrize("crm", ["salesforce", "hubspot", "pipedrive"])
def test_init_from_export_validates_and_says_what_the_reports_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["init", str(tmp_path / "acme"), "--from-export", str(EXPORTS / crm)])
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "validate: OK" in out
    assert "The scorecards will show: Revenue, Deals won, Win rate" in out
    assert "Not available with this data: Quota attainment (needs targets)" in out
    check = runner.invoke(app, ["validate", "--params", str(tmp_path / "acme" / "config.yaml")])
    assert check.exit_code == 0, check.output


@pytest.mark.slow
def test_init_from_export_then_run_produces_scorecards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "acme"
    assert runner.invoke(app, ["init", str(folder), "--from-export", str(EXPORTS / "hubspot")]).exit_code == 0
    args = ["run", "--params", str(folder / "config.yaml"), "--period", "2025-03", "--reps", "Lena Park"]
    result = runner.invoke(app, [*args, "--template", "rep", "--workers", "1"])
    assert result.exit_code == 0, result.output
    period = folder / "build" / "reports" / "2025-03"
    (card,) = period.glob("Lena_Park*/scorecard.html")
    assert "Lena Park" in card.read_text(encoding="utf-8")
    assert (period / "index.html").is_file()
