"""Read YAML files into pydantic models, with errors that name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from salesreports.errors import ConfigError, close_matches

__all__ = ["load_model", "read_yaml"]

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file.

    Raises
    ------
    ConfigError
        The file is missing or is not valid YAML (the message gives the line and column).
    """
    if not path.exists():
        msg = f"{path}: file not found. Fix: create it or correct the path that points at it."
        raise ConfigError(msg, file=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        msg = f"{path}: not UTF-8 text. Fix: save the file as UTF-8."
        raise ConfigError(msg, file=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        msg = (
            f"{path}{where}: invalid YAML ({problem}). Fix: check the indentation and quoting there "
            "(a value containing ': ' or starting with a special character needs quotes)."
        )
        raise ConfigError(msg, file=str(path), line=(mark.line + 1) if mark is not None else None) from None


def _describe(model: type[BaseModel], err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent: Any = model
        for part in err["loc"][:-1]:
            fields = getattr(parent, "model_fields", None)
            if fields and part in fields:
                ann = fields[part].annotation
                parent = _inner_model(ann)
        known = list(getattr(parent, "model_fields", {}) or {})
        hint = close_matches(str(err["loc"][-1]), known)
        allowed = f" Known keys here: {', '.join(known)}." if known else ""
        return f"key '{loc}' is not known.{hint}{allowed}"
    if kind == "missing":
        return f"key '{loc}' is required but missing"
    return f"key '{loc}': {err['msg']} (got {err.get('input')!r})"


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def load_model(path: Path, model: type[M], data: Any = None) -> M:
    """Validate a YAML file (or already-parsed ``data``) against ``model``.

    Raises
    ------
    ConfigError
        Listing every problem with its key, and close matches for misspelt keys.
    """
    raw = read_yaml(path) if data is None else data
    if raw is None:
        raw = {}
    try:
        return model.model_validate(raw, context={"file": str(path)})
    except ValidationError as exc:
        problems = [_describe(model, dict(e)) for e in exc.errors()]
        shown = "\n".join(f"  - {p}" for p in problems[:8])
        more = f"\n  … and {len(problems) - 8} more" if len(problems) > 8 else ""
        msg = f"{path}: {len(problems)} problem(s):\n{shown}{more}\nFix: correct these keys and run again."
        raise ConfigError(msg, file=str(path), problems=problems) from None
