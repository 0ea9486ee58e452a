"""The report guard: reading beyond the report's context is refused at run time, whatever reader is used.

The static lint of `salesreports check` catches `open(...)`, `read_csv(...)` and imports of the data layer;
these readers pass it, so only the audit hook (salesreports.guard) in the report's own process stops them.
Each is tried in the batch (the fast worker path), in a fresh kernel and in a preview, on the tiny data set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, TINY
from salesreports.params import load_config
from salesreports.run.jobs import Job


@pytest.fixture(autouse=True, scope="module")
def _close_zygotes() -> object:
    """Reports here run in this process's warm zygote (as in a worker): stop it after the module."""
    yield
    from salesreports.run.zygote import zygotes

    zygotes.close()


SECRET = TINY / "reps.csv"  # every rep's name and email
READERS = {
    "read_fwf": (f"import pandas as pd\nrows = pd.read_fwf({str(SECRET)!r})", str(SECRET)),
    "Path.read_text": (f"from pathlib import Path\ntext = Path({str(SECRET)!r}).read_text()", str(SECRET)),
    "np.genfromtxt": (
        f"import numpy as np\nrows = np.genfromtxt({str(SECRET)!r}, delimiter=',', dtype=str)",
        str(SECRET),
    ),
    "open": (f"reader = open\ntext = reader({str(SECRET)!r}).read()", str(SECRET)),
    "importlib": (
        "import importlib\nloading = importlib.import_module('salesreports.data.loading')",
        "salesreports.data.loading",
    ),
    "getattr": (f"import pandas as pd\nrows = getattr(pd, 'read_' + 'csv')({str(SECRET)!r})", str(SECRET)),
    "swallowed": (
        f"reader = open\ntry:\n    text = reader({str(SECRET)!r}).read()\nexcept Exception:\n    text = ''",
        str(SECRET),
    ),
}


