"""docs/mapping.md is generated from the models: it must match them, and its example must load as written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from salesreports.cli import app
from salesreports.data.loading import load_dataset
from salesreports.data.mapping import DistinctFrom, Join, SourceSpec, TableSpec
from salesreports.data.validate import check
from salesreports.params import Config
from salesreports.run import reference
from salesreports.run.reference import EXAMPLE, mapping_reference

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "mapping.md"
runner = CliRunner()


def test_docs_mapping_md_matches_the_models() -> None:
    assert PAGE.read_text(encoding="utf-8") == mapping_reference(), (
        "docs/mapping.md is out of date: run `salesreports mapping-docs` (make docs) and commit it"
    )


@pytest.mark.parametrize("model", [SourceSpec, TableSpec, Join, DistinctFrom, Config])
def test_every_key_is_on_the_page_with_its_description(model: type[BaseModel]) -> None:
    page = mapping_reference()
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        assert info.description, f"{model.__name__}.{name}"
        assert f"| {info.description.replace('|', chr(92) + '|')} |" in page, f"{model.__name__}.{name}"


def test_a_field_without_a_description_stops_the_generator() -> None:
    class Undocumented(BaseModel):
        documented: int = Field(default=1, description="fine")
        bare: str = ""

    with pytest.raises(ValueError, match=r"Undocumented.bare has no description"):
        reference._key_table(Undocumented)


def test_the_page_has_every_canonical_column_and_rule() -> None:
    from salesreports.data.schema import RULES, TABLES

    page = mapping_reference()
    for table in TABLES.values():
        assert f"### `{table.name}`" in page
        for col in table.columns:
            assert f"| `{col.name}` |" in page
    for rule in RULES:
        assert f"| `{rule}` |" in page
    assert "## Optional dates" in page
    assert "no deal, lead or activity of this rep by this period" in page  # the engine's own reason


def _write_example_exports(folder: Path) -> None:
    from _xlsx import write_xlsx

    folder.mkdir(parents=True)
    (folder / "opportunities.csv").write_text(
        textwrap.dedent(
            """\
            Opportunity ID;Owner ID;Account Name;Created Date;Close Date;Stage;Pipeline
            O1;U1;Acme;01/02/2025;14/02/2025;Closed Won;New business
            O2;U1;Bolt;03/02/2025;20/03/2025;Closed Lost;New business
            O3;U2;Acme;05/02/2025;;Negotiation;Renewal
            O4;U2;Core;NULL;;Prospecting;New business
            """
        ),
        encoding="cp1252",
    )
    (folder / "order-lines.csv").write_text(
        "opportunity,price,quantity,discount\nO1,100,2,0\nO1,50,1,0.5\nO2,10,3,0\n", encoding="utf-8"
    )
    (folder / "leads.csv").write_text(
        "Lead ID,Owner ID,Created,Lead Source,Status\nL1,U1,2025-02-01,web,SQL\nL2,U2,2025-02-03,event,MQL\n",
        encoding="utf-8",
    )
    write_xlsx(
        folder / "users.xlsx",
        [
            ["User ID", "First Name", "Last Name", "Email", "Team", "Start Date"],
            ["U1", "Ann", "Lee", "ann@example.com", "North", "01/06/2024"],
            ["U2", "Bo", "Kim", "bo@example.com", "North", "n/a"],
        ],
    )


def test_the_example_loads_as_written(tmp_path: Path) -> None:
    _write_example_exports(tmp_path / "exports")
    source = tmp_path / "params" / "sources" / "crm.yaml"
    source.parent.mkdir(parents=True)
    source.write_text(EXAMPLE, encoding="utf-8")
    data = load_dataset(source)
    report = check(data)
    assert report.ok, [str(i) for i in report.errors]
    deals = data.tables["deals"].set_index("deal_id")
    assert list(deals.index) == ["O1", "O2", "O4"]  # `where:` left the renewal out
    assert deals.loc["O1", "amount"] == pytest.approx(2 * 100 + 50 * 0.5)  # `join:` summed the order lines
    assert (deals.loc["O1", "stage"], deals.loc["O4", "stage"]) == ("won", "open")  # `values:`
    assert set(deals["segment"]) == {"SMB"}  # `defaults:`
    assert deals["created_date"].isna().sum() == 1  # NULL is missing (`null_values:`): kept, with a warning
    reps = data.tables["reps"].set_index("rep_id")
    assert reps.loc["U1", "name"] == "Ann Lee"
    assert list(data.tables["leads"]["qualified"]) == [True, False]
    assert {i.table for i in report.warnings if "created date" in i.message} == {"deals"}


def test_mapping_docs_command_writes_and_checks(tmp_path: Path) -> None:
    page = tmp_path / "mapping.md"
    result = runner.invoke(app, ["mapping-docs", "--check", "--out", str(page)])
    assert result.exit_code == 1
    assert "is out of date" in result.stderr and "salesreports mapping-docs --out" in result.stderr
    result = runner.invoke(app, ["mapping-docs", "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8") == mapping_reference()
    assert runner.invoke(app, ["mapping-docs", "--check", "--out", str(page)]).exit_code == 0
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert runner.invoke(app, ["mapping-docs", "--check", "--out", str(page)]).exit_code == 1
