"""The ``salesreports`` command line: parse arguments, call the package, map errors to exit codes.

Heavy libraries are imported inside the commands, so ``salesreports --help`` answers fast.
A :class:`~salesreports.errors.SalesReportsError` is printed without a traceback (exit 1, or 2 for
settings errors); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
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
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(err: SalesReportsError) -> None:
    _console(stderr=True).print(f"[bold red]error:[/] {err}", markup=True, soft_wrap=True)
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

    from salesreports.demo import generate_demo

    try:
        with Progress(transient=True, console=_console(stderr=True)) as progress:
            task = progress.add_task("generating demo data", total=None)
            summary = generate_demo(out, seed=seed, scale=scale, end_month=end, months=months,
                                    fmt=fmt,  # type: ignore[arg-type]
                                    progress=lambda msg: progress.update(task, description=msg))
    except SalesReportsError as err:
        _fail(err)
    counts = ", ".join(f"{n:,} {t}" for t, n in summary.rows.items())
    _console().print(f"Demo data in {summary.out_dir}: {counts}")


@app.command()
def validate(
    params: ParamsOpt = DEFAULT_PARAMS,
    source: Annotated[Path | None, typer.Option(help="A source file to check instead of the one in the settings.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and a one-line summary.")] = False,
) -> None:
    """Load the data through its mapping and report every problem (exit 1 on errors).

    Example: [bold]salesreports validate --source params/sources/northwind.yaml[/]
    """
    from salesreports.data import load_dataset
    from salesreports.params import load_config
    from salesreports.validate import check

    try:
        path = source or load_config(params).source_path
        data = load_dataset(path)
        report = check(data)
    except SalesReportsError as err:
        _fail(err)
    out = _console()
    for issue in report.errors:
        out.print(f"[red]error[/]   {issue}", soft_wrap=True)
    if not quiet:
        for issue in report.warnings:
            out.print(f"[yellow]warning[/] {issue}", soft_wrap=True)
    sizes = ", ".join(f"{len(f):,} {n}" for n, f in data.tables.items())
    missing = [t for t in ("reps", "deals", "leads", "activities", "targets", "feedback") if t not in data.tables]
    note = f"; no {', '.join(missing)} table(s): KPIs that need them are not available" if missing else ""
    status = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
    out.print(f"{status} {path}: {sizes}{note}. {len(report.errors)} error(s), {len(report.warnings)} warning(s).")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def kpis() -> None:
    """Print the KPI catalogue: every KPI, its definition, format and what it needs.

    Example: [bold]salesreports kpis[/]
    """
    from rich.table import Table

    from salesreports.kpis import registry

    table = Table(title="KPIs", show_lines=False)
    for col in ("name", "label", "definition", "format", "better", "needs"):
        table.add_column(col, overflow="fold")
    for k in registry():
        table.add_row(k.name, k.label, k.description, k.format, "higher" if k.higher_is_better else "lower",
                      ", ".join(k.needs))
    _console().print(table)


def main() -> None:
    """Entry point of the ``salesreports`` console script."""
    try:
        app()
    except SalesReportsError as err:  # raised outside a command's own handling
        _console(stderr=True).print(f"[bold red]error:[/] {err}", soft_wrap=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
