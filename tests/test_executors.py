"""Executors: jobs, failures, rendering, the zygote (fork safety), worker replacement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import FIXTURES
from salesreports.run import processes
from salesreports.run import zygote as zygote_module
from salesreports.run.jobs import Job, JobResult
from salesreports.run.local import LocalExecutor
from salesreports.run.worker import run_job
from salesreports.run.zygote import Zygote, learnable

TEMPLATES = FIXTURES / "templates"
CONTEXT = {
    "kind": "rep",
    "company": "Tiny Test Co",
    "generated_at": "2025-04-01T08:00:00+00:00",
    "period": {"label": "2025-03", "title": "March 2025"},
    "rep": {"rep_id": "R1", "name": "Ann Archer", "team": "North"},
}


def job(tmp_path: Path, template: str, name: str, *, html: bool = False, timeout: int = 120, **params: object) -> Job:
    folder = tmp_path / name
    return Job(
        key=name,
        kind="rep",
        template=str(TEMPLATES / template),
        notebook=str(folder / "scorecard.ipynb"),
        parameters={"rep_id": name, "period": "2025-03", "context": "", **params},
        cwd=str(tmp_path),
        html=str(folder / "scorecard.html") if html else "",
        pdf=str(folder / "scorecard.pdf") if html else "",
        timeout=timeout,
    )


def by_key(results: list[JobResult]) -> dict[str, JobResult]:
    return {r.key: r for r in results}


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_fast_mode_renders_and_records_a_failure(tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(json.dumps(CONTEXT))
    jobs = [
        job(tmp_path, "raises.ipynb", "R1", html=True, fail_for="R2", context=str(context)),
        job(tmp_path, "raises.ipynb", "R2", html=True, fail_for="R2"),
    ]
    (tmp_path / "R2").mkdir()
    (tmp_path / "R2" / "scorecard.html").write_text("stale page of an earlier run")
    seen: list[str] = []
    results = by_key(LocalExecutor(workers=2, mode="fast").run(jobs, on_result=lambda r: seen.append(r.key)))
    assert sorted(seen) == ["R1", "R2"]
    ok, failed = results["R1"], results["R2"]
    assert ok.status == "ok" and set(ok.timings) >= {"execute", "html", "pdf", "total"}
    assert "Hello R1" in (tmp_path / "R1" / "scorecard.html").read_text()
    assert (tmp_path / "R1" / "scorecard.pdf").read_bytes().startswith(b"%PDF")
    nb = nbformat.read(str(tmp_path / "R1" / "scorecard.ipynb"), as_version=4)
    assert nb.metadata.salesreports.rep_name == "Ann Archer", "the header is stamped in the executed notebook"
    assert failed.status == "failed"
    assert failed.error == "ValueError in cell [4]: planted failure for R2"
    assert failed.failed_notebook == str(tmp_path / "R2" / "scorecard.failed.ipynb")
    assert "planted failure" in Path(failed.failed_notebook).read_text()
    assert not (tmp_path / "R2" / "scorecard.html").exists(), "a failed report leaves no stale page"
    assert not list(tmp_path.rglob(".*.tmp*"))


def test_run_job_calls_its_hooks_before_the_pages_and_between_html_and_pdf(tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(json.dumps(CONTEXT))
    one = job(tmp_path, "raises.ipynb", "R1", html=True, fail_for="R2", context=str(context))
    html, pdf = Path(one.html), Path(one.pdf)
    seen: list[tuple[str, bool, bool]] = []
    result = run_job(
        one,
        "fast",
        before_render=lambda: seen.append(("render", html.exists(), pdf.exists())),
        before_pdf=lambda: seen.append(("pdf", html.exists(), pdf.exists())),
    )
    zygote_module.zygotes.close()
    assert result.status == "ok", result.error
    assert seen == [("render", False, False), ("pdf", True, False)]
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("pdf", [True, False])
def test_the_renderer_warms_what_the_html_needs_first_and_weasyprint_after(pdf: bool) -> None:
    """A preview renders its HTML once the HTML's part is warm; WeasyPrint (the PDF's) warms meanwhile, and
    not at all without a PDF."""
    code = (
        "import sys\nfrom salesreports.report.render import default_renderer\n"
        "from salesreports.run.worker import warm_renderer_in_background\n"
        f"warming = warm_renderer_in_background(pdf={pdf}, page_size='Letter')\n"
        "warming.wait_html()\nrenderer = default_renderer()\n"
        "print(renderer._charts_warm and renderer._exporter is not None)\n"
        "warming.join()\nprint(sorted(renderer._page_css), 'weasyprint' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.splitlines() == ["True", "['Letter'] True" if pdf else "[] False"]


@pytest.mark.notebooks
def test_fresh_mode_stamps_and_records_failures(tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(json.dumps(CONTEXT))
    jobs = [
        job(tmp_path, "raises.ipynb", "R1", fail_for="R2", context=str(context)),
        job(tmp_path, "raises.ipynb", "R2", fail_for="R2"),
    ]
    results = by_key(LocalExecutor(workers=1, mode="fresh").run(jobs))
    assert results["R1"].status == "ok"
    nb = nbformat.read(str(tmp_path / "R1" / "scorecard.ipynb"), as_version=4)
    assert nb.metadata.salesreports.title == "\u2068Ann Archer\u2069 — scorecard"  # the name isolated
    assert results["R2"].error.startswith("ValueError") and "planted failure for R2" in results["R2"].error


def test_run_job_here_starts_a_zygote_as_a_fresh_interpreter(tmp_path: Path) -> None:
    """A process with threads (here: one more) must not fork its zygote: it spawns a clean interpreter."""
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        first = run_job(job(tmp_path, "plant_state.ipynb", "R1", role="plant"), "fast")
        second = run_job(job(tmp_path, "plant_state.ipynb", "R2", role="check"), "fast")
        assert (first.status, second.status) == ("ok", "ok"), (first.error, second.error)
        with zygote_module.zygotes.acquire() as zygote:
            assert zygote.how == "spawn"
            info = zygote.ping()
        assert info["threads"] == 1
    finally:
        stop.set()
        helper.join()
        zygote_module.zygotes.close()


def test_a_forked_zygote_is_single_threaded_and_learns_safe_modules(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import json, os
        from salesreports.run import jobs, processes, zygote
        processes.quiet_threads()
        import importlib
        for name in zygote.REPORT_MODULES:
            importlib.import_module(name)
        z = zygote.Zygote.start("auto")
        job = jobs.Job(key="R1", kind="rep", template={str(TEMPLATES / "plant_state.ipynb")!r},
                            notebook="", parameters={{"role": "check", "rep_id": "R1"}}, cwd={str(tmp_path)!r})
        ready = z.wait_ready()
        reply = z.execute(job, __import__("pathlib").Path({str(tmp_path / "out.ipynb")!r}))
        info = z.ping()
        z.close()
        print(json.dumps({{"ready": ready, "reply": reply, "info": info}}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in processes.QUIET_THREADS}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ready"]["how"] == "fork" and out["ready"]["threads"] == 1
    assert out["reply"]["error"] == ""
    assert out["info"]["threads"] == 1, "learnt modules started no thread"


def test_auto_spawns_when_this_process_has_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zygote_module, "os_threads", lambda: 3)
    zygote = Zygote.start("auto", learn=False)
    try:
        assert zygote.how == "spawn"
        assert zygote.wait_ready()["threads"] == 1
    finally:
        zygote.close()
    assert gone(zygote.pid)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pandas.io.formats.html", True),
        ("salesreports.metrics.coaching", True),
        ("json", True),
        ("IPython.core.magics", True),
        ("my_template_helpers", False),
        ("requests", False),
        ("antigravity", False),
        ("__main__", False),
    ],
)
def test_only_the_toolkit_and_its_libraries_are_preloaded(name: str, expected: bool) -> None:
    assert learnable(name) is expected


def test_a_dead_worker_fails_only_its_report_and_is_replaced(tmp_path: Path) -> None:
    executor = LocalExecutor(workers=1, mode="fast")
    jobs = [job(tmp_path, "hang.ipynb", "hang", timeout=120), job(tmp_path, "crash.ipynb", "after", how="ok")]
    killed: list[dict[str, int]] = []

    def kill_when_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pool = list(executor._pool)
            if pool and pool[0].job is not None and pool[0].info:
                time.sleep(1.0)  # the zygote has forked the hanging report by now
                killed.append(pool[0].info)
                os.kill(pool[0].info["pid"], signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    results = by_key(executor.run(jobs))
    killer.join()
    assert results["hang"].status == "failed"
    assert "worker process died (signal SIGKILL)" in results["hang"].error
    assert results["after"].status == "ok"
    assert results["after"].worker != killed[0]["pid"], "a new worker took over"
    deadline = time.monotonic() + 10
    while not gone(killed[0]["zygote_pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(killed[0]["zygote_pid"]), "the dead worker's zygote followed it"


def test_an_empty_batch_starts_nothing() -> None:
    executor = LocalExecutor(workers=2)
    assert executor.run([]) == []
    assert executor._pool == []


def test_job_results_are_json_ready() -> None:
    result = JobResult("rep/R1", "failed", "boom", timings={"execute": 1.5}, worker=7)
    assert json.loads(json.dumps(result.to_dict()))["timings"] == {"execute": 1.5}


def test_a_zygote_killed_between_reports_is_replaced_without_failing_one(tmp_path: Path) -> None:
    executor = LocalExecutor(workers=1, mode="fast")
    killed: list[int] = []

    def kill_zygote(result: JobResult) -> None:
        if not killed:
            pid = executor.worker_info[0]["zygote_pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    jobs = [job(tmp_path, "crash.ipynb", f"ok{i}", how="ok") for i in range(3)]
    results = executor.run(jobs, on_result=kill_zygote)
    assert [r.status for r in results] == ["ok", "ok", "ok"], [r.error for r in results]
    assert gone(killed[0])


def test_a_report_the_renderer_rejects_fails_with_the_reason(tmp_path: Path) -> None:
    results = LocalExecutor(workers=1).run([job(tmp_path, "raises.ipynb", "R1", html=True, broken_chart=True)])
    assert results[0].status == "failed"
    assert results[0].error.startswith("rendering failed:") and "no Vega-Lite spec" in results[0].error
    assert not (tmp_path / "R1" / "scorecard.html").exists()
    assert not (tmp_path / "R1" / "scorecard.ipynb").exists(), "no output of a failed report is left"


def test_item1_a_report_whose_pages_fail_keeps_its_notebook_as_the_failed_notebook(tmp_path: Path) -> None:
    """The manifest's "failed notebook" column was empty when rendering failed: the executed notebook (the one
    to open to see the chart that could not be drawn) is kept as scorecard.failed.ipynb and named."""
    results = LocalExecutor(workers=1).run([job(tmp_path, "raises.ipynb", "R1", html=True, broken_chart=True)])
    failed = tmp_path / "R1" / "scorecard.failed.ipynb"
    assert results[0].status == "failed" and results[0].error.startswith("rendering failed:")
    assert results[0].failed_notebook == str(failed)
    nb = nbformat.read(str(failed), as_version=4)
    assert any("no spec" in json.dumps(out) for cell in nb.cells for out in cell.get("outputs", []))
    assert not (tmp_path / "R1" / "scorecard.html").exists() and not (tmp_path / "R1" / "scorecard.ipynb").exists()
    # the next good run removes it
    ok = LocalExecutor(workers=1).run([job(tmp_path, "raises.ipynb", "R1", html=True)])
    assert ok[0].status == "ok" and not failed.exists()


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_the_tiny_data(tmp_path: Path) -> None:
    from conftest import write_config
    from salesreports.bench import reports

    config = write_config(tmp_path)
    out = tmp_path / "bench"
    code = reports.main(["--reps", "2", "--modes", "fast", "--params", str(config), "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    assert code in (0, 1)
    fast = results["modes"]["fast"]
    assert fast["reports"] == 2 and not fast["failed"]
    assert fast["speedup_vs_naive"] is None and fast["ratio_to_floor"] > 0
    assert results["floor"]["reports"] == 2 and results["floor"]["seconds_per_report"] > 0
    assert results["help"]["heavy_imports"] == "[]"
    assert set(results["targets"]) == {"fast_to_floor", "help_seconds"}
    assert reports.main(["--modes", "nope"]) == 2


def test_a_report_may_use_vl_convert_itself(tmp_path: Path) -> None:
    """vl-convert deadlocks in a child forked after its engine started: the zygote never starts it."""
    results = LocalExecutor(workers=1).run([job(tmp_path, "raises.ipynb", "R1", timeout=60, convert_chart=True)])
    assert results[0].status == "ok", results[0].error
    assert "<svg" in (tmp_path / "R1" / "scorecard.ipynb").read_text()


def test_the_zygote_parses_the_kpi_declarations_once_and_again_after_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zygote parses kpis.yaml before forking (each report used to parse it); an edit is still seen."""
    from salesreports.metrics.kpis import KPI_FILE, KPI_FILE_ENV

    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPI_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv(KPI_FILE_ENV, str(kpis))
    v4 = nbformat.v4
    code = (
        "from salesreports.metrics import kpis\n"
        "warm = kpis._registry.cache_info().currsize\n"
        "print(warm, kpis.get('revenue').label)"
    )
    params = v4.new_code_cell('rep_id = ""\nperiod = ""\ncontext = ""', metadata={"tags": ["parameters"]})
    template = tmp_path / "registry.ipynb"
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb = v4.new_notebook(cells=[params, v4.new_code_cell(code)], metadata=kernel)
    nbformat.write(nb, str(template))

    def printed(zygote: Zygote, name: str) -> str:
        out = tmp_path / f"{name}.ipynb"
        job = Job(
            key=name, kind="rep", template=str(template), notebook="", parameters={"rep_id": name}, cwd=str(tmp_path)
        )
        reply = zygote.execute(job, out)
        assert reply["error"] == "", reply
        return str(nbformat.read(str(out), as_version=4).cells[-1].outputs[0].text).strip()

    zygote = Zygote.start("spawn", learn=False)
    try:
        assert printed(zygote, "R1") == "1 Revenue", "parsed in the zygote, before the report"
        text = kpis.read_text(encoding="utf-8").replace("label: Revenue\n", "label: Revenue won\n", 1)
        kpis.write_text(text, encoding="utf-8")
        assert printed(zygote, "R2") == "1 Revenue won", "the edited file is parsed again"
    finally:
        zygote.close()
