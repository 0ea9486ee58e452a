"""The ``salesreports`` command line: parse arguments, call the package, map errors to exit codes.

Heavy libraries are imported inside the commands, so ``salesreports --help`` answers fast.
A :class:`~salesreports.errors.SalesReportsError` is printed without a traceback (exit 1, or 2 for
settings errors); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from salesreports.errors import SalesReportsError

app = typer.Typer(
    name="salesreports",
    help="Per-rep sales scorecards from CRM data: validate, compute KPIs, run and render reports, send them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
goals_app = typer.Typer(help="SMART goals: check them and show progress.", no_args_is_help=True)
app.add_typer(goals_app, name="goals")

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="Settings file.", show_default=True)]
DEFAULT_PARAMS = Path("params/config.yaml")


def _console(stderr: bool = False) -> Any:
    from salesreports.progress import console

    return console(stderr)


def _esc(value: object) -> str:
    """Text from data, settings or messages, printed literally: every such string goes through here.

    Rich markup escaped, control characters (ESC, CR, bidi overrides...) shown as ``\\x1b``: see
    :func:`salesreports.progress.safe`.
    """
    from salesreports.progress import safe

    return safe(value)


def _fail(err: SalesReportsError) -> None:
    _console(stderr=True).print(f"[bold red]error:[/] {_esc(err)}", soft_wrap=True)
    raise typer.Exit(err.exit_code)


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write the tables to.")] = Path("data/demo"),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    scale: Annotated[float, typer.Option(help="Multiply the deal volume (e.g. 350 gives ~10 million deals).")] = 1.0,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    end: Annotated[str, typer.Option(help="Last month of the data (YYYY-MM).")] = "2026-10",
    months: Annotated[int, typer.Option(help="How many months of history.")] = 36,
) -> None:
    """Write a realistic, deterministic demo CRM data set.

    Example: [bold]salesreports demo-data --out data/demo --seed 7[/]
    """
    from rich.progress import Progress

    from salesreports.data.demo.generate import generate_demo

    try:
        with Progress(transient=True, console=_console(stderr=True)) as progress:
            task = progress.add_task("generating demo data", total=None)
            summary = generate_demo(
                out,
                seed=seed,
                scale=scale,
                end_month=end,
                months=months,
                fmt=fmt,  # type: ignore[arg-type]
                progress=lambda msg: progress.update(task, description=_esc(msg)),
            )
    except SalesReportsError as err:
        _fail(err)
    counts = ", ".join(f"{n:,} {t}" for t, n in summary.rows.items())
    _console().print(f"Demo data in {_esc(summary.out_dir)}: {_esc(counts)}")


@app.command()
def validate(
    params: ParamsOpt = DEFAULT_PARAMS,
    source: Annotated[
        Path | None, typer.Option(help="A source file to check instead of the one in the settings.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and a one-line summary.")] = False,
) -> None:
    """Load the data through its mapping and report every problem (exit 1 on errors).

    Example: [bold]salesreports validate --source params/sources/northwind.yaml[/]
    """
    from salesreports.data.loading import load_dataset
    from salesreports.data.validate import check
    from salesreports.params import load_config

    try:
        config = None if source else load_config(params)
        path = config.source_path if config is not None else Path(str(source))
        data = load_dataset(path)
        report = check(data)
        goal_warnings = [*config.warnings, *_goal_fit(config, data)] if config is not None else []
        if config is not None and config.coaching:  # an empty or broken coaching file fails here, as in `run`
            from salesreports.metrics.coaching import load_coaching

            load_coaching(config.resolve(config.coaching))
        headline = _configured_headline(config)
    except SalesReportsError as err:
        _fail(err)
    out = _console()
    for issue in report.errors:
        out.print(f"[red]error[/]   {_esc(issue)}", soft_wrap=True)
    if not quiet:
        for issue in [*report.warnings, *goal_warnings]:
            out.print(f"[yellow]warning[/] {_esc(issue)}", soft_wrap=True)
    sizes = ", ".join(f"{len(f):,} {n}" for n, f in data.tables.items())
    missing = [t for t in ("reps", "deals", "leads", "activities", "targets", "feedback") if t not in data.tables]
    note = f"; no {', '.join(missing)} table(s): KPIs that need them are not available" if missing else ""
    status = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
    out.print(
        f"{status} {_esc(path)}: {_esc(sizes + note)}. {len(report.errors)} error(s), "
        f"{len(report.warnings) + len(goal_warnings)} warning(s).",
        soft_wrap=True,
    )
    if not report.ok:
        raise typer.Exit(1)
    if not quiet:
        _print_capabilities(data, out, headline)


def _configured_headline(config: Any) -> list[str]:
    """``scorecard.headline`` of the settings (none with ``--source``); it and ``scorecard.ranking`` checked
    against the KPI registry, as a run checks them."""
    from salesreports.metrics.capabilities import configured_kpis

    if config is None:
        return []
    where = str(config.path) if config.path else None
    configured_kpis(config.scorecard.ranking, "ranking", where)
    return configured_kpis(config.scorecard.headline, "headline", where)


def _print_capabilities(data: Any, out: Any, headline: Sequence[str] = ()) -> None:
    """What the reports will show and what they will leave out (the pages' own rule); the headline tiles of the
    settings' ``scorecard.headline`` (``headline``) when it names any."""
    from salesreports.metrics.capabilities import SECTIONS, capabilities, choose_headline
    from salesreports.metrics.kpis import registry

    caps = capabilities(data)
    reg = registry()
    shown = [k.label for k in reg if caps.supports(k.name)]
    out.print(f"The reports will show: {_esc(', '.join(shown) or 'no KPI')}.", soft_wrap=True)
    tiles = [reg.get(k).label for k in choose_headline(caps, headline)]
    out.print(f"Headline tiles: {_esc(', '.join(tiles) or 'none')}.", soft_wrap=True)
    if headline and (left_out := [reg.get(k).label for k in headline if not caps.supports(k)]):
        out.print(f"  (scorecard.headline also names {_esc(', '.join(left_out))}: not in your data)", soft_wrap=True)
    left: dict[str, list[str]] = {}
    for name, why in caps.unsupported.items():
        left.setdefault(why, []).append(reg.get(name).label.lower())
    for section, why in caps.sections.items():
        left.setdefault(why, []).append(SECTIONS[section][2])
    if left:
        out.print("They will leave out (not in your data):")
        for why, labels in left.items():
            out.print(f"  - {_esc(why)}: {_esc(', '.join(labels))}", soft_wrap=True)


def _goal_fit(config: Any, data: Any) -> list[Any]:
    """Warnings for goals of the settings' goal file that do not fit the data (none without a goal file)."""
    if not config.goals or not config.resolve(config.goals).is_file():
        return []
    from salesreports.metrics.goals.fit import goals_fit_file

    return goals_fit_file(config.resolve(config.goals), data)


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The settings folder to create (e.g. acme).")],
    from_export: Annotated[
        list[Path] | None,
        typer.Option(help="CRM export files (CSV or .xlsx) or a folder of them: the mapping is guessed from them."),
    ] = None,
    company: Annotated[str, typer.Option(help="The company's name, shown on every report.")] = "Your company",
    currency: Annotated[str, typer.Option(help="ISO 4217 code of amounts: EUR, USD, GBP, JPY.")] = "USD",
    locale: Annotated[
        str, typer.Option(help="How numbers, amounts and dates are written: de_DE, fr_FR, en_GB, en_US, ja_JP.")
    ] = "en_US",
    source_name: Annotated[str, typer.Option(help="Name of the source file: sources/NAME.yaml.")] = "crm",
) -> None:
    """Scaffold a company's settings folder (config, source mapping, empty goals, default coaching); never overwrites.

    Example: [bold]salesreports init acme --from-export ~/Downloads/hubspot-export --company "Acme" --currency EUR[/]
    """
    from salesreports.run.scaffold import describe, scaffold

    try:
        made = scaffold(
            folder, company=company, currency=currency, locale=locale, source=source_name, exports=from_export or ()
        )
    except SalesReportsError as err:
        _fail(err)
    out = _console()
    for path in made.files:
        out.print(f"wrote {_esc(path)}")
    for note in made.notes:
        out.print(f"[yellow]note[/]  {_esc(note)}", soft_wrap=True)
    if made.mapped:
        out.print("Mapped:")
        for table, what in made.mapped.items():
            out.print(f"  {_esc(table)}: {_esc(', '.join(what))}", soft_wrap=True)
    if made.todo:
        out.print(f"[yellow]Add by hand[/] in {_esc(made.source)} (keys: docs/mapping.md):")
        for item in made.todo:
            out.print(f"  - {_esc(item)}", soft_wrap=True)
    if from_export:
        from salesreports.data.loading import load_dataset
        from salesreports.data.validate import check

        try:
            data = load_dataset(made.source)
            report = check(data)
        except SalesReportsError as err:
            out.print(f"[red]The guessed mapping does not load yet:[/] {_esc(err)}", soft_wrap=True)
            out.print(f"Fix it in {_esc(made.source)} (docs/mapping.md).")
            raise typer.Exit(1) from None
        sizes = ", ".join(f"{len(f):,} {n}" for n, f in data.tables.items())
        status = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
        out.print(
            f"validate: {status} {_esc(sizes)}. {len(report.errors)} error(s), {len(report.warnings)} warning(s)."
        )
        _, _, fixes = describe(data, report.issues)
        _print_capabilities(data, out)
        if fixes:
            out.print("Fix next:" if not report.ok else "Worth a look:")
            for fix in fixes:
                out.print(f"  - {_esc(fix)}", soft_wrap=True)
    config = made.config
    out.print("Next:")
    out.print(f"  salesreports validate --params {_esc(config)}")
    out.print(f"  salesreports run --params {_esc(config)}")
    out.print(f"  open {_esc(made.folder / 'build' / 'reports')}/<period>/index.html")
    if from_export and not report.ok:
        raise typer.Exit(1)  # written, but not ready: a script must not go on to `run`


