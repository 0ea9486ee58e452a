"""salesreports.i18n on a small German catalog compiled into a temporary locale directory (not the shipped one,
so that every expected text here is written by hand and the tests do not depend on the shipped translations)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from _catalog import compile_catalog
from salesreports import i18n
from salesreports.metrics.coaching import IncentivePlan, Tier, estimate_incentive
from salesreports.metrics.formats import Formatter
from salesreports.metrics.goals.pace import GoalProgress, note_text, summary_text
from salesreports.metrics.measures import data_ends

NB = "\xa0"

GERMAN = {
    "Headline KPIs": "Wichtigste Kennzahlen",
    "not employed in this period": "in diesem Zeitraum nicht beschäftigt",
    # two placeholders, in the other order in the translation
    "needs {need} months of history before the period (the data starts in {first})": (
        "die Daten beginnen {first}: {need} Monate Vorlauf vor dem Zeitraum nötig"
    ),
    "the data starts in {first}": "die Daten beginnen {first}",
    # a short pattern that also matches the longer message's English text, and the longer one
    "{actual} of {target}": "{actual} von {target}",
    "{actual} of {target} so far": "bisher {actual} von {target}",
    "## Goals": "## Ziele",
    "Your goals and how far along they are.": "Ihre Ziele und wie weit Sie damit sind.",
    "pts": "Pp.",
    "the {table} data ends in {month}": "die Daten der Tabelle {table} enden im {month}",
    "{attainment} attainment: estimated bonus {bonus}": "{attainment} Zielerreichung: geschätzter Bonus {bonus}",
    "each further point adds {amount}": "jeder weitere Punkt bringt {amount}",
    "from {attainment} the rate is {rate}x": "ab {attainment} gilt der {rate}-fache Satz",
    "{actual} of {target} ({share}) by {deadline}": "{actual} von {target} ({share}) bis {deadline}",
    "missed": "verfehlt",
    "starts in {month}": "beginnt im {month}",
    "recomputed on {scope}": "neu berechnet für {scope}",
    "no {kpi} value for {period}: {reason}": "kein Wert für {kpi} im {period}: {reason}",
    "Win rate": "Abschlussquote",
}
PLURALS = {("{n} deal", "{n} deals"): ("{n} Abschluss", "{n} Abschlüsse")}


@pytest.fixture
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A German catalog in ``tmp_path/de/LC_MESSAGES/messages.mo`` as the package's locale directory; the
    language of the process restored after the test (and the caches emptied before and after)."""
    compile_catalog(tmp_path, {**GERMAN, **PLURALS}, "de")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_default", i18n._default)  # activate() changes it: restored at the end
    i18n.translations.cache_clear()
    i18n._patterns.cache_clear()
    yield tmp_path
    i18n.translations.cache_clear()
    i18n._patterns.cache_clear()


def test_english_translates_nothing(catalogs: Path) -> None:
    assert i18n.language() == "en"
    assert i18n.gettext("Headline KPIs") == "Headline KPIs"
    assert i18n.retranslate("not employed in this period") == "not employed in this period"
    assert i18n.translate_markdown("## Goals\n\nYour goals and how far along they are.") == (
        "## Goals\n\nYour goals and how far along they are."
    )
    with i18n.override("en_GB"):
        assert i18n.language() == "en"
        assert i18n._("Headline KPIs") == "Headline KPIs"
        assert i18n.ngettext("{n} deal", "{n} deals", 0).format(n=0) == "0 deals"


def test_override_translates_inside_the_block_and_restores_the_language(catalogs: Path) -> None:
    with i18n.override("de_AT"):  # a German locale of any region: the German catalog
        assert i18n.language() == "de"
        assert i18n._("Headline KPIs") == "Wichtigste Kennzahlen"
        with i18n.override("en_US"):
            assert i18n._("Headline KPIs") == "Headline KPIs"
        assert i18n._("Headline KPIs") == "Wichtigste Kennzahlen"
    assert i18n.language() == "en"
    assert i18n._("Headline KPIs") == "Headline KPIs"


