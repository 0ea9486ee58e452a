"""Previews: one report executed and rendered into its own folder, never into a period's production output.

``salesreports preview`` writes to ``build/preview/<period>/<report>/`` (beside ``output_dir``): the context,
the executed notebook, its HTML and PDF. It never touches ``build/reports/<period>/``, its manifest or the
outbox, so ``salesreports send`` only ever sends what ``salesreports run`` produced.

A :class:`Previewer` keeps the data loaded and the KPIs computed, so that re-rendering (``--watch``) costs only
the report itself; the report runs guarded (:mod:`salesreports.guard`) in a child forked from a warm zygote,
as in a batch.

A one-off ``preview`` or ``check`` with no kept context starts a :class:`ContextBuilder`: a process forked
from this one that loads the data and builds and keeps (:mod:`salesreports.report.cache`) the contexts the
command needs, while the zygote imports the report libraries and this process warms its renderer, on the
other core. The command then uses the kept contexts as it would a second time; a context the builder could
not build is built here as before (a failure to build one is raised here as it was raised there).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from salesreports.errors import ParamsError, SalesReportsError
from salesreports.params import Config
from salesreports.paths import folder_names, inside, slug
from salesreports.run.jobs import Job, JobResult

__all__ = [
    "ContextBuilder",
    "PreviewResult",
    "Previewer",
    "describe_failure",
    "execute_defaults",
    "failing_cell",
    "keep_contexts",
    "preview_folder",
    "warm_start",
]

T = TypeVar("T")


def preview_folder(config: Config) -> Path:
    """Where previews go: ``preview/`` beside the reports' output folder (``build/preview``)."""
    return config.output_path.parent / "preview"


@dataclass
class PreviewResult:
    """One preview: where its pages are and how it went."""

    status: str
    html: Path
    pdf: Path | None
    notebook: Path
    error: str = ""
    failed_notebook: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def warm_start(*, import_here: bool = False, count: int = 1) -> None:
    """Start the warm report process now, so that it imports the report libraries while this one loads the data.

    Call it while this process has one thread: the zygote is then forked from it (later it would be started as
    a fresh interpreter). Close it with ``zygotes.close()``.

    With ``import_here`` (a :class:`ContextBuilder` is loading the data on the other core) this process imports
    the report libraries first and forks the zygote with them: they are imported once, not once here (for the
    renderer) and once in the zygote, on the core the builder leaves. ``count`` zygotes run that many reports
    at a time (``check``'s templates).
    """
    from salesreports.run.processes import os_threads, quiet_threads, skip_unneeded_imports
    from salesreports.run.zygote import Zygote, import_report_modules, zygotes

    skip_unneeded_imports()
    if os_threads() != 1:
        return
    if import_here:
        quiet_threads()  # no BLAS thread pool here: the zygote is forked after these imports
        import_report_modules()
    for _ in range(count if os_threads() == 1 else 0):
        zygotes.add(Zygote.start("fork"))


def _kind_of(template: Path) -> str:
    from salesreports.run.notebooks import template_parameters

    return "team" if "team" in template_parameters(template) else "rep"