@app.command("mapping-docs")
def mapping_docs(
    out: Annotated[Path, typer.Option(help="The page to write.")] = Path("docs/mapping.md"),
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing: exit 1 when the page differs from the models.")
    ] = False,
) -> None:
    """Write the mapping reference (every key of source and settings files) from the models.

    Example: [bold]salesreports mapping-docs --out docs/mapping.md[/] (or [bold]make docs[/]); --check compares.
    """
    from salesreports.run.reference import mapping_reference

    text = mapping_reference()
    current = out.read_text(encoding="utf-8") if out.is_file() else None
    if check_only:
        if current != text:
            _console(stderr=True).print(
                f"[red]{_esc(out)} is out of date[/] with the models. Fix: salesreports mapping-docs --out {_esc(out)}",
                soft_wrap=True,
            )
            raise typer.Exit(1)
        _console().print(f"{_esc(out)} is up to date.")
        return
    if current == text:
        _console().print(f"{_esc(out)} is up to date.")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    _console().print(f"wrote {_esc(out)}")


@app.command()
def kpis(
    locale: Annotated[
        str | None,
        typer.Option(
            help="Write the labels, definitions and headings in this locale's language (a CLDR locale such as "
            "de_DE, fr_FR, es_ES; a language without a catalog stays English). Default: English."
        ),
    ] = None,
) -> None:
    """Print the KPI catalogue: every KPI, its definition, format and what it needs.

    Example: [bold]salesreports kpis[/]; in German: [bold]salesreports kpis --locale de_DE[/]
    """
    from rich.table import Table

    from salesreports import i18n
    from salesreports.metrics.kpis import registry
    from salesreports.params import check_locale

    if locale is not None:
        try:
            locale = check_locale(locale)
        except ValueError as exc:
            _fail(_params_error(f"--locale: {exc}"))
    with i18n.override(locale):
        table = Table(title=i18n.gettext("KPIs"), show_lines=False)
        headings = (
            i18n.gettext("name"),
            i18n.gettext("label"),
            i18n.gettext("definition"),
            i18n.gettext("format"),
            i18n.gettext("better"),
            i18n.gettext("needs"),
        )
        for col in headings:
            table.add_column(col, overflow="fold")
        for k in registry():
            better = i18n.gettext("higher") if k.higher_is_better else i18n.gettext("lower")
            label, description = i18n.gettext(k.label), i18n.gettext(k.description)
            table.add_row(*(_esc(x) for x in (k.name, label, description, k.format, better, ", ".join(k.needs))))
    _console().print(table)


