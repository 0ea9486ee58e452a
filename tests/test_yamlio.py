"""YAML reading: duplicate keys, YAML 1.1 booleans, line numbers in validation errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, model_validator

from salesreports.errors import ConfigError
from salesreports.yamlio import KeyProblemsError, line_of, load_model, read_yaml


def _write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    on: str = ""


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    tables: dict[str, Inner]

    @model_validator(mode="after")
    def _check(self) -> Outer:
        problems = [
            (("tables", t, "file"), "must end in .csv") for t, i in self.tables.items() if not i.file.endswith(".csv")
        ]
        if problems:
            raise KeyProblemsError(problems)
        return self


def test_read_yaml_refuses_a_repeated_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: a
        tables:
          deals: {file: a.csv}
          deals: {file: b.csv}
    """,
    )
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    assert err.value.file == str(path)
    assert err.value.line == 4
    assert "the key 'deals' is written twice (first at line 3)" in str(err.value)
    assert "keep one of them" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on: x", {"on": "x"}),
        ("a: yes", {"a": "yes"}),
        ("a: off", {"a": "off"}),
        ("country: NO", {"country": "NO"}),
        ("a: true", {"a": True}),
        ("a: False", {"a": False}),
        ("a: 1", {"a": 1}),
        ("a: null", {"a": None}),
    ],
)
def test_read_yaml_only_true_false_are_booleans(tmp_path: Path, text: str, expected: dict[str, object]) -> None:
    assert read_yaml(_write(tmp_path, text)) == expected


def test_read_yaml_invalid_syntax_gives_line_and_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: a
        tables:
          deals: {file: a.csv
    """,
    )
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    assert err.value.line == 4
    assert "invalid YAML" in str(err.value)
    assert "check the indentation and quoting" in str(err.value)


def test_read_yaml_missing_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_yaml(tmp_path / "nope.yaml")
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: Jos\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_yaml(path)


def test_line_of_walks_mappings_and_lists() -> None:
    text = "a:\n  b:\n    - x: 1\n    - y: 2\nc: 3\n"
    assert line_of(text, ("a", "b", 1, "y")) == 4
    assert line_of(text, ("c",)) == 5
    assert line_of(text, ("a", "zz")) == 1  # the deepest key that exists
    assert line_of("a: [", ("a",)) is None


def test_load_model_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: demo
        tables:
          deals:
            file: deals.csv
            fiel: x
          reps:
            file: reps.txt
    """,
    )
    with pytest.raises(ConfigError) as err:
        load_model(path, Outer)
    problems = err.value.problems
    assert problems == [
        "line 5: key 'tables.deals.fiel' is not known. Did you mean 'file'? Known keys here: file, on.",
    ]
    path = _write(
        tmp_path,
        """
        name: demo
        tables:
          reps:
            file: reps.txt
    """,
    )
    with pytest.raises(ConfigError) as err:
        load_model(path, Outer)
    assert err.value.problems == ["line 4: key 'tables.reps.file': must end in .csv"]
    assert "1 problem(s)" in str(err.value)


def test_load_model_missing_key_and_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "tables: {deals: {file: [1, 2]}}\n")
    with pytest.raises(ConfigError) as err:
        load_model(path, Outer)
    assert "key 'name' is required but missing" in err.value.problems
    assert any("tables.deals.file" in p and "(got list)" in p for p in err.value.problems)
