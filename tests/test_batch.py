"""The batch runner end to end on the tiny fixture: real templates, real papermill, real rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, TINY
from salesreports.errors import DataValidationError, ParamsError, TemplateError
from salesreports.params import load_config
from salesreports.run.batch import check_parameters, default_period, run_reports

pytestmark = pytest.mark.notebooks
REP_TEMPLATE = ROOT / "reports" / "rep_scorecard.ipynb"


def failing_template(tmp_path: Path, rep: str) -> Path:
    """The rep template with one more cell that fails for ``rep``."""
    nb = nbformat.read(str(REP_TEMPLATE), as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell(f'assert rep_id != "{rep}", "planted failure for {rep}"'))
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, str(path))
    return path


def manifest(config_path: Path, period: str = "2025-03") -> dict[str, dict[str, object]]:
    folder = load_config(config_path, environ={}).output_path / period
    data = json.loads((folder / "manifest.json").read_text())
    return {r["key"]: r for r in data["reports"]}


def test_full_run_then_nothing_to_do(make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(), environ={})
    summary = run_reports(config, periods="2025-03", mode="fast", workers=2)
    assert summary.ok, summary.failed
    keys = sorted(r["key"] for r in summary.results)
    assert keys == ["rep/R1", "rep/R2", "rep/R3", "team/North", "team/South", "team/company"]
    folder = config.output_path / "2025-03"
    for sub in ("R1", "R2", "R3", "team-North", "team-company"):
        for name in ("scorecard.ipynb", "scorecard.html", "scorecard.pdf", "context.json"):
            assert (folder / sub / name).stat().st_size > 0
    assert not list(folder.rglob(".*.tmp*")), "no temp file may be left behind"
    html = (folder / "R1" / "scorecard.html").read_text()
    assert "Ann Archer" in html and "$4,000" in html
    entry = manifest(Path(config.path))["rep/R1"]
    assert entry["status"] == "ok" and entry["headline"]["revenue"]["text"] == "$4,000"
    assert entry["parameters"] == {"period": "2025-03", "rep_id": "R1"}
    again = run_reports(config, periods="2025-03")
    assert again.results == [] and again.unchanged == 6


def test_a_failing_rep_does_not_stop_the_others(tmp_path: Path, make_config: Callable[..., Path]) -> None:
    path = make_config(rep=failing_template(tmp_path, "R2"))
    config = load_config(path, environ={})
    summary = run_reports(config, periods="2025-03", kinds=("rep",))
    assert not summary.ok
    failed = {r["key"]: r for r in summary.failed}
    assert list(failed) == ["rep/R2"]
    assert "planted failure for R2" in failed["rep/R2"]["error"]
    folder = config.output_path / "2025-03"
    assert (folder / "R2" / "scorecard.failed.ipynb").exists()
    assert not (folder / "R2" / "scorecard.html").exists()
    entries = manifest(path)
    assert entries["rep/R1"]["status"] == "ok" and entries["rep/R2"]["status"] == "failed"
    assert entries["rep/R2"]["failed_notebook"] == "R2/scorecard.failed.ipynb"
    # fix the template, retry only the failure; the company's name changed meanwhile (every context would)
    made = (folder / "R1" / "context.json").read_bytes()
    fixed = make_config()
    fixed.write_text(fixed.read_text().replace("Tiny Test Co", "Renamed Co"), encoding="utf-8")
    retry = run_reports(load_config(fixed, environ={}), periods="2025-03", kinds=("rep",), retry_failed=True)
    assert [r["key"] for r in retry.results] == ["rep/R2"] and retry.ok
    assert not (folder / "R2" / "scorecard.failed.ipynb").exists()
    # R1 is kept as made: its context too (its email reads it beside its PDF), not one of the newer settings
    assert (folder / "R1" / "context.json").read_bytes() == made
    assert "Renamed Co" in (folder / "R2" / "context.json").read_text() and b"Renamed Co" not in made


def test_fresh_kernel_mode(make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(), environ={})
    summary = run_reports(config, periods="2025-03", reps=["R1"], kinds=("rep",), mode="fresh")
    assert summary.ok, summary.failed
    nb = nbformat.read(str(config.output_path / "2025-03" / "R1" / "scorecard.ipynb"), as_version=4)
    assert nb.metadata["salesreports"]["rep_name"] == "Ann Archer"
    assert nb.metadata["papermill"]["parameters"]["rep_id"] == "R1"
    # the context is recorded relative to the report's folder: the notebook re-runs from there
    assert nb.metadata["papermill"]["parameters"]["context"] == "context.json"
    (injected,) = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'context = "context.json"' in injected.source


def test_reps_outside_their_employment_are_skipped(make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(), environ={})
    summary = run_reports(config, periods="2025-01", reps=["R2"], kinds=("rep",))
    assert summary.results == []
    assert summary.skipped[0]["reason"] == "joined on 2025-02-15, after January 2025"


def test_bad_requests_stop_before_anything_runs(tmp_path: Path, make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(), environ={})
    with pytest.raises(ParamsError, match="unknown rep id"):
        run_reports(config, periods="2025-03", reps=["R9"])
    with pytest.raises(ParamsError, match="no data for June 2030"):
        run_reports(config, periods="2030-06")
    with pytest.raises(ParamsError, match="not a report period"):
        run_reports(config, periods="2025-03-T12M")
    with pytest.raises(ParamsError, match=r"Q2 2025: the data covers 2024-03 to 2025-03"):
        run_reports(config, periods="2025-Q2")
    assert not (config.output_path / "2030-06").exists()


def test_invalid_data_stops_the_run(tmp_path: Path, make_config: Callable[..., Path]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in TINY.iterdir():
        (bad / f.name).write_text(f.read_text())
    deals = (bad / "deals.csv").read_text().replace("D8,R1,A7", "D1,R1,A7")  # duplicate deal id
    (bad / "deals.csv").write_text(deals)
    config = load_config(make_config(source=bad / "source.yaml"), environ={})
    with pytest.raises(DataValidationError, match="unique"):
        run_reports(config, periods="2025-03")
    assert not config.output_path.exists()


def test_parameters_are_checked_against_the_template(tmp_path: Path) -> None:
    check_parameters(REP_TEMPLATE, ["rep_id", "period", "context"])
    with pytest.raises(ParamsError, match=r"'rep_idd'.*Did you mean 'rep_id'"):
        check_parameters(REP_TEMPLATE, ["rep_idd"])
    nb = nbformat.read(str(REP_TEMPLATE), as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nb, str(plain))
    with pytest.raises(TemplateError, match="tagged 'parameters'"):
        check_parameters(plain, ["rep_id"])


def test_default_period_is_the_latest_complete_month() -> None:
    import pandas as pd

    assert default_period(pd.Timestamp("2026-10-30")).label == "2026-10"  # Friday; the 31st is a Saturday
    assert default_period(pd.Timestamp("2026-10-29")).label == "2026-09"
    assert default_period(pd.Timestamp("2026-10-31")).label == "2026-10"


def test_results_reach_the_manifest_as_they_arrive(
    make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stops half-way (the client's connection to the cluster lost) keeps what finished."""
    from salesreports.run import batch
    from salesreports.run.jobs import Job, JobResult

    class DiesAfterOne:
        def run(self, jobs: list[Job], on_result: Callable[[JobResult], None]) -> list[JobResult]:
            first = JobResult(jobs[0].key, "ok", files={jobs[0].notebook: "ab" * 32}, where="tcp://10.0.0.1:1")
            on_result(first)
            raise RuntimeError("the scheduler went away")

    monkeypatch.setattr(batch, "MANIFEST_EVERY", 0.0)
    path = make_config()
    with pytest.raises(RuntimeError, match="went away"):
        run_reports(load_config(path, environ={}), periods="2025-03", kinds=("rep",), executor=DiesAfterOne())
    entries = manifest(path)
    (done,) = [e for e in entries.values() if "status" in e]
    assert done["status"] == "ok" and done["worker"] == "tcp://10.0.0.1:1"
    assert done["sha256"] == {f"{done['folder']}/scorecard.ipynb": "ab" * 32}


