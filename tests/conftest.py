"""Shared fixtures: the tiny hand-computable data set and settings files pointing at it."""

from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TINY = FIXTURES / "tiny"
SHARED = ROOT.parent / "shared" / "datasets"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Under ``CI=true`` a skipped test fails: a test skips only when a real component it needs (Chromium,
    poppler, ../shared, a server) is missing, and CI must have every one of them."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} would be skipped under CI=true: {reason}. CI must have what it needs."


# The longest test files first: `make test` runs the suite on two workers, a file to a worker
# (`-n 2 --dist loadfile`), and the short files then fill the gaps at the end instead of one long file
# running alone (the fuzz test last made a 2.5-minute tail).
LONG_FIRST = (
    "test_fuzz.py",
    "test_pages.py",
    "test_privacy.py",
    "test_executors.py",
    "test_watch.py",
    "test_distributed.py",
    "test_distributed_cluster.py",
    "test_phone.py",
    "test_hostile.py",
    "test_batch.py",
    "test_cycle.py",
    "test_isolation.py",
    "test_lab.py",
    "test_preview.py",
    "test_guard.py",
    "test_mail.py",
    "test_cli_send.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _english_by_default() -> Iterator[None]:
    """Every test starts and ends in English: a view built outside ``i18n.override`` activates its page's
    language for the whole process, as in a report's kernel (a French view in one test made a later test's
    `goals show` French)."""
    from salesreports import i18n

    i18n.activate(None)
    yield
    i18n.activate(None)


def write_config(tmp_path: Path, source: Path = TINY / "source.yaml", extra: str = "", **templates: Path) -> Path:
    """Write a settings file for the tiny fixture (or ``source``) into ``tmp_path``."""
    rep = templates.get("rep", ROOT / "reports" / "rep_scorecard.ipynb")
    team = templates.get("team", ROOT / "reports" / "team_summary.ipynb")
    path = tmp_path / "params" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(f"""\
            company: Tiny Test Co
            source: {source}
            output_dir: {tmp_path / "reports"}
            outbox_dir: {tmp_path / "outbox"}
            templates:
              rep: {rep}
              team: {team}
            goals: ""
            coaching: {ROOT / "params" / "coaching.yaml"}
            privacy:
              min_group_size: 3
            run:
              workers: 1
              timeout: 120
            """)
        + textwrap.dedent(extra),
        encoding="utf-8",
    )
    return path


