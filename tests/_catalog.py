"""A tiny compiled translation catalog for tests: the words a test expects, in a temporary locale folder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from salesreports import i18n


def _clear() -> None:
    from salesreports.metrics import formats

    i18n.translations.cache_clear()
    i18n._patterns.cache_clear()
    formats._formatter.cache_clear()  # a cached Formatter keeps the catalog it was made with


@contextmanager
def tiny_catalog(
    folder: Path, messages: Mapping[str | tuple[str, str], str | tuple[str, str]], lang: str = "de"
) -> Iterator[None]:
    """``messages`` (msgid -> translation; a plural as (singular, plural) -> (form 0, form 1)) compiled into
    ``folder/<lang>/LC_MESSAGES/messages.mo`` and used by :mod:`salesreports.i18n` inside the block; afterwards
    the shipped catalogs and English as the process's language again (a view activates its page's language)."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale=lang)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    path = folder / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_mo(fh, catalog)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(i18n, "LOCALE_DIR", folder)
            _clear()
            yield
    finally:
        i18n.activate(None)
        _clear()
