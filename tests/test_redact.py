"""Redaction of colleagues' names: the indexed look-up gives exactly what one big expression gives."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from salesreports.report.redact import COLLEAGUE, Redactor, fold


def one_big_pattern(names: list[str], text: str, keep: list[str]) -> str:
    """The reference: every name as one alternative of a single expression (exact, but slow for big orgs)."""
    names = sorted({n.strip() for n in names if len(n.strip()) >= 3}, key=lambda w: (-len(w), w))
    if not names:
        return text
    alternatives = "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in names)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    own = {k.strip().casefold() for k in keep}
    return pattern.sub(lambda m: m.group(0) if m.group(0).casefold() in own else COLLEAGUE, text)


def test_names_emails_any_case_and_spacing() -> None:
    r = Redactor(["Bob Baker", "bob.baker@example.com", "Cy Cole", "Ann Archer", "Al"])
    text = "BOB\n baker and bob.baker@example.com said Cy Cole's deal; Ann Archer; Al; Bobby Baker; xCy Cole"
    assert r.redact(text, keep=["Ann Archer"]) == (
        "[a colleague] and [a colleague] said [a colleague]'s deal; Ann Archer; Al; Bobby Baker; xCy Cole"
    )
    assert r.redact("nothing to see") == "nothing to see"
    assert not Redactor([]) and not Redactor(["Al", "  "])


def test_turkish_and_other_case_pairs_are_found() -> None:
    """Case pairs that str.casefold() alone keeps apart, but a case-insensitive expression matches."""
    r = Redactor(["Ilker Kılıç", "Strauß"])
    assert r.redact("İLKER KILIÇ called") == one_big_pattern(["Ilker Kılıç"], "İLKER KILIÇ called", [])
    assert r.redact("ılker kılıç") == COLLEAGUE
    assert r.redact("STRAUẞ wrote") == f"{COLLEAGUE} wrote"


def test_fold_agrees_with_case_insensitive_matching_for_every_character() -> None:
    """Whatever a case-insensitive expression treats as the same letter, fold() maps to the same text."""
    extra = getattr(__import__("re._casefix", fromlist=["_EXTRA_CASES"]), "_EXTRA_CASES", {})
    pairs = [(chr(a), chr(b)) for a, others in extra.items() for b in others]
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        for other in (c.lower(), c.upper()):
            if len(other) == 1 and other != c and re.fullmatch(re.escape(c), other, re.IGNORECASE):
                pairs.append((c, other))
    assert len(pairs) > 1000
    different = [(a, b) for a, b in pairs if re.findall(r"\w+", fold(a)) != re.findall(r"\w+", fold(b))]
    assert different == []


WORDS = ["ann", "Ann", "ANN", "bob", "Baker", "cy", "Kılıç", "İlker", "ilker", "straße", "STRASSE", "o'neil", "x-y"]
name = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
email = st.sampled_from(["bob@example.com", "ann.a@example.org", "BOB@EXAMPLE.COM"])
separator = st.sampled_from([" ", "  ", "\n", ", ", ". ", "-", "_", "'", ""])


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.one_of(name, email), max_size=8),
    parts=st.lists(st.one_of(name, email, st.sampled_from(WORDS)), max_size=8),
    seps=st.lists(separator, min_size=8, max_size=8),
    keep=st.lists(st.one_of(name, email), max_size=2),
)
def test_same_result_as_one_big_expression(
    names: list[str], parts: list[str], seps: list[str], keep: list[str]
) -> None:
    text = "".join(p + s for p, s in zip(parts, seps, strict=False))
    assert Redactor(names).redact(text, keep=keep) == one_big_pattern(names, text, keep)
