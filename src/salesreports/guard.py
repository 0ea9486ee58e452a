"""The report guard: a Python audit hook that keeps a report's process to its own context.

A report (a notebook run by ``salesreports run``, ``preview`` or ``check``, or a template previewed in
JupyterLab) may read only its context. :func:`install` adds an audit hook (:func:`sys.addaudithook`) to
the *report's* process — the child forked for one report, the fresh kernel, the Lab kernel once it has
its preview context — that refuses:

* opening a file for reading outside an allow-list: the report's context folder, the template itself,
  the Python installation and site-packages, the salesreports package (less its data layer), fonts and
  the system's shared files (``/usr``, ``/etc``, ``/proc``...). Every Python reader ends in such an
  ``open`` event: ``open``, ``Path.read_text``, ``pd.read_csv``/``read_fwf``/``read_parquet``...,
  ``np.genfromtxt``/``loadtxt``, however it is called (``getattr(pd, "read_" + "csv")``);
* importing the data layer (:data:`DATA_MODULES`), by ``import`` or ``importlib`` (modules the parent
  process had loaded are removed from the report's ``sys.modules`` first);
* SQLite connections to files, and starting other programs (``subprocess``, ``os.system``).

A refusal raises :class:`~salesreports.errors.PrivacyError` naming the file and the cell; a refusal that
the reading code swallowed still fails the cell (:func:`watch`).

What it does not do: stop deliberately hostile code. A hook cannot see readers written in native code
that open files themselves (pyarrow's or DuckDB's own readers, ctypes), and code in the report can
undo it. The analyst is trusted; the guard stops accidental reads, and ``salesreports check`` flags the
obvious ones before anything runs.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from salesreports.errors import PrivacyError

__all__ = [
    "DATA_MODULES",
    "active",
    "allow",
    "cell_name",
    "exempt",
    "install",
    "kernel_arguments",
    "refusals",
    "set_cell",
    "watch",
]

# What would load the data set or read it natively (``salesreports.data.schema``, the declared columns, reads
# nothing and the KPI registry needs it): a report sees one context, nothing else.
DATA_MODULES = (
    "salesreports.data.readers",
    "salesreports.data.loading",
    "salesreports.data.mapping",
    "salesreports.data.validate",
    "salesreports.data.demo",
    "salesreports.metrics.engine",
    "salesreports.metrics.benchmarks",
    "salesreports.metrics.goals",
    "salesreports.metrics.coaching",
    "salesreports.report.scope",
    "salesreports.run.batch",
    "duckdb",
    "sqlalchemy",
    "sqlite3",
)
# Imported by the parent of a report and left there, but never importable again by the report.
_PURGED = tuple(m for m in DATA_MODULES if m != "sqlite3")  # IPython keeps sqlite3 loaded; connect() is checked
# System folders a report may read: the interpreter, shared libraries' data, fonts, time zones, /proc.
_SYSTEM = ("/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/var/cache/fontconfig")
_HOME = (
    ".cache/fontconfig",
    ".fonts",
    ".local/share/fonts",
    ".cache/matplotlib",
    ".config/matplotlib",
    ".ipython",
    ".jupyter",
    ".local/share/jupyter",
)
_SPAWN = {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "pty.spawn"}


class _State:
    def __init__(self) -> None:
        self.roots: tuple[str, ...] = ()
        self.denied: tuple[str, ...] = ()
        self.cell = ""
        self.refused: list[str] = []
        self.local = threading.local()
        self.context = ""


_STATE: _State | None = None


def active() -> bool:
    """Whether this process has the guard installed."""
    return _STATE is not None


def refusals() -> list[str]:
    """The messages of every refusal in this process so far."""
    return list(_STATE.refused) if _STATE else []


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))  # noqa: PTH100 - plain strings: this runs at every open


def _roots(extra: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    import site
    import sysconfig

    package = str(Path(__file__).resolve().parent)
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, package, *_SYSTEM}
    found.update(p for p in sysconfig.get_paths().values() if p)
    found.update(site.getsitepackages())
    found.add(site.getusersitepackages())
    found.update(p for p in sys.path if p and p.rstrip("/").endswith(("site-packages", "dist-packages")))
    home = Path.home()
    found.update(str(home / h) for h in _HOME)
    found.update(str(Path(p)) for p in os.environ.get("SALESREPORTS_GUARD_ALLOW", "").split(os.pathsep) if p)
    found.update(str(p) for p in extra if str(p))
    # installed distributions' metadata (entry points that altair's plugin registries read), also beside an
    # editable install's source folder (src/salesreports.egg-info): package metadata, never data
    for entry in sys.path:
        if entry and os.path.isdir(entry):  # noqa: PTH112 - plain strings, as the rest of this module
            found.update(str(m) for m in Path(entry).glob("*.egg-info"))
            found.update(str(m) for m in Path(entry).glob("*.dist-info"))
    out = set()
    for p in found:
        out.add(_norm(p))
        out.add(os.path.realpath(p))
    return tuple(sorted(out))


def _denied() -> tuple[str, ...]:
    """Source files of the data layer inside the package (reading them is importing them)."""
    package = Path(__file__).resolve().parent
    out = []
    for module in DATA_MODULES:
        if not module.startswith("salesreports."):
            continue
        base = package.joinpath(*module.split(".")[1:])
        out.append(str(base))  # a package folder
        out.append(f"{base}.py")
        out.append(str(base.parent / "__pycache__" / f"{base.name}."))  # its bytecode, any tag
    return tuple(out)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _is_denied(path: str, denied: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d if d.endswith(".") else d + "/") for d in denied)


def cell_name(position: int | None, source: str) -> str:
    """A cell as JupyterLab shows it: its position in the notebook (1 = the first cell) and its first line."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    where = f"cell {position}" if position else "the cell"
    return f"{where} (`{first}`)" if first else where