class Previewer:
    """One report to preview, with the data loaded and the KPIs computed once (see the module docstring).

    Parameters
    ----------
    config : the settings
    ident : the rep id (or the team name, or ``company``, for a team template)
    period : the month, quarter (2026-Q3) or year (2026) (default: the latest complete month in the data)
    template : the template (default: the settings' template for its kind)
    kind : ``rep`` or ``team`` (default: from the template's parameters)
    pdf : also render the PDF
    html : render the pages at all (``check`` only executes)
    folder : where its files go (default: :func:`preview_folder`)
    shared : a previewer whose data and KPIs this one uses (and its scope, when both serve several reports of
        one period)
    every_rep : its scope serves several reports: built for every rep, not only for this rep's page
    """

    def __init__(
        self,
        config: Config,
        ident: str,
        *,
        period: str | None = None,
        template: Path | None = None,
        kind: str | None = None,
        pdf: bool = True,
        html: bool = True,
        folder: Path | None = None,
        shared: Previewer | None = None,
        every_rep: bool = False,
    ) -> None:
        self.config = config
        self.folder = folder or preview_folder(config)
        self.html = html
        self.ident = ident
        self.period_label = period
        self.kind = kind or (_kind_of(template) if template else "rep")
        self.template = (template or config.template_for(self.kind, review=_is_review(period))).resolve()
        self.pdf = pdf and config.pdf.enabled
        self._data: Any = shared._data if shared else None
        self._table: Any = shared._table if shared else None
        # a scope serving several reports is built for every rep; a rep's own, with only the goals its page shows
        self._every_rep = every_rep or self.kind != "rep"
        same = shared is not None and shared._every_rep and self._every_rep and shared.period_label == period
        self._scope: Any = shared._scope if same and shared is not None else None
        self._warming: Any = None  # the thread warming this process's renderer (see warm_renderer)
        self.builder: ContextBuilder | None = None  # a process building the context meanwhile (see job)

    def warm_renderer(self, mode: str = "fast") -> None:
        """Start warming this process's HTML/PDF renderer in a thread, now, so that it overlaps the loading of
        the data and the report; :meth:`render` waits for it before rendering.

        Only once a zygote is started (a thread here would make the next zygote a fresh interpreter instead of
        a fork), only in ``fast`` mode and only when the report has pages; at most one thread at a time.
        """
        from salesreports.run.worker import warm_renderer_in_background
        from salesreports.run.zygote import zygotes

        if self._warming is not None or not self.html or mode != "fast" or zygotes.idle() == 0:
            return
        self._warming = warm_renderer_in_background(pdf=self.pdf, page_size=self.config.pdf.page_size)

    def load(self) -> None:
        """Load and validate the data, compute every KPI (again: after a change of ``kpis.yaml``) and build the
        report period's scope."""
        from salesreports.metrics.periods import parse_period, report_period
        from salesreports.report.scope import build_scope
        from salesreports.run.batch import default_period

        self.load_table()
        period = parse_period(self.period_label) if self.period_label else default_period(self._table.grid.as_of)
        report_period(period, self._table.grid.months[0], self._table.grid.months[-1])
        rep = None if self._every_rep else self.ident  # a rep's own scope: only the goals its page can show
        self._scope = build_scope(self._data, self._table, self.config, period, rep=rep)

    def load_table(self) -> None:
        """Load and validate the data (once) and compute every KPI (again, after a scope was built: a second
        :meth:`load` means ``kpis.yaml`` changed)."""
        from salesreports.data.loading import load_dataset
        from salesreports.data.validate import validate
        from salesreports.metrics.engine import compute_kpis

        if self._data is None:
            self._data = load_dataset(self.config.source_path)
            validate(self._data)
        if self._table is None or self._scope is not None:
            self._table = compute_kpis(self._data)

    def reset(self, *, data: bool) -> None:
        """Forget the KPIs (and with ``data``, the data too): the next render loads them again."""
        if data:
            self._data = None
        self._table = None
        self._scope = None

    def job(self) -> Job:
        """Check the template, write the report's context into the preview folder and return its job.

        Without data loaded yet, a context kept from an earlier preview with the same inputs is used
        (:mod:`salesreports.report.cache`): the data is then not loaded at all.
        """
        from salesreports.report import cache
        from salesreports.run.notebooks import REPORT_PARAMS, check_parameters, check_template_runs

        check_template_runs(self.template)
        check_parameters(self.template, sorted(REPORT_PARAMS[self.kind]))
        key = cache.context_key(self.config, self.kind, self.ident, self.period_label) if self._scope is None else None
        failed = self.builder.wait(key).get(key) if self.builder is not None and key is not None else None
        notes = cache.kept_notes(self.config, key) or {}
        label, sub = str(notes.get("period") or ""), str(notes.get("folder") or "")
        folder = inside(self.folder / slug(label), sub) if label and sub else None
        if folder is None or not cache.copy_kept(self.config, key, folder):  # nothing kept: build it
            if failed is not None:  # the builder met this error building it from the same inputs
                raise failed
            from salesreports.report.contexts import write_context  # pandas and pyarrow: only to build one

            context, label, sub = self._context()
            cache.keep(self.config, key, context, {"period": label, "folder": sub})
            folder = inside(self.folder / slug(label), sub)
            write_context(context, folder / "context.json")
        ctx_path = folder / "context.json"
        stem = slug(self.template.stem)
        parameters = {"period": label, "context": str(ctx_path)}
        parameters["rep_id" if self.kind == "rep" else "team"] = self.ident
        return Job(
            key=f"preview:{self.kind}/{self.ident}",
            kind=self.kind,
            template=str(self.template),
            notebook=str(folder / f"{stem}.ipynb"),
            parameters=parameters,
            cwd=str(self.template.parent),
            html=str(folder / f"{stem}.html") if self.html else "",
            pdf=str(folder / f"{stem}.pdf") if self.pdf and self.html else "",
            page_size=self.config.pdf.page_size,
            timeout=self.config.run.timeout,
            kernel=self.config.run.kernel,
        )

    def _context(self) -> tuple[dict[str, Any], str, str]:
        """The report's context built from the data (loaded first if needed), its period label and folder name."""
        if self._scope is None:
            self.load()
        scope = self._scope
        if self.kind == "rep":
            if self.ident not in scope.rep_ids():
                from salesreports.errors import close_matches

                hint = close_matches(self.ident, scope.rep_ids())
                msg = f"unknown rep id '{self.ident}'.{hint} Fix: use an id from the reps table."
                raise ParamsError(msg, rep=self.ident)
            reason = scope.employment(self.ident)
            if reason:
                msg = f"rep '{self.ident}' has no report for {scope.period.label}: {reason}."
                raise ParamsError(msg, rep=self.ident)
            context = scope.rep_context(self.ident)
        else:
            context = scope.team_context(self.ident)
        sub = folder_names(scope.rep_ids(), [*scope.teams(), "company"])[(self.kind, self.ident)]
        return context, scope.period.label, sub

    def render(self, mode: str = "fast") -> PreviewResult:
        """Execute and render the report into the preview folder; never raises for a failing report."""
        from salesreports.run.worker import run_job

        started = time.perf_counter()
        try:
            job = self.job()
        except BaseException:
            self._join_warming()
            raise
        # the renderer warms while the report runs (or since warm_renderer() was called), in a thread
        self.warm_renderer(mode)
        warming = self._warming
        try:
            result: JobResult = run_job(
                job,
                mode,  # type: ignore[arg-type]
                before_render=warming.wait_html if warming else None,
                before_pdf=warming.join if warming else None,
            )
        finally:
            self._join_warming()  # also when the report failed: never two warm-ups of one renderer at once
        return PreviewResult(
            status=result.status,
            html=Path(job.html or job.notebook),
            pdf=Path(job.pdf) if job.pdf else None,
            notebook=Path(job.notebook),
            error=result.error,
            failed_notebook=result.failed_notebook,
            seconds=time.perf_counter() - started,
            timings=result.timings,
        )

    def _join_warming(self) -> None:
        if self._warming is not None:
            self._warming.join()
            self._warming = None


