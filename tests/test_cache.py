"""Preview contexts kept while their inputs do not change (salesreports.report.cache)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import TINY, write_config
from salesreports.params import load_config
from salesreports.report import cache
from salesreports.run.preview import Previewer

PERIOD = "2025-03"


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    """The tiny fixture copied into tmp_path (so that its files can change) and settings for it."""
    shutil.copytree(TINY, tmp_path / "data")
    kpis = tmp_path / "kpis.yaml"
    from salesreports.metrics.kpis import KPI_FILE

    shutil.copy(KPI_FILE, kpis)
    return write_config(tmp_path, tmp_path / "data" / "source.yaml")


def _touch(path: Path, text: str | None = None) -> None:
    if text is not None:
        path.write_text(text, encoding="utf-8")
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))


def test_the_key_follows_every_input(settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = settings.parent.parent
    config = load_config(settings)
    key = cache.context_key(config, "rep", "R1", PERIOD)
    assert key is not None and key == cache.context_key(config, "rep", "R1", PERIOD)  # nothing changed
    assert key != cache.context_key(config, "rep", "R2", PERIOD)
    assert key != cache.context_key(config, "rep", "R1", "2025-02")
    assert key != cache.context_key(config, "rep", "R1", PERIOD, use="lab")
    seen = {key}
    for changed in (root / "data" / "deals.csv", root / "data" / "source.yaml", settings):
        _touch(changed)
        new = cache.context_key(config, "rep", "R1", PERIOD)
        assert new not in seen, changed
        seen.add(new)
    (root / "data" / "extra.csv").write_text("a\n1\n", encoding="utf-8")  # a new file in the data folder
    assert cache.context_key(config, "rep", "R1", PERIOD) not in seen
    seen.add(cache.context_key(config, "rep", "R1", PERIOD))
    monkeypatch.setenv("SALESREPORTS_KPI_FILE", str(root / "kpis.yaml"))  # other KPI declarations
    assert cache.context_key(config, "rep", "R1", PERIOD) not in seen


def test_a_database_source_is_never_cached(tmp_path: Path) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(
        "name: db\nkind: sql\nurl: sqlite:///crm.db\ntables:\n  deals: {table: deals}\n", encoding="utf-8"
    )
    config = load_config(write_config(tmp_path, source))
    assert cache.context_key(config, "rep", "R1", PERIOD) is None
    assert cache.lookup(config, None) is None


def test_a_second_preview_reuses_the_context_without_loading_the_data(settings: Path) -> None:
    config = load_config(settings)
    first = Previewer(config, "R1", period=PERIOD, pdf=False, html=False)
    job = first.job()
    assert first._data is not None  # built from the data, and kept
    second = Previewer(config, "R1", period=PERIOD, pdf=False, html=False)
    again = second.job()
    assert second._data is None and second._scope is None  # the data was not loaded at all
    assert again.parameters == job.parameters and again.notebook == job.notebook
    assert Path(again.parameters["context"]).read_bytes() == Path(job.parameters["context"]).read_bytes()


def test_changed_data_gives_a_fresh_context(settings: Path) -> None:
    config = load_config(settings)
    before = Previewer(config, "R1", period=PERIOD, pdf=False, html=False).job()
    old = Path(before.parameters["context"]).read_text(encoding="utf-8")
    deals = settings.parent.parent / "data" / "deals.csv"
    _touch(
        deals,
        deals.read_text(encoding="utf-8").replace(
            "D2,R1,A2,Core,SMB,2025-02-20,2025-03-12,won,3000", "D2,R1,A2,Core,SMB,2025-02-20,2025-03-12,won,3500"
        ),
    )
    fresh = Previewer(config, "R1", period=PERIOD, pdf=False, html=False)
    after = fresh.job()
    assert fresh._data is not None  # loaded again
    new = Path(after.parameters["context"]).read_text(encoding="utf-8")
    assert '"revenue"' in new and new != old


def test_at_most_keep_contexts_are_kept(settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(settings)
    monkeypatch.setattr(cache, "KEEP", 2)
    for i in range(4):
        cache.keep(config, f"k{i}", {"kind": "rep", "i": i}, {"period": PERIOD, "folder": "x"})
        _touch(cache.cache_folder(config) / f"k{i}" / "notes.json")
        os.utime(cache.cache_folder(config) / f"k{i}", ns=(i * 10**9, i * 10**9))
    assert sorted(p.name for p in cache.cache_folder(config).iterdir()) == ["k2", "k3"]


def test_a_kept_context_is_copied_whole_without_pandas(settings: Path, tmp_path: Path) -> None:
    """A preview with a kept context copies its files (context.json and every table) byte for byte, in a
    process that then has not imported pandas or pyarrow (a second off a one-off preview); a kept context
    missing a table is rebuilt, not copied half."""
    import subprocess
    import sys

    config = load_config(settings)
    built = Path(Previewer(config, "R1", period=PERIOD, pdf=False, html=False).job().parameters["context"])
    kept = {p.name: p.read_bytes() for p in built.parent.iterdir() if p.suffix in (".json", ".parquet")}
    assert "kpis.parquet" in kept
    shutil.rmtree(built.parent)
    code = (
        "import sys; from salesreports.params import load_config; from salesreports.run.preview import Previewer; "
        f"job = Previewer(load_config({str(settings)!r}), 'R1', period={PERIOD!r}, pdf=False, html=False).job(); "
        "print(job.parameters['context']); print(sorted({'pandas', 'pyarrow'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    context, imported = done.stdout.split("\n")[:2]
    assert imported == "[]"
    assert {p.name: p.read_bytes() for p in Path(context).parent.iterdir() if p.suffix in (".json", ".parquet")} == kept
    key = next(p for p in cache.cache_folder(config).iterdir() if p.is_dir())
    (key / "kpis.parquet").unlink()  # a kept context with a table missing
    assert not cache.copy_kept(config, key.name, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def _in_a_fresh_process(code: str) -> list[str]:
    """Run ``code`` (which may use ``config``) in a new, single-threaded interpreter; its printed lines."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_context_builder_keeps_the_contexts_a_preview_would_build(settings: Path, tmp_path: Path) -> None:
    """ContextBuilder (a forked process) keeps each context as the preview builds it; the preview then copies
    it without loading the data, and gets the builder's error for a context that cannot be built."""
    import json

    config = load_config(settings)
    here = Previewer(config, "R1", period=PERIOD, pdf=False, html=False, folder=tmp_path / "here")
    built = Path(here.job().parameters["context"])
    assert here._data is not None
    shutil.rmtree(cache.cache_folder(config))
    code = (
        "from salesreports.params import load_config; from salesreports.run.preview import ContextBuilder; "
        f"config = load_config({str(settings)!r}); "
        f"builder = ContextBuilder.start(config, [('rep', 'R1', {PERIOD!r}), ('rep', 'R9', {PERIOD!r})]); "
        "print(builder is not None); errors = builder.wait(); print(builder.wait() == errors); "
        "print(sorted((k, type(e).__name__, str(e)) for k, e in errors.items()))"
    )
    started, once, errors = _in_a_fresh_process(code)
    assert (started, once) == ("True", "True")
    unknown = cache.context_key(config, "rep", "R9", PERIOD)
    assert errors.startswith(f"[('{unknown}', 'ParamsError', \"unknown rep id 'R9'.")
    kept = cache.cache_folder(config) / str(cache.context_key(config, "rep", "R1", PERIOD))
    assert {p.name for p in kept.iterdir()} >= {"context.json", "notes.json", "kpis.parquet"}

    def body(path: Path) -> dict[str, object]:
        return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if k != "generated_at"}

    assert body(kept / "context.json") == body(built)
    for table in built.parent.glob("*.parquet"):
        import pyarrow.parquet as pq

        assert pq.read_table(kept / table.name).equals(pq.read_table(table)), table.name
    # a preview whose builder kept its context copies it; one the builder failed to build raises its error
    from salesreports.errors import ParamsError
    from salesreports.run.preview import ContextBuilder

    class Done(ContextBuilder):  # a builder that has ended, having met these errors
        def __init__(self, errors: dict[str, Exception]) -> None:
            self._errors = errors  # type: ignore[assignment]
            self._done = set(errors)
            self._ended = True
            self._lock = threading.Lock()

    planted = ParamsError("planted: the builder's error", rep="R9")
    fresh = Previewer(config, "R1", period=PERIOD, pdf=False, html=False, folder=tmp_path / "fresh")
    fresh.builder = Done({})
    assert body(Path(fresh.job().parameters["context"])) == body(built) and fresh._data is None
    failing = Previewer(config, "R9", period=PERIOD, pdf=False, html=False, folder=tmp_path / "failing")
    failing.builder = Done({str(unknown): planted})
    with pytest.raises(ParamsError, match="planted: the builder's error"):
        failing.job()
    assert failing._data is None, "not loaded again to meet the same error"


