"""The dask executor on a real command-line cluster: ``dask scheduler`` and ``dask worker`` started as separate
processes, each in its own working folder, on 127.0.0.1. Every process started here is stopped by its fixture.

- a scheduler that does not answer: one line within the connect timeout, before the data is loaded;
- a worker with another salesreports version (a copy of the package with another ``__version__`` first on its
  PYTHONPATH) or without the pages' font (a fontconfig file naming an empty folder): refused by the pre-flight
  check, nothing run;
- a worker with a private mount at the output folder's path (``unshare``: its own mount namespace, another
  folder bind-mounted there): refused by the pre-flight check; when such a worker joins after the check,
  every report it writes fails naming the mount problem, none is marked ok;
- a worker killed mid-run: the reports that had finished are not run again, the one it was running is;
- the scheduler killed mid-run: the unfinished reports fail at once, saying so, and their old pages are removed;
- a full ``salesreports run --executor dask --scheduler ...``: the pre-flight lines, every output's hash in
  the manifest, executed notebooks that name their context relative to their folder;
- the same with ``--output-url s3://...`` on a real S3 store (moto's server, fixture ``s3``): everything under
  the bucket, nothing at the client's planned paths, a second run from another machine skips every report,
  ``send --output-url`` attaches the PDFs from there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import salesreports
from conftest import FIXTURES, S3, index_links, rerun_skips_and_send_attaches, write_config
from salesreports.cli import app
from salesreports.errors import ClusterError
from salesreports.run.distributed import DaskExecutor
from salesreports.run.jobs import Job, JobResult

pytestmark = [pytest.mark.dask, pytest.mark.slow]
TEMPLATES = FIXTURES / "templates"
PERIOD = "2025-03"
SRC = Path(salesreports.__file__).resolve().parents[1]
DASK = str(Path(sys.executable).parent / "dask")


def _env(pythonpath: Path = SRC, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "COV_", "COVERAGE"))}
    env.update(PYTHONPATH=str(pythonpath), **extra)
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its zygote: their own process group
    proc.wait(timeout=30)


class Cluster:
    """A ``dask scheduler`` and the ``dask worker`` processes started for a test, each in its own folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen[bytes]] = []
        folder = root / "scheduler"
        folder.mkdir(parents=True)
        file = folder / "scheduler.json"
        self.scheduler = self._start(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            folder,
            _env(),
        )
        try:
            self.address = self._address(file)
        except BaseException:
            self.close()  # never a scheduler left running (and a ResourceWarning in the next test)
            raise

    def _address(self, file: Path) -> str:
        """The scheduler's address from its file, once written: the file appears empty before it is filled."""
        deadline = time.monotonic() + 60
        while True:
            assert self.scheduler.poll() is None, "dask scheduler exited"
            assert time.monotonic() < deadline, "dask scheduler did not start within 60 s"
            try:
                return str(json.loads(file.read_text())["address"])
            except (FileNotFoundError, ValueError, KeyError):
                time.sleep(0.2)

    def _start(self, cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(cwd / "log.txt", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def worker(
        self, name: str, *, env: dict[str, str] | None = None, prefix: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """A single-threaded worker without a nanny (so that killing it loses it), started in its own folder."""
        folder = self.root / name
        (folder / "tmp").mkdir(parents=True)
        cmd = [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name]
        cmd += ["--local-directory", str(folder / "dask")]
        return self._start([*prefix, *cmd], folder, env or _env(TMPDIR=str(folder / "tmp")))

    def wait(self, client: Any, names: set[str], timeout: float = 90) -> dict[str, str]:
        """Wait until exactly the workers ``names`` are connected; their name -> address."""
        deadline = time.monotonic() + timeout
        while True:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            found = {w["name"]: a for a, w in workers.items()}
            if set(found) == names:
                return found
            assert time.monotonic() < deadline, f"workers {sorted(found)} instead of {sorted(names)} after {timeout} s"
            time.sleep(0.2)

    def close(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster")
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Any]:
    from distributed import Client

    with Client(cluster.address, timeout=30) as cl:
        yield cl


def job(root: Path, template: str, name: str, *, timeout: int = 120, **params: object) -> Job:
    folder = root / PERIOD / name
    return Job(
        key=f"{PERIOD}:rep/{name}",
        kind="rep",
        template=str(TEMPLATES / template),
        notebook=str(folder / "scorecard.ipynb"),
        parameters={"rep_id": name, "period": PERIOD, "context": "", **params},
        cwd=str(TEMPLATES),
        timeout=timeout,
    )


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path)
    t0 = time.monotonic()
    scheduler = f"tcp://127.0.0.1:{port}"
    args = ["run", "--params", str(config), "--executor", "dask", "--scheduler", scheduler, "--connect-timeout", "2"]
    res = CliRunner().invoke(app, args)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 1, res.output
    assert res.stderr.strip().startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert "loading data" not in res.output
    assert 2 <= elapsed < 15
    assert not (tmp_path / "reports").exists(), "nothing planned or written"


def _copy_with_version(tmp_path: Path, version: str) -> Path:
    copy = tmp_path / "other-version"
    shutil.copytree(SRC / "salesreports", copy / "salesreports", ignore=shutil.ignore_patterns("__pycache__"))
    init = copy / "salesreports" / "__init__.py"
    text, n = re.subn(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text())
    assert n == 1
    init.write_text(text)
    return copy


def _fontconfig_without_fonts(tmp_path: Path) -> Path:
    """A fontconfig file naming one empty font folder: a machine without the pages' font."""
    (tmp_path / "fonts").mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{tmp_path / 'fonts'}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n"
    )
    return conf


def test_a_worker_with_another_version_or_font_is_refused_before_the_run(
    tmp_path: Path, cluster: Cluster, client: Any
) -> None:
    cluster.worker("same")
    cluster.worker("older", env=_env(_copy_with_version(tmp_path, "0.0.9")))
    cluster.worker("nofonts", env=_env(FONTCONFIG_FILE=str(_fontconfig_without_fonts(tmp_path))))
    names = cluster.wait(client, {"same", "older", "nofonts"})
    out = tmp_path / "out"
    with pytest.raises(ClusterError) as err, DaskExecutor(cluster.address) as executor:
        executor.start(out)
    message = str(err.value)
    assert f"{names['older']}: salesreports 0.0.9, this machine {salesreports.__version__}" in message
    assert f"{names['nofonts']}: its font for 'Liberation Sans' is " in message
    assert "Fix: install the fonts-liberation package on the worker" in message
    assert names["same"] not in message
    assert "Nothing was run" in message
    assert not any(out.rglob("*.ipynb"))


def test_a_private_mount_is_refused_and_a_late_joiner_fails_its_reports(
    tmp_path: Path, cluster: Cluster, client: Any
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    private = tmp_path / "private"
    private.mkdir()
    # the worker's own mount namespace, with another folder mounted at the output folder's path (as a pod
    # with its own volume): the path exists on the worker and is writable, but it is not the client's folder
    mount = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount --bind "$0" "$1" && shift && exec "$@"',
    ]
    stale = out / PERIOD / "R2" / "scorecard.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("last month's notebook")

    cluster.worker("private", prefix=[*mount, str(private), str(out)])
    names = cluster.wait(client, {"private"})
    with pytest.raises(ClusterError) as err, DaskExecutor(cluster.address) as executor:
        executor.start(out)
    assert f"{names['private']}: wrote {out}/.salesreports-preflight/" in str(err.value)
    assert "this machine does not see it" in str(err.value) and "private mount" in str(err.value)

    # checked with a shared worker, then the private one joins and the shared one leaves
    cluster.worker("shared")
    names = cluster.wait(client, {"private", "shared"})
    client.retire_workers([names["private"]])
    cluster.wait(client, {"shared"})
    jobs = [job(out, "raises.ipynb", r) for r in ("R1", "R2")]
    with DaskExecutor(cluster.address) as executor:
        lines = executor.start(out)
        assert [line.startswith(names["shared"]) and line.endswith(": ok") for line in lines] == [True]
        cluster.worker("late", prefix=[*mount, str(private), str(out)])
        names = cluster.wait(client, {"late", "shared"})
        client.retire_workers([names["shared"]])
        cluster.wait(client, {"late"})
        results = {r.key: r for r in executor.run(jobs)}
    for r in results.values():
        assert r.status == "failed", r
        assert f"the worker {names['late']} wrote {out}/{PERIOD}/" in r.error
        assert "private mount" in r.error
    assert "this machine does not see it there" in results[f"{PERIOD}:rep/R1"].error
    # R2 had last month's notebook at that path: the client sees a file, but not the one the worker wrote
    assert "this machine sees another file there" in results[f"{PERIOD}:rep/R2"].error
    assert (private / PERIOD / "R1" / "scorecard.ipynb").exists(), "the pages went to the worker's own folder"
    assert not stale.exists(), "a failed report's old notebook is removed where the client sees it"


def test_a_killed_worker_costs_only_the_reports_it_was_running(tmp_path: Path, cluster: Cluster, client: Any) -> None:
    procs = {name: cluster.worker(name) for name in ("a", "b")}
    names = cluster.wait(client, {"a", "b"})
    out = tmp_path / "out"
    quick = [job(out, "raises.ipynb", f"Q{i}") for i in range(4)]
    slow = [job(out, "hang.ipynb", f"S{i}", seconds=6) for i in range(2)]
    seen: dict[str, tuple[int, int]] = {}  # finished report -> (inode, mtime) of its notebook when it came back
    killed: list[str] = []
    first: list[str] = []  # the workers of the results, in order of arrival

    def on_result(result: JobResult) -> None:
        name = result.key.rsplit("/", 1)[1]
        stat = (out / PERIOD / name / "scorecard.ipynb").stat()
        seen[name] = (stat.st_ino, stat.st_mtime_ns)
        if len(seen) == 2 and not killed:
            # the worker that ran the first finished report dies: the results it held are lost with it
            victim = next(n for n, a in names.items() if a == first[0])
            os.killpg(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait(timeout=30)
            killed.append(victim)
        first.append(result.where)

    with DaskExecutor(cluster.address) as executor:
        executor.start(out)
        results = executor.run([*slow, *quick], on_result=on_result)
    assert killed, "a worker was killed mid-run"
    assert sorted(r.key for r in results) == sorted(j.key for j in [*slow, *quick]), "each report came back once"
    assert [r for r in results if r.status != "ok"] == []
    for name, (inode, mtime) in seen.items():
        stat = (out / PERIOD / name / "scorecard.ipynb").stat()
        assert (stat.st_ino, stat.st_mtime_ns) == (inode, mtime), f"{name} was run again after it finished"
    assert not list(out.rglob(".*tmp*")), "no temporary file in the output folder"
    # the killed worker's temporary folders are removed by the next pre-flight check on its machine
    dead = tmp_path / "cluster" / killed[0] / "tmp"
    cluster.worker("c", env=_env(TMPDIR=str(dead)))
    cluster.wait(client, {"a", "b", "c"} - set(killed))
    with DaskExecutor(cluster.address) as executor:
        executor.start(out)
    assert not list(dead.glob("salesreports-task-*")), "stale task folders cleaned"


def test_a_scheduler_lost_mid_run_fails_the_unfinished_reports_and_removes_their_old_pages(
    tmp_path: Path, cluster: Cluster, client: Any
) -> None:
    cluster.worker("a")
    cluster.wait(client, {"a"})
    out = tmp_path / "out"
    stale = out / PERIOD / "S0" / "scorecard.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("last month's notebook")
    jobs = [job(out, "raises.ipynb", "Q0"), job(out, "hang.ipynb", "S0", seconds=30)]

    def on_result(result: JobResult) -> None:
        if result.key.endswith("/Q0"):
            _stop(cluster.scheduler)

    t0 = time.monotonic()
    with DaskExecutor(cluster.address, connect_timeout=3) as executor:
        executor.start(out)
        results = {r.key.rsplit("/", 1)[1]: r for r in executor.run(jobs, on_result=on_result)}
    assert time.monotonic() - t0 < 25, "the run ends when the scheduler is gone, not when the report would have"
    assert results["Q0"].status == "ok"
    assert results["S0"].status == "failed"
    assert results["S0"].error.startswith("the connection to the Dask scheduler was lost before this report finished")
    assert not stale.exists(), "the unfinished report's old notebook is removed"


def test_the_cli_runs_on_a_command_line_cluster_and_checks_every_output(
    tmp_path: Path, cluster: Cluster, client: Any
) -> None:
    cluster.worker("w1")
    names = cluster.wait(client, {"w1"})
    config = write_config(tmp_path)
    res = CliRunner().invoke(
        app, ["run", "--params", str(config), "--period", PERIOD, "--executor", "dask", "--scheduler", cluster.address]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "reports"
    assert "Pre-flight check: 1 Dask worker(s) ready" in res.stderr
    assert re.search(
        rf"{re.escape(names['w1'])}  salesreports {re.escape(salesreports.__version__)}  font \S.*  writes "
        rf"{re.escape(str(out))}: ok",
        res.stderr,
    ), res.stderr
    folder = out / PERIOD
    manifest = json.loads((folder / "manifest.json").read_text())
    reports = manifest["reports"]
    assert reports and {r["status"] for r in reports} == {"ok"}
    for r in reports:
        assert r["worker"] == names["w1"]
        assert set(r["sha256"]) == {r["outputs"][k] for k in ("ipynb", "html", "pdf")}
        for rel, digest in r["sha256"].items():
            import hashlib

            assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel
        nb = json.loads((folder / r["outputs"]["ipynb"]).read_text())
        assert nb["metadata"]["papermill"]["parameters"]["context"] == "context.json"
        (injected,) = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert 'context = "context.json"' in "".join(injected["source"])
    assert not list(folder.rglob(".*tmp*"))
    assert not (out / ".salesreports-preflight").exists(), "the probes are removed"


def test_the_cli_publishes_to_s3_from_a_command_line_cluster(
    tmp_path: Path, s3: S3, cluster: Cluster, client: Any
) -> None:
    import hashlib

    import s3fs

    cluster.worker("w1")  # started after the fixture set AWS_ENDPOINT_URL and the keys: it inherits them
    cluster.wait(client, {"w1"})
    url = f"{s3.url}/reports"
    config = write_config(tmp_path / "client")
    local = tmp_path / "client" / "reports"
    run = ["run", "--params", str(config), "--period", PERIOD, "--executor", "dask", "--scheduler", cluster.address]
    run += ["--output-url", url]
    first = CliRunner().invoke(app, run)
    assert first.exit_code == 0, first.output
    assert f"writes {url}: ok" in first.stderr
    assert f"Index: {url}/{PERIOD}/index.html" in " ".join(first.stdout.split())
    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    folder = f"{s3.bucket}/reports/{PERIOD}"
    objects = {p[len(folder) + 1 :] for p in fs.find(folder)}
    manifest = json.loads(fs.cat_file(f"{folder}/manifest.json"))
    reports = manifest["reports"]
    assert len(reports) >= 4 and {r["status"] for r in reports} == {"ok"}
    for r in reports:
        wanted = {*r["outputs"].values(), f"{r['folder']}/context.json", f"{r['folder']}/kpis.parquet"}
        assert {"ipynb", "html", "pdf"} <= set(r["outputs"]) and wanted <= objects, wanted - objects
        assert set(r["sha256"]) == {r["outputs"][k] for k in ("ipynb", "html", "pdf")}
        for rel, digest in r["sha256"].items():
            assert hashlib.sha256(fs.cat_file(f"{folder}/{rel}")).hexdigest() == digest, rel
    assert "index.html" in objects and not any(".salesreports-preflight" in o for o in objects)
    links = index_links(fs.cat_file(f"{folder}/index.html").decode())
    assert {r["outputs"]["html"] for r in reports} <= links, "every report is linked from the index"
    broken = {link for link in links if link.startswith(tuple(r["folder"] for r in reports)) and link not in objects}
    assert not broken, "every relative link of the index is an object under the bucket"
    assert not local.exists(), "nothing in the client's output folder: the bucket is the only copy"

    rerun_skips_and_send_attaches(run, config, url, local, len(reports))
