"""salesreports.text: one rule per kind of output for data strings (clean, one line, isolated)."""

from __future__ import annotations

import re

import pytest

from salesreports.text import FSI, PDI, clean, clean_all, is_clean, isolate, one_line

# what XML 1.0 cannot hold (tab, LF and CR can be held, but CR is made a line break)
NON_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Ann Lee", "Ann Lee"),
        ("Ann\x0cLee", "Ann\nLee"),  # form feed: a break, not a glued word
        ("Ann\x0bLee", "Ann\nLee"),
        ("Ann\u2028Lee\u2029X\x85Y", "Ann\nLee\nX\nY"),
        ("Ann\r\nLee\rX", "Ann\nLee\nX"),
        ("A\x00n\x01n\x1f\x7f\x9b", "Ann"),
        ("tab\tkept", "tab\tkept"),
        ('quote " and back\\slash', 'quote " and back\\slash'),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("non\ufffe\uffffchars", "nonchars"),
        ("stray\u2069 end", "stray end"),  # would close an isolate around the name early
        ("\u2067kept\u2069 pair", "\u2067kept\u2069 pair"),
        ("\u202eoverride stays", "\u202eoverride stays"),  # harmless once isolated
        (None, ""),
        (12, "12"),
    ],
)
def test_item2_clean_leaves_nothing_xml_cannot_hold(raw: object, cleaned: str) -> None:
    out = clean(raw)
    assert out == cleaned
    assert not NON_XML.search(out)
    assert is_clean(out) and clean(out) == out  # idempotent


def test_item2_every_c0_control_and_every_surrogate_is_removed() -> None:
    text = "".join(chr(c) for c in range(0x20)) + "\x7f" + "".join(chr(c) for c in range(0xD800, 0xE000, 97))
    out = clean(text)
    assert not NON_XML.search(out)
    assert "\x7f" not in out
    assert set(out) <= {"\t", "\n", "\ufffd"}


def test_item2_clean_all_walks_keys_values_and_lists() -> None:
    assert clean_all({"a\x0c": ["x\x00", {"y": "z\u2028w"}], "n": 1, "none": None}) == {
        "a\n": ["x", {"y": "z\nw"}],
        "n": 1,
        "none": None,
    }


@pytest.mark.parametrize(
    ("raw", "line"),
    [("Ann\nLee", "Ann Lee"), ("Ann\u2028Lee", "Ann Lee"), ("a\tb\x0cc", "a b c"), ('"q" \\', '"q" \\')],
)
def test_item1_one_line_turns_breaks_into_spaces(raw: str, line: str) -> None:
    assert one_line(raw) == line


def test_item4_isolate_wraps_a_data_string_in_fsi_pdi() -> None:
    assert isolate("Bob \u202eBaker") == f"{FSI}Bob \u202eBaker{PDI}"
    assert isolate("") == isolate(None) == ""
    assert isolate("Ann\nLee") == f"{FSI}Ann Lee{PDI}"


def test_item4_a_name_cannot_close_its_own_isolate() -> None:
    """A PDI inside the name would end the isolation early and let the override after it spill out."""
    out = isolate("x\u2069\u202eevil")
    assert out == f"{FSI}x\u202eevil{PDI}"
    assert out.count(FSI) == out.count(PDI) == 1