def keep_contexts(
    config: Config,
    reports: Sequence[tuple[str, str, str | None]],
    keys: Sequence[str | None] | None = None,
    *,
    done: Callable[[str, SalesReportsError | None], None] | None = None,
    shared: Previewer | None = None,
) -> dict[str, SalesReportsError]:
    """Build and keep the contexts of ``reports`` (``(kind, ident, period)``) that are not kept yet, the data
    loaded once and one scope built per period; the error of each one that cannot be built, by its cache key.

    A report whose inputs cannot be kept (a database source) is left out: it is built where it is used.
    ``keys`` are the reports' cache keys when known (:func:`salesreports.report.cache.context_key`). ``done``
    is called with each report's key (and its error) as soon as it is kept (or fails), in the order of
    ``reports``' periods: the first period's reports first. ``shared``: a previewer whose data and KPIs to use.
    """
    from salesreports.report import cache

    if keys is None:
        keys = [cache.context_key(config, kind, ident, period) for kind, ident, period in reports]
    wanted = {k: r for r, k in zip(reports, keys, strict=True) if k is not None}  # a report asked twice: once
    todo = [(r, k) for k, r in wanted.items() if cache.kept_notes(config, k) is None]
    todo, per_period = _by_period(todo, lambda item: item[0][2])
    errors: dict[str, SalesReportsError] = {}
    for (kind, ident, period), key in todo:
        previewer: Previewer | None = None
        error: SalesReportsError | None = None
        try:
            previewer = Previewer(
                config, ident, period=period, kind=kind, html=False, shared=shared, every_rep=per_period[period] > 1
            )
            context, label, sub = previewer._context()
            cache.keep(config, key, context, {"period": label, "folder": sub})
        except SalesReportsError as err:
            errors[key] = error = err
        if done is not None:
            done(key, error)
        if previewer is not None and previewer._table is not None and (shared is None or previewer._scope is not None):
            shared = previewer  # the data loaded and the KPIs computed (and its period's scope): for the next
    return errors


