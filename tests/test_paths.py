from __future__ import annotations

from pathlib import Path

import pytest

from salesreports.paths import atomic_write_text, folder_names, inside, slug, unique_names


@pytest.mark.parametrize("ident", ["R007", "rep-12", "A.B_c"])
def test_safe_ids_are_kept(ident: str) -> None:
    assert slug(ident) == ident


@pytest.mark.parametrize(
    "ident",
    ["../../etc/passwd", "a/b", "", "line\nbreak", "CON", "con.txt", "..", ".hidden", "x" * 300, "名前", "a\\b"],
)
def test_hostile_ids_stay_in_their_folder(ident: str, tmp_path: Path) -> None:
    name = slug(ident)
    assert "/" not in name and "\\" not in name and "\n" not in name and name not in ("", ".", "..")
    assert not name.startswith(".")
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert len(name) <= 80
    assert inside(tmp_path, name).parent == tmp_path.resolve()


def test_ids_that_clean_alike_do_not_collide() -> None:
    names = {slug(x) for x in ["a/b", "a\\b", "a?b", "a_b", "a b", "A/B"]}
    assert len(names) == 6


def test_item6_one_rule_names_ids_differing_by_case_apart() -> None:
    names = unique_names([("rep", "A_B_C"), ("rep", "a_b_c"), ("rep", "R1")])
    assert len({n.casefold() for n in names.values()}) == 3
    assert names[("rep", "R1")] == "R1"  # an id that clashes with nothing keeps its plain name
    assert folder_names(["A_B_C", "a_b_c", "R1"], []) == names  # report folders follow the same rule
    long = unique_names([("chart", "x" * 50 + "A"), ("chart", "x" * 50 + "a")], max_len=40)
    assert len({n.casefold() for n in long.values()}) == 2  # cut to the same text, told apart by the hash


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside"):
        inside(tmp_path, "..", "x")


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]