@app.command()
def run(
    params: ParamsOpt = DEFAULT_PARAMS,
    period: Annotated[
        str | None,
        typer.Option(
            help=(
                "Month(s): 2026-10, 2026-08..2026-10, or a list; a quarter 2026-Q3 or a year 2026 for a review "
                "scorecard (a quarter or year to date: 2026-11-QTD, 2026-11-YTD). Default: the latest complete "
                "month in the data."
            )
        ),
    ] = None,
    reps: Annotated[str, typer.Option(help="'all' or a comma-separated list of rep ids.")] = "all",
    template: Annotated[str, typer.Option(help="Which reports: rep, team or all.")] = "all",
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default from the settings).")] = None,
    mode: Annotated[
        str | None, typer.Option(help="fast (warm forked workers) or fresh (a new kernel per report).")
    ] = None,
    executor: Annotated[str, typer.Option(help="local, or dask to run on a dask.distributed cluster.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address tcp://HOST:PORT (default: a LocalCluster).")
    ] = None,
    output_url: Annotated[
        str | None, typer.Option(help="With --executor dask: an fsspec URL the workers upload reports to.")
    ] = None,
    connect_timeout: Annotated[
        float, typer.Option(help="With --executor dask: seconds to reach the scheduler and find a worker.")
    ] = 10.0,
    force: Annotated[bool, typer.Option("--force", help="Redo reports whose inputs did not change.")] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Run only the reports that failed or were never made (a run stopped half-way); reports already "
            "made are kept, even if their inputs changed.",
        ),
    ] = False,
) -> None:
    """Execute and render the scorecards of a period: every rep, every team, the index page.

    Example: [bold]salesreports run --period 2026-10 --reps R001,R002[/]; a quarter's review: [bold]--period 2026-Q3[/]
    """
    from salesreports.params import load_config
    from salesreports.progress import RunProgress

    overrides: dict[str, Any] = {"run": {}}
    if workers:
        overrides["run"]["workers"] = workers
    if mode:
        overrides["run"]["mode"] = mode
    kinds = ("rep", "team") if template == "all" else (template,)
    if any(k not in ("rep", "team") for k in kinds):
        _fail(_params_error(f"--template must be rep, team or all, not '{template}'."))
    chosen = None if reps.strip().lower() == "all" else [r.strip() for r in reps.split(",") if r.strip()]
    try:
        config = load_config(params, overrides)
        for note in config.warnings:  # deprecated settings, before the (long) run
            _console(stderr=True).print(f"[yellow]warning[/] {_esc(note)}", soft_wrap=True)
        runner = _executor(executor, scheduler, config, output_url, connect_timeout)
        from salesreports.run.batch import run_reports

        with contextlib.ExitStack() as stack:
            if runner is not None:  # connect and check the workers before the data is loaded
                stack.enter_context(runner)
                lines = runner.start(config.output_path)
                stderr = _console(stderr=True)
                stderr.print(f"Pre-flight check: {len(lines)} Dask worker(s) ready", highlight=False)
                for line in lines:
                    stderr.print(f"  {line}", highlight=False, markup=False)
            progress = stack.enter_context(RunProgress(_console(stderr=True)))
            summary = run_reports(
                config,
                periods=period,
                reps=chosen,
                kinds=kinds,
                force=force,
                retry_failed=retry_failed,
                executor=runner,
                on_plan=progress.plan,
                on_result=progress.result,
                on_stage=progress.stage,
            )
    except SalesReportsError as err:
        _fail(err)
    _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def preview(
    rep: Annotated[str | None, typer.Option(help="The rep's id (a rep template).")] = None,
    team: Annotated[str | None, typer.Option(help="The team's name, or company (a team template).")] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    period: Annotated[
        str | None,
        typer.Option(help="The month, quarter (2026-Q3) or year (2026) (default: the latest complete month)."),
    ] = None,
    template: Annotated[
        Path | None, typer.Option(help="The template to preview (default: the one in the settings for its kind).")
    ] = None,
    pdf: Annotated[bool, typer.Option(help="Also render the PDF (not with --watch: the served page is HTML).")] = True,
    watch: Annotated[
        bool,
        typer.Option(
            help="Keep a warm process that re-renders on every save of the template, kpis.yaml, the settings' "
            "YAML or the data, and serve the page on 127.0.0.1 (the browser reloads by itself). Ctrl-C stops."
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="With --watch: the port to serve on (0: a free one).")] = 8765,
) -> None:
    """Execute and render one report into build/preview/ (never the period's reports, manifest or outbox).

    With --watch the process stays warm (data loaded and KPIs computed once, a warm report process), renders
    again on every save and serves the page on http://127.0.0.1:PORT/; a template that fails is shown there
    with the failing cell, and the watch goes on. Ctrl-C stops it.

    Example: [bold]salesreports preview --rep R007 --period 2026-10 --template reports/rep_scorecard.ipynb[/]

    Example: [bold]salesreports preview --watch --rep R007 --port 8765[/]
    """
    from salesreports.params import load_config
    from salesreports.run.preview import Previewer

    if (rep is None) == (team is None):
        _fail(_params_error("give either --rep ID or --team NAME."))
    if watch:
        _watch_preview(params, str(rep or team), "rep" if rep is not None else "team", period, template, port)
        return
    from salesreports.run.preview import ContextBuilder, warm_start
    from salesreports.run.zygote import zygotes

    try:
        config = load_config(params)
        previewer = Previewer(
            config,
            str(rep or team),
            period=period,
            template=template,
            kind="rep" if rep is not None else "team",
            pdf=pdf,
        )
        # the data loads in a process of its own (when no context is kept), while the report process starts and
        # the HTML/PDF renderer warms here
        previewer.builder = ContextBuilder.start(config, [(previewer.kind, previewer.ident, previewer.period_label)])
        warm_start(import_here=previewer.builder is not None)
        previewer.warm_renderer()
        result = previewer.render()
    except SalesReportsError as err:
        _fail(err)
    finally:
        zygotes.close()
    if result.status != "ok":
        from salesreports.run.preview import describe_failure

        cell, error = describe_failure(result)
        where = f"{cell}: " if cell else ""
        _console(stderr=True).print(
            f"[red]failed:[/] {_esc(where + error)}; notebook: {_esc(result.failed_notebook)}", soft_wrap=True
        )
        raise typer.Exit(1)
    _console().print("\n".join(_esc(p) for p in (result.html, result.pdf) if p))