PARAMETER_CELLS = [
    'rep_id = "R001"  # the rep\nperiod = "2026-10"\ncontext = ""\n',
    "team: str = 'North'\nparams_file = None  # settings\nlimit = 3 * 4\nflag = True\n",
    'title = "Résumé — Q3"  # the heading\nperiod = "2026-10"\n',
]


def _notebook(path: Path, source: str) -> Path:
    v4 = nbformat.v4
    cell = v4.new_code_cell(source, metadata={"tags": ["parameters"]})
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T"), cell, v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize("source", PARAMETER_CELLS)
def test_declared_parameters_match_papermills_inspection(tmp_path: Path, source: str) -> None:
    """The light reader of a parameters cell (no papermill or nbformat import: a second off every preview and
    check) gives what papermill's own inspect_notebook gives for one-line assignments."""
    import papermill as pm

    from salesreports.run.batch import template_parameters

    path = _notebook(tmp_path / "t.ipynb", source)
    expected = {k: dict(v) for k, v in pm.inspect_notebook(str(path)).items()}
    assert template_parameters(path) == expected


def test_declared_parameters_read_python_not_lines(tmp_path: Path) -> None:
    """Where papermill's line patterns go wrong (a value over two lines, two names, a # inside a string), the
    declared names and defaults are Python's (checked by hand)."""
    from salesreports.run.batch import template_parameters

    source = (
        'a = b = [1,\n     2]  # two names\nnote = "x # y"  # a comment\nx: int = 5\n'
        'title = "Résumé — Q3"  # the heading\n'
    )
    found = template_parameters(_notebook(tmp_path / "t.ipynb", source))
    assert {k: (v["default"], v["inferred_type_name"], v["help"]) for k, v in found.items()} == {
        "a": ("[1,\n     2]", "None", "two names"),
        "b": ("[1,\n     2]", "None", "two names"),
        "note": ('"x # y"', "None", "a comment"),
        "x": ("5", "int", ""),
        "title": ('"Résumé — Q3"', "None", "the heading"),  # the parser's offsets are bytes, not characters
    }