def test_override_restores_the_language_after_an_error(catalogs: Path) -> None:
    seen: list[str] = []

    def fail_in_german() -> None:
        with i18n.override("de"):
            seen.append(i18n._("Headline KPIs"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_in_german()
    assert seen == ["Wichtigste Kennzahlen"]
    assert i18n._("Headline KPIs") == "Headline KPIs"


def test_a_language_without_a_catalog_translates_nothing(catalogs: Path) -> None:
    with i18n.override("fr_FR"):  # the temporary directory has German only
        assert i18n._("Headline KPIs") == "Headline KPIs"
        assert i18n.retranslate("not employed in this period") == "not employed in this period"


def test_activate_sets_the_language_of_the_process(catalogs: Path) -> None:
    i18n.activate("de-DE")
    assert i18n.language() == "de"
    assert i18n._("Headline KPIs") == "Wichtigste Kennzahlen"
    with i18n.override("en"):  # an override still wins inside its block
        assert i18n._("Headline KPIs") == "Headline KPIs"
    assert i18n._("Headline KPIs") == "Wichtigste Kennzahlen"
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(i18n._("Headline KPIs")))
    thread.start()
    thread.join()
    assert seen == ["Wichtigste Kennzahlen"]  # the process default: every thread
    i18n.activate(None)
    assert i18n.language() == "en"
    assert i18n._("Headline KPIs") == "Headline KPIs"


def test_an_override_is_local_to_its_thread(catalogs: Path) -> None:
    seen: list[str] = []
    inside, done = threading.Event(), threading.Event()

    def rep_in_german() -> None:
        with i18n.override("de"):
            inside.set()
            done.wait(5)
            seen.append(i18n._("Headline KPIs"))

    thread = threading.Thread(target=rep_in_german)
    thread.start()
    assert inside.wait(5)
    assert i18n._("Headline KPIs") == "Headline KPIs"  # this thread is not in the other's block
    done.set()
    thread.join()
    assert seen == ["Wichtigste Kennzahlen"]


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0 Abschlüsse"), (1, "1 Abschluss"), (2, "2 Abschlüsse"), (21, "21 Abschlüsse")]
)
def test_ngettext_follows_the_german_plural_rule(catalogs: Path, n: int, expected: str) -> None:
    with i18n.override("de"):
        assert i18n.ngettext("{n} deal", "{n} deals", n).format(n=n) == expected
    assert i18n.ngettext("{n} deal", "{n} deals", n).format(n=n) == f"{n} deal{'' if n == 1 else 's'}"


def test_retranslate_an_exact_message(catalogs: Path) -> None:
    with i18n.override("de"):
        assert i18n.retranslate("not employed in this period") == "in diesem Zeitraum nicht beschäftigt"
        assert i18n.retranslate("") == ""


def test_retranslate_fills_the_placeholders_in_the_translations_order(catalogs: Path) -> None:
    stored = "needs 12 months of history before the period (the data starts in 2025-01)"  # made in English
    with i18n.override("de"):
        assert i18n.retranslate(stored) == "die Daten beginnen 2025-01: 12 Monate Vorlauf vor dem Zeitraum nötig"
        assert i18n.retranslate("the data starts in 2024-11") == "die Daten beginnen 2024-11"


def test_retranslate_prefers_the_most_specific_message(catalogs: Path) -> None:
    with i18n.override("de"):
        assert i18n.retranslate("$5,000 of $9,000 so far") == "bisher $5,000 von $9,000"
        assert i18n.retranslate("$5,000 of $9,000") == "$5,000 von $9,000"


def test_retranslate_returns_a_text_matching_nothing_as_it_is(catalogs: Path) -> None:
    with i18n.override("de"):
        assert i18n.retranslate("a reason no catalog knows") == "a reason no catalog knows"
        # the start of a message is not enough: the whole text must match
        assert i18n.retranslate("needs 12 months") == "needs 12 months"
        assert i18n.retranslate("the data starts in") == "the data starts in"


def test_translate_markdown_paragraph_by_paragraph(catalogs: Path) -> None:
    cell = "## Goals\n\nYour goals and how far along they are.\n  \nA paragraph nobody translated\nover two lines.\n"
    assert i18n.paragraphs(cell) == [
        "## Goals",
        "Your goals and how far along they are.",
        "A paragraph nobody translated\nover two lines.",
    ]
    with i18n.override("de"):
        assert i18n.translate_markdown(cell) == (
            "## Ziele\n\nIhre Ziele und wie weit Sie damit sind.\n\nA paragraph nobody translated\nover two lines."
        )
        assert i18n.translate_markdown("   \n") == "   \n"
    assert i18n.translate_markdown(cell) == cell  # English: the cell exactly as written


def test_a_formatter_writes_its_words_with_its_locales_catalog(catalogs: Path) -> None:
    german, english = Formatter("de_DE", "EUR"), Formatter("en_US", "USD")
    assert german.points(0.031) == "+3,1 Pp."
    assert english.points(-0.031) == "−3.1 pts"
    with i18n.override("de"):  # the active language does not matter: the formatter's locale does
        assert english.points(0.0) == "±0.0 pts"