def _watch_preview(params: Path, ident: str, kind: str, period: str | None, template: Path | None, port: int) -> None:
    """``preview --watch``: warm up, then render on every save and serve the page until Ctrl-C."""
    import signal

    from salesreports.params import load_config
    from salesreports.run.preview import Previewer

    def make() -> Previewer:
        config = load_config(params)
        return Previewer(config, ident, period=period, template=template, kind=kind, pdf=False)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    from salesreports.run.watch import PreviewServer, Watcher
    from salesreports.run.worker import warm_up
    from salesreports.run.zygote import zygotes

    out = _console()

    def echo(line: str) -> None:
        out.print(_esc(line))
        sys.stdout.flush()

    try:
        previewer = make()
        server = PreviewServer(port)
    except SalesReportsError as err:
        _fail(err)
    except OSError as err:
        _fail(_params_error(f"cannot serve on 127.0.0.1:{port}: {err.strerror}. Fix: pass another --port."))
    signal.signal(signal.SIGTERM, stop)
    try:
        echo("warming up (the report libraries, a warm report process, the renderer)…")
        warm_up("fast")  # before any thread starts: the warm report process is forked from this one
        server.start()
        echo(f"serving {server.url} (Ctrl-C stops); watching {previewer.template}")
        Watcher(previewer, server, reload_settings=make, echo=echo).watch()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        zygotes.close()
    out.print("stopped")


