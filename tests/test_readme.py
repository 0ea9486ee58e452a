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


def _plain(text: str) -> str:
    """Output without line breaks and timings."""
    return re.sub(r"in \d+(\.\d+)? s\b", "in N s", " ".join(text.split()))


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, title
    return match.group(1)


@pytest.mark.slow
def test_the_five_minute_walkthrough_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of "Your own data in five minutes" runs and succeeds, on the fixture export it names, and
    prints what the README shows it prints."""
    import shlex

    from typer.testing import CliRunner

    from salesreports.cli import app

    section = _section("Your own data in five minutes")
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)  # the walkthrough runs in the project folder (init finds reports/ there)

    def here(arg: str) -> str:
        return str(tmp_path / arg) if arg == "acme" or arg.startswith("acme/") else arg

    runner = CliRunner()
    outputs = []
    opened = []
    for line in block.group(1).splitlines():
        args = [here(a) for a in shlex.split(line, comments=True)]
        if args[0] == "salesreports":
            result = runner.invoke(app, args[1:])
            assert result.exit_code == 0, (line, result.output)
            outputs.append(_plain(result.stdout))
        else:
            opened.append(Path(args[-1]))
    assert opened and all(p.is_file() for p in opened), opened
    shown = [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M) if not lang]
    assert len(shown) == len(outputs)
    for pasted, printed in zip(shown, outputs, strict=True):
        for line in pasted.splitlines():  # what does not name a path of this machine is printed as pasted
            if "/" not in line and line.strip():
                assert _plain(line) in printed, line


def test_readme_links_the_mapping_reference_and_its_example_is_a_source(tmp_path: Path) -> None:
    from salesreports.data.mapping import SourceSpec
    from salesreports.yamlio import read_yaml

    section = _section("Your CRM data")
    assert "[docs/mapping.md](docs/mapping.md)" in section
    block = re.search(r"One example with value maps.*?```yaml\n(.*?)```", section, re.S)
    assert block is not None
    (tmp_path / "example.yaml").write_text(block.group(1), encoding="utf-8")
    spec = SourceSpec.model_validate({"name": "example", **read_yaml(tmp_path / "example.yaml")})
    deals = spec.tables["deals"]
    assert deals.values and deals.where and deals.defaults and deals.join and deals.null_values


def test_readme_points_to_the_shipped_crm_mappings_and_excel_exports() -> None:
    section = _section("Your own data in five minutes")
    assert "[`params/sources/examples/`](params/sources/examples/)" in section
    assert ".xlsx" in section
    named = re.findall(r"`(\w+\.yaml)` \(the", section)
    shipped = sorted(p.name for p in (ROOT / "params" / "sources" / "examples").glob("*.yaml"))
    assert sorted(named) == shipped == ["hubspot.yaml", "pipedrive.yaml", "salesforce.yaml"]
