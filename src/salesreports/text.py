"""Text from the data made safe for people and for every renderer: one rule per kind of output.

Names, goal names and feedback come from CRM exports and settings files and may hold anything: line
breaks, form feeds and other control characters, lone surrogates, right-to-left overrides. The rules:

- :func:`clean` -- every data string, where it enters a report's context
  (:func:`salesreports.report.contexts.write_context`) and in every HTML fragment: characters XML cannot
  hold (C0 controls but tab and line breaks, DEL, C1 controls, U+FFFE/U+FFFF) are dropped, vertical tab,
  form feed, NEL and the Unicode line/paragraph separators become line breaks, a lone surrogate becomes
  U+FFFD, and an isolate terminator (U+2069) without its opener is dropped (it would end the isolation
  of :func:`isolate` early). What is left can go into HTML, SVG, PNG, PDF and email.
- :func:`one_line` -- text for one line (a chart's title, label or tooltip, a header): :func:`clean`, then
  every line break and tab becomes a space.
- :func:`isolate` -- a data string inside plain text shown to people (a page's ``<title>``, a heading, an
  email's Subject, a From display name, a console line, a chart's title): wrapped in FIRST STRONG ISOLATE
  (U+2068) ... POP DIRECTIONAL ISOLATE (U+2069), so that a right-to-left name, or a right-to-left override
  in it, never reorders the text around it. HTML turns such a run into ``<bdi>`` (the ``sr_bdi`` filter of
  :mod:`salesreports.report.render`).

This module imports nothing of the package: every layer uses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["FSI", "PDI", "clean", "clean_all", "is_clean", "isolate", "one_line"]

FSI: Final = "\u2068"  # FIRST STRONG ISOLATE
PDI: Final = "\u2069"  # POP DIRECTIONAL ISOLATE
_ISOLATE_OPENERS: Final = "\u2066\u2067\u2068"  # LRI, RLI, FSI

# characters XML 1.0 cannot hold (and C1 controls, which nobody means to type); lone surrogates separately
_DROP: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
# what a reader would take as a line break: CR LF, CR, VT, FF, NEL, LINE and PARAGRAPH SEPARATOR
_BREAKS: Final = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u2069\ufffe\uffff\ud800-\udfff]")
_WHITE_BREAKS: Final = re.compile("[\n\t]")


def clean(value: Any) -> str:
    """Any value as text that every renderer can hold (see the module docstring); ``None`` -> ``""``.

    Examples
    --------
    >>> clean("Ann\\x0cLee\\u2028(North)\\x00")
    'Ann\\nLee\\n(North)'
    """
    text = "" if value is None else str(value)
    if not _UNSAFE.search(text):
        return text
    text = _DROP.sub("", _BREAKS.sub("\n", text))
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if PDI in text:
        text = _balanced(text)
    return text


def is_clean(text: str) -> bool:
    """True when :func:`clean` would leave ``text`` as it is."""
    return clean(text) == text


def one_line(value: Any) -> str:
    """:func:`clean` text on one line: line breaks and tabs become spaces (nothing else changes)."""
    return _WHITE_BREAKS.sub(" ", clean(value))


def isolate(value: Any) -> str:
    """A data string for plain text shown to people: one line, between FSI and PDI (``""`` stays ``""``).

    Examples
    --------
    >>> isolate("Ann\\u202eLee") == "\\u2068Ann\\u202eLee\\u2069"
    True
    """
    text = one_line(value)
    return f"{FSI}{text}{PDI}" if text else ""


def clean_all(value: Any) -> Any:
    """``value`` with :func:`clean` applied to every string in it (dict keys and values, list items)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean_all(k): clean_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_all(v) for v in value]
    return value


def _balanced(text: str) -> str:
    """``text`` without the isolate terminators that close no isolate opened inside it."""
    depth = 0
    out = []
    for ch in text:
        if ch in _ISOLATE_OPENERS:
            depth += 1
        elif ch == PDI:
            if not depth:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out)