@app.command()
def check(
    params: ParamsOpt = DEFAULT_PARAMS,
    templates: Annotated[
        list[Path] | None,
        typer.Argument(help="Templates to check (default: every notebook in the templates' folder, e.g. reports/)."),
    ] = None,
    execute: Annotated[bool, typer.Option(help="Also execute each template with its default parameters.")] = True,
) -> None:
    """Lint notebook templates: parameters cell, documented literal parameters, no outputs, privacy, executes.

    Example: [bold]salesreports check reports/rep_scorecard.ipynb[/]
    """
    import tempfile

    from salesreports.params import load_config
    from salesreports.run.notebooks import check_template

    out = _console()
    failed = False
    try:
        config = load_config(params)
        if templates:
            paths = list(templates)
        else:
            kinds = ["rep", "team", *(["review"] if config.templates.get("review") else [])]
            configured = [config.template(k) for k in kinds]
            folders = sorted({p.parent for p in configured})
            paths = sorted({*configured, *(p.resolve() for f in folders for p in f.glob("*.ipynb"))})
        clean = []
        for path in paths:
            findings = check_template(path)
            for f in findings:
                out.print(f"[red]✗[/] {_esc(f)}", soft_wrap=True)
            failed |= bool(findings)
            if not findings:
                clean.append(path)
        errors: dict[Path, str] = dict.fromkeys(clean, "")
        if execute and clean:
            from salesreports.metrics.kpis import registry
            from salesreports.run.preview import execute_defaults

            registry()  # a mistake in kpis.yaml is reported against that file and line, not a template's cell
            with tempfile.TemporaryDirectory(prefix="salesreports-check-") as tmp:
                errors = execute_defaults(config, clean, Path(tmp), build_apart=True)
        for path in clean:
            if errors.get(path):
                out.print(f"[red]✗[/] {_esc(errors[path])}", soft_wrap=True)
                failed = True
            else:
                out.print(f"[green]✓[/] {_esc(path)}" + (" (executes with its defaults)" if execute else ""))
    except SalesReportsError as err:
        _fail(err)
    finally:
        from salesreports.run.zygote import zygotes

        zygotes.close()
    if failed:
        raise typer.Exit(1)


@app.command("new-template")
def new_template(
    name: Annotated[str, typer.Argument(help="File name without .ipynb, e.g. quarterly_review.")],
    kind: Annotated[str, typer.Option(help="rep or team.")] = "rep",
    folder: Annotated[Path, typer.Option(help="Where templates live.")] = Path("reports"),
) -> None:
    """Create a template that already passes `salesreports check`.

    Example: [bold]salesreports new-template quarterly_review --kind rep[/]
    """
    from salesreports.run.notebooks import scaffold

    try:
        path = scaffold(name, folder, kind=kind)
    except SalesReportsError as err:
        _fail(err)
    _console().print(
        f"Created {_esc(path)}. Open it with `make lab`; point `templates.{_esc(kind)}` in params/config.yaml at "
        "it to use it in runs."
    )


def _params_error(message: str) -> SalesReportsError:
    from salesreports.errors import ParamsError

    return ParamsError(message)


def _executor(
    kind: str, scheduler: str | None, config: Any, output_url: str | None = None, connect_timeout: float = 10.0
) -> Any:
    if kind == "local":
        if output_url:
            raise _params_error("--output-url needs --executor dask (a local run writes to output_dir).")
        return None
    if kind == "dask":
        from salesreports.run.distributed import DaskExecutor

        return DaskExecutor(
            scheduler=scheduler,
            mode=config.run.mode,
            workers=config.run.workers,
            output_url=output_url,
            connect_timeout=connect_timeout,
        )
    raise _params_error(f"--executor must be local or dask, not '{kind}'.")


def _pull_period(config: Any, url: str, period: str | None) -> str:
    """Copy a period's reports from ``url`` (fsspec) into the output folder; the period's label."""
    from salesreports.paths import slug
    from salesreports.run import storage

    storage.check_url(url)
    url = url.rstrip("/")
    if period is None:
        found = storage.folders_with(url, "manifest.json")
        if not found:
            raise _params_error(f"{url}: no period with a manifest.json there. Fix: check --output-url.")
        period = found[-1]
    storage.pull(f"{url}/{slug(period)}", config.output_path / slug(period))
    return period


def _print_summary(summary: Any) -> None:
    from rich.table import Table

    out = _console()
    ok = sum(1 for r in summary.results if r["status"] == "ok")
    out.print(
        f"{ok} report(s) written, {len(summary.failed)} failed, {summary.unchanged} unchanged (skipped), "
        f"{len(summary.skipped)} rep(s) without a report for the period, in {summary.seconds:.1f} s."
    )
    for note in summary.notes:
        out.print(f"[yellow]warning[/] {_esc(note)} (see `salesreports goals check`)", soft_wrap=True)
    if summary.failed:
        table = Table(title="Failed reports", show_lines=False)
        for col in ("period", "report", "error", "failed notebook"):
            table.add_column(col, overflow="fold")
        for r in summary.failed:
            table.add_row(
                *(_esc(x) for x in (r["period"], r["key"], r.get("error") or "", r.get("failed_notebook") or ""))
            )
        _console(stderr=True).print(table)
    for issue in getattr(summary, "warnings", []):
        _console(stderr=True).print(f"[yellow]warning[/] {_esc(issue)}", soft_wrap=True)
    for where in [*summary.index_paths, *getattr(summary, "index_urls", [])]:  # under --output-url: its URL
        out.print(f"Index: {_esc(where)}")


# --------------------------------------------------------------------------- goals (owned by the goals module)

_MARKS = {"ok": "[green]✓[/]", "warning": "[yellow]![/]", "error": "[red]✗[/]"}
_GOAL_FIXES = {
    "S": "correct `owner:` (a rep id, a team name or company), `metric:` and `scope:` of the goal",
    "M": "choose a KPI from `salesreports kpis` that the data can compute for this owner and scope",
    "A": "lower the target or move the deadline, unless the owner's history says otherwise",
    "R": "add `objective:`, the business objective the goal serves",
    "T": "set `start:` and a `deadline:` after it (YYYY-MM, YYYY-Qn or YYYY)",
}
_STATUS_STYLE = {"achieved": "green", "ahead": "blue", "on track": "cyan", "at risk": "yellow", "missed": "red"}


