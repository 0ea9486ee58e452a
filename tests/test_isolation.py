"""The fast mode's isolation: what one report does never reaches the next, and a crash or hang stalls nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES
from salesreports.run.jobs import Job, JobResult
from salesreports.run.local import LocalExecutor

TEMPLATES = FIXTURES / "templates"


def job(tmp_path: Path, template: str, name: str, timeout: int = 120, **parameters: object) -> Job:
    return Job(
        key=name,
        kind="rep",
        template=str(TEMPLATES / template),
        notebook=str(tmp_path / name / "scorecard.ipynb"),
        parameters={"rep_id": name, "period": "2025-03", "context": "", **parameters},
        cwd=str(tmp_path),
        timeout=timeout,
    )


def by_key(results: list[JobResult]) -> dict[str, JobResult]:
    return {r.key: r for r in results}


def test_state_planted_by_one_report_is_not_seen_by_the_next(tmp_path: Path) -> None:
    jobs = [
        job(tmp_path, "plant_state.ipynb", "R1", role="plant"),
        job(tmp_path, "plant_state.ipynb", "R2", role="check"),
        job(tmp_path, "plant_state.ipynb", "R3", role="plant"),
        job(tmp_path, "plant_state.ipynb", "R4", role="check"),
    ]
    results = by_key(LocalExecutor(workers=1, mode="fast").run(jobs))
    assert {k: (r.status, r.error) for k, r in results.items()} == dict.fromkeys(("R1", "R2", "R3", "R4"), ("ok", ""))
    assert len({r.worker for r in results.values()}) == 1, "one worker ran them all, one after the other"
    assert "plant R1 clean" in (tmp_path / "R1" / "scorecard.ipynb").read_text()
    assert "check R4 clean" in (tmp_path / "R4" / "scorecard.ipynb").read_text()


def test_without_a_fork_per_report_the_check_does_see_the_leaks(tmp_path: Path) -> None:
    """The control: the same two reports in one process (no fork) leak, so the test above has teeth."""
    code = textwrap.dedent(f"""
        import json, papermill as pm
        from salesreports.run.nbengine import ENGINE_NAME
        template = {str(TEMPLATES / "plant_state.ipynb")!r}
        out = {str(tmp_path)!r}
        pm.execute_notebook(template, out + "/a.ipynb", parameters={{"role": "plant", "rep_id": "R1"}},
                            engine_name=ENGINE_NAME, progress_bar=False)
        try:
            pm.execute_notebook(template, out + "/b.ipynb", parameters={{"role": "check", "rep_id": "R2"}},
                                engine_name=ENGINE_NAME, progress_bar=False)
        except pm.PapermillExecutionError as exc:
            print(json.dumps(exc.evalue))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    message = json.loads(done.stdout.strip().splitlines()[-1])
    for leak in (
        "a builtin",
        "a pandas option",
        "the altair theme",
        "a salesreports attribute",
        "a salesreports.metrics.kpis attribute",
        "an environment variable",
        "a sys.modules entry",
    ):
        assert leak in message


def test_a_crash_or_a_hang_fails_only_that_report(tmp_path: Path) -> None:
    jobs = [
        job(tmp_path, "crash.ipynb", "ok1", how="ok"),
        job(tmp_path, "crash.ipynb", "abort", how="abort"),
        job(tmp_path, "crash.ipynb", "ok2", how="ok"),
        job(tmp_path, "crash.ipynb", "exit", how="exit"),
        job(tmp_path, "hang.ipynb", "hang", timeout=3),
        job(tmp_path, "crash.ipynb", "ok3", how="ok"),
    ]
    results = by_key(LocalExecutor(workers=1, mode="fast").run(jobs))
    assert [results[k].status for k in ("ok1", "ok2", "ok3")] == ["ok"] * 3
    assert "crashed (signal 6, SIGABRT)" in results["abort"].error
    assert "exited without a result (exit status 3)" in results["exit"].error
    assert "timed out after 3 s" in results["hang"].error
    assert len({r.worker for r in results.values()}) == 1, "the worker survived every failure"
    assert not (tmp_path / "hang" / "scorecard.ipynb").exists()
    assert "still alive" in (tmp_path / "ok3" / "scorecard.ipynb").read_text()


@pytest.mark.notebooks
def test_fresh_kernels_are_isolated_too(tmp_path: Path) -> None:
    jobs = [
        job(tmp_path, "plant_state.ipynb", "R1", role="plant"),
        job(tmp_path, "plant_state.ipynb", "R2", role="check"),
        job(tmp_path, "crash.ipynb", "abort", how="abort"),
        job(tmp_path, "crash.ipynb", "ok", how="ok"),
    ]
    results = by_key(LocalExecutor(workers=1, mode="fresh").run(jobs))
    assert (results["R1"].status, results["R2"].status, results["ok"].status) == ("ok", "ok", "ok")
    assert results["abort"].status == "failed" and "died" in results["abort"].error.lower()
