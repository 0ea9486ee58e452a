"""The dask executor on a real LocalCluster (processes on 127.0.0.1, 2 workers): same results as the local runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
import pytest

from conftest import FIXTURES, index_links, rerun_skips_and_send_attaches, write_config
from salesreports.params import load_config
from salesreports.run.batch import run_reports
from salesreports.run.distributed import DaskExecutor, _common_root
from salesreports.run.jobs import Job, JobResult

pytestmark = pytest.mark.dask
TEMPLATES = FIXTURES / "templates"
PERIOD = "2025-03"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as c,
        Client(c) as cl,
    ):
        yield cl


def context_without_stamp(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("generated_at")
    return data


def outputs(path: Path) -> list[Any]:
    nb = nbformat.read(str(path), as_version=4)
    return [[o.get("data", o.get("text")) for o in c.outputs] for c in nb.cells if c.cell_type == "code"][2:]


@pytest.mark.notebooks
def test_dask_runs_the_same_plan_as_the_local_runner(tmp_path: Path) -> None:
    local = load_config(write_config(tmp_path / "local"), environ={})
    remote = load_config(write_config(tmp_path / "dask"), environ={})
    here = run_reports(local, periods=PERIOD, mode="fast", workers=2)
    # ship_inputs: each task carries its context files and template, as on a cluster without a shared disk
    there = run_reports(remote, periods=PERIOD, executor=DaskExecutor(mode="fast", workers=2, ship_inputs=True))
    assert here.ok and there.ok, (here.failed, there.failed)
    assert sorted(r["key"] for r in here.results) == sorted(r["key"] for r in there.results)
    a, b = local.output_path / PERIOD, remote.output_path / PERIOD
    contexts = sorted(p.relative_to(a) for p in a.glob("*/context.json"))
    assert contexts and contexts == sorted(p.relative_to(b) for p in b.glob("*/context.json"))
    for rel in contexts:
        assert context_without_stamp(a / rel) == context_without_stamp(b / rel), rel
        # byte for byte once the stamp is gone: the same JSON text
        assert json.dumps(context_without_stamp(a / rel), sort_keys=True) == json.dumps(
            context_without_stamp(b / rel), sort_keys=True
        )
        tables = sorted(p.name for p in (a / rel.parent).glob("*.parquet"))  # the KPI tables
        assert tables and tables == sorted(p.name for p in (b / rel.parent).glob("*.parquet")), rel
        for name in tables:
            assert (a / rel.parent / name).read_bytes() == (b / rel.parent / name).read_bytes(), rel.parent / name
        assert outputs(a / rel.parent / "scorecard.ipynb") == outputs(b / rel.parent / "scorecard.ipynb"), rel
        assert (b / rel.parent / "scorecard.pdf").read_bytes().startswith(b"%PDF")
    manifests = [json.loads((f / "manifest.json").read_text()) for f in (a, b)]
    # two runs on identical data: the same fingerprint (a function of the data alone)
    assert manifests[0]["data_fingerprint"] == manifests[1]["data_fingerprint"] != ""
    for rel in contexts:  # both runners record the context relative to the report's folder
        for folder in (a, b):
            nb = nbformat.read(str(folder / rel.parent / "scorecard.ipynb"), as_version=4)
            assert nb.metadata["papermill"]["parameters"]["context"] == "context.json", folder / rel
    heads = [{r["key"]: r.get("headline") for r in m["reports"]} for m in manifests]
    assert heads[0] == heads[1]
    assert any(h for h in heads[1].values()), "rep reports carry headline values"
    assert {r["key"]: r["status"] for r in manifests[1]["reports"]} == {r["key"]: "ok" for r in manifests[1]["reports"]}


def job(root: Path, template: str, name: str, *, html: bool = True, timeout: int = 120, **params: object) -> Job:
    folder = root / PERIOD / name
    return Job(
        key=name,
        kind="rep",
        template=str(TEMPLATES / template),
        notebook=str(folder / "scorecard.ipynb"),
        parameters={"rep_id": name, "period": PERIOD, "context": "", **params},
        cwd=str(TEMPLATES),
        html=str(folder / "scorecard.html") if html else "",
        pdf=str(folder / "scorecard.pdf") if html else "",
        timeout=timeout,
    )


def test_failures_stay_in_their_task_and_outputs_upload_with_fsspec(tmp_path: Path, client: Any) -> None:
    root = tmp_path / "planned"
    remote = tmp_path / "remote"
    stale = remote / PERIOD / "R2" / "scorecard.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("last month's page")
    jobs = [
        job(root, "raises.ipynb", "R1", fail_for="R2"),
        job(root, "raises.ipynb", "R2", fail_for="R2"),
        job(root, "crash.ipynb", "abort", html=False, how="abort"),
        job(root, "hang.ipynb", "hang", html=False, timeout=3),
    ]
    seen: list[JobResult] = []
    executor = DaskExecutor(client=client, ship_inputs=True, output_url=f"file://{remote}")
    results = {r.key: r for r in executor.run(jobs, on_result=seen.append)}
    assert len(seen) == 4
    assert results["R1"].status == "ok"
    assert "planted failure for R2" in results["R2"].error
    # results name the planned paths (as the manifest does); the files are under the URL
    assert results["R2"].failed_notebook == str(root / PERIOD / "R2" / "scorecard.failed.ipynb")
    assert "SIGABRT" in results["abort"].error
    assert "timed out after 3 s" in results["hang"].error
    for name in ("scorecard.ipynb", "scorecard.html", "scorecard.pdf"):
        assert (remote / PERIOD / "R1" / name).stat().st_size > 0
    assert (remote / PERIOD / "R2" / "scorecard.failed.ipynb").exists()
    assert not stale.exists(), "a failed report's old page is removed"
    assert not root.exists(), "with an output URL nothing is written at the planned paths"


def test_a_report_with_broken_context_files_fails_alone(tmp_path: Path, client: Any) -> None:
    from salesreports.report.contexts import write_context

    context = tmp_path / "R1" / "context.json"
    context.parent.mkdir()
    ctx = {"kind": "rep", "period": {"label": PERIOD, "title": "March 2025"}, "rep": {"rep_id": "R1"}, "kpis": []}
    write_context({**ctx, "kpis": [{"kpi": "revenue", "value": 1.0}]}, context)
    (tmp_path / "R1" / "kpis.parquet").unlink()
    jobs = [
        job(tmp_path / "out", "raises.ipynb", "R1", context=str(context)),
        job(tmp_path / "out", "raises.ipynb", "R2"),
    ]
    results = {r.key: r for r in DaskExecutor(client=client, ship_inputs=True).run(jobs)}
    assert results["R1"].status == "failed" and "kpis.parquet missing" in results["R1"].error
    assert results["R2"].status == "ok"


def test_another_client_in_the_process_does_not_stall_the_run(tmp_path: Path, client: Any) -> None:
    """A Client made after ours (a notebook's, a library's) is the process's default, and dask's as_completed
    follows futures on the default client's loop unless told: CI hung there. Here that other client's loop
    is kept busy for the whole run: the run still ends, because the executor follows its own client's loop."""
    import threading

    from distributed import Client, default_client

    jobs = [job(tmp_path / "out", "raises.ipynb", f"R{i}") for i in range(3)]
    release, blocked_to_the_end = threading.Event(), []
    with Client(client.scheduler.address, set_as_default=True) as bystander:
        assert default_client() is bystander and bystander.loop is not client.loop

        def block() -> None:  # the bystander's event loop does nothing else until released (at most 120 s)
            blocked_to_the_end.append(not release.wait(120))

        bystander.loop.add_callback(block)
        try:
            results = DaskExecutor(client=client, ship_inputs=True).run(jobs)
            ended_while_blocked = not blocked_to_the_end
        finally:
            release.set()
    assert ended_while_blocked, "the run waited for another client's event loop"
    assert sorted((r.key, r.status) for r in results) == [(f"R{i}", "ok") for i in range(3)]