def test_a_context_builder_says_each_context_as_soon_as_it_is_kept(settings: Path) -> None:
    """wait(key) returns as soon as that context is kept, while the builder still builds the next (here slowed
    down to 3 s); wait() then waits for all of them."""
    config = load_config(settings)
    first, second = (cache.context_key(config, "rep", rep, PERIOD) for rep in ("R1", "R2"))
    code = (
        "import os, time\nfrom salesreports.params import load_config\nfrom salesreports.run import preview\n"
        "real = preview.Previewer._context\n"
        "def slow(self):\n"
        "    if self.ident == 'R2':\n"
        "        time.sleep(3)\n"
        "    return real(self)\n"
        "preview.Previewer._context = slow\n"
        f"config = load_config({str(settings)!r})\n"
        f"builder = preview.ContextBuilder.start(config, [('rep', 'R1', {PERIOD!r}), ('rep', 'R2', {PERIOD!r})])\n"
        f"builder.wait({first!r})\n"
        "print(not builder._ended and os.waitpid(builder.pid, os.WNOHANG) == (0, 0), sorted(builder._done))\n"
        "builder.wait(); print(builder._ended, sorted(builder._done))\n"
    )
    then, end = _in_a_fresh_process(code)
    assert then == f"True {[first]}", "wait(key) returned only when the builder had ended"
    assert end == f"True {sorted([str(first), str(second)])}"
    assert cache.kept_notes(config, str(second)) is not None


