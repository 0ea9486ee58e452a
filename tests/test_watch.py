"""`salesreports preview --watch`: a warm process re-renders on every save and serves the page on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from salesreports.run.watch import Change, PreviewServer, classify, error_page, with_reload

ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


def _until(what: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the watch exited early with status {proc.returncode}")
        time.sleep(0.2)
    pytest.fail(f"not within {timeout:.0f} s")


def _edit(template: Path, change: Callable[[list[dict[str, object]]], None]) -> None:
    """Change a template's cells and save it the way JupyterLab does (a temp file, then a rename)."""
    nb = json.loads(template.read_text(encoding="utf-8"))
    change(nb["cells"])
    tmp = template.with_name(f".~{template.name}")
    tmp.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    tmp.replace(template)


def test_the_served_page_reloads_itself_and_the_file_written_does_not() -> None:
    page = "<html><body><p>hi</p></body></html>"
    served = with_reload(page, 3)
    assert served.startswith("<html><body><p>hi</p><script>") and served.endswith("</script></body></html>")
    assert '"3"' in served and "/version" in served
    assert with_reload("<p>no body</p>", 1).startswith("<p>no body</p><script>")
    assert "&lt;b&gt;" in error_page("t", "<b>")


def test_the_server_serves_the_last_page_and_its_version_on_localhost() -> None:
    server = PreviewServer(0).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert _get(server.url + "version") == "0"
        server.publish("<html><body>first</body></html>")
        assert _get(server.url + "version") == "1" and "first" in _get(server.url)
        with pytest.raises(urllib.error.HTTPError):
            _get(server.url + "elsewhere")
    finally:
        server.close()


def test_a_change_asks_for_what_it_changed(tmp_path: Path) -> None:
    template, kpis = tmp_path / "t" / "a.ipynb", tmp_path / "pkg" / "kpis.yaml"
    settings, data = tmp_path / "params", tmp_path / "data"
    where = {"template": template, "kpis": kpis, "settings": settings, "data": data}
    assert classify([template], **where) == Change(template=True)
    assert classify([kpis], **where) == Change(kpis=True)
    assert classify([settings / "config.yaml"], **where) == Change(settings=True)
    assert classify([data / "deals.csv", data / ".deals.csv.swp"], **where) == Change(data=True)
    assert not classify([tmp_path / "t" / "other.ipynb", settings / "notes.txt"], **where).any


@pytest.mark.notebooks
@pytest.mark.slow
def test_watch_re_renders_on_save_shows_a_failing_cell_and_stops_on_ctrl_c(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    template = tmp_path / "templates" / "rep_scorecard.ipynb"
    template.parent.mkdir()
    shutil.copy(ROOT / "reports" / "rep_scorecard.ipynb", template)
    config = make_config(rep=template)
    log = tmp_path / "watch.log"
    command = [sys.executable, "-m", "salesreports.cli", "preview", "--watch", "--rep", "R1"]
    command += ["--period", "2025-03", "--params", str(config), "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250"}
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        _until(lambda: "serving http://127.0.0.1:" in log.read_text(), 120, proc)
        found = re.search(r"serving (http://127\.0\.0\.1:\d+/)", log.read_text())
        assert found, log.read_text()
        url = found.group(1)
        _until(lambda: _get(url + "version") != "0", 120, proc)
        first = _get(url)
        assert "Headline KPIs" in first and "/version" in first, first[-2000:]
        written = next((tmp_path / "preview").rglob("rep_scorecard.html"))
        assert "/version" not in written.read_text(encoding="utf-8"), "the reload script is only in the served page"

        def headline(cells: list[dict[str, object]]) -> None:
            cell = next(c for c in cells if "## Headline KPIs" in "".join(c["source"]))  # type: ignore[arg-type]
            cell["source"] = "## Headline KPIs, edited while watching\n"

        _edit(template, headline)
        _until(lambda: "edited while watching" in _get(url), 60, proc)

        def boom(cells: list[dict[str, object]]) -> None:
            cells.append(
                {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "1 / 0"}
            )

        _edit(template, boom)
        _until(lambda: "ZeroDivisionError" in _get(url), 60, proc)
        page = _get(url)
        assert f"cell {len(json.loads(template.read_text())['cells'])} (`1 / 0`) fails" in page, page
        assert "ZeroDivisionError: division by zero" in page and "in cell [" not in page, "the cell has one number"
        assert proc.poll() is None, "the watch goes on after a failing template"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()
        assert log.read_text().rstrip().endswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.notebooks
@pytest.mark.slow
def test_bench_preview_returns_its_figures_with_ratios(make_config: Callable[..., Path], tmp_path: Path) -> None:
    """``make bench-preview`` on the tiny fixture: it runs and returns each figure (timings are not asserted)."""
    from salesreports.bench import preview as bench

    config = make_config()
    template = [ROOT / "reports" / "rep_scorecard.ipynb"]
    results = bench.run(config, "R1", period="2025-03", templates=template, rounds=2)
    assert results["baseline"] > 0 and results["rounds"] == 2
    assert set(results) == {"baseline", "rounds", *bench.TARGETS}
    for name in bench.TARGETS:
        figure = results[name]
        assert figure["seconds"] > 0 and figure["target"] == bench.TARGETS[name]
        assert len(figure["each"]) == 2 and figure["seconds"] == pytest.approx(sum(figure["each"]) / 2, abs=0.002)
        assert figure["to_target"] == pytest.approx(figure["seconds"] / figure["target"], abs=0.006)  # both rounded
        assert figure["to_baseline"] > 0
    # (check runs the template with its own defaults, the demo's rep and month: not in the tiny fixture)
    assert all(results[name]["status"] == 0 for name in ("preview_first", "preview", "rerender")), results
    bench._print(results)