def set_cell(position: int | None, source: str = "") -> None:
    """Tell the guard which notebook cell runs now (the in-process engine does), for its messages."""
    if _STATE is not None:
        _STATE.cell = cell_name(position, source) if position else ""


def _where() -> str:
    """The cell (and its line) that runs the refused call, from the call stack."""
    import linecache

    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<ipython-input") or "/ipykernel_" in name or name.startswith("<cell"):
            lines = linecache.getlines(name)
            cell = _STATE.cell if _STATE and _STATE.cell else cell_name(None, "".join(lines))
            return f"{cell}, line {frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return _STATE.cell if _STATE and _STATE.cell else "the report"


def _refuse(what: str, fix: str, **fields: Any) -> None:
    assert _STATE is not None
    where = _where()
    context = f" (its context: {_STATE.context})" if _STATE.context else ""
    msg = (
        f"{where} {what}: a report reads only its own context{context}, never the data set (privacy boundary). "
        f"Fix: {fix}."
    )
    _STATE.refused.append(msg)
    raise PrivacyError(msg, where=where, **fields)


_VIEW_FIX = (
    "use the view (`view.tiles()`, `view.trend(...)`...); if the report needs more, add a method to "
    "salesreports.report.views that reads the context"
)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    state = _STATE
    if state is None or getattr(state.local, "busy", False) or getattr(state.local, "exempt", 0):
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        if mode is None:
            if flags & os.O_ACCMODE == os.O_WRONLY or flags & getattr(os, "O_DIRECTORY", 0):
                return
        elif "r" not in mode and "+" not in mode:
            return
        state.local.busy = True
        try:
            name = _norm(os.fsdecode(path))
            if _is_denied(name, state.denied):
                _refuse(f"imports the data layer (it opens {name})", _VIEW_FIX, file=name)
            if _under(name, state.roots) or _under(os.path.realpath(name), state.roots):
                return
            if not os.path.isfile(name):  # noqa: PTH113
                return  # a folder or a missing file holds no data (importlib.metadata tries sys.path entries as zips)
            _refuse(f"reads {name}", _VIEW_FIX, file=name)
        finally:
            state.local.busy = False
    elif event == "import":
        module = str(args[0])
        if any(module == m or module.startswith(m + ".") for m in DATA_MODULES):
            state.local.busy = True
            try:
                _refuse(f"imports {module}, which reads the data set", _VIEW_FIX, module=module)
            finally:
                state.local.busy = False
    elif event == "sqlite3.connect":
        database = args[0]
        if database not in (":memory:", b":memory:", ""):
            state.local.busy = True
            try:
                _refuse(f"opens the database {os.fsdecode(database)}", _VIEW_FIX, file=os.fsdecode(database))
            finally:
                state.local.busy = False
    elif event in _SPAWN:
        state.local.busy = True
        try:
            program = args[0] if args else "?"
            _refuse(f"starts a program ({event}: {program!r})", _VIEW_FIX, event=event)
        finally:
            state.local.busy = False