def test_a_context_builder_builds_each_period_in_a_lane_of_its_own(settings: Path, tmp_path: Path) -> None:
    """Contexts of two periods: the builder loads the data once, then the quarter's scope is built in a process
    forked from it while it builds the month's (one lane per core); every context is the one a preview builds
    alone."""
    import json

    config = load_config(settings)
    reports = [("rep", "R1", PERIOD), ("rep", "R1", "2025-Q1"), ("team", "North", PERIOD)]
    alone = {}
    for kind, ident, period in reports:
        job = Previewer(config, ident, period=period, kind=kind, html=False, folder=tmp_path / "alone").job()
        alone[cache.context_key(config, kind, ident, period)] = Path(job.parameters["context"])
    shutil.rmtree(cache.cache_folder(config))
    marks = tmp_path / "pids"
    marks.mkdir()
    code = (
        "import os\nfrom salesreports.params import load_config\nfrom salesreports.report import cache\n"
        "from salesreports.run.preview import ContextBuilder\n"
        "real = cache.keep\n"
        "def keep(config, key, context, notes):\n"
        f"    (__import__('pathlib').Path({str(marks)!r}) / key).write_text(str(os.getpid()))\n"
        "    return real(config, key, context, notes)\n"
        "cache.keep = keep\n"
        f"builder = ContextBuilder.start(load_config({str(settings)!r}), {reports!r})\n"
        "print(builder.pid, builder.wait())\n"
    )
    pid, errors = _in_a_fresh_process(code)[0].split(" ", 1)
    assert errors == "{}"
    by = {key: (marks / str(key)).read_text() for key in alone}
    month, quarter, team = (by[cache.context_key(config, kind, ident, period)] for kind, ident, period in reports)
    assert month == team == pid, "the month's contexts: in the builder"
    lanes = min(len(os.sched_getaffinity(0)), 2)
    assert (quarter != pid) == (lanes > 1), "the quarter's: in a lane of its own, with two cores"

    def body(path: Path) -> dict[str, object]:
        return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if k != "generated_at"}

    for key, path in alone.items():
        assert body(cache.cache_folder(config) / str(key) / "context.json") == body(path), key


