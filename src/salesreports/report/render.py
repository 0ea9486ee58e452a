"""Turn executed report notebooks into self-contained HTML and PDF.

HTML comes from nbconvert's ``HTMLExporter`` with the package's own template
(``templates/salesreports``): no code cells, no prompts, no require.js, MathJax or
CDN scripts. Before the template runs, every chart bundle
(``application/vnd.salesreports.chart+json``, see :mod:`salesreports.report.display`) is
converted to inline SVG by vl-convert (same font as the page) inside a
``<figure role="img" aria-label=...>`` with the alt text as a small caption. Each chart is drawn twice: for
the page (and the PDF) and, narrower with larger text and fewer ticks, for phones (:func:`theme.narrow`);
the page's CSS shows one of them, so a phone never shows a scaled-down chart with 7 px text.
Markdown is rendered without math, so ``$50,000`` stays money.

``interactive=True`` also inlines the Vega bundle (built once by vl-convert and cached on
disk) once per page and re-draws every chart live from its spec; the static SVG stays as
the fallback and for printing. Nothing is ever loaded from the network.

PDF comes from WeasyPrint with the page's print CSS: page size and margins, "<rep> · <period>"
and page numbers in the footer, tiles and charts never split across pages. The page keeps
browser-only CSS (phone layouts) in a ``<style data-sr-browser-only>`` block that the PDF leaves
out, so WeasyPrint logs no warning.

Both writers write atomically (a temporary file in the target folder, then ``os.replace``).
A :class:`Renderer` keeps vl-convert, the template and the PDF stylesheets warm, so a worker
renders many reports in one process; :func:`render_html` and :func:`render_pdf` use a shared one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html as _html
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

from salesreports import __version__, i18n
from salesreports.errors import RenderError
from salesreports.i18n import _
from salesreports.metrics.kpis import Formatter, formatter
from salesreports.report.display import CHART_MIME, component_css
from salesreports.report.theme import narrow
from salesreports.report.vega import spec_to_svg
from salesreports.text import FSI, PDI, clean, isolate, one_line

__all__ = [
    "PAGE_SIZES",
    "RenderResult",
    "Renderer",
    "atomic_write",
    "bdi",
    "chart_figure",
    "default_renderer",
    "format_timestamp",
    "json_for_script",
    "last_page_fill",
    "offline_html",
    "render_html",
    "render_pdf",
    "report_locale",
    "vega_bundle",
]

PageSize = Literal["A4", "Letter"]
PAGE_SIZES: Final = ("A4", "Letter")
# a PDF whose last page is filled less than this is laid out again, tighter, when that saves the page
NEARLY_EMPTY: Final = 1 / 3
TEMPLATE_DIR: Final = Path(__file__).with_name("templates")
TEMPLATE_NAME: Final = "salesreports"
CACHE_ENV: Final = "SALESREPORTS_CACHE_DIR"
# Cell tags that leave a cell, or its outputs, out of the report.
REMOVE_CELL_TAGS: Final = frozenset({"remove_cell", "remove-cell", "hide"})
REMOVE_OUTPUT_TAGS: Final = frozenset({"remove_output", "remove-output", "hide-output"})
# Charts become this (trusted, rendered as is); every other text/html output is made offline and script-free.
FIGURE_MIME: Final = "text/vnd.salesreports.figure+html"

# Reads every chart's spec from the page and draws it with vega-embed (part of the cached bundle).
_EMBED_SNIPPET: Final = """
function srEmbedAll() {
  document.querySelectorAll("figure.sr-chart--interactive").forEach(function (fig) {
    var data = fig.querySelector("script.sr-chart__spec");
    if (!data) { return; }
    var target = document.createElement("div");
    target.className = "sr-chart__live";
    fig.insertBefore(target, fig.querySelector(".sr-chart__alt"));
    var spec = JSON.parse(data.textContent);
    // drawn at the column's true width (not scaled by CSS), so pointer positions and tooltips stay exact
    if (!spec.hconcat && !spec.vconcat && !spec.concat && !spec.facet && !spec.repeat) { spec.width = "container"; }
    vegaEmbed(target, spec, {renderer: "svg", actions: false, mode: "vega-lite"})
      .then(function () { fig.classList.add("sr-chart--live"); })
      .catch(function (err) { target.remove(); console.warn("salesreports: chart kept static:", err); });
  });
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", srEmbedAll);
} else {
  srEmbedAll();
}
"""

_SCRIPT_BLOCK = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_BROWSER_STYLE = re.compile(r"<style data-sr-browser-only>.*?</style\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_OPEN = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
# a chart's static SVG inside its figure: drawn into the PDF as an image (see _charts_as_images)
_CHART_SVG = re.compile(r'(<div class="sr-chart__svg"[^>]*>)\s*(<svg\b.*?</svg>)\s*(</div>)', re.DOTALL)
# a chart's phone drawing and its numbers as a table (for screen readers): never in the PDF, which shows the chart
_NARROW_SVG = re.compile(
    r'<div class="sr-chart__svg sr-chart__svg--narrow"[^>]*>\s*<svg\b.*?</svg>\s*</div>', re.DOTALL
)
_CHART_DATA = re.compile(r'<details class="sr-chart__data">.*?</details>', re.DOTALL)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_REMOTE_ATTR = re.compile(r"""\b(src|href|srcset|poster|data)\s*=\s*(["'])\s*(?:https?:)?//[^"']*\2""", re.IGNORECASE)
_EVENT_ATTR = re.compile(r"""\son[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_JS_URL = re.compile(r"""\b(href|src)\s*=\s*(["'])\s*javascript:[^"']*\2""", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")


@dataclass(frozen=True)
class RenderResult:
    """Paths and timings of one rendered report."""

    html: Path
    pdf: Path | None
    html_seconds: float
    pdf_seconds: float


# -- charts --------------------------------------------------------------------------------------------------


def chart_figure(payload: Mapping[str, Any], *, index: int = 1, interactive: bool = False) -> str:
    """The ``<figure>`` HTML of one chart bundle payload (``{"spec", "alt", "name"}``).

    Raises
    ------
    RenderError
        The payload has no spec, or vl-convert cannot convert it.
    """
    spec = payload.get("spec")
    alt = str(payload.get("alt") or "").strip()
    name = str(payload.get("name") or f"chart-{index}")
    if not isinstance(spec, Mapping):
        msg = f"chart '{name}' has no Vega-Lite spec (its bundle holds {sorted(payload)})."
        raise RenderError(msg, chart=name, stage="chart")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name)[:40] or "chart"
    try:
        svg = spec_to_svg(spec, id_prefix=f"sr{index}-{slug}")
        phone = spec_to_svg(narrow(spec), id_prefix=f"sr{index}n-{slug}")
    except Exception as exc:  # vl-convert raises plain ValueError/RuntimeError with the JS message and stack
        msg = (
            f"chart '{name}' could not be drawn: {_first_line(exc).rstrip('.')}. "
            "Check the chart in JupyterLab (salesreports.report.charts)."
        )
        raise RenderError(msg, chart=name, stage="chart") from exc
    label = _html.escape(alt or name, quote=True)
    caption = f'<figcaption class="sr-chart__alt">{_html.escape(alt)}</figcaption>' if alt else ""
    live = ""
    classes = "sr-chart"
    if interactive:
        classes += " sr-chart--interactive"
        live = f'<script type="application/json" class="sr-chart__spec">{json_for_script(spec)}</script>'
    pictures = (
        f'<div class="sr-chart__svg" aria-hidden="true">{svg}</div>'
        f'<div class="sr-chart__svg sr-chart__svg--narrow" aria-hidden="true">{phone}</div>'
    )
    table = payload.get("table")
    data = f' data-chart="{_html.escape(name, quote=True)}"'
    if isinstance(table, Mapping) and str(table.get("html") or "").strip():
        # a chart with its numbers as a table: the pictures are the image, the table stays readable beside it
        summary = _html.escape(_("The numbers as a table"))
        numbers = (
            f'<details class="sr-chart__data"><summary>{summary}</summary>{offline_html(str(table["html"]))}</details>'
        )
        return (
            f'<figure class="{classes}"{data}><div class="sr-chart__pic" role="img" aria-label="{label}">'
            f"{pictures}</div>{live}{caption}{numbers}</figure>"
        )
    return f'<figure class="{classes}" role="img" aria-label="{label}"{data}>{pictures}{live}{caption}</figure>'


def vega_bundle(cache_dir: Path | None = None) -> str:
    """The Vega/Vega-Lite/vega-embed bundle with the embedding snippet, cached on disk (built in ~1-2 s)."""
    import vl_convert as vlc

    folder = cache_dir or _default_cache_dir()
    version = getattr(vlc, "__version__", "") or metadata.version("vl-convert-python")
    key = hashlib.sha256(_EMBED_SNIPPET.encode()).hexdigest()[:12]
    path = folder / f"vega-bundle-{version}-{key}.js"
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8")
    bundle: str = vlc.javascript_bundle(_EMBED_SNIPPET)
    # keep the HTML parser inside the script element whatever the bundle's strings contain
    bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE).replace("<!--", "<\\!--")
    with contextlib.suppress(OSError):
        atomic_write(path, lambda tmp: tmp.write_text(bundle, encoding="utf-8"))
    return bundle


# -- the renderer --------------------------------------------------------------------------------------------


class Renderer:
    """Renders many notebooks in one process, keeping vl-convert, the template and WeasyPrint warm.

    Parameters
    ----------
    interactive
        Default for :meth:`html`: inline the Vega bundle and draw charts live.
    page_size
        Default page size, ``"A4"`` or ``"Letter"``.
    cache_dir
        Where the Vega bundle is cached (default: ``$SALESREPORTS_CACHE_DIR`` or a folder in the temp dir).

    One renderer per worker thread or process; it is not meant to be shared between threads.
    """

    def __init__(self, *, interactive: bool = False, page_size: PageSize = "A4", cache_dir: Path | None = None) -> None:
        self.interactive = interactive
        self.page_size = _page_size(page_size)
        self.cache_dir = cache_dir
        self._exporter: Any = None
        self._bundle: str | None = None
        self._page_css: dict[str, Any] = {}
        self._fetcher: Any = None
        self._tight_css: Any = None
        self._fonts: Any = None
        self._charts_warm = False

    def warm(self, *, pdf: bool = True, page_size: str | None = None) -> Renderer:
        """Start vl-convert's engine, load the template (and WeasyPrint, for ``page_size``: the renderer's by
        default) now rather than on the first report. Once warm, nothing is done again."""
        size = page_size or self.page_size
        if self._charts_warm and self._exporter is not None and (not pdf or size in self._page_css):
            return self
        if not self._charts_warm:
            spec_to_svg({"data": {"values": [{"x": 1}]}, "mark": "point", "encoding": {"x": {"field": "x"}}})
            self._charts_warm = True
        self._get_exporter()
        if pdf:
            self._get_page_css(size)
        return self

    # -- HTML

    def html(
        self,
        notebook: Path | Any,
        out: Path,
        *,
        interactive: bool | None = None,
        page_size: PageSize | None = None,
    ) -> Path:
        """Render a notebook (a path or a ``NotebookNode``) to a self-contained HTML file, atomically.

        Raises
        ------
        RenderError
            Naming the notebook and what failed (reading it, a chart, the template, writing the file).
        """
        text = self.html_text(notebook, interactive=interactive, page_size=page_size)
        out = Path(out)
        try:
            atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except OSError as exc:
            msg = f"{_describe(notebook)}: could not write {out}: {exc.strerror or exc}."
            raise RenderError(msg, notebook=_describe(notebook), stage="write", path=str(out)) from exc
        return out

    def html_text(
        self, notebook: Path | Any, *, interactive: bool | None = None, page_size: PageSize | None = None
    ) -> str:
        """The HTML of a notebook as a string (see :meth:`html`)."""
        name = _describe(notebook)
        nb = _read(notebook)
        live = self.interactive if interactive is None else interactive
        size = _page_size(page_size or self.page_size)
        # the page's words (the template's, its Markdown cells') in the report's language
        with i18n.override(report_locale(nb)):
            try:
                prepared, charts = _prepare(nb, interactive=live)
            except RenderError as exc:
                msg = f"{name}: {exc.message}"
                raise RenderError(msg, notebook=name, **exc.fields) from exc.__cause__
            resources = {"sr": self._resources(nb, name, interactive=live and charts > 0, page_size=size)}
            try:
                body, _resources = self._get_exporter().from_notebook_node(prepared, resources=resources)
            except Exception as exc:  # nbconvert/jinja raise many types; the notebook name is what matters
                msg = f"{name}: the HTML template failed: {type(exc).__name__}: {exc}."
                raise RenderError(msg, notebook=name, stage="html") from exc
        return str(body)

    # -- PDF

    def pdf(self, html: Path, out: Path, *, page_size: PageSize | None = None) -> Path:
        """Render an HTML report (from :meth:`html`) to PDF with WeasyPrint, atomically.

        Scripts are ignored and only ``file:`` and ``data:`` resources are read, never the network.

        Raises
        ------
        RenderError
            The HTML cannot be read, WeasyPrint fails or the file cannot be written.
        """
        html, out = Path(html), Path(out)
        size = _page_size(page_size or self.page_size)
        try:
            text = html.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"{html}: cannot read the HTML report for the PDF: {exc.strerror or exc}."
            raise RenderError(msg, notebook=str(html), stage="pdf") from exc
        text = _BROWSER_STYLE.sub("", _SCRIPT_BLOCK.sub("", text))
        text = _charts_as_images(_CHART_DATA.sub("", _NARROW_SVG.sub("", text)))
        weasyprint = _weasyprint()
        try:
            document = weasyprint.HTML(
                string=text, base_url=str(html.parent.resolve()) + os.sep, url_fetcher=self._get_fetcher()
            )
            sheets = [self._get_page_css(size)]
            laid = document.render(stylesheets=sheets, font_config=self._get_fonts())
            if len(laid.pages) > 1 and last_page_fill(laid) < NEARLY_EMPTY:
                # a few lines on a last page of their own: tighter type and charts, kept if they save the page
                tight = document.render(stylesheets=[*sheets, self._get_tight_css()], font_config=self._get_fonts())
                if len(tight.pages) < len(laid.pages):
                    laid = tight
            atomic_write(out, lambda tmp: laid.write_pdf(tmp))
        except RenderError:
            raise
        except Exception as exc:
            msg = f"{html}: the PDF could not be made: {type(exc).__name__}: {exc}."
            raise RenderError(msg, notebook=str(html), stage="pdf", path=str(out)) from exc
        return out

    def render(self, notebook: Path | Any, html_out: Path, pdf_out: Path | None = None) -> RenderResult:
        """HTML (and, with ``pdf_out``, PDF) of one notebook, with timings for the run manifest."""
        t0 = time.perf_counter()
        html = self.html(notebook, html_out)
        t1 = time.perf_counter()
        pdf = self.pdf(html, pdf_out) if pdf_out is not None else None
        t2 = time.perf_counter()
        return RenderResult(html=html, pdf=pdf, html_seconds=t1 - t0, pdf_seconds=t2 - t1)

    # -- internals

    def _get_exporter(self) -> Any:
        if self._exporter is None:
            self._exporter = _make_exporter()
        return self._exporter

    def _get_bundle(self) -> str:
        if self._bundle is None:
            self._bundle = vega_bundle(self.cache_dir)
        return self._bundle

    def _get_fonts(self) -> Any:
        # one font configuration for every PDF of this renderer: ~70 ms less per report
        if self._fonts is None:
            from weasyprint.text.fonts import FontConfiguration

            self._fonts = FontConfiguration()
        return self._fonts

    def _get_page_css(self, size: str) -> Any:
        if size not in self._page_css:
            weasyprint = _weasyprint()
            self._page_css[size] = weasyprint.CSS(
                string=f"@page {{ size: {size} !important; }}", font_config=self._get_fonts()
            )
        return self._page_css[size]

    def _get_tight_css(self) -> Any:
        if self._tight_css is None:
            path = TEMPLATE_DIR / TEMPLATE_NAME / "static" / "print-tight.css"
            self._tight_css = _weasyprint().CSS(string=path.read_text(encoding="utf-8"), font_config=self._get_fonts())
        return self._tight_css

    def _get_fetcher(self) -> Any:
        if self._fetcher is None:
            from weasyprint.urls import URLFetcher

            self._fetcher = URLFetcher(allowed_protocols={"file", "data"})
        return self._fetcher

    def _resources(self, nb: Any, name: str, *, interactive: bool, page_size: str) -> dict[str, Any]:
        meta = dict(nb.metadata.get("salesreports", {}) or {})
        kind = str(meta.get("kind") or "rep")
        fallback = Path(name).stem if name.endswith(".ipynb") else "Report"
        # data strings are isolated (FSI…PDI) wherever they sit in text beside other words: the template's
        # sr_bdi filter turns each isolated run into <bdi>, and the <title>, PDF footer and page margins keep them
        title = one_line(meta.get("title") or isolate(meta.get("rep_name")) or fallback)
        subtitle = one_line(meta.get("subtitle") or "")
        team = meta.get("team")
        if kind != "rep" and team == "company":  # the whole company (scope's id): its page's name, not the id
            team = meta.get("title") or team
        who = isolate((meta.get("rep_name") if kind == "rep" else team) or team or title)
        when = one_line(meta.get("period_title") or meta.get("period") or "")
        locale = meta.get("locale")  # a report in another locale than en_US (scope.header)
        generated = format_timestamp(meta.get("generated_at"), formatter(str(locale)) if locale else None)
        company = one_line(meta.get("company") or "")
        footer = f"{isolate(company)} · " if company else ""
        if generated:
            made = _("Made by salesreports {version} on {generated}.")
        else:
            made = _("Made by salesreports {version}.")
        footer += made.format(version=__version__, generated=generated)
        return {
            "lang": html_lang(locale),
            "version": __version__,
            "kind": re.sub(r"[^a-z0-9-]", "", kind.lower()) or "rep",
            "company": company,
            "title": title,
            "subtitle": subtitle,
            "who": who,
            "when": when,
            "generated": generated,
            "page_title": " · ".join(p for p in (title, subtitle) if p),
            "page_size": page_size,
            "page_counter": page_counter(),
            "css": _page_css(browser=False),
            "css_browser": _page_css(browser=True),
            "footer": footer,
            "bundle": self._get_bundle() if interactive else "",
        }


# -- module-level API ----------------------------------------------------------------------------------------

_DEFAULT: Renderer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_renderer() -> Renderer:
    """The process-wide renderer behind :func:`render_html` and :func:`render_pdf` (warm it in a batch worker)."""
    return _default()


def _default() -> Renderer:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Renderer()
        return _DEFAULT


def render_html(notebook: Path | Any, out: Path, *, interactive: bool = False, page_size: PageSize = "A4") -> Path:
    """Render an executed report notebook to a self-contained HTML file.

    Parameters
    ----------
    notebook
        A path to an ``.ipynb`` file or a ``NotebookNode``.
    out
        The HTML file to write (atomically; folders are created).
    interactive
        Inline the Vega bundle once and draw charts live (still offline); the static SVG stays as fallback.
    page_size
        ``"A4"`` or ``"Letter"``, for printing from a browser.

    Returns
    -------
    The path written.

    Raises
    ------
    RenderError
        Naming the notebook and what failed.
    """
    return _default().html(notebook, out, interactive=interactive, page_size=page_size)


def render_pdf(html: Path, out: Path, *, page_size: PageSize = "A4") -> Path:
    """Render an HTML report (from :func:`render_html`) to PDF with WeasyPrint.

    Parameters
    ----------
    html
        The HTML report.
    out
        The PDF file to write (atomically).
    page_size
        ``"A4"`` or ``"Letter"``.

    Returns
    -------
    The path written.

    Raises
    ------
    RenderError
        The HTML cannot be read, WeasyPrint fails or the file cannot be written.
    """
    return _default().pdf(html, out, page_size=page_size)


# -- helpers -------------------------------------------------------------------------------------------------


def last_page_fill(document: Any) -> float:
    """How much of a laid-out WeasyPrint document's last page its content fills, from 0 to 1 (of the height
    between the page margins); 1 when WeasyPrint does not say (its page boxes are not public API)."""
    try:
        page = document.pages[-1]._page_box
        root = page.children[0]
        return float((root.position_y + root.margin_height() - page.content_box_y()) / page.height)
    except (AttributeError, IndexError, TypeError):
        return 1.0


def _charts_as_images(text: str) -> str:
    """Each chart's inline SVG as an ``<img>`` of the same SVG, for WeasyPrint.

    The page looks the same (checked pixel for pixel with pdftoppm), but WeasyPrint lays out an SVG
    image about a third faster than the same SVG inline, where every element goes through the HTML
    tree and its style cascade.
    """
    import base64

    def image(match: re.Match[str]) -> str:
        data = base64.b64encode(match.group(2).encode("utf-8")).decode("ascii")
        img = f'<img src="data:image/svg+xml;base64,{data}" alt="" style="display:block;width:100%;height:auto">'
        return f"{match.group(1)}{img}{match.group(3)}"

    return _CHART_SVG.sub(image, text)


def _page_size(size: str) -> PageSize:
    for known in PAGE_SIZES:
        if str(size).strip().lower() == known.lower():
            return known
    msg = f"unknown page size {size!r}; use A4 or Letter."
    raise RenderError(msg, stage="options", page_size=str(size))


def _default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"salesreports-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def atomic_write(out: Path, write: Callable[[Path], Any]) -> None:
    """Write a file atomically: via ``write(tmp)`` to a temporary file beside ``out``, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)
        tmp.replace(out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _first_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, without the JavaScript stack (``at f (https://…)`` lines) that
    vl-convert appends, cut short."""
    lines = []
    for line in str(exc).splitlines():
        if line.strip().startswith("at "):
            break
        lines.append(line.strip())
    text = " ".join(line for line in lines if line) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ISOLATED = re.compile(f"{FSI}([^{FSI}{PDI}]*){PDI}")


def bdi(value: Any) -> str:
    """Text for HTML: escaped, with every isolated data string (:func:`salesreports.text.isolate`) in a
    ``<bdi>`` element (the isolate characters stay inside it, for PDF readers and copied text).

    The one rule for data strings in the page template's headings (the ``sr_bdi`` filter).
    """
    text = _html.escape(clean(value), quote=True)
    return _ISOLATED.sub(lambda m: f"<bdi>{FSI}{m[1]}{PDI}</bdi>", text)


def _describe(notebook: Any) -> str:
    if isinstance(notebook, (str, os.PathLike)):
        return str(notebook)
    meta = getattr(notebook, "metadata", {}) or {}
    sr = meta.get("salesreports", {}) or {}
    parts = [str(sr[k]) for k in ("kind", "rep_id", "team", "period") if sr.get(k)]
    return f"notebook ({', '.join(parts)})" if parts else "notebook (in memory)"


def _read(notebook: Any) -> Any:
    import nbformat

    if isinstance(notebook, (str, os.PathLike)):
        path = Path(notebook)
        try:
            return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:  # JSON errors are ValueErrors; nbformat's own too
            msg = f"{path}: cannot read the notebook: {exc}."
            raise RenderError(msg, notebook=str(path), stage="read") from exc
    if not hasattr(notebook, "cells"):
        msg = f"expected a notebook path or NotebookNode, got {type(notebook).__name__}."
        raise RenderError(msg, stage="read")
    return notebook


def _prepare(nb: Any, *, interactive: bool) -> tuple[Any, int]:
    """A copy of ``nb`` without tagged cells and with chart bundles as ``<figure>`` HTML; also the chart count."""
    from nbformat import NotebookNode

    node: Callable[[Mapping[str, Any]], Any] = NotebookNode
    count = 0
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", ()))
        if tags & REMOVE_CELL_TAGS:
            continue
        if tags & REMOVE_OUTPUT_TAGS:
            cell = node({**cell, "outputs": []})
        if cell.get("cell_type") == "markdown" and i18n.language() != "en":
            # the template's narrative in the report's language, paragraph by paragraph (salesreports.catalogs
            # extracts the same paragraphs); a paragraph without a translation stays as written
            cell = node({**cell, "source": i18n.translate_markdown(_source(cell))})
        outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
        if not outputs or not any(CHART_MIME in (o.get("data") or {}) for o in outputs):
            cells.append(cell)
            continue
        new_outputs = []
        for output in outputs:
            data = output.get("data") or {}
            if CHART_MIME in data:
                count += 1
                payload = data[CHART_MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                figure = chart_figure(payload, index=count, interactive=interactive)
                output = node({**output, "data": node({FIGURE_MIME: figure})})
            new_outputs.append(output)
        cells.append(node({**cell, "outputs": new_outputs}))
    # a shallow copy: the caller's notebook is left as it was; nbconvert deep-copies what it gets anyway
    return node({**nb, "cells": _without_empty_sections(cells)}), count


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _is_heading(cell: Mapping[str, Any]) -> bool:
    return cell.get("cell_type") == "markdown" and _source(cell).lstrip().startswith("#")


def report_locale(notebook: Any) -> str | None:
    """The locale of an executed report notebook (its ``salesreports`` metadata, :func:`scope.header`): a
    report in en_US has none."""
    meta = getattr(notebook, "metadata", None) or {}
    locale = (meta.get("salesreports") or {}).get("locale")
    return str(locale) if locale else None


def html_lang(locale: str | None) -> str:
    """The ``lang`` attribute of a report's page: its locale as a BCP 47 tag (``de_DE`` -> ``de-DE``),
    ``en-US`` by default."""
    return str(locale or "en_US").replace("_", "-")


def _without_empty_sections(cells: list[Any]) -> list[Any]:
    """Leave out a section the data could not fill: a Markdown cell that starts with a heading, followed by
    code cells (up to the next Markdown cell) none of which shows anything. A view returns ``None`` for a
    section without its data (no ramp without hire dates), so its heading and narrative go with it."""
    keep = [True] * len(cells)
    for i, cell in enumerate(cells):
        if not _is_heading(cell):
            continue
        j = i + 1
        while j < len(cells) and cells[j].get("cell_type") != "markdown":
            j += 1
        code = [c for c in cells[i + 1 : j] if c.get("cell_type") == "code"]
        if code and not any(c.get("outputs") for c in code):
            keep[i] = False
    return [c for c, k in zip(cells, keep, strict=True) if k]


def _make_exporter() -> Any:
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from traitlets.config import Config

    data_type_filter: Any = WidgetsDataTypeFilter
    render_template: Any = TemplateExporter.from_notebook_node

    class PageExporter(HTMLExporter):
        """HTMLExporter without its final BeautifulSoup pass, which re-serialises the whole page (~20 ms a
        report) only to add focus and alt attributes to JupyterLab markup this template does not produce."""

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            this: Any = self
            resources = this._init_resources(resources)
            priority = this.default_config["NbConvertBase"]["display_data_priority"]
            data_types = data_type_filter(notebook_metadata=this._nb_metadata, parent=this, resources=resources)
            data_types.display_data_priority = [FIGURE_MIME, *priority]
            this.register_filter("filter_data_type", data_types)
            return render_template(this, nb, resources, **kw)

    config = Config()
    # _prepare() already removed tagged cells; nbconvert's preprocessors would only re-validate the notebook
    config.HTMLExporter.default_preprocessors = []
    exporter_class: Any = PageExporter
    exporter: Any = exporter_class(
        config=config,
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    exporter.register_filter("sr_markdown", _markdown_trusted)
    exporter.register_filter("sr_markdown_output", _markdown_data)
    exporter.register_filter("sr_clean_html", offline_html)
    exporter.register_filter("sr_bdi", bdi)
    exporter.register_filter("sr_base64", lambda s: re.sub(r"\s+", "", str(s)))
    # the template's words: _() and ngettext() in the active language (Renderer.html_text sets the report's)
    environment = exporter.environment
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=False)
    return exporter


@cache
def _markdown_renderers() -> tuple[Any, Any]:
    import mistune

    plugins: list[Any] = ["strikethrough", "table", "url", "task_lists", "def_list"]
    # no math plugin: "$" is money, never TeX
    return (
        mistune.create_markdown(escape=False, plugins=plugins),
        mistune.create_markdown(escape=True, plugins=plugins),
    )


def _markdown_trusted(text: str) -> str:
    """Markdown of a template's own cells (raw HTML allowed, made offline)."""
    return offline_html(str(_markdown_renderers()[0](str(text))))


def _markdown_data(text: str) -> str:
    """Markdown produced from data (raw HTML escaped)."""
    return offline_html(str(_markdown_renderers()[1](str(text))))


def offline_html(text: str) -> str:
    """Remove what would run code or reach the network: scripts, ``<link>``, remote src/href, event handlers."""
    text = _SCRIPT_BLOCK.sub("", str(text))
    text = _SCRIPT_OPEN.sub("", text)
    text = _LINK_TAG.sub("", text)
    return _TAG.sub(_offline_tag, text)


def _offline_tag(match: re.Match[str]) -> str:
    tag = match[0]
    if "=" not in tag:
        return tag
    tag = _REMOTE_ATTR.sub(lambda m: f"data-remote-{m[1].lower()}={m[2]}{m[2]}", tag)
    tag = _JS_URL.sub(lambda m: f"{m[1]}={m[2]}#{m[2]}", tag)
    return _EVENT_ATTR.sub("", tag)


@cache
def _page_css(*, browser: bool) -> str:
    """The page's CSS: portable rules (browsers and WeasyPrint), or the browser-only ones."""
    static = TEMPLATE_DIR / TEMPLATE_NAME / "static"
    if browser:
        return (
            (static / "components-screen.css").read_text(encoding="utf-8")
            + "\n"
            + (static / "report-screen.css").read_text(encoding="utf-8")
        )
    return component_css(browser=False) + "\n" + (static / "report.css").read_text(encoding="utf-8")


def json_for_script(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page_counter() -> str:
    """The PDF's "Page 1 of 4" in the active language as CSS ``content`` (strings and page counters)."""
    parts = re.split(r"(\{page\}|\{pages\})", _("Page {page} of {pages}"))
    out = []
    for part in parts:
        if part in ("{page}", "{pages}"):
            out.append(f"counter({part[1:-1]})")
        elif part:
            out.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def format_timestamp(value: Any, formats: Formatter | None = None) -> str:
    """An ISO timestamp for people: ``1 Nov 2026, 08:00 UTC``, its day in the locale of ``formats`` (``1. Nov.
    2026, 08:00 UTC``); unparseable text is returned as is."""
    if not value:
        return ""
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    text = f"{stamp.day} {stamp:%b %Y, %H:%M}" if formats is None else f"{formats.date(stamp.date())}, {stamp:%H:%M}"
    offset = stamp.utcoffset()
    if offset is None:
        return text
    if offset == dt.timedelta(0):
        return text + " UTC"
    return text + " " + stamp.strftime("%z")[:3] + ":" + stamp.strftime("%z")[3:]


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError as exc:  # pragma: no cover - a declared dependency
        msg = f"PDF needs WeasyPrint: pip install 'weasyprint>=62' (and the pango libraries: make sysdeps). ({exc})"
        raise RenderError(msg, stage="pdf") from exc
    return weasyprint