def test_the_upload_root_is_above_the_period_folders(tmp_path: Path) -> None:
    jobs = [job(tmp_path / "out", "raises.ipynb", r) for r in ("R1", "R2")]
    assert _common_root(jobs) == str(tmp_path / "out")
    assert DaskExecutor().run([]) == []


def test_task_names_group_by_kind_and_period(tmp_path: Path) -> None:
    from dask.utils import key_split

    from salesreports.run.distributed import _task_key

    rep, team = job(tmp_path, "raises.ipynb", "R1"), replace(job(tmp_path, "raises.ipynb", "North"), kind="team")
    keys = [_task_key(rep), _task_key(rep), _task_key(team)]
    assert len(set(keys)) == 3, "every task its own key"
    assert [key_split(k) for k in keys] == ["rep_2025_03", "rep_2025_03", "team_2025_03"]  # the dashboard's groups


@pytest.mark.notebooks
def test_output_url_end_to_end(tmp_path: Path) -> None:
    """``--output-url``: contexts, manifest, index and pages under the URL with working relative links; a second
    run from a machine without the output folder skips everything (the manifest is read from the URL); ``send``
    reads the PDFs from there."""

    from typer.testing import CliRunner

    from salesreports.cli import app

    remote = tmp_path / "bucket" / "reports"
    url = f"file://{remote}"
    config = write_config(tmp_path / "client")
    local = tmp_path / "client" / "reports"
    run = ["run", "--params", str(config), "--period", PERIOD, "--executor", "dask", "--output-url", url]
    first = CliRunner().invoke(app, run)
    assert first.exit_code == 0, first.output
    folder = remote / PERIOD
    manifest = json.loads((folder / "manifest.json").read_text())
    reports = manifest["reports"]
    assert len(reports) >= 4 and {r["status"] for r in reports} == {"ok"}
    for r in reports:
        for rel in [*r["outputs"].values(), f"{r['folder']}/context.json"]:
            assert (folder / rel).stat().st_size > 0, rel
        for rel, digest in r["sha256"].items():
            import hashlib

            assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest
    links = index_links((folder / "index.html").read_text())
    pages = {r["outputs"]["html"] for r in reports}
    assert pages <= links, "every report is linked from the index, relative to it"
    assert all((folder / link).is_file() for link in links if link.startswith(tuple(r["folder"] for r in reports)))
    assert not local.exists(), "nothing in the client's output folder: the URL is the only copy"
    rerun_skips_and_send_attaches(run, config, url, local, len(reports))