def test_a_context_builder_starts_only_when_it_helps(
    settings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from salesreports.run import preview, processes

    config = load_config(settings)
    monkeypatch.setattr(processes, "os_threads", lambda: 2)
    assert preview.ContextBuilder.start(config, [("rep", "R1", PERIOD)]) is None, "never forked with threads"
    monkeypatch.setattr(processes, "os_threads", lambda: 1)
    Previewer(config, "R1", period=PERIOD, pdf=False, html=False).job()  # kept
    assert preview.ContextBuilder.start(config, [("rep", "R1", PERIOD)]) is None, "nothing to build"
    source = tmp_path / "db" / "source.yaml"
    source.parent.mkdir()
    source.write_text(
        "name: db\nkind: sql\nurl: sqlite:///crm.db\ntables:\n  deals: {table: deals}\n", encoding="utf-8"
    )
    database = load_config(write_config(tmp_path / "db", source))
    assert preview.ContextBuilder.start(database, [("rep", "R1", PERIOD)]) is None, "a database is never kept"


def test_keep_contexts_loads_the_data_once_and_skips_what_is_kept(
    settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from salesreports.data import loading
    from salesreports.run.preview import keep_contexts

    config = load_config(settings)
    loads: list[Path] = []
    real = loading.load_dataset

    def counting(path: Path) -> object:
        loads.append(path)
        return real(path)

    monkeypatch.setattr(loading, "load_dataset", counting)
    from salesreports.report import scope

    scopes: list[str | None] = []
    real_scope = scope.build_scope

    def counting_scopes(*args: object, rep: str | None = None, **kwargs: object) -> object:
        scopes.append(rep)
        return real_scope(*args, rep=rep, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scope, "build_scope", counting_scopes)
    reports = [("rep", "R1", PERIOD), ("rep", "R1", "2025-Q1"), ("team", "North", PERIOD), ("rep", "R9", PERIOD)]
    reports.append(("rep", "R2", PERIOD))
    done: list[tuple[str, str]] = []
    errors = keep_contexts(config, reports, done=lambda key, error: done.append((key, type(error).__name__)))
    assert len(loads) == 1
    assert scopes == [None, "R1"], "one scope for the month's four reports (every rep's), the quarter's own"
    keys = [cache.context_key(config, kind, ident, period) for kind, ident, period in reports]
    said = [(keys[i], "ParamsError" if i == 3 else "NoneType") for i in (0, 2, 3, 4, 1)]
    assert done == said, "each report said as it is done, a period's reports one after another"
    assert list(errors) == [cache.context_key(config, "rep", "R9", PERIOD)]
    for kind, ident, period in reports:
        kept = cache.kept_notes(config, cache.context_key(config, kind, ident, period))
        assert (kept is None) == (ident == "R9"), ident
    assert keep_contexts(config, [("rep", "R1", PERIOD), ("rep", "R2", PERIOD)]) == {}
    assert len(loads) == 1, "kept contexts are not built again"