class _Refuser:
    """A meta-path finder that refuses the data layer (``importlib.import_module`` raises no import event)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        _hook("import", (name, None, sys.path, sys.meta_path, sys.path_hooks))


def _purge() -> None:
    """Forget the data layer modules the parent process had loaded, so a report must import them anew."""
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in _PURGED):
            del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                vars(sys.modules[parent]).pop(child, None)


def install(
    *, context: str | os.PathLike[str] = "", template: str | os.PathLike[str] = "", allow: Iterable[Any] = ()
) -> None:
    """Guard this process: from now on it reads only its context and the allowed files (module docstring).

    Parameters
    ----------
    context : the report's ``context.json`` (its folder is allowed); empty in a Lab preview (see :func:`allow`)
    template : the template (allowed)
    allow : more files or folders to allow

    Installing twice keeps one hook and widens the allow-list. Call it only in the report's own process
    (never in a worker or zygote that starts other reports): a hook cannot be removed.
    """
    global _STATE
    extra = [*allow]
    folder = ""
    if context:
        folder = str(Path(context).resolve().parent)
        extra.append(folder)
    if template:
        extra.append(Path(template).resolve())
    if _STATE is not None:
        _STATE.roots = tuple(sorted({*_STATE.roots, *_roots(extra)}))
        _STATE.context = folder or _STATE.context
        return
    state = _State()
    state.roots = _roots(extra)
    state.denied = _denied()
    state.context = folder
    _purge()
    _STATE = state
    sys.meta_path.insert(0, _Refuser())
    sys.addaudithook(_hook)


def allow(path: str | os.PathLike[str]) -> None:
    """Allow reading one more folder or file (a Lab preview's context folder)."""
    if _STATE is not None:
        _STATE.roots = tuple(sorted({*_STATE.roots, _norm(os.fspath(path)), os.path.realpath(path)}))
        _STATE.context = _STATE.context or _norm(os.fspath(path))


@contextmanager
def exempt() -> Iterator[None]:
    """Let the toolkit itself do what a report may not, in this thread (build a Lab preview's context)."""
    state = _STATE
    if state is None:
        yield
        return
    state.local.exempt = getattr(state.local, "exempt", 0) + 1
    try:
        yield
    finally:
        state.local.exempt -= 1


def watch(shell: Any) -> None:
    """Fail an IPython cell in which a read was refused even if the reading code caught the error."""
    if _STATE is None or getattr(shell, "_salesreports_guarded", False):
        return
    shell._salesreports_guarded = True

    def before(*_: Any) -> None:
        if _STATE is not None:
            _STATE.local.seen = len(_STATE.refused)

    def after(result: Any) -> None:
        if _STATE is None or result.error_in_exec is not None or result.error_before_exec is not None:
            return
        new = _STATE.refused[getattr(_STATE.local, "seen", 0) :]
        if new:
            err = PrivacyError(new[0] + " (the cell caught the error and went on; the report fails anyway)")
            result.error_in_exec = err
            try:
                raise err
            except PrivacyError:
                shell.showtraceback()

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def _install_in_kernel(context: str, template: str) -> None:  # pragma: no cover - runs in fresh kernels
    install(context=context, template=template)
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        watch(shell)


def kernel_arguments(context: str, template: str) -> list[str]:
    """Kernel command-line arguments that install the guard in a fresh Jupyter kernel before any cell runs."""
    line = f"import salesreports.guard as _g; _g._install_in_kernel({context!r}, {template!r}); del _g"
    return [f"--IPKernelApp.exec_lines={line}"]
