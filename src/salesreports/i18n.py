"""The words of every page in the reader's language: gettext catalogs (Babel), one active language at a time.

Every string a rep, manager or reader of the index sees is written in English in the code and marked:

- ``_("Headline KPIs")`` -- translated where it is used, into the active language;
- ``ngettext("{n} deal", "{n} deals", n).format(n=n)`` -- with the language's plural rules;
- ``N_("no revenue target for this period")`` -- only marked (a constant, or a text stored in English in a
  shared table such as the engine's reasons): translated where it is shown, by :func:`_` or :func:`retranslate`.

A placeholder is always a named ``{field}`` filled by ``str.format`` *after* translation, so that a translator
can move it. The catalogs live in ``salesreports/locale/<language>/LC_MESSAGES/messages.po`` and are compiled
to ``.mo`` files shipped in the package (``make i18n``; ``make i18n-check`` proves them complete and current).
The narrative Markdown of the report templates is translated paragraph by paragraph (:func:`paragraphs`,
:func:`translate_markdown`): analysts write English Markdown in JupyterLab, and a paragraph without a
translation is shown as written.

The active language is per context (a thread, a task) with a process-wide default: :func:`override` for one
report's scope or one email, :func:`activate` in a report's kernel, whose cells each run in a copy of the
context. English (any ``en`` locale, or a language without a catalog) translates nothing.

This module imports nothing of the package: every layer uses it.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Final

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "activate",
    "gettext",
    "in_sentence",
    "language",
    "ngettext",
    "override",
    "paragraphs",
    "retranslate",
    "translate_markdown",
    "translations",
]

DOMAIN: Final = "messages"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final = ("de", "es", "fr")
"""The languages with a complete shipped catalog (``make i18n-check``)."""

_NULL: Final = _gettext.NullTranslations()
_default: _gettext.NullTranslations = _NULL
_active: ContextVar[_gettext.NullTranslations | None] = ContextVar("salesreports_language", default=None)
_FIELD: Final = re.compile(r"\{(\w+)\}")


def _language_of(locale: str | None) -> str:
    """``de_DE``, ``de-DE`` or ``de`` -> ``de``; nothing -> ``en``."""
    return (locale or "en").replace("-", "_").split("_")[0].lower() or "en"


@cache
def translations(locale: str | None) -> _gettext.NullTranslations:
    """The compiled catalog of a locale's language (``de_AT`` -> German); English and unknown ones translate
    nothing."""
    lang = _language_of(locale)
    if lang == "en":
        return _NULL
    found = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    found.language = lang  # type: ignore[attr-defined]
    return found


def _current() -> _gettext.NullTranslations:
    active = _active.get()
    return _default if active is None else active


def language() -> str:
    """The active language code (``en`` when nothing is translated)."""
    return str(getattr(_current(), "language", "en"))


def activate(locale: str | None) -> None:
    """Make ``locale``'s language the default of this process (a report's kernel); inside :func:`override`
    (a view built for one email) only until the block ends, so the process's own language stays."""
    global _default
    if _active.get() is not None:
        _active.set(translations(locale))
        return
    _default = translations(locale)


@contextmanager
def override(locale: str | None) -> Iterator[None]:
    """Translate into ``locale``'s language inside the block (one rep's scope, one email), then restore."""
    token = _active.set(translations(locale))
    try:
        yield
    finally:
        _active.reset(token)


def gettext(message: str) -> str:
    """``message`` in the active language (as written when there is no translation)."""
    return _current().gettext(message) if message else message


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, by the active language's plural rules."""
    return _current().ngettext(singular, plural, int(n))


def in_sentence(label: str) -> str:
    """A label, already in the active language, inside a sentence: lower case in English ("ranked by win
    rate"); German nouns and acronyms keep their capitals ("nach Umsatz"); other languages lower the first
    letter ("par taux de réussite")."""
    spoken = language()
    if spoken == "en":
        return label.lower()
    if spoken == "de" or label[1:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def N_(message: str) -> str:  # noqa: N802 -- the gettext convention
    """Mark ``message`` for the catalog without translating it (it is translated where it is shown)."""
    return message


@cache
def _patterns(lang: str) -> tuple[tuple[re.Pattern[str], str, int], ...]:
    """Every msgid with ``{field}`` placeholders of a language's catalog as a regular expression matching the
    English text it makes, with its translation and the length of its own (literal) text; the longest (most
    specific) first."""
    catalog = translations(lang)
    messages: dict[str, str] = getattr(catalog, "_catalog", {})
    out = []
    for msgid, msgstr in messages.items():
        if not isinstance(msgid, str) or not msgid or "{" not in msgid or not msgstr:
            continue
        parts = _FIELD.split(msgid)
        if len(parts) < 3:
            continue
        regex = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" if p not in parts[1:i:2] else f"(?P={p})"
            for i, p in enumerate(parts)
        )
        out.append((re.compile(rf"\A{regex}\Z", re.S), msgstr, sum(len(p) for p in parts[::2])))
    out.sort(key=lambda item: -len(item[0].pattern))
    return tuple(out)


_WORD: Final = re.compile(r"[^\W\d_]{3,}")


def _plausible(text: str, own: int, values: dict[str, str]) -> bool:
    """Whether a message's match of ``text`` is the message that made it: its own words are at least 40 % of
    the text, or every value is a figure, a date, one word, or itself a message (a KPI's label, a reason).
    So ``"{actual} of {target}"`` matches "$5,000 of $9,000" but not "needs 12 months of history" (a
    company's own reason)."""
    if own >= 0.4 * len(text):
        return True
    return all(len(_WORD.findall(v)) <= 1 or retranslate(v) != v for v in values.values())


def retranslate(text: str) -> str:
    """An English text that was made from a marked message (``N_("needs {n} months ...").format(n=3)``) and
    stored, in the active language: an exact msgid is looked up, else the first message whose placeholders
    match it plausibly (:func:`_plausible`) is translated and filled with the same values, each of them
    translated the same way (a reason inside a reason, a KPI's label); notes joined by "; " one by one. Text
    that matches nothing is returned as it is."""
    if not text:
        return text
    current = _current()
    if current is _NULL:
        return text
    exact = current.gettext(text)
    if exact != text:
        return exact
    for pattern, msgstr, own in _patterns(language()):
        hit = pattern.match(text)
        if hit and _plausible(text, own, hit.groupdict()):
            return msgstr.format(**{k: retranslate(v) for k, v in hit.groupdict().items()})
    if "; " in text:  # several stored notes joined (a goal's): each in turn
        return "; ".join(retranslate(part) for part in text.split("; "))
    return text


def paragraphs(markdown: str) -> list[str]:
    """A Markdown cell's translatable units: its blocks separated by blank lines, each stripped. A heading is
    its own unit (``## Goals``): the heading's text is translated with its ``#`` marks."""
    return [block.strip() for block in re.split(r"\n\s*\n", markdown) if block.strip()]


def translate_markdown(markdown: str) -> str:
    """A template's Markdown cell in the active language, paragraph by paragraph (:func:`paragraphs`); a
    paragraph without a translation stays as written."""
    current = _current()
    if current is _NULL or not markdown.strip():
        return markdown
    return "\n\n".join(current.gettext(p) for p in paragraphs(markdown))