def _template(folder: Path, name: str, line: str) -> Path:
    nb = nbformat.read(ROOT / "reports" / "rep_scorecard.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(line))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _assert_refused(error: str, named: str, line: str) -> None:
    assert "PrivacyError" in error, error
    assert named in error, error
    first = line.splitlines()[0]
    assert f"cell 4 (`{first}`)" in error or f"the cell (`{first}`)" in error, error  # as JupyterLab shows it
    assert "privacy boundary" in error and "Fix:" in error


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """R1's context for March 2025, written as a batch writes it."""
    from conftest import write_config
    from salesreports.data.loading import load_dataset
    from salesreports.metrics.engine import compute_kpis
    from salesreports.metrics.periods import parse_period
    from salesreports.report.contexts import write_context
    from salesreports.report.scope import build_scope

    tmp = tmp_path_factory.mktemp("guard")
    config = load_config(write_config(tmp), environ={})
    data = load_dataset(config.source_path)
    scope = build_scope(data, compute_kpis(data), config, parse_period("2025-03"))
    path = tmp / "ctx" / "context.json"
    write_context(scope.rep_context("R1"), path)
    return path


def _job(tmp: Path, template: Path, context: Path) -> Job:
    return Job(
        key=template.stem,
        kind="rep",
        template=str(template),
        notebook=str(tmp / template.stem / "scorecard.ipynb"),
        parameters={"rep_id": "R1", "period": "2025-03", "context": str(context)},
        cwd=str(template.parent),
        html=str(tmp / template.stem / "scorecard.html"),
        timeout=120,
    )


@pytest.mark.notebooks
@pytest.mark.parametrize("mode", ["fast", "fresh"])
def test_every_reader_is_refused_at_run_time(tmp_path: Path, context: Path, mode: str) -> None:
    from salesreports.run.notebooks import check_template
    from salesreports.run.worker import run_job

    for name, (line, named) in READERS.items():
        template = _template(tmp_path / "templates", name, line)
        assert not [f for f in check_template(template) if "privacy boundary" in f.message], "the lint misses it"
        result = run_job(_job(tmp_path, template, context), mode)  # type: ignore[arg-type]
        assert result.status == "failed", name
        _assert_refused(result.error, named, line)
        assert not (tmp_path / name / "scorecard.html").exists(), "a refused report has no page"
        failed = Path(result.failed_notebook).read_text(encoding="utf-8")
        assert "PrivacyError" in failed and "Bob Baker" not in failed and "bob.baker@" not in failed


@pytest.mark.notebooks
def test_the_shipped_template_runs_guarded_and_a_leak_fails_the_batch(tmp_path: Path, make_config: object) -> None:
    from salesreports.run.batch import run_reports

    line, named = READERS["read_fwf"]
    template = _template(tmp_path / "templates", "leaky", line)
    config = load_config(make_config(rep=template), environ={})  # type: ignore[operator]
    summary = run_reports(config, periods="2025-03", kinds=("rep",), reps=["R1"])
    [entry] = summary.results
    assert entry["status"] == "failed"
    _assert_refused(entry["error"], named, line)
    manifest = json.loads((config.output_path / "2025-03" / "manifest.json").read_text(encoding="utf-8"))
    assert [r["status"] for r in manifest["reports"] if r["key"] == "rep/R1"] == ["failed"]
    assert not (config.output_path / "2025-03" / "R1" / "scorecard.html").exists()
    # the same template without the leak runs: the guard lets a report read what it needs
    config = load_config(make_config(), environ={})  # type: ignore[operator]
    assert run_reports(config, periods="2025-03", kinds=("rep",), reps=["R1"], force=True).ok


@pytest.mark.notebooks
def test_every_reader_is_refused_in_a_preview(tmp_path: Path, make_config: object) -> None:
    from salesreports.run.preview import Previewer

    config = load_config(make_config(), environ={})  # type: ignore[operator]
    previewer = Previewer(config, "R1", period="2025-03")
    previewer.load()
    for name, (line, named) in READERS.items():
        previewer.template = _template(tmp_path / "templates", name, line)
        result = previewer.render()
        assert result.status == "failed", name
        _assert_refused(result.error, named, line)
        assert not result.html.exists()


def _guarded(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    context = tmp_path / "ctx" / "context.json"
    context.parent.mkdir()
    context.write_text("{}", encoding="utf-8")
    # sqlite3 is loaded before (IPython keeps it loaded): its connections to files are refused, not its import
    prelude = f"import sqlite3\nfrom salesreports import guard\nguard.install(context={str(context)!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_the_guard_allows_the_context_and_the_libraries_and_refuses_the_rest(tmp_path: Path) -> None:
    proc = _guarded(
        f"""
        import json
        from pathlib import Path
        import altair, pandas  # site-packages
        from salesreports.errors import PrivacyError
        from salesreports.metrics.kpis import registry
        assert registry().get("revenue")
        assert json.loads(Path({str(tmp_path / "ctx" / "context.json")!r}).read_text()) == {{}}
        refused = []
        for attempt in (
            lambda: open({str(SECRET)!r}),
            lambda: __import__("salesreports.data.loading"),
            lambda: __import__("duckdb"),
            lambda: sqlite3.connect({str(tmp_path / "x.db")!r}),
            lambda: __import__("subprocess").run(["cat", {str(SECRET)!r}]),
        ):
            try:
                attempt()
            except PrivacyError as exc:
                refused.append(str(exc))
        print(len(refused))
        print(refused[0])
        sqlite3.connect(":memory:")
        open({str(tmp_path / "out.txt")!r}, "w").write("writing is not reading")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    count, first = proc.stdout.splitlines()[:2]
    assert count == "5"
    assert f"reads {SECRET}" in first and "privacy boundary" in first


def test_the_guard_allows_installed_packages_metadata(tmp_path: Path) -> None:
    """altair's plugin registries read entry points, i.e. every distribution's metadata on sys.path, also
    ``src/salesreports.egg-info`` of an editable install (a fresh process on a Dask worker reads them guarded)."""
    proc = _guarded(
        """
        import importlib.metadata as md
        names = {d.metadata["Name"].lower() for d in md.distributions()}
        assert "salesreports" in names and "altair" in names
        print(len(md.entry_points(group="console_scripts")))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) > 0