def test_a_template_with_null_metadata_or_source_lists_is_read(tmp_path: Path) -> None:
    """Notebook JSON as other tools write it: a cell's metadata null, its source a list of lines."""
    from salesreports.run.batch import template_parameters
    from salesreports.run.notebooks import check_template

    path = tmp_path / "t.ipynb"
    cells = [
        {"cell_type": "markdown", "metadata": None, "source": None},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["rep_id = 'R1'\n", "period = ''"]},
    ]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells}))
    assert list(template_parameters(path)) == ["rep_id", "period"]
    assert not [f for f in check_template(path) if "syntax" in f.message]


def test_shipped_templates_declare_what_papermill_sees() -> None:
    import papermill as pm

    from salesreports.run.batch import template_parameters

    for path in sorted((ROOT / "reports").glob("*.ipynb")):
        assert template_parameters(path) == {k: dict(v) for k, v in pm.inspect_notebook(str(path)).items()}, path


def test_an_output_url_that_refuses_the_manifest_mid_run_does_not_stop_the_run(
    make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is uploaded to the output URL as results arrive; an upload the store refuses (a 503) is
    tried again with the next result, and the run goes on."""
    import uuid

    from salesreports.run import batch, storage
    from salesreports.run.jobs import Job, JobResult

    url = f"memory://reports-{uuid.uuid4().hex}"  # fsspec's in-process store
    seen: list[set[str]] = []  # the keys of the manifest at the URL when each result arrives

    class Publishes:
        output_url = url

        def run(self, jobs: list[Job], on_result: Callable[[JobResult], None]) -> list[JobResult]:
            results = [JobResult(j.key, "ok") for j in jobs]
            for res in results:
                on_result(res)
                with_manifest = storage.exists(f"{url}/2025-03/manifest.json")
                raw = json.loads(storage.read_bytes(f"{url}/2025-03/manifest.json")) if with_manifest else {}
                seen.append({r["key"] for r in raw.get("reports", [])})
            return results

    refused: list[str] = []
    put = storage.put

    def refuses_once(source: Path, destination: str) -> None:
        if destination.endswith("/manifest.json") and not refused:
            refused.append(destination)
            raise OSError("503 Slow Down")
        put(source, destination)

    monkeypatch.setattr(storage, "put", refuses_once)
    monkeypatch.setattr(batch, "MANIFEST_EVERY", 0.0)
    summary = run_reports(
        load_config(make_config(), environ={}), periods="2025-03", kinds=("rep",), executor=Publishes()
    )
    assert summary.ok and refused == [f"{url}/2025-03/manifest.json"]
    keys = [r["key"] for r in summary.results]
    assert len(keys) >= 2
    assert seen[0] == set(), "the first upload was refused"
    assert seen[1] == set(keys[:2]), "the next result uploads both"
    assert summary.index_urls == [f"{url}/2025-03/index.html"] and storage.exists(summary.index_urls[0])


def test_the_index_is_written_in_the_companys_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`write_index` gets the settings' locale: the index page's words are the company's language."""
    from types import SimpleNamespace

    from salesreports import i18n
    from salesreports.report import index
    from salesreports.run import batch

    spoken: list[str] = []
    monkeypatch.setattr(index, "write_index", lambda manifest, path, locale=None: spoken.append(locale) or path)
    plan = SimpleNamespace(folder=tmp_path, manifest=SimpleNamespace(to_dict=lambda: {"reports": []}))
    before = i18n.language()
    batch._write_index(plan, "fr_FR")  # type: ignore[arg-type]
    batch._write_index(plan, "en_US")  # type: ignore[arg-type]
    assert spoken == ["fr_FR", "en_US"]
    assert i18n.language() == before  # the process's language is left alone
