"""A context on disk: context.json plus its KPI tables as Parquet; idempotent writes; clear errors."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from salesreports.errors import ParamsError
from salesreports.report.contexts import context_files, plain, read_context, records, write_context


def context(value: float = 4000.0, stamp: str = "2026-11-01T00:00:00+00:00") -> dict[str, object]:
    kpis = pd.DataFrame(
        {
            "kpi": ["revenue", "win_rate"],
            "grain": ["month", "month"],
            "period_end": ["2025-03", "2025-03"],
            "value": [value, math.nan],
            "reason": ["", "no closed deals"],
        }
    )
    return {"kind": "rep", "rep": {"rep_id": "R1"}, "generated_at": stamp, "kpis": pa.Table.from_pandas(kpis)}


def test_round_trip_keeps_values_and_missing_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    write_context(context(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["context.json", "kpis.parquet"]
    assert json.loads(path.read_text(encoding="utf-8"))["tables"] == {"kpis": "kpis.parquet"}
    back = read_context(path)
    assert back["rep"] == {"rep_id": "R1"} and back["generated_at"] == "2026-11-01T00:00:00+00:00"
    rows = records(back["kpis"])
    assert rows[0]["value"] == 4000.0 and rows[0]["kpi"] == "revenue"
    assert rows[1]["value"] is None and rows[1]["reason"] == "no closed deals"  # not available, never 0
    assert context_files(path) == [path, tmp_path / "kpis.parquet"]


def test_rewrite_with_only_a_new_stamp_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    first = write_context(context(), path)
    files = sorted(tmp_path.iterdir())
    for f in files:
        os.utime(f, (1_000_000, 1_000_000))
    again = write_context(context(stamp="2099-01-01T00:00:00+00:00"), path)
    assert again == first
    assert all(f.stat().st_mtime == 1_000_000 for f in files)  # nothing rewritten
    changed = write_context(context(value=5000.0), path)
    assert changed != first
    assert (tmp_path / "kpis.parquet").stat().st_mtime != 1_000_000
    assert records(read_context(path)["kpis"])[0]["value"] == 5000.0


def test_records_and_plain_accept_every_table_form() -> None:
    frame = pd.DataFrame({"a": [1.0, math.nan], "b": ["x", None]})
    expected = [{"a": 1.0, "b": "x"}, {"a": None, "b": None}]
    assert records(frame) == expected
    assert records(pa.Table.from_pandas(frame)) == expected
    assert records(expected) == expected and records(None) == []
    assert json.dumps(plain({"kpis": frame, "kind": "rep"}))  # JSON-ready


def test_missing_or_broken_files_name_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    with pytest.raises(ParamsError, match=r"context\.json not found.*salesreports run"):
        read_context(path)
    write_context(context(), path)
    (tmp_path / "kpis.parquet").write_bytes(b"not parquet")
    with pytest.raises(ParamsError, match=r"kpis\.parquet is missing or unreadable.*salesreports run"):
        read_context(path)
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"context\.json is unreadable"):
        read_context(path)


def test_a_table_name_cannot_point_outside_the_report_folder(tmp_path: Path) -> None:
    """``tables`` may only name ``<table>.parquet`` beside context.json: never another folder's file."""
    folder = tmp_path / "R1"
    folder.mkdir()
    write_context(context(), folder / "context.json")
    body = json.loads((folder / "context.json").read_text(encoding="utf-8"))
    for tables in ({"kpis": "../R2/kpis.parquet"}, {"kpis": ".."}, {"other": "other.parquet"}, {"kpis": ""}):
        (folder / "context.json").write_text(json.dumps({**body, "tables": tables}), encoding="utf-8")
        with pytest.raises(ParamsError, match=r"names an unexpected table.*salesreports run"):
            read_context(folder / "context.json")
        with pytest.raises(ParamsError, match=r"names an unexpected table"):
            context_files(folder / "context.json")
    for text in ("[]", '{"tables": []}'):
        (folder / "context.json").write_text(text, encoding="utf-8")
        with pytest.raises(ParamsError, match=r"is not a context written by salesreports"):
            read_context(folder / "context.json")