def write_review_settings(tmp_path: Path, review: Path = FIXTURES / "review") -> Path:
    """Settings over the review fixture with its feedback notes and goals (tests/fixtures/review/, or a copy
    of it in ``review``), with ``templates.review`` set: quarters and years of reps use reports/review.ipynb."""
    path = write_config(tmp_path, review / "source_feedback.yaml")
    text = path.read_text(encoding="utf-8").replace('goals: ""', f"goals: {review / 'goals.yaml'}")
    text = text.replace("templates:\n", f"templates:\n  review: {ROOT / 'reports' / 'review.ipynb'}\n")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a settings file for the tiny fixture into tmp_path; keyword arguments as :func:`write_config`."""

    def make(source: Path = TINY / "source.yaml", extra: str = "", **templates: Path) -> Path:
        return write_config(tmp_path, source, extra, **templates)

    return make


def built_once(tmp_path_factory: pytest.TempPathFactory, key: str, build: Callable[[Path], Any]) -> Any:
    """``build(folder)`` run once per test session, its result shared by every module and pytest-xdist
    worker that asks for ``key`` (a file lock: a second asker waits, then reads the first one's result).
    The result must be read only; it is kept as a pickle beside the folder it was built in."""
    import pickle

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's folder sits in the session's own folder
        base = base.parent
    root = base / "built-once"
    root.mkdir(exist_ok=True)
    folder, result = root / key, root / f"{key}.pickle"
    with FileLock(str(root / f"{key}.lock")):
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)  # an earlier asker's build failed half-way
            folder.mkdir()
            result.write_bytes(pickle.dumps(build(folder)))
        return pickle.loads(result.read_bytes())


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One settings file for the tiny fixture, shared by read-only tests."""
    return write_config(tmp_path_factory.mktemp("tiny-config"))


def make_not_a_file(kind: str, path: Path) -> None:
    """Put a folder, a named pipe (FIFO) or a symbolic link that loops where a table file should be."""
    if kind == "folder":
        path.mkdir()
        (path / "part-0001.csv").write_text("deal_id\nD1\n", encoding="utf-8")
    elif kind == "fifo":
        os.mkfifo(path)
    else:  # a loop through two links
        other = path.with_name(path.name + ".lnk")
        path.symlink_to(other.name)
        other.symlink_to(path.name)


NOT_A_FILE = {
    "folder": "is a folder, not a file",
    "fifo": "is a named pipe (FIFO), not a file",
    "loop": "is a symbolic link that loops",
}


def finishes(call: Callable[[], Any], unblock: Path | None = None, seconds: float = 20) -> Any:
    """Run ``call`` in a thread; fail (rather than hang) when it is still running after ``seconds``.

    A call stuck opening the FIFO ``unblock`` is released by opening the pipe's other end, so the failed
    test leaves no thread behind. Returns the call's result; an exception it raised is raised again.
    """
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None and unblock.exists():
            fd = os.open(unblock, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        thread.join(seconds)
        pytest.fail(f"still running after {seconds}s: it blocked (on a named pipe?)")
    if "error" in box:
        raise box["error"]
    return box.get("result")


@dataclass(frozen=True)
class S3:
    """A bucket of the test's S3 store (moto's server on 127.0.0.1): ``url`` is ``s3://<bucket>``."""

    endpoint: str
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto S3 server per test process, stopped at the end of the session."""
    from s3server import moto_s3

    with moto_s3(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """A new, empty bucket, with the store's endpoint and fake keys in the environment (as a user sets them:
    ``AWS_ENDPOINT_URL``, ...), which processes the test starts afterwards (dask workers) inherit."""
    import s3fs

    from s3server import s3_environment

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):  # not the developer's ~/.aws
        monkeypatch.setenv(name, os.devnull)
    for name, value in s3_environment(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # none made before with another environment
    bucket = f"reports-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(bucket)
    try:
        yield S3(s3_endpoint, bucket)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real PostgreSQL server per test process (tests/pgserver.py), stopped and removed at the end.

    Skips (a failure under ``CI=true``) when PostgreSQL's server programs or psycopg are missing."""
    import importlib.util

    from pgserver import MISSING, find_bindir, postgres_server

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(MISSING)
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is missing: run `make setup` (it installs the dev extra, psycopg[binary] included)")
    with postgres_server(bindir) as server:
        yield server


def index_links(index: str) -> set[str]:
    """The links of an index page: its rows' data (``"h"``/``"p"``/``"b"``) and its relative hrefs."""
    import re

    return set(re.findall(r'"[hpb]":\s*"([^"]+)"', index)) | set(re.findall(r'href="([^"#:]+)"', index))


def rerun_skips_and_send_attaches(run: list[str], config: Path, url: str, local: Path, count: int) -> None:
    """After a run with ``--output-url``: the same run again, as from another machine, skips all ``count``
    reports (the manifest is read at the URL) and writes nothing locally; ``send`` attaches every PDF."""
    from typer.testing import CliRunner

    from salesreports.cli import app

    second = CliRunner().invoke(app, run)
    assert second.exit_code == 0, second.output
    assert f"0 report(s) written, 0 failed, {count} unchanged" in " ".join(second.stdout.split())
    assert not local.exists()
    sent = CliRunner().invoke(app, ["send", "--params", str(config), "--output-url", url, "--to", "all"])
    assert sent.exit_code == 0, sent.output
    period = run[run.index("--period") + 1]
    emails = sorted((config.parent.parent / "outbox" / period).glob("*.eml"))
    assert emails and all(b"application/pdf" in e.read_bytes() for e in emails)
