"""Console output: the one way data reaches the terminal, and the progress display of a batch run.

Names, ids, addresses, server replies and paths come from CRM data, settings or other machines and may
hold anything: rich markup (``[link=https://evil.example/]Ann[/link]`` would print as a clickable
link, ``[bold red]`` as red text, and ``[link]`` would vanish), emoji codes (``:thumbs_up:``), terminal
escape sequences (``\x1b]8;;...``), carriage returns or bidi overrides that redraw what is on screen.
Every such string is printed through :func:`safe` (rich's escaping plus visible ``\x1b``-style escapes
for control characters), on a console from :func:`console` (no emoji codes, no highlighting); where no
markup is parsed (a progress description, a :class:`rich.text.Text`), through :func:`plain`.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

__all__ = ["RunProgress", "console", "plain", "safe"]

# C0 controls but tab and line feed, DEL, C1 controls, and the bidi embeddings, overrides and isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object) -> str:
    """``value`` as text with control characters shown as escapes (``\\x1b``): for places without markup.

    Examples
    --------
    >>> plain("R1\x1b[2J")
    'R1\\\\x1b[2J'
    """
    return _CONTROL.sub(_visible, str(value))


def safe(value: object) -> str:
    """``value`` as text that a rich console prints literally: markup escaped, control characters shown.

    Examples
    --------
    >>> safe("[bold red]Boss[/bold red] \x1b[2J")
    '\\\\[bold red]Boss\\\\[/bold red] \\\\x1b[2J'
    """
    text = plain(value)
    body = text.rstrip("\\")
    if body == text:
        return escape(text)
    # Backslashes at the end would escape a tag that follows (``[bold]{safe(x)}[/]``) and print doubled when
    # none follows: doubled, then an empty span, they print as themselves in both cases.
    return escape(body) + "\\" * (2 * (len(text) - len(body))) + "[dim][/dim]"


def console(stderr: bool = False) -> Console:
    """A console for the command line: no highlighting, no ``:emoji:`` codes, soft wrapping.

    Print data only through :func:`safe` (or as :class:`rich.text.Text`).
    """
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True)


class RunProgress:
    """Context manager handing callbacks to :func:`salesreports.run.batch.run_reports`."""

    def __init__(self, console: Console) -> None:
        self.failed = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", style="bold", markup=False),  # data: never markup or :emoji:
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
        self._progress.update(self._task, description=plain(message))

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
