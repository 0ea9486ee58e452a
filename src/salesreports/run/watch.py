"""``salesreports preview --watch``: a warm process that re-renders one report on every save and serves it.

The process warms up once (:func:`salesreports.run.worker.warm_up`: the report libraries imported, a warm
zygote forked while the process is still single-threaded, the HTML renderer started), loads the data and
computes the KPIs once (:class:`~salesreports.run.preview.Previewer`), then re-renders the report's HTML
whenever one of these files changes:

- the template: the report only;
- ``kpis.yaml`` (the package's YAML): the KPIs again, then the report;
- the settings folder's YAML (``params/``): the settings, data and KPIs again, then the report;
- the data folder's files: the data and KPIs again, then the report.

A :class:`PreviewServer` serves the last page on ``127.0.0.1``; the page it serves (never the file written)
carries a small script that polls ``/version`` and reloads the browser when a new render is published. A
template error, or a mistake in a YAML file, is served as a page naming the cell or the file, and the watch
goes on.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from salesreports.errors import SalesReportsError
from salesreports.run.preview import Previewer, PreviewResult, describe_failure

__all__ = ["Change", "PreviewServer", "Watcher", "classify", "error_page", "with_reload"]

# polls the server for a new render and reloads; only ever in the served page, never in the file written
_RELOAD = """<script>/* salesreports preview --watch: reload on a new render */
(function () {{
  var version = "{version}";
  function poll() {{
    fetch("/version", {{cache: "no-store"}}).then(function (r) {{ return r.text(); }}).then(function (v) {{
      if (v !== version) {{ location.reload(); }} else {{ setTimeout(poll, 400); }}
    }}).catch(function () {{ setTimeout(poll, 1500); }});
  }}
  setTimeout(poll, 400);
}})();
</script>"""

_DATA_SUFFIXES = {".csv", ".parquet", ".pq", ".xlsx", ".xls", ".duckdb", ".db", ".sqlite", ".json", ".yaml", ".yml"}


def with_reload(page: str, version: int) -> str:
    """The page with the reload script inserted before its last ``</body>`` (appended when it has none)."""
    script = _RELOAD.format(version=version)
    at = page.lower().rfind("</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def error_page(title: str, message: str, hint: str = "") -> str:
    """A small self-contained HTML page showing an error (the served page while a template fails)."""
    body = f"<p>{html.escape(hint)}</p>" if hint else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Preview failed</title>"
        "<style>body{font-family:'Liberation Sans',Arial,sans-serif;margin:2em;max-width:60em}"
        "pre{white-space:pre-wrap;background:#fdecea;border-left:4px solid #b3261e;padding:1em}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><pre class='preview-error'>{html.escape(message)}</pre>{body}"
        "</body></html>"
    )


class PreviewServer:
    """The last rendered page on ``http://127.0.0.1:<port>/`` (port 0: a free one), in a daemon thread.

    ``/`` is the page with the reload script; ``/version`` the number of the last render.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.version = 0
        self._page = error_page("Preview", "The first render is on its way…")
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/version":
                    body, kind = str(server.version).encode(), "text/plain; charset=utf-8"
                elif path in ("/", "/index.html"):
                    body, kind = server.page().encode("utf-8"), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the browser polls twice a second."""

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def page(self) -> str:
        """The page served now (with its reload script)."""
        with self._lock:
            return with_reload(self._page, self.version)

    def publish(self, page: str) -> None:
        """Serve a new page; browsers showing the old one reload."""
        with self._lock:
            self._page = page
            self.version += 1

    def start(self) -> PreviewServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="salesreports-preview", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()


@dataclass(frozen=True)
class Change:
    """What a set of changed files asks for: the settings, the data, the KPIs again, or the report only."""

    settings: bool = False
    data: bool = False
    kpis: bool = False
    template: bool = False

    @property
    def any(self) -> bool:
        """Whether anything watched changed."""
        return self.settings or self.data or self.kpis or self.template


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def classify(changed: Iterable[Path], *, template: Path, kpis: Path, settings: Path, data: Path) -> Change:
    """What to do again for these changed files (``settings``, ``data``: folders; others: files)."""
    found = {"settings": False, "data": False, "kpis": False, "template": False}
    for raw in changed:
        path = Path(raw).resolve()
        if path == template:
            found["template"] = True
        elif path == kpis:
            found["kpis"] = True
        elif path.suffix in {".yaml", ".yml"} and path.parent == settings:
            found["settings"] = True
        elif _under(path, data) and path.suffix.lower() in _DATA_SUFFIXES and not path.name.startswith("."):
            found["data"] = True
    return Change(**found)


class Watcher:
    """Re-render one report on every change and publish it (see the module docstring).

    Parameters
    ----------
    previewer : the report to preview (its data loaded on the first render)
    server : where each render is published
    reload_settings : build the settings again after a change in the settings folder (returns a new previewer)
    echo : called with one line per render, for the terminal
    """

    def __init__(
        self,
        previewer: Previewer,
        server: PreviewServer,
        *,
        reload_settings: Callable[[], Previewer] | None = None,
        echo: Callable[[str], None] = lambda line: None,
    ) -> None:
        from salesreports.metrics.kpis import kpi_file

        self.previewer = previewer
        self.server = server
        self.reload_settings = reload_settings
        self.echo = echo
        self.kpis = kpi_file().resolve()
        self.renders = 0

    def paths(self) -> dict[str, Path]:
        """The template, kpis.yaml, the settings folder and the data folder."""
        config = self.previewer.config
        settings = Path(config.path).resolve().parent if config.path else Path.cwd() / "params"
        return {
            "template": self.previewer.template,
            "kpis": self.kpis,
            "settings": settings,
            "data": config.source_path.resolve().parent,
        }

    def render(self, change: Change | None = None) -> PreviewResult | None:
        """Reload what ``change`` asks for, render, publish the page (or the error); never raises for a report."""
        started = time.perf_counter()
        what = self.previewer.template.name
        try:
            if change is not None and change.settings and self.reload_settings is not None:
                self.previewer = self.reload_settings()
            elif change is not None and change.data:
                self.previewer.reset(data=True)
            elif change is not None and change.kpis:
                self.previewer.reset(data=False)
            result = self.previewer.render()
        except SalesReportsError as err:
            self._publish_error(f"Preview of {what} failed", str(err))
            return None
        self.renders += 1
        seconds = time.perf_counter() - started
        if result.status == "ok":
            self.server.publish(result.html.read_text(encoding="utf-8"))
            self.echo(f"rendered {result.html} in {seconds:.2f} s")
        else:
            cell, error = describe_failure(result)
            where = f"{what}: {cell} fails" if cell else f"{what} fails"
            self._publish_error(where, error)
        return result

    def _publish_error(self, title: str, message: str) -> None:
        hint = "The preview goes on: fix it and save, and this page reloads."
        self.server.publish(error_page(title, message, hint))
        self.echo(f"{title}: {message}")

    def watch(self, stop: threading.Event | None = None) -> None:
        """Render now, then on every change until ``stop`` is set (or Ctrl-C, which propagates)."""
        from watchfiles import watch

        self.render()
        paths = self.paths()
        folders = sorted({str(paths["template"].parent), str(paths["kpis"].parent), str(paths["settings"])})
        folders = sorted({*folders, str(paths["data"])})
        for changes in watch(*folders, stop_event=stop, debounce=200, step=50, recursive=False):
            change = classify((Path(p) for _, p in changes), **paths)
            if change.any:
                self.render(change)
                paths = self.paths()