def _goal_inputs(params: Path) -> tuple[Any, Any, Any, Any]:
    """Settings, goals, data set and KPI table for the goals commands."""
    from salesreports.data.loading import load_dataset
    from salesreports.metrics.engine import compute_kpis
    from salesreports.metrics.goals import load_goals
    from salesreports.params import load_config

    config = load_config(params)
    goals = load_goals(config.resolve(config.goals))
    data = load_dataset(config.source_path)
    return config, goals, data, compute_kpis(data)


@goals_app.command("check")
def goals_check(params: ParamsOpt = DEFAULT_PARAMS) -> None:
    """Check that every goal is SMART: specific, measurable, achievable, relevant, time-bound (exit 1 on errors).

    Example: [bold]salesreports goals check --params params/config.yaml[/]
    """
    from rich.table import Table

    from salesreports.metrics.goals import LETTERS, check_goals

    try:
        _, goals, data, table = _goal_inputs(params)
        findings = check_goals(goals, table, data=data)
    except SalesReportsError as err:
        _fail(err)
    out = _console()
    grid = Table(title=f"Goals in {_esc(goals.file)}", show_lines=False)
    for col in ("goal", "owner", "metric", *(letter for letter, _ in LETTERS)):
        grid.add_column(col, overflow="fold")
    by_goal: dict[str, dict[str, Any]] = {}
    for f in findings:
        by_goal.setdefault(f.goal_id, {})[f.letter] = f
    for goal in goals:
        marks = [_MARKS[by_goal[goal.id][letter].severity] for letter, _ in LETTERS]
        metric = goal.metric + (f" ({goal.scope_text})" if goal.scope else "")
        grid.add_row(_esc(goal.id), _esc(goal.owner), _esc(metric), *marks)
    out.print(grid)
    for f in findings:
        if f.severity != "ok":
            colour = "red" if f.severity == "error" else "yellow"
            where = f" ({Path(f.file).name}:{f.line})" if f.line else ""
            fix = _GOAL_FIXES.get(f.letter, "")
            text = f.message.rstrip(". ") + (f". Fix: {fix}" if fix and "Fix:" not in f.message else "")
            out.print(
                f"[{colour}]{f.severity:<7}[/] {_esc(f.goal_id)}{_esc(where)} {_esc(f.criterion)}: {_esc(text)}",
                soft_wrap=True,
                markup=True,
                highlight=False,
            )
    errors = {f.goal_id for f in findings if f.severity == "error"}
    warnings = {f.goal_id for f in findings if f.severity == "warning"} - errors
    smart = len(goals) - len(errors) - len(warnings)
    out.print(f"{len(goals)} goal(s): {smart} SMART, {len(warnings)} with warnings, {len(errors)} with errors.")
    if errors:
        raise typer.Exit(1)


@goals_app.command("show")
def goals_show(
    params: ParamsOpt = DEFAULT_PARAMS,
    period: Annotated[
        str | None,
        typer.Option(help="Measure progress as of the end of this period (2026-10). Default: the data's last day."),
    ] = None,
) -> None:
    """Show every goal's progress: actual, expected by now, projected, status.

    Example: [bold]salesreports goals show --period 2026-10[/]
    """
    from rich.table import Table

    from salesreports.metrics.formats import formatter
    from salesreports.metrics.goals import goal_progress
    from salesreports.metrics.periods import parse_period

    try:
        config, goals, data, table = _goal_inputs(params)
        as_of = parse_period(period) if period else None
        progress = goal_progress(goals, table, data=data, period=as_of)
    except SalesReportsError as err:
        _fail(err)
    out = _console()
    when = progress[0].as_of if progress else ""
    grid = Table(title=f"Goal progress as of {_esc(when)}", show_lines=False)
    for col in ("goal", "owner", "metric", "target", "actual", "expected", "projected", "status"):
        grid.add_column(
            col, overflow="fold", justify="right" if col in ("target", "actual", "expected", "projected") else "left"
        )
    for p in progress:
        f = p.formatted(formatter(config.locale, config.currency_code))
        expected = f["expected_seasonal"] if p.expected_seasonal is not None else f["expected"]
        style = _STATUS_STYLE.get(p.status, "dim")
        metric = p.metric + (f" ({p.scope})" if p.scope else "")
        cells = [f[k] if getattr(p, k) is not None else "–" for k in ("target", "actual")]
        later = [expected if p.expected is not None else "–", f["projected"] if p.projected is not None else "–"]
        grid.add_row(*(_esc(x) for x in (p.goal_id, p.owner, metric, *cells, *later)), f"[{style}]{_esc(p.status)}[/]")
    out.print(grid)
    for p in progress:
        note = f" [dim]({_esc(p.note)})[/]" if p.note and p.note not in p.summary else ""
        out.print(f"[bold]{_esc(p.goal_id)}[/]: {_esc(p.summary)}{note}", soft_wrap=True, highlight=False)


# --------------------------------------------------------------------------- send (owned by the mail module)