def _by_period(items: Sequence[T], period: Callable[[T], str | None]) -> tuple[list[T], Counter[str | None]]:
    """``items`` with each period's one after another (its scope is built once, and its reports run as it is
    built), periods in the order they first come; and how many items each period has."""
    periods = list(dict.fromkeys(map(period, items)))
    return sorted(items, key=lambda item: periods.index(period(item))), Counter(map(period, items))


class ContextBuilder:
    """A process forked from this one that runs :func:`keep_contexts` (see the module docstring).

    Start it while this process has one thread (:meth:`start` declines otherwise, and when every context is
    kept already or cannot be kept). It says as each context is kept (or fails), so that the first report can
    run while the next contexts are built; :meth:`wait` waits for one context (or all) and returns the errors
    it met, by cache key. Nothing it does is needed: a context it did not keep is built by its user as before.
    """

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._errors: dict[str, SalesReportsError] = {}
        self._done: set[str] = set()
        self._buffer = b""
        self._ended = False
        self._lock = threading.Lock()  # reports run in threads (check) wait for their contexts

    @classmethod
    def start(
        cls, config: Config, reports: Sequence[tuple[str, str, str | None]], keys: Sequence[str | None] | None = None
    ) -> ContextBuilder | None:
        """Fork the builder for ``reports`` (``(kind, ident, period)``), or ``None`` when it would not help.
        ``keys``: the reports' cache keys, when known."""
        import os

        from salesreports.report import cache
        from salesreports.run.processes import os_threads

        if not hasattr(os, "fork") or os_threads() != 1:
            return None
        if keys is None:
            keys = [cache.context_key(config, kind, ident, period) for kind, ident, period in reports]
        if all(key is None or cache.kept_notes(config, key) is not None for key in keys):
            return None
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the forked builder (its work is tested through keep_contexts)
            os.close(read_fd)
            _build_and_exit(config, reports, keys, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd)

    def wait(self, key: str | None = None) -> dict[str, SalesReportsError]:
        """Wait until the builder is done with the context of ``key`` (with every context, without one); the
        errors it met building contexts so far, by cache key."""
        import os

        with self._lock:
            while not self._ended and (key is None or key not in self._done):
                try:
                    chunk = os.read(self._fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:  # the builder is done (or died: its contexts are built where needed)
                    self._end()
                    break
                self._buffer += chunk
                self._take_messages()
            return dict(self._errors)

    def _take_messages(self) -> None:
        import pickle

        while len(self._buffer) >= _HEADER and len(self._buffer) >= _HEADER + (size := _length(self._buffer)):
            message, self._buffer = self._buffer[_HEADER : _HEADER + size], self._buffer[_HEADER + size :]
            try:
                key, error = pickle.loads(message)  # noqa: S301 - written by our own forked builder
            except Exception:  # noqa: S112 - not ours to read: its context is built where needed
                continue
            self._done.add(str(key))
            if isinstance(error, SalesReportsError):
                self._errors[str(key)] = error

    def _end(self) -> None:
        import os

        self._ended = True
        os.close(self._fd)
        os.waitpid(self.pid, 0)


_HEADER = 4  # each message of the builder: its length (4 bytes, big-endian), then the pickled (key, error)


def _length(buffer: bytes) -> int:
    return int.from_bytes(buffer[:_HEADER], "big")


def _send(fd: int, key: str, error: SalesReportsError | None) -> None:
    """Tell the builder's user that ``key`` is done, with its error when that pickles into one atomic write of
    the pipe (the builder's lanes share it); else without: the user then meets the error building it."""
    import os
    import pickle
    import select

    body = b""
    with contextlib.suppress(Exception):
        body = pickle.dumps((key, error))
    if not body or len(body) + _HEADER > select.PIPE_BUF:
        body = pickle.dumps((key, None))
    data = len(body).to_bytes(_HEADER, "big") + body
    while data:
        data = data[os.write(fd, data) :]


def _build_and_exit(
    config: Config, reports: Sequence[tuple[str, str, str | None]], keys: Sequence[str | None], fd: int
) -> NoReturn:
    """The builder process: keep the contexts, telling ``fd`` as each is done (:func:`_send`), and exit.

    Contexts of several periods: the data is loaded and the KPIs computed once, then each period's scope (the
    bulk of the rest) is built in a lane of its own, one per core: this process and processes forked from it,
    sharing the loaded data. It exits once every lane is done.
    """
    import os

    from salesreports.report import cache
    from salesreports.run.processes import die_with_parent, quiet_threads, skip_unneeded_imports, usable_cores

    status = 0
    lanes: list[int] = []
    try:
        die_with_parent()
        quiet_threads()  # no BLAS thread pool: this process may fork its lanes
        skip_unneeded_imports()

        def send(key: str, error: SalesReportsError | None) -> None:
            _send(fd, key, error)

        todo = [(r, k) for r, k in zip(reports, keys, strict=True) if cache.kept_notes(config, k) is None]
        todo = [(r, k) for r, k in todo if k is not None]  # a database's contexts are built where they are used
        periods = list(dict.fromkeys(period for (_, _, period), _ in todo))
        cores = usable_cores()
        shared = _loaded(config, todo) if len(periods) > 1 and cores > 1 else None
        if shared is not None:
            count = min(cores, len(periods))
            mine = set(periods[0::count])
            for lane in range(1, count):
                theirs = set(periods[lane::count])
                part = [(r, k) for r, k in todo if r[2] in theirs]
                pid = os.fork()
                if pid == 0:  # pragma: no cover - a lane (its work is keep_contexts, tested on its own)
                    _lane_and_exit(config, part, shared, send)
                lanes.append(pid)
            todo = [(r, k) for r, k in todo if r[2] in mine]
        keep_contexts(config, [r for r, _ in todo], [k for _, k in todo], done=send, shared=shared)
    except BaseException:
        status = 1
    finally:
        for pid in lanes:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        os._exit(status)


def _loaded(config: Config, todo: Sequence[tuple[tuple[str, str, str | None], str | None]]) -> Previewer | None:
    """A previewer of the first report with the data loaded and the KPIs computed (None when that fails: each
    report then meets the error in :func:`keep_contexts`)."""
    (kind, ident, period), _ = todo[0]
    try:
        previewer = Previewer(config, ident, period=period, kind=kind, html=False)
        previewer.load_table()
    except SalesReportsError:
        return None
    return previewer


def _lane_and_exit(
    config: Config,
    todo: Sequence[tuple[tuple[str, str, str | None], str | None]],
    shared: Previewer,
    send: Callable[[str, SalesReportsError | None], None],
) -> NoReturn:  # pragma: no cover - a forked lane of the builder
    import os

    from salesreports.run.processes import die_with_parent

    status = 0
    try:
        die_with_parent()
        keep_contexts(config, [r for r, _ in todo], [k for _, k in todo], done=send, shared=shared)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def describe_failure(result: PreviewResult) -> tuple[str, str]:
    """A failed preview's cell, named as JupyterLab shows it in the template ("" when unknown), and its error:
    with the cell named, without the run's execution count ("in cell [5]"), so that the cell has one number."""
    cell = failing_cell(Path(result.failed_notebook)) if result.failed_notebook else ""
    return cell, _ERROR_CELL.sub(r"\1:", result.error, count=1) if cell else result.error


def failing_cell(notebook: Path) -> str:
    """The cell that failed in an executed notebook, named as JupyterLab shows it in the template ("" if none)."""
    import json

    from salesreports.guard import cell_name

    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    added = 0  # cells papermill added: the injected parameters and its red "an exception occurred" banners
    for index, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            added += 1
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            source = cell.get("source", "")
            return cell_name(index + 1 - added, "".join(source) if isinstance(source, list) else source)
    return ""


def execute_defaults(
    config: Config, templates: list[Path], folder: Path, *, build_apart: bool = False
) -> dict[Path, str]:
    """Execute each template with its default parameters; the error of each one that fails ("" when it runs).

    The data is loaded and the KPIs computed once for all templates; each report runs guarded in a child
    forked from a warm zygote, as in a batch, with its context written into ``folder``. With ``build_apart``
    (call it while this process has one thread) the contexts not kept yet are built in a
    :class:`ContextBuilder` while this process imports the report libraries, and the templates run on as many
    zygotes as there are cores, each as soon as its context is kept.
    """
    import ast

    from salesreports.report import cache
    from salesreports.run.notebooks import template_parameters
    from salesreports.run.processes import usable_cores

    def literal(values: dict[str, Any], name: str) -> str:
        try:
            return str(ast.literal_eval(str(values.get(name))))
        except (ValueError, SyntaxError):
            return ""

    reports: list[tuple[str, str, str | None]] = []
    for template in templates:
        defaults = {k: v.get("default") for k, v in template_parameters(template).items()}
        kind = "team" if "team" in defaults else "rep"
        reports.append(
            (kind, literal(defaults, "team" if kind == "team" else "rep_id"), literal(defaults, "period") or None)
        )
    keys = [cache.context_key(config, kind, ident, period) for kind, ident, period in reports] if build_apart else []
    builder = ContextBuilder.start(config, reports, keys) if build_apart else None
    # at a time: one report per core, when every context comes from the builder or was kept (none is built here)
    apart = build_apart and (builder is not None or all(cache.kept_notes(config, key) is not None for key in keys))
    lanes = min(usable_cores(), len(templates)) if apart else 1
    if build_apart:
        warm_start(import_here=True, count=lanes)
    # a period's templates one after another, as the builder builds their contexts (and their scope once)
    order, per_period = _by_period(list(zip(templates, reports, strict=True)), lambda item: item[1][2])
    errors: dict[Path, str] = {}

    def make(template: Path, report: tuple[str, str, str | None], shared: Previewer | None) -> Previewer | None:
        kind, ident, period = report
        try:
            previewer = Previewer(
                config,
                ident,
                period=period,
                template=template,
                kind=kind,
                html=False,
                folder=folder,
                shared=shared,
                every_rep=per_period[period] > 1,
            )
        except SalesReportsError as err:
            errors[template] = _cannot_run(template, err)
            return None
        previewer.builder = builder
        return previewer

    def run(template: Path, previewer: Previewer) -> None:
        try:
            result = previewer.render()
        except SalesReportsError as err:  # e.g. its default period or rep is not in this data: that template fails
            errors[template] = _cannot_run(template, err)
            return
        if result.status == "ok":
            errors[template] = ""
            return
        cell, error = describe_failure(result)
        where = f"{cell} fails with its default parameters" if cell else "it fails with its default parameters"
        see = "To see it: open the template in JupyterLab (`make lab`) and run it."
        errors[template] = f"{template}: {where}: {error}. {see}"

    if lanes > 1:  # every context comes kept: nothing to share
        from concurrent.futures import ThreadPoolExecutor

        made = [(template, make(template, report, None)) for template, report in order]
        with ThreadPoolExecutor(lanes, thread_name_prefix="salesreports-check") as pool:
            list(pool.map(lambda item: run(*item), [(t, p) for t, p in made if p is not None]))
        return {template: errors[template] for template in templates}
    shared: Previewer | None = None
    for template, report in order:
        previewer = make(template, report, shared)
        if previewer is None:
            continue
        if shared is None or previewer._scope is None:
            shared = previewer  # its data, KPIs and (once built) its period's scope: for the next templates
        run(template, previewer)
    return {template: errors[template] for template in templates}


# "ZeroDivisionError in cell [5]: ..." (the cell's execution count, see run.jobs.describe_error): check names
# the cell by its position and first line instead, as JupyterLab shows it in the template
_ERROR_CELL = re.compile(r"^(\w[\w.]*) in cell \[\d+\]:")


def _cannot_run(template: Path, err: SalesReportsError) -> str:
    return f"{template}: its default parameters cannot run on this data: {err}"


def _is_review(period: str | None) -> bool:
    """Whether a preview's period is a quarter or year (no period: the latest month, never a review)."""
    import re

    if not period or re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period.strip()):  # no period, or a month
        return False
    from salesreports.metrics.periods import parse_period  # imports pandas: only for other labels

    return parse_period(str(period)).is_review