def test_context_files_names_a_missing_table(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    write_context(context(), path)
    (tmp_path / "kpis.parquet").unlink()
    with pytest.raises(ParamsError, match=r"kpis\.parquet missing.*salesreports run"):
        context_files(path)


def test_rows_given_as_dicts_are_written_too(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    write_context({"kind": "rep", "kpis": [{"kpi": "revenue", "value": 1.0}, {"kpi": "win_rate", "value": None}]}, path)
    assert records(read_context(path)["kpis"]) == [{"kpi": "revenue", "value": 1.0}, {"kpi": "win_rate", "value": None}]


def test_hash_ignores_library_versions_but_not_values(tmp_path: Path) -> None:
    """The files carry no pandas metadata, and the hash is over values, so a library upgrade re-runs nothing."""
    import pyarrow.parquet as pq

    path = tmp_path / "context.json"
    first = write_context(context(), path)
    assert pq.read_schema(tmp_path / "kpis.parquet").metadata is None
    table = context()["kpis"]
    tagged = table.replace_schema_metadata({b"pandas": b'{"pandas_version": "99.0"}'})
    assert write_context({**context(), "kpis": tagged}, path) == first
    assert write_context(context(value=4000.5), path) != first


# C0 controls (but tab and line feed), DEL, C1, U+FFFE/U+FFFF and lone surrogates: what XML cannot hold
NON_XML = "[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]"


def test_item2_control_characters_never_reach_a_context(tmp_path: Path) -> None:
    """A form feed in a name made the PDF but broke the email's PNG ("a non-XML character '\\u{c}'"): every
    string of a context, in its JSON and its tables, is cleaned where the context is written."""
    import re

    hostile = "Ann\x0cLee\x00\x1b[31m\x7f\x85\u2028Jr\ufffe \ud800"
    ctx = context()
    ctx["rep"] = {"rep_id": "R1", "name": hostile, "team": "North\x0b"}
    ctx["feedback"] = [{"tags": ["a\x01", "b"], "text": hostile}]
    ctx["company"] = "Tiny\x0cCo\u2069"  # a stray isolate terminator too
    in_table = hostile.replace("\ud800", "")  # Arrow strings are UTF-8: they cannot hold a lone surrogate
    ctx["kpis"] = pa.table({"kpi": ["revenue"], "reason": [f"no deals of {in_table}"], "value": [1.0]})
    path = tmp_path / "context.json"
    write_context(ctx, path)
    text = path.read_text(encoding="utf-8")
    assert not re.search(NON_XML, json.loads(text)["rep"]["name"])
    back = read_context(path)
    assert back["rep"]["name"] == "Ann\nLee[31m\n\nJr \ufffd"
    assert back["rep"]["team"] == "North\n" and back["company"] == "Tiny\nCo"
    assert back["feedback"] == [{"tags": ["a", "b"], "text": back["rep"]["name"]}]
    reason = records(back["kpis"])[0]["reason"]
    assert reason == "no deals of Ann\nLee[31m\n\nJr " and not re.search(NON_XML, reason)
    raw = path.read_bytes()  # nor in the file, not even as a JSON escape
    assert b"\x0c" not in raw and b"\\f" not in raw and b"\\u000c" not in raw.lower()


def test_every_character_clean_changes_is_found_in_the_json_text(tmp_path: Path) -> None:
    """write_context cleans strings only when the JSON text shows a character that clean() changes: each such
    character, alone and inside other text, is found there (a miss would write it into the context)."""
    from salesreports.report.contexts import _UNCLEAN_JSON, _dumps
    from salesreports.text import clean

    changed = [chr(c) for c in range(0x110000) if clean(chr(c)) != chr(c)]
    assert len(changed) > 60  # the C0 and C1 controls, line separators, non-characters, surrogates, isolates
    missed = [
        hex(ord(ch))
        for ch in changed
        if not (_UNCLEAN_JSON.search(_dumps({"k": ch})) and _UNCLEAN_JSON.search(_dumps({f"a{ch}b": ["x", {"y": ch}]})))
    ]
    assert missed == []
    assert _UNCLEAN_JSON.search(_dumps({"name": "Ann Lee", "note": "two\nlines\tand a tab"})) is None
    ctx = context()
    ctx["rep"] = {"rep_id": "R1", "name": "Ann\u2028Lee"}  # one unsafe string among clean ones: cleaned
    write_context(ctx, tmp_path / "context.json")
    assert read_context(tmp_path / "context.json")["rep"]["name"] == "Ann\nLee"