_SEND_STYLE = {
    "sent": "green",
    "test sent": "green",
    "written": "cyan",
    "already sent": "dim",
    "not in period": "dim",
    "no email": "yellow",
    "not resent": "yellow",
    "failed-temporary": "yellow",
    "possibly-sent": "magenta",
    "pending": "yellow",
    "sending": "magenta",
    "partly-sent": "yellow",
}


@app.command()
def send(
    params: ParamsOpt = DEFAULT_PARAMS,
    period: Annotated[
        str | None,
        typer.Option(
            help="The period to mail: a month 2026-10, a quarter 2026-Q3 or a year 2026 (default: the newest "
            "with a manifest)."
        ),
    ] = None,
    reps: Annotated[
        str,
        typer.Option(
            help="'all', or a comma-separated list of the reports to mail: rep ids (R007) and summaries "
            "(team/North, company). Only those are sent (or resent with --resend); a summary named goes to its "
            "manager or leadership without --to."
        ),
    ] = "all",
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="WHO",
            help="Who is sent to, comma-separated: reps (each rep's scorecard), managers (each team summary to "
            "the team's manager), leadership (the company summary to mail.leadership), or all. Default: reps, "
            "or whom the reports named by --reps go to.",
            show_default=False,
        ),
    ] = None,
    really: Annotated[
        bool | None,
        typer.Option(
            "--send/--dry-run",
            help="Send over SMTP, or only write .eml files "
            "to the outbox for review (the default, except with --test-to).",
            show_default=False,
        ),
    ] = None,
    test_to: Annotated[
        str | None,
        typer.Option(
            "--test-to",
            metavar="ADDRESS",
            help="Send every message to this address instead, [TEST] in the subject; nothing is recorded as delivered.",
        ),
    ] = None,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Send again what was sent, possibly sent, failed permanently, partly sent (the whole message, to "
            "everyone), or changed since it was sent; narrow it with --reps (e.g. --reps team/South).",
        ),
    ] = False,
    status: Annotated[bool, typer.Option("--status", help="Print the delivery ledger and exit.")] = False,
    output_url: Annotated[
        str | None,
        typer.Option(help="Where `run --output-url` published the reports: their period is read from there."),
    ] = None,
) -> None:
    """Email every rep their scorecard (--to managers,leadership: the summaries): a dry run (.eml files) unless --send.

    Exit code 1 when anything is left unsent (failed, possibly sent, a manager's copy missing, invalid address,
    failed report).
    Example: [bold]salesreports send --period 2026-10 --to all --send[/]; one summary again:
    [bold]salesreports send --period 2026-10 --send --resend --reps team/South[/]
    """
    from rich.table import Table

    from salesreports.mail.send import ledger_rows, send_reports
    from salesreports.params import load_config

    err = _console(stderr=True)
    chosen = None if reps.strip().lower() == "all" else [r.strip() for r in reps.split(",") if r.strip()]
    try:
        config = load_config(params)
        if status:
            path, rows = ledger_rows(config, period)
            if not rows:
                _console().print(f"No deliveries recorded{_esc(f' for {period}' if period else '')} ({_esc(path)}).")
                return
            grid = Table(title=f"Delivery ledger {_esc(path)}", show_lines=False)
            for col in ("period", "report", "hash", "state", "tries", "last reply", "message-id", "updated"):
                grid.add_column(col, overflow="fold")
            for r in rows:
                style = "red" if r.state.startswith("failed-p") else _SEND_STYLE.get(r.state, "")
                grid.add_row(
                    *(_esc(x) for x in (r.period, r.rep_id, r.report_hash[:8])),
                    f"[{style}]{_esc(r.state)}[/]" if style else _esc(r.state),
                    *(_esc(x) for x in (r.attempts, r.last_reply, r.message_id, r.updated_at)),
                )
            _console().print(grid)
            counts: dict[str, int] = {}
            for r in rows:
                counts[r.state] = counts.get(r.state, 0) + 1
            _console().print(_esc(", ".join(f"{n} {s}" for s, n in sorted(counts.items()))))
            return

        if output_url:
            period = _pull_period(config, output_url, period)

        def progress(row: Any) -> None:
            style = "red" if row.failing else _SEND_STYLE.get(row.state, "")
            state = _esc(f"{row.state:<10}")
            line = f"{row.rep_id} {row.name} {('→ ' + row.to) if row.to else ''}"
            line += f"{(' — ' + row.detail) if row.detail else ''}"
            err.print(f"[{style}]{state}[/] {_esc(line)}" if style else f"{state} {_esc(line)}", soft_wrap=True)

        summary = send_reports(
            config,
            period=period,
            reps=chosen,
            send=bool(really if really is not None else test_to),
            test_to=test_to,
            resend=resend,
            on_row=progress,
            audience=to.split(",") if to is not None else None,
        )
    except SalesReportsError as exc:
        _fail(exc)
    out = _console()
    grid = Table(title=f"Scorecard emails {_esc(summary.period)} ({summary.mode})", show_lines=False)
    for col in ("report", "name", "to", "state", "tries", "size", "detail"):
        grid.add_column(col, overflow="fold", justify="right" if col in ("tries", "size") else "left")
    for r in summary.rows:
        style = "red" if r.failing else _SEND_STYLE.get(r.state, "")
        grid.add_row(
            *(_esc(x) for x in (r.rep_id, r.name, r.to)),
            f"[{style}]{_esc(r.state)}[/]" if style else _esc(r.state),
            str(r.attempts) if r.attempts else "",
            f"{r.size / 1024:,.0f} KB" if r.size else "",
            _esc(r.detail),
        )
    out.print(grid)
    counts = {}
    for r in summary.rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    line = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to send"
    where = (
        f" Review the .eml files in {summary.outbox}." if summary.mode == "dry-run" and counts.get("written") else ""
    )
    out.print(_esc(f"{line} in {summary.seconds:.1f} s.{where}"), soft_wrap=True)
    if summary.recovered:
        again = "; ".join(summary.resend_commands(params))
        err.print(
            f"[magenta]An earlier send was interrupted:[/] {_esc(', '.join(summary.recovered))} may or may not have "
            f"been delivered (state possibly-sent). Check with the recipients; to send again only what is in "
            f"doubt: {_esc(again)}",
            soft_wrap=True,
        )
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def cycle(
    params: ParamsOpt = DEFAULT_PARAMS,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what it would do: plan the reports without running them, write messages to the outbox "
            "without sending.",
        ),
    ] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for another cycle to finish before giving up (exit 75).")
    ] = 0.0,
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default from the settings).")] = None,
) -> None:
    """The monthly cycle for a scheduler: validate, run the due reports, send what is not sent yet.

    Takes the last complete month in the data (and its quarter, or its year, when the month ends one), runs
    every report that is not up to date, then mails reps, managers and leadership whatever the ledger has not
    sent. A period an earlier cycle left unfinished (a failed report, a message not sent) is taken up again
    beside them until nothing is left in it. Safe to run every day: when everything is done it does nothing.
    One cycle at a time (a lock in the output folder). Exit 0 when everything is done, 1 when a report or a
    message is left (named), 75 when another cycle is running. See docs/scheduling.md for crontab, systemd and
    Kubernetes.

    Example: [bold]salesreports cycle --dry-run[/]
    """
    from salesreports.mail.cycle import run_cycle
    from salesreports.params import load_config

    err = _console(stderr=True)
    try:
        config = load_config(params, {"run": {"workers": workers}} if workers else None)
        summary = run_cycle(config, dry_run=dry_run, wait=wait, on_stage=lambda m: err.print(f"[dim]{_esc(m)}…[/]"))
    except SalesReportsError as exc:
        _fail(exc)
    out = _console()
    run = summary.run
    ran = sum(1 for r in run.results if r["status"] == "ok")
    for period in summary.periods:
        if dry_run:
            planned = summary.planned.get(period, [])
            what = f"would run {len(planned)} report(s)" + (f": {_esc(', '.join(planned[:6]))}" if planned else "")
            what += "" if len(planned) <= 6 else ", …"
            what += "; then mail their messages" if planned else ""
        else:
            mine = [r["status"] for r in run.results if r["period"] == period]
            what = f"{mine.count('ok')} report(s) run, {mine.count('failed')} failed"
        mail = summary.mail.get(period)
        if mail is not None:
            counts: dict[str, int] = {}
            for row in mail.rows:
                counts[row.state] = counts.get(row.state, 0) + 1
            what += "; mail: " + (", ".join(f"{n} {_esc(s)}" for s, n in counts.items()) or "nothing to send")
        left = " (left unfinished by an earlier cycle)" if period in summary.earlier else ""
        out.print(f"{_esc(period)}{left}: {what}", soft_wrap=True)
    if dry_run:
        out.print(f"{run.unchanged} report(s) already up to date. Dry run: nothing was run or sent.")
    else:
        out.print(f"{run.unchanged} report(s) already up to date; {ran} run in {run.seconds:.1f} s.")
    if summary.idle:
        out.print("Nothing to do: every report is up to date and every message is sent.")
    for line in summary.failures:
        err.print(f"[red]left:[/] {_esc(line)}", soft_wrap=True)
    if summary.failures:
        err.print("Run `salesreports cycle` again once fixed: it redoes only what is left.")
        raise typer.Exit(1)


