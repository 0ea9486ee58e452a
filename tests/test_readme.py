"""The README's worked examples must work as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from salesreports.data.loading import load_dataset
from salesreports.metrics import kpis
from salesreports.metrics.engine import compute_kpis

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make reports", "make test"]


def test_worked_example_kpi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"\*\*Worked example — add a KPI\.\*\*.*?```yaml\n(.*?)```", README, re.S)
    assert block is not None
    extended = tmp_path / "kpis.yaml"
    extended.write_text(kpis.KPI_FILE.read_text(encoding="utf-8") + "\n" + block.group(1), encoding="utf-8")
    monkeypatch.setattr(kpis, "KPI_FILE", extended)
    kpis.registry.cache_clear()
    try:
        assert kpis.get("demos_per_week").format == "per_week"
        data = load_dataset(ROOT / "tests" / "fixtures" / "tiny" / "source.yaml")
        table = compute_kpis(data, as_of=__import__("datetime").date(2025, 3, 31))
        assert table.get("R1", "demos_per_week", "2025-03") == pytest.approx(1 * 7 / 31)
    finally:
        kpis.registry.cache_clear()


def test_readme_images_exist() -> None:
    for path in re.findall(r"\]\((docs/img/[^)]+)\)", README):
        assert (ROOT / path).exists(), path
