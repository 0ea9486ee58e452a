"""Preview contexts kept while their inputs do not change (salesreports.report.cache)."""

from __future__ import annotations

import os
import shutil
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
