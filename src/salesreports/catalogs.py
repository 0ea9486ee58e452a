"""The translation catalogs' tooling: Babel extractors for what is not Python, and ``make i18n-check``.

``babel.cfg`` (the project's extraction map) names three sources of messages besides the code's ``_()``,
``ngettext()`` and ``N_()`` calls and the Jinja templates:

- :func:`extract_notebook` -- the Markdown cells of ``reports/*.ipynb`` that a reader sees (not the cells
  tagged ``remove_cell``), paragraph by paragraph (:func:`salesreports.i18n.paragraphs`);
- :func:`extract_kpis` -- the KPI registry's labels, descriptions, tile notes and "not available" reasons;
- :func:`extract_coaching` -- the shipped coaching topics, their descriptions and rules' explanations.

:func:`check` (``python -m salesreports.catalogs check``, ``make i18n-check``) proves the shipped catalogs
complete and current: the template (``messages.pot``) holds exactly what a fresh extraction finds, every
message is translated in every language of :data:`salesreports.i18n.LANGUAGES` (not fuzzy, the same
``{placeholders}``), no catalog holds an entry the code no longer uses, and each ``.mo`` is the compiled ``.po``.

This module is tooling (like ``cli`` and ``bench``): nothing at run time imports it.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

import yaml

from salesreports.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, paragraphs

__all__ = ["check", "extract_coaching", "extract_kpis", "extract_notebook", "main"]

ROOT: Final = Path(__file__).resolve().parents[2]
POT: Final = LOCALE_DIR / f"{DOMAIN}.pot"
_FIELD: Final = re.compile(r"\{(\w*)(?:[:!][^}]*)?\}")
_KPI_KEYS: Final = ("label", "description", "when_zero", "tile_note")

Extracted = Iterator[tuple[int, str, str, list[str]]]


def extract_notebook(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Extracted:
    """Babel extractor: each paragraph of each Markdown cell a reader sees, with the cell's number as line."""
    notebook = json.loads(fileobj.read().decode("utf-8"))
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "markdown" or "remove_cell" in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for paragraph in paragraphs(text):
            yield number, "", paragraph, [f"a Markdown paragraph of {Path(fileobj.name).name}, cell {number}"]


def _yaml(fileobj: IO[bytes]) -> Any:
    return yaml.safe_load(fileobj.read().decode("utf-8"))


def extract_kpis(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Extracted:
    """Babel extractor for ``kpis.yaml``: every KPI's label, description, tile note and when-zero reason."""
    for number, kpi in enumerate(_yaml(fileobj) or [], start=1):
        for key in _KPI_KEYS:
            if isinstance(kpi.get(key), str) and kpi[key].strip():
                yield number, "", kpi[key], [f"KPI {kpi.get('name')}: {key}"]


def extract_coaching(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Extracted:
    """Babel extractor for ``coaching_defaults.yaml``: topic names, their descriptions, rules' explanations."""
    data = _yaml(fileobj) or {}
    for topic, description in (data.get("topics") or {}).items():
        yield 0, "", str(topic), ["a coaching topic"]
        yield 0, "", str(description), [f"the description of the coaching topic {topic}"]
    for rule in data.get("rules") or []:
        if isinstance(rule, dict) and rule.get("why"):
            yield 0, "", str(rule["why"]), ["why a coaching rule points to its topic"]


def _fields(text: str) -> set[str]:
    return set(_FIELD.findall(text))


def _ids(catalog: Any) -> set[Any]:
    return {m.id for m in catalog if m.id}


def _strings(message: Any) -> list[str]:
    return list(message.string if isinstance(message.string, tuple) else (message.string,))


def check(root: Path = ROOT, languages: Sequence[str] = LANGUAGES) -> list[str]:
    """Everything wrong with the shipped catalogs (an empty list when they are complete and current)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    problems: list[str] = []
    with open(root / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    fresh = Catalog()
    for filename, lineno, found, comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    ):
        fresh.add(found, None, [(filename, lineno)], auto_comments=comments, context=context)
    pot_path = root / "src/salesreports/locale" / f"{DOMAIN}.pot"
    if not pot_path.exists():
        return [f"{pot_path} is missing: run `make i18n`"]
    with open(pot_path, "rb") as f:
        pot = read_po(f)
    new, gone = _ids(fresh) - _ids(pot), _ids(pot) - _ids(fresh)
    problems += [
        f"messages.pot: {m!r} is in the code but not in the template: run `make i18n`" for m in sorted(map(str, new))
    ]
    problems += [f"messages.pot: {m!r} is no longer in the code: run `make i18n`" for m in sorted(map(str, gone))]
    wanted = _ids(fresh)
    for lang in languages:
        po_path = root / "src/salesreports/locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_path.exists():
            problems.append(f"{lang}: {po_path} is missing: run `make i18n` and translate it")
            continue
        with open(po_path, "rb") as f:
            po = read_po(f, locale=lang)
        name = f"{lang}/LC_MESSAGES/{DOMAIN}.po"
        for message in po:
            if not message.id:
                continue
            label = str(message.id if isinstance(message.id, str) else message.id[0])
            if message.id not in wanted:
                problems.append(f"{name}: {label!r} is not used by the code any more: run `make i18n`")
            elif message.fuzzy:
                problems.append(f"{name}: {label!r} is marked fuzzy: check the translation and remove the flag")
            elif not all(s.strip() for s in _strings(message)):
                problems.append(f"{name}: {label!r} is not translated")
            else:
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                want = set().union(*(_fields(str(i)) for i in ids))
                for s in _strings(message):
                    if _fields(s) != want:
                        problems.append(
                            f"{name}: {label!r}: the translation {s!r} has the placeholders "
                            f"{sorted(_fields(s))}, the message {sorted(want)}"
                        )
        missing = wanted - _ids(po)
        problems += [f"{name}: {m!r} is missing: run `make i18n` and translate it" for m in sorted(map(str, missing))]
        for obsolete in po.obsolete:
            problems.append(f"{name}: an obsolete entry {obsolete!r} is left: run `make i18n`")
        buffer = io.BytesIO()
        write_mo(buffer, po)
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.read_bytes() != buffer.getvalue():
            problems.append(f"{lang}/LC_MESSAGES/{DOMAIN}.mo is not the compiled .po: run `make i18n`")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m salesreports.catalogs check``: print every problem, exit 1 if there is one."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["check"]:
        print("usage: python -m salesreports.catalogs check\n\n" + (__doc__ or "").split("\n\n")[0])
        return 0 if args in (["--help"], ["-h"]) else 2
    problems = check()
    for problem in problems:
        print(problem)
    total = sum(1 for _ in _ids_of_pot())
    if problems:
        print(f"i18n-check: {len(problems)} problem(s) in the catalogs ({', '.join(LANGUAGES)}).")
        return 1
    print(f"i18n-check: {total} messages, translated in {', '.join(LANGUAGES)}; the .mo files are current.")
    return 0


def _ids_of_pot() -> set[Any]:
    from babel.messages.pofile import read_po

    with open(POT, "rb") as f:
        return _ids(read_po(f))


if __name__ == "__main__":
    raise SystemExit(main())