def test_a_missing_filesystem_package_is_named_before_the_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from salesreports.cli import app

    config = write_config(tmp_path)
    run = ["run", "--params", str(config), "--executor", "dask", "--output-url", "gcs://bucket/reports"]
    result = CliRunner().invoke(app, run)
    assert result.exit_code == 2, result.output
    assert "gcs:// needs the package gcsfs, which is not installed. Fix: pip install gcsfs" in result.stderr
    assert not (tmp_path / "reports").exists()


class _ClientDiedError(Exception):
    """The client stops mid-run (as a killed `salesreports run` would)."""


@pytest.mark.notebooks
def test_the_manifest_at_the_output_url_is_written_while_results_arrive(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that dies mid-run leaves a manifest at the URL naming the finished reports: the next run (from
    a machine without the output folder) plans only the others."""

    from salesreports.run import batch

    monkeypatch.setattr(batch, "MANIFEST_EVERY", 0.0)  # every result saved and uploaded: no timing in the test
    remote = tmp_path / "bucket" / "reports"
    url = f"file://{remote}"
    config = load_config(write_config(tmp_path / "client"), environ={})
    finished: list[str] = []

    def die_after_two(result: JobResult) -> None:
        finished.append(result.key.split(":", 1)[1])
        if len(finished) == 2:
            raise _ClientDiedError

    executor = DaskExecutor(client=client, ship_inputs=True, output_url=url)
    with pytest.raises(_ClientDiedError):
        run_reports(config, periods=PERIOD, executor=executor, on_result=die_after_two)
    manifest = json.loads((remote / PERIOD / "manifest.json").read_text())
    assert {r["key"]: r["status"] for r in manifest["reports"]} == dict.fromkeys(finished, "ok")
    for r in manifest["reports"]:  # what their notebooks read is there too: the next run will not upload it
        assert (remote / PERIOD / r["folder"] / "context.json").is_file(), r["folder"]
    assert not (remote / PERIOD / "index.html").exists(), "the run did not get to its end"

    assert not config.output_path.exists(), "nothing in the client's output folder"
    plan = run_reports(config, periods=PERIOD, executor=DaskExecutor(output_url=url), plan_only=True)
    assert plan.unchanged == 2
    assert plan.planned[PERIOD] and not set(plan.planned[PERIOD]) & set(finished)
    # a finished report whose context did not reach the URL (its upload failed) is not done: it runs again
    lost = next(r for r in manifest["reports"] if r["key"].endswith(finished[0]))
    (remote / PERIOD / lost["folder"] / "context.json").unlink()
    again = run_reports(config, periods=PERIOD, executor=DaskExecutor(output_url=url), plan_only=True)
    assert again.unchanged == 1 and lost["key"] in again.planned[PERIOD]


def test_a_worker_of_another_version_after_the_pre_flight_check_fails_each_report_naming_the_versions(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked per task as well: after the pre-flight check the client and the workers differ (here the client
    claims another version, as a worker of another version that joined later would differ from it)."""
    from salesreports import __version__
    from salesreports.run import distributed

    jobs = [job(tmp_path / "out", "raises.ipynb", r) for r in ("R1", "R2")]
    with DaskExecutor(client=client, ship_inputs=True) as executor:
        assert all(line.endswith(": ok") for line in executor.start(tmp_path / "out"))
        monkeypatch.setattr(distributed, "__version__", "0.0.9")
        results = executor.run(jobs)
    assert sorted(r.key for r in results) == ["R1", "R2"]
    for r in results:
        assert r.status == "failed"
        assert r.error.startswith(f"the worker {r.where} has salesreports {__version__}, the client 0.0.9"), r.error
        assert "Fix: install salesreports==0.0.9 on that worker" in r.error
        assert r.where.startswith("tcp://127.0.0.1:")
    assert not (tmp_path / "out" / PERIOD).exists(), "nothing ran"