def test_a_stored_reason_reads_in_the_active_language_with_its_months_in_the_locale(catalogs: Path) -> None:
    stored = data_ends("leads", "May 2018")  # the engine's English, once for every reader
    assert stored == "the leads data ends in May 2018"
    german = Formatter("de_DE", "EUR")
    assert german.reason(stored) == stored  # English active: as stored
    with i18n.override("de"):
        assert german.reason(stored) == "die Daten der Tabelle leads enden im Mai 2018"
        assert german.reason("a reason no catalog knows in May 2018") == "a reason no catalog knows in May 2018"


def test_the_incentive_estimate_is_written_in_the_active_language(catalogs: Path) -> None:
    plan = IncentivePlan(10000.0, (Tier(0.0, 0.0), Tier(0.5, 1.0), Tier(1.0, 1.5)))
    english = estimate_incentive(0.75, plan, currency=Formatter("en_US", "USD")).summary
    assert (
        english == "75% attainment: estimated bonus $5,000; each further point adds $200; from 100% the rate is 1.5x."
    )
    with i18n.override("de_DE"):
        german = estimate_incentive(0.75, plan, currency=Formatter("de_DE", "EUR")).summary
    assert german == (
        f"75{NB}% Zielerreichung: geschätzter Bonus 5.000{NB}€; jeder weitere Punkt bringt 200{NB}€; "
        f"ab 100{NB}% gilt der 1,5-fache Satz."
    )


def _goal(**kw: object) -> GoalProgress:
    fields: dict[str, object] = dict.fromkeys(GoalProgress.__dataclass_fields__)
    fields.update(goal_id="g1", owner="R001", owner_type="rep", metric="revenue", label="Revenue", scope="")
    fields.update(objective="", mode="total", per="", start="2024-01", deadline="2024-03", as_of="2024-03-31")
    fields.update(measured_on="", status="", summary="", note="")
    fields.update(kw)
    return GoalProgress(**fields)  # type: ignore[arg-type]


def test_a_goals_summary_is_written_in_the_active_language(catalogs: Path) -> None:
    missed = _goal(
        elapsed=1.0, target=700.0, actual=600.0, actual_pct=600 / 700, measured_on="x", status="missed", summary="?"
    )
    assert summary_text(missed) == "$600 of $700 (86%) by Mar 2024: missed."
    with i18n.override("de"):
        assert (
            summary_text(missed, Formatter("de_DE", "EUR"))
            == f"600{NB}€ von 700{NB}€ (86{NB}%) bis März 2024: verfehlt."
        )
    later = _goal(start="2026-10", status="not started", summary="starts in Oct 2026", note="starts in Oct 2026")
    assert summary_text(later) == "starts in Oct 2026"
    with i18n.override("de"):
        assert summary_text(later, Formatter("de_DE", "EUR")) == "beginnt im Okt. 2026"


def test_a_goals_stored_note_is_translated_part_by_part(catalogs: Path) -> None:
    note = "last year's same months give no seasonal shape: linear pace only; recomputed on product = Analytics"
    assert note_text(note) == note
    with i18n.override("de"):
        assert note_text(note) == (
            "last year's same months give no seasonal shape: linear pace only; neu berechnet für product = Analytics"
        )
        assert note_text("recomputed on product = Core; segment = Public") == (
            "neu berechnet für product = Core; segment = Public"  # the whole note first: one message
        )


def test_retranslate_leaves_a_text_that_only_looks_like_a_message(catalogs: Path) -> None:
    """'{actual} of {target}' must not turn a company's own English reason into half German."""
    with i18n.override("de"):
        assert i18n.retranslate("needs 12 months of history") == "needs 12 months of history"


def test_retranslate_translates_the_values_too(catalogs: Path) -> None:
    """A reason inside a message: both in German."""
    stored = "no Win rate value for 2026-10: the data starts in 2024-11"
    with i18n.override("de"):
        assert i18n.retranslate(stored) == "kein Wert für Abschlussquote im 2026-10: die Daten beginnen 2024-11"


def test_activate_inside_an_override_ends_with_it(catalogs: Path) -> None:
    """A view built for one email activates its page's language: the process keeps its own afterwards."""
    with i18n.override("en_US"):
        i18n.activate("de_DE")
        assert i18n.gettext("Headline KPIs") == "Wichtigste Kennzahlen"
    assert i18n.language() == "en"
    assert i18n.gettext("Headline KPIs") == "Headline KPIs"
