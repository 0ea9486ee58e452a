"""Tests for salesreports.progress: data printed on the console shows as itself (markup, control characters)."""

from __future__ import annotations

import io
import re

import pytest
from rich.table import Table

from salesreports.progress import RunProgress, console, safe

# What CRM data may hold: rich markup (a clickable link, red text, a tag that vanishes), emoji codes,
# and a raw terminal hyperlink and screen clear through ESC.
MARKUP_NAME = "[link=https://evil.example/]Ann[/link] [bold red]Boss[/bold red] [link] :thumbs_up:"
ESCAPE_ID = "R\x1b]8;;https://evil.example/\x07x\x1b]8;;\x07\x1b[2J"
ESCAPE_SHOWN = "R\\x1b]8;;https://evil.example/\\x07x\\x1b]8;;\\x07\\x1b[2J"  # how the console shows it
FORCE_TERMINAL = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "400"}  # wide: tables fold no cell
# the console's own sequences: colours, and the cursor and line control of a live progress display
_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[[0-9]*[ABCDGK]")


def assert_printed_literally(output: str, *texts: str) -> None:
    """No hyperlink or raw control sequence from the data reached ``output``; each text shows as itself.

    The console's own sequences (colours of its styles, a progress display's cursor control) are allowed
    and removed before looking for ``texts``.
    """
    assert "\x1b]8;" not in output, "an OSC 8 hyperlink reached the terminal"
    assert "\x1b[2J" not in output and "\x07" not in output, "a control sequence from the data reached the terminal"
    plain = _OWN.sub("", output)
    assert "\x1b" not in plain, "an escape sequence other than the console's own"
    for text in texts:
        assert text in plain, f"{text!r} is not printed as is"


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FORCE_TERMINAL.items():
        monkeypatch.setenv(name, value)  # rich consoles read it when they print: a terminal, as a user's


def _render(*objects: object) -> str:
    out = io.StringIO()
    con = console()
    con.file = out
    con.width = 250
    con.print(*objects)
    return out.getvalue()


@pytest.mark.parametrize(
    "value",
    [MARKUP_NAME, "a trailing backslash \\", "two \\\\", "[/]", "[red]x\\[/red]", "\\[bold]", "名前 😀 שלום"],
)
def test_item3_safe_text_prints_as_itself_in_lines_and_tables(value: str) -> None:
    assert "\x1b]8;" in _render("[link=https://example.org/]a[/link]")  # the harness is a terminal: links work
    assert_printed_literally(_render(safe(value)), value)
    assert_printed_literally(_render(f"[bold]{safe(value)}[/] after"), f"{value} after")
    table = Table()
    table.add_column("name", overflow="fold")
    table.add_row(safe(value))
    assert_printed_literally(_render(table), value)


def test_item3_control_characters_are_shown_not_sent() -> None:
    printed = _render(safe(ESCAPE_ID), safe("bidi \u202eevil\u202c cr\rX"))
    assert_printed_literally(printed, ESCAPE_SHOWN, "bidi \\u202eevil\\u202c cr\\x0dX")
    assert "\u202e" not in printed and "\r" not in printed


def test_item3_progress_descriptions_are_data_too() -> None:
    con = console(stderr=True)
    con.file = io.StringIO()
    con.width = 250
    with RunProgress(con) as progress:
        progress.stage(f"preparing {MARKUP_NAME} {ESCAPE_ID}")
    assert_printed_literally(con.file.getvalue(), MARKUP_NAME, ESCAPE_SHOWN)
