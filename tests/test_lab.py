"""The analyst's loop in the real JupyterLab, driven by headless Chromium.

JupyterLab is started as ``make lab`` starts it (the project's kernel, ``--allow-root`` as root, no browser
without a display), on 127.0.0.1 with a token; the test opens the rep scorecard template, runs all cells and
checks that the tiles and charts render with no error output. Then it adds a KPI to the KPI declarations
(a copy named by ``SALESREPORTS_KPI_FILE``, so the package stays untouched) and shows it in the running
kernel: the same cell fails with "unknown KPI" before the edit and shows the KPI after it, with no restart.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, write_config
from salesreports.metrics.kpis import KPI_FILE, KPI_FILE_ENV
from test_browser import browser  # noqa: F401 - the shared headless Chromium fixture
from test_kpis import DEMOS_PER_WEEK

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]

TEMPLATE = ROOT / "reports" / "rep_scorecard.ipynb"
NOTEBOOK = "scorecard.ipynb"
NEW_KPI_CELL = 'view = rep_view(rep_id, period, context, params_file)\nview.tiles(["demos_per_week"])'

# The state of the open notebook, read from JupyterLab's own models (window.jupyterapp).
STATE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext.session) { return null; }
  const kernel = panel.sessionContext.session.kernel;
  const cells = [];
  for (let i = 0; i < panel.content.model.cells.length; i++) {
    const cell = panel.content.model.cells.get(i);
    if (cell.type !== "code") { continue; }
    cells.push({index: i, count: cell.executionCount, source: cell.sharedModel.getSource(),
                outputs: cell.outputs.toJSON()});
  }
  return {kernel: kernel ? kernel.status : "none", name: kernel ? kernel.name : "", cells: cells};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            pytest.fail(f"make lab exited with {process.returncode}:\n{out[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer on {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab started by ``make lab`` on a folder holding the rep template set to the tiny fixture."""
    root = tmp_path_factory.mktemp("lab")
    config = write_config(root)
    notebooks = root / "notebooks"
    notebooks.mkdir()
    nb = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = f'rep_id = "R1"\nperiod = "2025-03"\ncontext = ""\nparams_file = {str(config)!r}\n'
    (notebooks / NOTEBOOK).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    kpis = root / "kpis.yaml"
    kpis.write_text(KPI_FILE.read_text(encoding="utf-8"), encoding="utf-8")

    port, token = _free_port(), secrets.token_hex(16)
    flags = [
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
    ]
    env = {**os.environ, KPI_FILE_ENV: str(kpis), "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    process = subprocess.Popen(
        ["make", "-s", "--no-print-directory", "lab", f"LAB_DIR={notebooks}", f"LAB_ARGS={' '.join(flags)}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", process, timeout=240)
        yield {"url": f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}", "kpis": kpis, "root": root}
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop make, JupyterLab and its kernels (one process group)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.stdout:
        process.stdout.close()


def _state(page: Any) -> dict[str, Any]:
    return page.evaluate(STATE)  # type: ignore[no-any-return]


def _errors(cells: list[dict[str, Any]]) -> list[str]:
    found = []
    for cell in cells:
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                found.append(f"cell {cell['index']}: {out['ename']}: {out['evalue']}")
            elif out["output_type"] == "stream" and out.get("name") == "stderr":
                found.append(f"cell {cell['index']} (stderr): {''.join(out['text'])[:300]}")
    return found


def _wait_idle(page: Any, done: str, timeout: float = 180) -> dict[str, Any]:
    """Wait until the kernel is idle and ``done`` (a JS predicate over the state) holds; the state then."""
    page.wait_for_function(
        f"() => {{ const s = ({STATE})(); return s !== null && s.kernel === 'idle' && ({done})(s); }}",
        timeout=timeout * 1000,
        polling=250,
    )
    return _state(page)


def _run_last_cell(page: Any, source: str) -> dict[str, Any]:
    """Put ``source`` into a new cell at the end (or the last cell if it is already the one) and run it."""
    page.evaluate(
        """async (source) => {
          const app = window.jupyterapp;
          const nb = app.shell.currentWidget.content;
          nb.activeCellIndex = nb.widgets.length - 1;
          if (nb.activeCell.model.sharedModel.getSource() !== source) {
            await app.commands.execute("notebook:insert-cell-below");
            nb.activeCell.model.sharedModel.setSource(source);
          }
          await app.commands.execute("notebook:run-cell");
        }""",
        source,
    )
    state = _wait_idle(page, "s => { const c = s.cells[s.cells.length - 1]; return c.count !== null; }")
    return state["cells"][-1]  # type: ignore[no-any-return]


def test_lab_runs_the_template_and_follows_kpi_edits(lab: dict[str, Any], browser: Any, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    try:
        page.goto(lab["url"], wait_until="domcontentloaded", timeout=120_000)
        state = _wait_idle(page, "s => s.kernel === 'idle'")
        assert state["name"] == "salesreports", "the template's kernel is the project's (make kernel)"

        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        ran = "s => s.cells.every(c => c.count !== null || !c.source.trim())"
        state = _wait_idle(
            page, f"s => ({ran})(s) || s.cells.some(c => c.outputs.some(o => o.output_type === 'error'))"
        )
        assert _errors(state["cells"]) == []
        assert all(c["count"] for c in state["cells"] if c["source"].strip())
        assert page.locator(".jp-OutputArea-output .sr-tile").count() >= 4  # the headline tiles
        # charts are live in Lab (its Vega-Lite renderer: tooltips, hover), drawn with no error
        charts = page.locator(".jp-OutputArea-output .vega-embed")
        assert charts.count() >= 2
        drawn = "es => es.every(e => { const g = e.querySelector('canvas, svg'); return g && g.clientWidth > 100; })"
        page.wait_for_function(f"() => ({drawn})([...document.querySelectorAll('.jp-OutputArea-output .vega-embed')])")
        assert page.locator(".jp-OutputArea-output .vega-embed .error").count() == 0
        assert "Demos per week" not in page.locator(".jp-Notebook").inner_text()
        page.screenshot(path=str(tmp_path / "lab.png"))
        charts.first.scroll_into_view_if_needed()
        charts.first.screenshot(path=str(tmp_path / "lab-chart.png"))

        before = _run_last_cell(page, NEW_KPI_CELL)
        assert "unknown KPI" in json.dumps(before["outputs"]) and "demos_per_week" in json.dumps(before["outputs"])

        kpis: Path = lab["kpis"]
        kpis.write_text(kpis.read_text(encoding="utf-8") + "\n" + textwrap.dedent(DEMOS_PER_WEEK), encoding="utf-8")
        after = _run_last_cell(page, NEW_KPI_CELL)
        assert _errors([after]) == []
        html = json.dumps(after["outputs"])
        assert "Demos per week" in html, html[:2000]
        assert page.locator(".jp-OutputArea-output .sr-tile__label", has_text="Demos per week").count() == 1
        assert failures == []
    finally:
        context.close()
