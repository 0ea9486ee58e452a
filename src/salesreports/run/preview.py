"""Previews: one report executed and rendered into its own folder, never into a period's production output.

``salesreports preview`` writes to ``build/preview/<period>/<report>/`` (beside ``output_dir``): the context,
the executed notebook, its HTML and PDF. It never touches ``build/reports/<period>/``, its manifest or the
outbox, so ``salesreports send`` only ever sends what ``salesreports run`` produced.

A :class:`Previewer` keeps the data loaded and the KPIs computed, so that re-rendering (``--watch``) costs only
the report itself; the report runs guarded (:mod:`salesreports.guard`) in a child forked from a warm zygote,
as in a batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesreports.errors import ParamsError, SalesReportsError
from salesreports.params import Config
from salesreports.paths import folder_names, inside, slug
from salesreports.run.jobs import Job, JobResult

__all__ = ["PreviewResult", "Previewer", "execute_defaults", "failing_cell", "preview_folder", "warm_start"]


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


def warm_start() -> None:
    """Start the warm report process now, so that it imports the report libraries while this one loads the data.

    Call it first, while this process has one thread: the zygote is then forked from it (later it would be
    started as a fresh interpreter). Close it with ``zygotes.close()``.
    """
    from salesreports.run.processes import os_threads, skip_unneeded_imports
    from salesreports.run.zygote import Zygote, zygotes

    skip_unneeded_imports()
    if os_threads() == 1:
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
        self._scope: Any = None

    def load(self) -> None:
        """Load and validate the data and compute every KPI (again: after a change of ``kpis.yaml``)."""
        from salesreports.data.loading import load_dataset
        from salesreports.data.validate import validate
        from salesreports.metrics.engine import compute_kpis
        from salesreports.metrics.periods import parse_period, report_period
        from salesreports.report.scope import build_scope
        from salesreports.run.batch import default_period

        if self._data is None:
            self._data = load_dataset(self.config.source_path)
            validate(self._data)
        if self._table is None or self._scope is not None:  # a second load() means the KPIs changed
            self._table = compute_kpis(self._data)
        period = parse_period(self.period_label) if self.period_label else default_period(self._table.grid.as_of)
        report_period(period, self._table.grid.months[0], self._table.grid.months[-1])
        self._scope = build_scope(self._data, self._table, self.config, period)

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
        notes = cache.kept_notes(self.config, key) or {}
        label, sub = str(notes.get("period") or ""), str(notes.get("folder") or "")
        folder = inside(self.folder / slug(label), sub) if label and sub else None
        if folder is None or not cache.copy_kept(self.config, key, folder):  # nothing kept: build it
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
        from salesreports.run.worker import run_job, warm_renderer_in_background
        from salesreports.run.zygote import zygotes

        started = time.perf_counter()
        job = self.job()
        # the renderer warms while the report runs, in a thread: only once a zygote is started (a thread
        # here would make the next one a fresh interpreter instead of a fork)
        warm = job.html and mode == "fast" and zygotes.idle() > 0
        warming = warm_renderer_in_background(pdf=bool(job.pdf), page_size=job.page_size) if warm else None
        try:
            result: JobResult = run_job(job, mode, before_render=warming.join if warming else None)  # type: ignore[arg-type]
        finally:
            if warming is not None:
                warming.join()  # also when the report failed: never two warm-ups of one renderer at once
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


def execute_defaults(config: Config, templates: list[Path], folder: Path) -> dict[Path, str]:
    """Execute each template with its default parameters; the error of each one that fails ("" when it runs).

    The data is loaded and the KPIs computed once for all templates; each report runs guarded in a child
    forked from a warm zygote, as in a batch, with its context written into ``folder``.
    """
    import ast

    from salesreports.run.notebooks import template_parameters

    shared: Previewer | None = None
    errors: dict[Path, str] = {}
    for template in templates:
        defaults = {k: v.get("default") for k, v in template_parameters(template).items()}

        def literal(name: str, values: dict[str, Any] = defaults) -> str:
            try:
                return str(ast.literal_eval(str(values.get(name))))
            except (ValueError, SyntaxError):
                return ""

        kind = "team" if "team" in defaults else "rep"
        ident = literal("team" if kind == "team" else "rep_id")
        try:
            previewer = Previewer(
                config,
                ident,
                period=literal("period") or None,
                template=template,
                kind=kind,
                html=False,
                folder=folder,
                shared=shared,
            )
            shared = shared or previewer
            result = previewer.render()
        except SalesReportsError as err:  # e.g. its default period or rep is not in this data: that template fails
            errors[template] = f"{template}: its default parameters cannot run on this data: {err}"
            continue
        if result.status == "ok":
            errors[template] = ""
            continue
        cell = failing_cell(Path(result.failed_notebook)) if result.failed_notebook else ""
        where = f"{cell} fails with its default parameters" if cell else "it fails with its default parameters"
        errors[template] = (
            f"{template}: {where}: {result.error}. To see it: open the template in JupyterLab (`make lab`) and run it."
        )
    return errors


def _is_review(period: str | None) -> bool:
    """Whether a preview's period is a quarter or year (no period: the latest month, never a review)."""
    import re

    if not period or re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period.strip()):  # no period, or a month
        return False
    from salesreports.metrics.periods import parse_period  # imports pandas: only for other labels

    return parse_period(str(period)).is_review
