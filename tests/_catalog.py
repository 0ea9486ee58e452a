"""A tiny gettext catalog for tests: a few messages of one language compiled into a temporary locale folder
that :mod:`salesreports.i18n` reads instead of the shipped catalogs, so that a test does not depend on what
the shipped translations say."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from salesreports import i18n


def _clear() -> None:
    from salesreports.metrics import formats

    i18n.translations.cache_clear()
    i18n._patterns.cache_clear()
    formats._formatter.cache_clear()  # a cached Formatter keeps the catalog it was made with


def compile_catalog(folder: Path, messages: Mapping[Any, Any], lang: str) -> None:
    """``messages`` (msgid -> translation; a plural as (singular, plural) -> forms) compiled into
    ``folder/<lang>/LC_MESSAGES/messages.mo``."""
    catalog = Catalog(locale=lang, domain=i18n.DOMAIN)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    path = folder / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_mo(fh, catalog)


@contextmanager
def tiny_catalog(
    folder: Path, messages: Mapping[str | tuple[str, str], str | tuple[str, str]], lang: str = "de"
) -> Iterator[None]:
    """``messages`` (msgid -> translation; a plural as (singular, plural) -> (form 0, form 1)) compiled into
    ``folder/<lang>/LC_MESSAGES/messages.mo`` and used by :mod:`salesreports.i18n` inside the block; afterwards
    the shipped catalogs and English as the process's language again (a view activates its page's language)."""
    compile_catalog(folder, messages, lang)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(i18n, "LOCALE_DIR", folder)
            _clear()
            yield
    finally:
        i18n.activate(None)
        _clear()


def install_catalog(request: pytest.FixtureRequest, messages: Mapping[Any, Any], language: str = "de") -> None:
    """For the test of ``request``: ``language``'s catalog holds exactly ``messages`` (msgid -> translation; a
    plural message as ``(singular, plural) -> (form, ...)`` in the language's plural forms).

    Afterwards the shipped catalogs and the process's default language (a view's ``activate``) are back.
    """
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    folder: Path = request.getfixturevalue("tmp_path") / "locale"
    compile_catalog(folder, messages, language)
    monkeypatch.setattr(i18n, "LOCALE_DIR", folder)
    monkeypatch.setattr(i18n, "_default", i18n._NULL)
    _clear()
    request.addfinalizer(_clear)