def _reflow(doc: str) -> str:
    """A command's docstring as its help: a paragraph's lines joined into one, so the terminal wraps it at its
    own width (rich help keeps a docstring's line breaks); an ``Example:`` or ``- `` line keeps its own line."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not line.startswith(("Example:", "- ")):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


for _typer in (app, goals_app):
    for _command in _typer.registered_commands:
        if _command.help is None and _command.callback is not None and _command.callback.__doc__:
            _command.help = _reflow(_command.callback.__doc__)


def main() -> None:
    """Entry point of the ``salesreports`` console script."""
    try:
        app()
    except SalesReportsError as err:  # raised outside a command's own handling
        _console(stderr=True).print(f"[bold red]error:[/] {_esc(err)}", soft_wrap=True)
        sys.exit(err.exit_code)
    finally:
        _skip_last_collection()


def _skip_last_collection() -> None:
    """Spare the interpreter's exit its last garbage collection (half a second after a preview).

    Python walks every object still alive as it exits: after a command that loaded the report libraries
    (pandas, altair, IPython, WeasyPrint) that is about 0.5 s of a 4 s preview, and frees nothing the end of
    the process would not. Frozen objects are left out of it; exit handlers (``atexit``, ``weakref.finalize``)
    run as before.
    """
    import gc

    gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
