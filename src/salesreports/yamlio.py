"""Read YAML files into pydantic models, with errors that name the file, the line, the key and the fix.

Three things plain ``yaml.safe_load`` + pydantic would get wrong for a hand-written file:

- YAML 1.1 reads ``yes``/``no``/``on``/``off`` as booleans, so a join's ``on:`` key became ``True``;
  here only ``true``/``false`` are booleans (as in YAML 1.2; pydantic still accepts "yes" for a
  boolean setting);
- a key written twice in one mapping (e.g. two ``deals:`` entries) silently keeps the last one;
  here it is an error naming both lines;
- validation errors name a key path (``tables.deals.colums``) but not where it is; here each
  problem is prefixed with the line of that key in the file.

A model validator that finds several problems raises :class:`KeyProblemsError` (a ``ValueError``)
carrying ``(key path, message)`` pairs, so that each one is reported at its own line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from salesreports.errors import ConfigError, close_matches

__all__ = ["KIND_KEYS", "KeyProblemsError", "line_of", "load_model", "read_mapping", "read_yaml"]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


class KeyProblemsError(ValueError):
    """Several problems found by a model validator, each at its own key path."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {text}" for loc, text in self.problems))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key repeated in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the base constructor reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                f"while reading the mapping that starts at line {node.start_mark.line + 1}",
                node.start_mark,
                f"the key {key!r} is written twice (first at line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as booleans, which turns the key
# `on:` of a join into True and a country code NO into False.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _text(path: Path) -> str:
    if not path.is_file():
        msg = f"{path}: file not found. Fix: create it or correct the path that points at it."
        raise ConfigError(msg, file=str(path))
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        msg = f"{path}: not UTF-8 text. Fix: save the file as UTF-8."
        raise ConfigError(msg, file=str(path)) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file.

    Raises
    ------
    ConfigError
        The file is missing, is not UTF-8, is not valid YAML or repeats a key (the message
        gives the line and column).
    """
    text = _text(path)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "written twice" in problem:
            fix = "keep one of them (merge their contents)"
        else:
            fix = (
                "check the indentation and quoting there (a value containing ': ' or starting with a "
                "special character needs quotes)"
            )
        msg = f"{path}{where}: invalid YAML ({problem}). Fix: {fix}."
        raise ConfigError(msg, file=str(path), line=(mark.line + 1) if mark is not None else None) from None


# The top-level keys that tell the project's kinds of YAML file apart, to name the kind of a file given in
# the wrong place (a source file passed as --params, a goals file as the source, ...).
KIND_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    "settings": ("params/config.yaml", frozenset({"company", "currency", "source", "output_dir", "templates", "smtp"})),
    "source": ("params/sources/demo.yaml", frozenset({"tables", "base_dir", "unassigned_rep", "null_values"})),
    "goals": ("params/goals.yaml", frozenset({"goals"})),
    "coaching": ("params/coaching.yaml", frozenset({"rules", "topics", "incentives", "grain"})),
}


def read_mapping(path: Path, kind: str) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping of settings of one kind.

    An empty file (or one holding only comments), a list or a scalar, and a file of another kind are
    errors naming the file: a typo must never turn a settings file into "all defaults".

    Parameters
    ----------
    path : the file
    kind : ``settings``, ``source``, ``goals`` or ``coaching`` (see :data:`KIND_KEYS`)

    Raises
    ------
    ConfigError
        Missing, not UTF-8, invalid YAML, empty, not a mapping, or a file of another kind.
    """
    example, own = KIND_KEYS[kind]
    raw = read_yaml(path)
    if raw is None:
        msg = (
            f"{path}: the file is empty (or holds only comments), so it is not a {kind} file; its defaults are "
            f"not used in its place. Fix: write the {kind} into it (see {example}), or point at the right file"
            + (" (`goals: []` declares no goals)." if kind == "goals" else ".")
        )
        raise ConfigError(msg, file=str(path), kind=kind)
    if not isinstance(raw, dict):
        what = "a list" if isinstance(raw, list) else f"the single value {str(raw)[:40]!r}"
        msg = f"{path}: expected a mapping of {kind} keys (`key: value` lines), got {what}. Fix: see {example}."
        raise ConfigError(msg, file=str(path), kind=kind)
    keys = {str(k) for k in raw}
    if not keys & own:
        for other, (other_example, signature) in KIND_KEYS.items():
            if other != kind and keys & signature:
                msg = (
                    f"{path}: this looks like a {other} file (it has `{sorted(keys & signature)[0]}:`), not a "
                    f"{kind} file. Fix: point at the {kind} file instead (like {example}); {other} files are "
                    f"named elsewhere (like {other_example})."
                )
                raise ConfigError(msg, file=str(path), kind=kind, looks_like=other)
    return raw


def line_of(text: str, loc: Loc) -> int | None:
    """The 1-based line of the key at ``loc`` in a YAML text (the deepest part that exists)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(model: type[BaseModel], err: dict[str, Any]) -> list[tuple[Loc, str]]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    shown = ".".join(str(p) for p in loc) or "(top level)"
    if kind == "value_error":
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, KeyProblemsError):
            return [(loc + sub, f"key '{'.'.join(map(str, loc + sub))}': {text}") for sub, text in cause.problems]
        text = str(err["msg"]).removeprefix("Value error, ")
        return [(loc, f"key '{shown}': {text}" if loc else text)]
    if kind == "extra_forbidden":
        parent: Any = model
        for part in loc[:-1]:
            fields = getattr(parent, "model_fields", None)
            if fields and part in fields:
                parent = _inner_model(fields[part].annotation)
        known = list(getattr(parent, "model_fields", {}) or {})
        known = [k for k in known if k != "path"]
        hint = close_matches(str(loc[-1]), known)
        allowed = f" Known keys here: {', '.join(known)}." if known else ""
        return [(loc, f"key '{shown}' is not known.{hint}{allowed}")]
    if kind == "missing":
        return [(loc, f"key '{shown}' is required but missing")]
    given = err.get("input")
    given_text = repr(given) if not isinstance(given, dict | list) else type(given).__name__
    if _SECRET.search(shown):  # a value under a secret-looking key is never echoed (it may be the secret)
        return [(loc, f"key '{shown}': {err['msg']}")]
    return [(loc, f"key '{shown}': {err['msg']} (got {given_text})")]


_SECRET = re.compile(r"password|secret|token|credential|api_?key", re.IGNORECASE)


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
    """Validate a YAML file (or already-parsed ``data`` read from it) against ``model``.

    Raises
    ------
    ConfigError
        Listing every problem with its line and key, and close matches for misspelt keys.
    """
    raw = read_yaml(path) if data is None else data
    if raw is None:
        raw = {}
    try:
        return model.model_validate(raw, context={"file": str(path)})
    except ValidationError as exc:
        found: list[tuple[Loc, str]] = []
        for e in exc.errors():
            found.extend(_describe(model, dict(e)))
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            text = ""
        problems = []
        for loc, problem in found:
            line = line_of(text, loc) if text else None
            problems.append(f"line {line}: {problem}" if line else problem)
        shown = "\n".join(f"  - {p}" for p in problems[:8])
        more = f"\n  … and {len(problems) - 8} more" if len(problems) > 8 else ""
        msg = f"{path}: {len(problems)} problem(s):\n{shown}{more}\nFix: correct these keys and run again."
        raise ConfigError(msg, file=str(path), problems=problems) from None
