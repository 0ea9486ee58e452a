"""The rich progress display of a batch run: done / failed / remaining with an ETA."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

__all__ = ["RunProgress"]


class RunProgress:
    """Context manager handing callbacks to :func:`salesreports.run.batch.run_reports`."""

    def __init__(self, console: Console) -> None:
        self.failed = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("starting", total=None, failed=0)

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def stage(self, message: str) -> None:
        """A preparation step (loading, validating, computing)."""
        self._progress.update(self._task, description=message)

    def plan(self, total: int) -> None:
        """The number of reports to run is known."""
        self._progress.update(
            self._task,
            total=total,
            completed=0,
            description="reports" if total else "nothing to do: every report is up to date",
        )

    def result(self, result: Any) -> None:
        """One report finished."""
        if result.status == "failed":
            self.failed += 1
        self._progress.update(self._task, advance=1, failed=self.failed)
