"""``salesreports --help`` stays fast: the CLI module imports no heavy library (checked, not timed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "pyarrow", "altair", "duckdb", "papermill", "nbformat", "nbconvert", "IPython",
         "weasyprint", "vl_convert", "dask", "distributed", "sqlalchemy", "pandera")  # fmt: skip


def imported_by(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import salesreports.cli",
        "import salesreports",
        "import salesreports.run.local",
        "import salesreports.run.distributed",
        "import salesreports.bench.reports",
    ],
)
def test_importing_the_cli_and_runner_entry_points_loads_no_heavy_library(code: str) -> None:
    assert imported_by(code) == []


def test_help_lists_the_commands_without_loading_them() -> None:
    code = (
        "import sys\nfrom salesreports.cli import main\nsys.argv = ['salesreports', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    probe = f"{code}\nimport json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert "run" in done.stdout and "validate" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_exit_skips_its_last_collection_and_still_runs_the_exit_handlers() -> None:
    """main() freezes what is alive as the command ends (the interpreter's last collection would walk it all:
    half a second after a preview); atexit and weakref.finalize handlers still run, whatever the exit status."""
    for argv in (["--help"], ["validate", "--params", "/nonexistent/config.yaml"]):
        code = (
            "import atexit, gc, sys, weakref\nfrom salesreports.cli import main\n"
            "class Held:\n    pass\n"
            "held = Held(); held.me = held  # a cycle: only a collection would free it\n"
            "weakref.finalize(held, print, 'finalized')\n"
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
            f"sys.argv = ['salesreports', *{argv!r}]\nmain()"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == (0 if argv == ["--help"] else 2), done.stderr
        assert done.stdout.splitlines()[-2:] == ["frozen True", "finalized"], argv


def test_a_commands_help_paragraphs_wrap_at_the_terminals_width() -> None:
    """A docstring's line breaks are not kept in `--help` (rich keeps them: a ragged paragraph on any terminal
    narrower or wider than the source); its Example lines stay lines of their own."""
    from typer.testing import CliRunner

    from salesreports.cli import _reflow, app

    assert _reflow("Summary.\n\n    One paragraph\n    over two lines.\n    Example: x\n    - a\n    - b") == (
        "Summary.\n\nOne paragraph over two lines.\nExample: x\n- a\n- b"
    )
    result = CliRunner().invoke(app, ["preview", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "a warm report process), renders again on every save and serves" in result.stdout
