"""Check and scaffold notebook templates (``salesreports check``, ``salesreports new-template``).

A template passes the check when:

* its first code cell is tagged ``parameters`` and holds literal assignments only, each with a comment
  saying what it is (``rep_id = "R007"  # the rep, as in the reps table``);
* it declares the parameters the runner passes for its kind (rep: rep_id, period, context; team: team,
  period, context);
* it is committed without outputs (they may hold a rep's data) and without execution counts;
* it reads nothing but its context (the privacy boundary): no import of the data layer
  (:data:`DATA_MODULES`) and no call that reads files or databases (:data:`DATA_CALLS`);
* it executes top to bottom with its default parameters on the configured data.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesreports import guard
from salesreports.errors import ParamsError, TemplateError
from salesreports.guard import cell_name

__all__ = [
    "DATA_CALLS",
    "DATA_MODULES",
    "REPORT_PARAMS",
    "Finding",
    "check_parameters",
    "check_template",
    "check_template_runs",
    "declared_parameters",
    "execute_defaults",
    "fatal_findings",
    "read_notebook",
    "scaffold",
    "template_parameters",
]

# The project's kernel (the .venv's Python, installed by `make lab`): JupyterLab opens templates with it.
KERNELSPEC = {"name": "salesreports", "display_name": "salesreports (.venv)", "language": "python"}
KIND_PARAMS = {"rep": ("rep_id", "period", "context"), "team": ("team", "period", "context")}
# A template sees one report's context through salesreports.report.views, nothing else: what the guard refuses at
# run time (it would load the data set), plus the data layer's declarations and pyarrow, which the views read for
# the template (a template importing them itself is up to something).
DATA_MODULES = (*guard.DATA_MODULES, "salesreports.data", "pyarrow")
DATA_CALLS = (
    "open",
    "read_csv",
    "read_parquet",
    "read_sql",
    "read_excel",
    "read_json",
    "read_table",
    "load_dataset",
    "context_for",
    "build_scope",
    "compute_kpis",
)


@dataclass(frozen=True)
class Finding:
    """One problem with a template."""

    template: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.template}: {self.message}. Fix: {self.fix}."


class _Node(dict[str, Any]):
    """A notebook's JSON with attribute access, as nbformat's NotebookNode gives (without importing nbformat)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _node(value: Any) -> Any:
    if isinstance(value, dict):
        return _Node({k: _node(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def read_notebook(path: Path) -> Any:
    """A template as nbformat's ``read(..., as_version=4)`` gives it, read as JSON.

    nbformat imports jsonschema and its format checkers (a second or more on every ``preview`` and ``check``):
    a version-4 notebook is read here directly, with each cell's ``source`` joined into one string; an older
    notebook goes through nbformat, which converts it.

    Raises
    ------
    OSError, ValueError
        The file cannot be read or is not a notebook.
    """
    import json

    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    if raw.get("nbformat") != 4:  # an older notebook: nbformat converts it (and says what is wrong)
        import nbformat

        nbf: Any = nbformat  # untyped
        return nbf.read(str(path), as_version=4)
    if not isinstance(raw.get("cells"), list):
        raise ValueError("no list of cells")
    nb = _node(raw)
    for cell in nb.cells:
        if not isinstance(cell, dict):
            raise ValueError("a cell that is not an object")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = _Node()
        if not isinstance(cell.get("metadata", {}).get("tags", []), list):
            cell["metadata"]["tags"] = []
        cell.setdefault("cell_type", "code")
        source = cell.get("source") or ""
        cell["source"] = "".join(map(str, source)) if isinstance(source, list) else str(source)
        if cell["cell_type"] == "code":
            cell["outputs"] = cell.get("outputs") or []
            cell.setdefault("execution_count", None)
    return nb


# The parameters the toolkit passes to each kind of template.
REPORT_PARAMS = {"rep": {"rep_id", "period", "context"}, "team": {"team", "period", "context"}}


def template_parameters(template: Path) -> dict[str, Any]:
    """The parameters a template declares (its ``parameters`` cell): name -> ``name``, ``default`` (the source
    text of its value), ``inferred_type_name`` (its annotation, or ``None``) and ``help`` (its line's comment),
    as papermill's ``inspect_notebook`` gives them, without importing papermill (about a second).

    Raises
    ------
    TemplateError
        Missing or unreadable template, or no cell tagged ``parameters``.
    """
    if not template.exists():
        msg = f"{template}: template not found. Fix: correct `templates:` in the settings file."
        raise TemplateError(msg, file=str(template))
    try:
        nb = read_notebook(template)
    except Exception as exc:
        msg = f"{template}: not a readable notebook ({type(exc).__name__}: {exc}). Fix: restore it from git."
        raise TemplateError(msg, file=str(template)) from None
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        msg = (
            f"{template}: no cell is tagged 'parameters'. Fix: in JupyterLab select the first code cell, open "
            "the property inspector (gear icon) and add the tag `parameters`."
        )
        raise TemplateError(msg, file=str(template))
    return declared_parameters(cell.source)


def declared_parameters(source: str) -> dict[str, dict[str, str]]:
    """The top-level assignments of a parameters cell (empty when it does not parse: the checks say why)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # Python's line ends, not str.splitlines'
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        annotation: ast.expr | None = None
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names, annotation = [node.target.id], node.annotation
        else:
            continue
        value = node.value
        assert value is not None  # an AnnAssign without a value is skipped above
        # the parser's column offsets count UTF-8 bytes
        last = lines[(node.end_lineno or node.lineno) - 1].encode("utf-8")[node.end_col_offset or 0 :].decode("utf-8")
        comment = last.partition("#")[2].strip()
        for name in names:
            found[name] = {
                "name": name,
                "default": ast.get_source_segment(source, value) or "",
                "inferred_type_name": (ast.get_source_segment(source, annotation) or "None") if annotation else "None",
                "help": comment,
            }
    return found


def check_template_runs(template: Path) -> None:
    """Raise TemplateError when a template cannot run: no parameters cell, a syntax error, data access.

    Checked before anything is written, so that a broken template fails the run at once instead of
    leaving one failed notebook per rep.
    """
    template_parameters(template)  # missing or unreadable file, no parameters cell
    found = fatal_findings(template)
    if found:
        shown = "\n".join(f"  - {f.message}. Fix: {f.fix}." for f in found[:5])
        msg = f"{template}: the template cannot run:\n{shown}\nNothing was run or written."
        raise TemplateError(msg, file=str(template), problems=[str(f) for f in found])


def check_parameters(template: Path, given: Sequence[str]) -> None:
    """Raise ParamsError when a parameter is not declared in the template.

    papermill only logs unknown parameters; we stop before running anything.
    """
    declared = template_parameters(template)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        from salesreports.errors import close_matches

        hints = " ".join(close_matches(u, declared) for u in unknown)
        msg = (
            f"{template}: parameter(s) {', '.join(map(repr, unknown))} are not declared in the template's "
            f"parameters cell (it declares {', '.join(declared) or 'nothing'}).{hints} Fix: add them to the "
            "parameters cell with a literal default, or stop passing them."
        )
        raise ParamsError(msg, file=str(template), parameters=unknown)


def _kind(nb: Any) -> str:
    source = next((c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])), "")
    return "team" if "team =" in source else "rep"


def check_template(path: Path) -> list[Finding]:
    """Every problem with a template (empty when it passes the static checks).

    Raises
    ------
    TemplateError
        The file is missing or is not a notebook.
    """
    if not path.exists():
        raise TemplateError(f"{path}: template not found. Fix: check the path.", file=str(path))
    try:
        nb = read_notebook(path)
    except Exception as exc:
        msg = f"{path}: not a readable notebook ({type(exc).__name__}). Fix: restore it from git or re-save it."
        raise TemplateError(msg, file=str(path)) from None
    name = str(path)
    found: list[Finding] = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if not params:
        found.append(
            Finding(
                name,
                "no code cell is tagged 'parameters'",
                "tag the first code cell `parameters` (JupyterLab: property inspector, Add Tag)",
            )
        )
    elif code and params[0] is not code[0]:
        found.append(Finding(name, "the parameters cell is not the first code cell", "move it to the top"))
    if params:
        found.extend(_check_parameters(name, params[0].source, _kind(nb)))
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    if with_outputs:
        found.append(
            Finding(
                name,
                f"{len(with_outputs)} cell(s) carry outputs or execution counts: "
                + ", ".join(cell_name(i + 1, nb.cells[i].source) for i in with_outputs[:5]),
                "clear them (JupyterLab: Edit > Clear Outputs of All Cells) before committing",
            )
        )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            found.append(
                Finding(
                    name,
                    f"{cell_name(i + 1, cell.source)} has a syntax error at line {exc.lineno}: {exc.msg}",
                    "correct the cell",
                )
            )
            continue
        found.extend(_data_access(name, cell_name(i + 1, cell.source), tree))
    return found


def _data_access(name: str, cell: str, tree: ast.AST) -> list[Finding]:
    """Imports of the data layer and calls that read data, which would bypass the report's context."""
    found = []
    fix = (
        "a template may only use its view (`view = rep_view(...)`); if it needs more, add a method to "
        "salesreports.report.views that reads the context"
    )
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for module in modules:
            if any(module == m or module.startswith(f"{m}.") for m in DATA_MODULES):
                found.append(
                    Finding(
                        name,
                        f"{cell} imports {module} (line {getattr(node, 'lineno', '?')}), which reads the "
                        "whole data set: a report sees only its own context (privacy boundary)",
                        fix,
                    )
                )
                break
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in DATA_CALLS:
                found.append(
                    Finding(
                        name,
                        f"{cell} calls {called}() (line {node.lineno}), which reads data beside the "
                        "report's context (privacy boundary)",
                        fix,
                    )
                )
    return found


def fatal_findings(path: Path) -> list[Finding]:
    """The problems that stop a run before anything is written: no parameters cell, a syntax error, data access.

    (Outputs left in the template and undocumented parameters are for ``salesreports check``.)
    """
    fatal = ("no code cell is tagged", "syntax error", "privacy boundary")
    return [f for f in check_template(path) if any(word in f.message for word in fatal)]


def _check_parameters(name: str, source: str, kind: str) -> list[Finding]:
    found = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # reported with the other syntax errors
    declared = []
    lines = source.splitlines()
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            found.append(
                Finding(
                    name,
                    f"the parameters cell has a statement that is not an assignment (line {node.lineno})",
                    "keep only `name = literal  # what it is` lines there",
                )
            )
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        var = target.id if isinstance(target, ast.Name) else ast.unparse(target)
        declared.append(var)
        value = node.value
        try:
            ast.literal_eval(value) if value is not None else None
        except ValueError:
            found.append(
                Finding(
                    name,
                    f"parameter '{var}' has a default that is not a literal",
                    "give it a literal default (a string, number, list...); compute in later cells",
                )
            )
        if "#" not in lines[node.lineno - 1]:
            found.append(
                Finding(
                    name,
                    f"parameter '{var}' has no comment saying what it is",
                    f"add one: `{var} = ...  # what it means and its format`",
                )
            )
    missing = [p for p in KIND_PARAMS[kind] if p not in declared]
    if missing:
        found.append(
            Finding(
                name,
                f"the parameters cell lacks {', '.join(missing)} (the runner passes them to every {kind} report)",
                "declare them with a literal default",
            )
        )
    return found


def execute_defaults(path: Path, out: Path) -> None:
    """Execute a template with its default parameters (in this process, via the in-process engine).

    Raises
    ------
    TemplateError
        Naming the failing cell and error.
    """
    import papermill as pm

    from salesreports.run.nbengine import ENGINE_NAME

    try:
        pm.execute_notebook(str(path), str(out), engine_name=ENGINE_NAME, progress_bar=False, cwd=str(path.parent))
    except pm.PapermillExecutionError as exc:
        msg = (
            f"{path}: cell [{exc.exec_count}] fails with its default parameters ({exc.ename}): "
            f"{str(exc.evalue).rstrip('.')}. To see it: open the template in JupyterLab (`make lab`) and run it."
        )
        raise TemplateError(msg, file=str(path)) from None


REP_CELLS = [
    ("markdown", "## {title}\n\nWhat this report is for, in a sentence or two."),
    ("code", "from salesreports.report.views import rep_view\n\nview = rep_view(rep_id, period, context, params_file)"),
    ("markdown", "## Headline KPIs"),
    ("code", "view.tiles()"),
    ("markdown", "## Revenue trend"),
    ("code", 'view.trend("revenue")'),
]
TEAM_CELLS = [
    ("markdown", "## {title}\n\nWhat this report is for, in a sentence or two."),
    ("code", "from salesreports.report.views import team_view\n\nview = team_view(team, period, context, params_file)"),
    ("markdown", "## Team totals"),
    ("code", "view.tiles()"),
    ("markdown", "## Leaderboard"),
    ("code", "view.leaderboard()"),
]


def scaffold(name: str, folder: Path, *, kind: str = "rep") -> Path:
    """Write a new template ``folder/<name>.ipynb`` that already passes the checks.

    Raises
    ------
    TemplateError
        The name is not a plain file name, the kind is unknown, or the file exists.
    """
    import re

    import nbformat

    nbf: Any = nbformat  # nbformat's functions are untyped
    new_code_cell, new_markdown_cell, new_notebook = nbf.v4.new_code_cell, nbf.v4.new_markdown_cell, nbf.v4.new_notebook

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise TemplateError(f"'{name}' is not a template name. Fix: use letters, digits, - and _ only.", name=name)
    if kind not in KIND_PARAMS:
        raise TemplateError(f"unknown template kind '{kind}'. Fix: use rep or team.", kind=kind)
    path = folder / f"{name}.ipynb"
    if path.exists():
        raise TemplateError(f"{path} already exists. Fix: choose another name or delete it.", file=str(path))
    first = (
        'rep_id = "R007"  # the rep, as in the reps table'
        if kind == "rep"
        else 'team = "North"  # a team name, or "company" for everyone'
    )
    params = new_code_cell(
        f"{first}\n"
        'period = "2026-10"  # the month, YYYY-MM\n'
        'context = ""  # set by `salesreports run`; empty: build it from params_file (JupyterLab preview)\n'
        'params_file = "../params/config.yaml"  # settings used when context is empty'
    )
    params.metadata["tags"] = ["parameters"]
    title = name.replace("_", " ").replace("-", " ").capitalize()
    # the title once: in the report's first heading (this note is not in the report)
    note = new_markdown_cell("Notes for analysts (this cell is tagged `remove_cell`: not in the report).")
    note.metadata["tags"] = ["remove_cell"]
    cells = [note, params]
    for kind_, text in REP_CELLS if kind == "rep" else TEAM_CELLS:
        body = text.format(title=title)
        cells.append(new_markdown_cell(body) if kind_ == "markdown" else new_code_cell(body))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, str(path))
    return path
