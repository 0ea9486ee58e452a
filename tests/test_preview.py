"""`salesreports preview` writes into build/preview/ only: the period's reports, manifest and outbox never change."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app
from salesreports.params import load_config
from salesreports.run.preview import Previewer, preview_folder


@pytest.fixture(autouse=True, scope="module")
def _close_zygotes() -> object:
    """Reports here run in this process's warm zygote (as in a worker): stop it after the module."""
    yield
    from salesreports.run.zygote import zygotes

    zygotes.close()


def _snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders with the hash of its bytes (and every folder, so new files show)."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


@pytest.mark.notebooks
def test_a_preview_leaves_the_period_the_manifest_and_the_outbox_byte_identical(make_config: object) -> None:
    from salesreports.mail.send import send_reports
    from salesreports.run.batch import run_reports

    config = load_config(make_config(), environ={})  # type: ignore[operator]
    summary = run_reports(config, periods="2025-03", kinds=("rep",), reps=["R1", "R2"])
    assert summary.ok, summary.results
    mail = send_reports(config, period="2025-03", reps=["R1", "R2"])
    assert list(config.resolve(config.outbox_dir).rglob("*.eml")), "the dry run wrote the emails a send would send"
    period = config.output_path / "2025-03"
    before = _snapshot(config.output_path, config.resolve(config.outbox_dir))
    assert str(period / "manifest.json") in before and str(period / "R1" / "scorecard.pdf") in before
    assert mail is not None

    result = Previewer(config, "R1", period="2025-03").render()
    assert result.status == "ok", result.error
    assert result.html.is_file() and result.pdf is not None and result.pdf.is_file()
    assert result.html.is_relative_to(preview_folder(config) / "2025-03")
    assert _snapshot(config.output_path, config.resolve(config.outbox_dir)) == before

    # the command line too, with another template path
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "preview",
            "--params",
            str(config.path),
            "--rep",
            "R2",
            "--period",
            "2025-03",
            "--no-pdf",
            "--template",
            str(config.template("rep")),
        ],
        env={"COLUMNS": "250"},
    )
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() == str(preview_folder(config) / "2025-03" / "R2" / "rep_scorecard.html")
    assert _snapshot(config.output_path, config.resolve(config.outbox_dir)) == before


def test_preview_needs_a_rep_or_a_team(tiny_config: Path) -> None:
    out = CliRunner().invoke(app, ["preview", "--params", str(tiny_config)])
    assert out.exit_code == 2 and "give either --rep ID or --team NAME" in out.stderr


@pytest.mark.parametrize(
    ("period", "template"),
    [
        ("2025-Q1", "review.ipynb"),
        ("2025", "review.ipynb"),
        ("2025-03", "rep_scorecard.ipynb"),
        (None, "rep_scorecard.ipynb"),  # the latest month
    ],
)
def test_preview_of_a_quarter_or_year_uses_the_review_template(
    make_config: object, period: str | None, template: str
) -> None:
    root = Path(__file__).parents[1] / "reports"
    path = make_config()  # type: ignore[operator]
    text = path.read_text(encoding="utf-8").replace("templates:\n", f"templates:\n  review: {root / 'review.ipynb'}\n")
    path.write_text(text, encoding="utf-8")
    config = load_config(path, environ={})
    assert Previewer(config, "R1", period=period).template.name == template
    assert Previewer(config, "North", period=period, kind="team").template.name == "team_summary.ipynb"
    # without `templates.review`, a quarter keeps the rep template
    plain = config.model_copy(update={"templates": {k: v for k, v in config.templates.items() if k != "review"}})
    assert Previewer(plain, "R1", period=period).template.name == "rep_scorecard.ipynb"


