"""Scorecards in the company's language, end to end: a German demo run read in real headless Chromium and as email.

The demo (every table, goals and coaching) is run for October 2026 with ``locale: de_DE`` and ``currency: EUR``:
one rep's scorecard, the team summaries, and the rep's dry-run email. What a reader sees is compared with the
shipped catalog's English messages (the msgids): no English message whose German translation differs may be
visible, in the page's text (Chromium's ``innerText``, charts' SVG text included) or in the email's subject and
text part. The catalogs themselves are checked by ``make i18n-check`` (:func:`test_catalogs_are_complete`).
"""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

import test_browser
from salesreports.catalogs import check
from salesreports.i18n import LANGUAGES, LOCALE_DIR
from salesreports.params import load_config
from test_pages import _settings

ROOT = Path(__file__).resolve().parents[1]
browser = test_browser.browser  # the fixtures: one Chromium per module, a fresh context per page
open_page = test_browser.open_page
PERIOD = "2026-10"
REP = "R001"
_FIELD = re.compile(r"\{\w*\}")

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]


def english_messages(lang: str) -> list[str]:
    """The catalog's English fragments a page in ``lang`` must not show: each msgid's literal text between its
    placeholders, where the translation differs and the fragment is a phrase (two words or more, or one word of
    five letters or more), and a Markdown heading's text without its ``#`` marks."""
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale=lang)
    out: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated = " ".join(str(s) for s in strings)
        for msgid in ids:
            text = str(msgid).lstrip("#").strip()
            for fragment in _FIELD.split(text):
                fragment = fragment.strip(" .,:;()·—-\n*_`")
                if not fragment or fragment in translated or "\n" in fragment:
                    continue
                words = re.findall(r"[A-Za-z]+", fragment)
                if len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 5 and words[0] == fragment):
                    out.add(fragment)
    return sorted(out, key=len, reverse=True)


def english_in(text: str, messages: list[str]) -> list[str]:
    """The English messages found in ``text`` as whole words (file names, such as an attachment's, left out)."""
    flat = re.sub(r"\s+", " ", re.sub(r"[\w.-]+\.(pdf|html)\b", "", text))
    return [m for m in messages if re.search(rf"(?<![A-Za-z]){re.escape(m)}(?![A-Za-z])", flat)]


@pytest.fixture(scope="module")
def german_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo run for October 2026 in German and euros: R001's scorecard, the team summaries, R001's email."""
    from salesreports.data.demo import generate_demo
    from salesreports.mail.send import send_reports
    from salesreports.run.batch import run_reports

    root = tmp_path_factory.mktemp("german")
    generate_demo(root / "data", months=14, n_reps=12, end_month=PERIOD)
    tables = ["reps", "deals", "leads", "activities", "targets", "feedback"]
    source = root / "data" / "source.yaml"
    source.write_text(
        "name: demo\nkind: files\nbase_dir: .\ntables:\n" + "".join(f"  {t}: {{file: {t}.csv}}\n" for t in tables),
        encoding="utf-8",
    )
    goals = str(ROOT / "params" / "goals.yaml")
    settings = _settings(root, source, goals, company="Matrix GmbH", locale="de_DE", currency="EUR")
    config = load_config(settings, environ={})
    summary = run_reports(config, periods=PERIOD, reps=[REP])
    assert summary.ok, summary.failed
    send_reports(config, period=PERIOD)  # a dry run: .eml files in the outbox
    folder = root / "reports" / PERIOD
    emails = sorted((root / "outbox").rglob("*.eml"))
    return {"folder": folder, "emails": emails, "messages": english_messages("de")}


def test_catalogs_are_complete() -> None:
    """``make i18n-check``: every message translated in de, es and fr, no unused entry, .mo files current."""
    assert check() == []
    assert set(LANGUAGES) == {"de", "es", "fr"}


def test_german_scorecard_shows_no_english_message(german_run: dict[str, Any], open_page: Any) -> None:
    page_path = next(german_run["folder"].glob(f"{REP}/*.html"))
    opened = open_page(page_path)
    page = opened.page
    assert page.evaluate("document.documentElement.lang") == "de-DE"
    text = page.evaluate("document.body.innerText")
    svg_text = " ".join(page.evaluate("Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)"))
    assert "Oktober 2026" in text
    assert "Umsatz nach Monat, Nov. 2025 bis Okt. 2026:" in text  # a chart's alt text names its months in German
    assert english_in(text, german_run["messages"]) == []
    assert english_in(svg_text, german_run["messages"]) == []
    # a currency axis in German: thousands with a dot, the euro after the number
    assert re.search(r"\d{1,3}(\.\d{3})+\s?€", svg_text), svg_text[:500]


def test_german_team_summary_shows_no_english_message(german_run: dict[str, Any], open_page: Any) -> None:
    pages = sorted(german_run["folder"].glob("team-*/*.html"))
    assert pages
    opened = open_page(pages[0])
    text = opened.page.evaluate("document.body.innerText")
    assert english_in(text, german_run["messages"]) == []


def test_german_email_subject_and_text_part(german_run: dict[str, Any]) -> None:
    rep_mail = None
    for path in german_run["emails"]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if REP in path.name or "Ihre" in str(message["Subject"]) or "Ihr" in str(message["Subject"]):
            rep_mail = message
            break
    assert rep_mail is not None, [p.name for p in german_run["emails"]]
    subject = str(rep_mail["Subject"])
    assert "Oktober 2026" in subject
    assert english_in(subject, german_run["messages"]) == []
    text = rep_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert english_in(text, german_run["messages"]) == []
    assert "€" in text


def test_german_pdf_shows_no_english_message(german_run: dict[str, Any]) -> None:
    """The PDF's text (pdftotext), its page footer included: German only."""
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is missing (poppler-utils: make sysdeps)")
    pdf = next(german_run["folder"].glob(f"{REP}/*.pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Seite 1 von" in text
    assert english_in(text, german_run["messages"]) == []
