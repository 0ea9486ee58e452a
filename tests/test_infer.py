"""`init --from-export`'s guessed mapping: on each CRM's standard export, it validates and gives the same KPIs
as the shipped, hand-written mapping in params/sources/examples/, and revenue equals a hand count."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salesreports.data.infer import infer_source
from salesreports.data.loading import load_dataset
from salesreports.data.validate import check
from salesreports.errors import DataLoadError
from salesreports.metrics.engine import compute_kpis

ROOT = Path(__file__).parents[1]
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
# company revenue won in 2025-03, counted by hand from each fixture export
REVENUE_MARCH = {"salesforce": 4500 + 20500 + 9750.50 + 1200, "hubspot": 4500.5 + 8000, "pipedrive": 9900 + 650}
KPIS = ("revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days", "new_customers")


def _guess(tmp_path: Path, crm: str) -> Path:
    out = tmp_path / "sources" / "crm.yaml"
    out.parent.mkdir(parents=True)
    out.write_text(infer_source([EXPORTS / crm], base_dir=out.parent).to_yaml(), encoding="utf-8")
    return out


@pytest.mark.parametrize("crm", ["salesforce", "hubspot", "pipedrive"])
def test_guessed_mapping_validates_and_matches_the_shipped_one(tmp_path: Path, crm: str) -> None:
    guessed = load_dataset(_guess(tmp_path, crm))
    report = check(guessed)
    assert report.ok, [str(i) for i in report.errors]
    shipped = load_dataset(ROOT / "params" / "sources" / "examples" / f"{crm}.yaml")
    assert check(shipped).ok
    assert len(guessed.tables["deals"]) == len(shipped.tables["deals"])
    assert sorted(guessed.tables["reps"]["rep_id"]) == sorted(shipped.tables["reps"]["rep_id"])
    mine, theirs = compute_kpis(guessed), compute_kpis(shipped)
    for period in ("2025-02", "2025-03", "2025-Q1"):
        for kpi in KPIS:
            a, b = mine.get("company", kpi, period, "company"), theirs.get("company", kpi, period, "company")
            assert a == pytest.approx(b, nan_ok=True), (kpi, period)
    assert mine.get("company", "revenue", "2025-03", "company") == pytest.approx(REVENUE_MARCH[crm])


def test_every_guess_is_a_comment_in_the_written_file(tmp_path: Path) -> None:
    text = _guess(tmp_path, "hubspot").read_text(encoding="utf-8")
    assert "rep_id: Deal owner  # guessed from 'Deal owner': 2 distinct values" in text
    assert "# guessed from the 5 values of 'Deal Stage'" in text
    assert "# guessed from 7 values like '2025-02-14 10:22'" in text
    spec = yaml.safe_load(text)
    assert spec["tables"]["deals"]["values"]["stage"]["Closed Won"] == "won"
    assert spec["tables"]["deals"]["values"]["stage"]["Contract Sent"] == "open"
    assert spec["tables"]["reps"]["distinct_from"]["column"] == "Deal owner"


def test_salesforce_quirks_are_guessed(tmp_path: Path) -> None:
    spec = yaml.safe_load(_guess(tmp_path, "salesforce").read_text(encoding="utf-8"))
    deals = spec["tables"]["deals"]
    assert deals["dates"] == {"created_date": "%d/%m/%Y", "close_date": "%d/%m/%Y"}  # day-first: 14/02/2025
    assert "regexp_replace" in deals["derive"]["amount"]  # "USD 12,000.00"
    assert deals["derive"]["deal_id"] == "'line ' || _row"  # the report has no id column


def test_an_export_of_an_excel_workbook_is_read(tmp_path: Path) -> None:
    import csv

    from _xlsx import write_xlsx

    with (EXPORTS / "hubspot" / "all-deals.csv").open(encoding="utf-8", newline="") as fh:
        rows: list[list[object]] = [list(r) for r in csv.reader(fh)]
    write_xlsx(tmp_path / "deals.xlsx", rows)
    out = tmp_path / "crm.yaml"
    out.write_text(infer_source([tmp_path / "deals.xlsx"], base_dir=tmp_path).to_yaml(), encoding="utf-8")
    data = load_dataset(out)
    assert check(data).ok
    assert compute_kpis(data).get("company", "revenue", "2025-03", "company") == pytest.approx(REVENUE_MARCH["hubspot"])


def test_files_without_deals_are_refused_with_what_they_hold(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("First Name,Last Name,Phone\nA,B,1\n", encoding="utf-8")
    with pytest.raises(DataLoadError, match=r"none of the files looks like deals .*contacts.csv: First Name"):
        infer_source([tmp_path], base_dir=tmp_path)
    with pytest.raises(DataLoadError, match="no such file or folder"):
        infer_source([tmp_path / "nope"], base_dir=tmp_path)