def _tiny_templates(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped templates with their defaults on the tiny fixture (R1, North, 2025-03 and 2025-Q1), and
    settings for them: their folder and the settings file."""
    from conftest import ROOT, write_config

    folder = tmp_path / "templates"
    folder.mkdir()
    for name in ("rep_scorecard", "review", "team_summary"):
        text = (ROOT / "reports" / f"{name}.ipynb").read_text(encoding="utf-8")
        text = text.replace("R007", "R1").replace("2026-10", "2025-03").replace("2026-Q3", "2025-Q1")
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return folder, write_config(tmp_path, rep=folder / "rep_scorecard.ipynb", team=folder / "team_summary.ipynb")


@pytest.mark.notebooks
def test_a_template_failing_in_check_is_named_by_its_cell_as_lab_shows_it(tmp_path: Path) -> None:
    """The failing cell's position in the template and its first line, and one number only: not also the
    execution count of the run ("in cell [5]")."""
    import json
    import subprocess
    import sys

    folder, settings = _tiny_templates(tmp_path)
    broken = folder / "team_summary.ipynb"
    nb = json.loads(broken.read_text(encoding="utf-8"))
    at, cell = next((i, c) for i, c in enumerate(nb["cells"], 1) if "view.leaderboard" in "".join(c["source"]))
    cell["source"] = ["view.leaderboard()\n", "1 / 0\n"]
    broken.write_text(json.dumps(nb), encoding="utf-8")
    command = [sys.executable, "-m", "salesreports.cli", "check", "--params", str(settings), str(broken)]
    done = subprocess.run([*command, str(folder / "rep_scorecard.ipynb")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = next(line for line in done.stdout.splitlines() if line.startswith("✗"))
    said = f"cell {at} (`view.leaderboard()`) fails with its default parameters: ZeroDivisionError: division by"
    assert said in failed, failed
    assert "in cell [" not in failed
    assert "✓ " + str(folder / "rep_scorecard.ipynb") in done.stdout
    # a one-off preview of it says the same
    preview = [sys.executable, "-m", "salesreports.cli", "preview", "--params", str(settings), "--team", "North"]
    done = subprocess.run([*preview, "--period", "2025-03", "--template", str(broken)], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"failed: cell {at} (`view.leaderboard()`): ZeroDivisionError: division by zero; notebook:" in " ".join(
        done.stderr.split()
    ), done.stderr


@pytest.mark.notebooks
def test_a_cold_check_runs_the_templates_two_at_a_time_each_as_its_context_is_kept(tmp_path: Path) -> None:
    """`check` of three templates (two of one month, one of a quarter) with nothing kept: a forked builder keeps
    the contexts (the quarter's scope in a lane of its own), and the templates run on one zygote per core,
    as many at once, every one passing. Each report is held for half a second here, so that two running
    at once is seen, not timed."""
    import os
    import subprocess
    import sys

    folder, settings = _tiny_templates(tmp_path)
    code = (
        "import atexit, sys, threading, time\n"
        "from salesreports.run import worker\n"
        "real, lock, now, most = worker.run_job, threading.Lock(), [0], [0]\n"
        "def held(job, mode='fast', **kw):\n"
        "    with lock:\n"
        "        now[0] += 1\n"
        "        most[0] = max(most[0], now[0])\n"
        "    time.sleep(0.5)\n"
        "    try:\n"
        "        return real(job, mode, **kw)\n"
        "    finally:\n"
        "        with lock:\n"
        "            now[0] -= 1\n"
        "worker.run_job = held\n"
        "atexit.register(lambda: print('at once:', most[0]))\n"
        "from salesreports.cli import main\n"
        f"sys.argv = ['salesreports', 'check', '--params', {str(settings)!r}, {str(folder)!r} + '/rep_scorecard.ipynb',"
        f" {str(folder)!r} + '/review.ipynb', {str(folder)!r} + '/team_summary.ipynb']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("(executes with its defaults)") == 3, done.stdout
    cores = len(os.sched_getaffinity(0))
    assert done.stdout.strip().splitlines()[-1] == f"at once: {min(cores, 3)}"
