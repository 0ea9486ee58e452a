from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesreports.errors import ConfigError
from salesreports.run.manifest import Manifest, load_manifest


def test_round_trip_and_order(tmp_path: Path) -> None:
    m = Manifest("2026-10", period_title="October 2026", company="Acme")
    m.update(
        [
            {"key": "rep/R2", "kind": "rep", "id": "R2"},
            {"key": "team/North", "kind": "team", "id": "North"},
            {"key": "rep/R1", "kind": "rep", "id": "R1"},
        ]
    )
    m.save(tmp_path)
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["key"] for r in raw["reports"]] == ["team/North", "rep/R1", "rep/R2"]
    again = load_manifest(tmp_path, "2026-10")
    assert again.entry("rep/R1") == {"key": "rep/R1", "kind": "rep", "id": "R1"}
    assert again.period_title == "October 2026"


def test_missing_manifest_is_empty(tmp_path: Path) -> None:
    assert load_manifest(tmp_path, "2026-10").reports == {}


def test_corrupt_manifest_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ConfigError, match="delete it"):
        load_manifest(tmp_path, "2026-10")


def test_nan_is_refused(tmp_path: Path) -> None:
    m = Manifest("2026-10")
    m.update([{"key": "rep/R1", "value": float("nan")}])
    with pytest.raises(ValueError, match="Out of range"):
        m.save(tmp_path)
    assert not (tmp_path / "manifest.json").exists()
