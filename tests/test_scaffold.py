"""`salesreports init DIR [--from-export ...]`: the settings folder, never overwriting, and a first real run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesreports.cli import app
from salesreports.metrics.coaching import load_coaching
from salesreports.metrics.goals import load_goals
from salesreports.params import load_config

ROOT = Path(__file__).parents[1]
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_init_writes_a_settings_folder_without_the_demo_goals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "acme"
    result = runner.invoke(app, ["init", str(folder), "--company", "Acme", "--currency", "EUR"])
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "sources/crm.yaml", "goals.yaml", "coaching.yaml"):
        assert (folder / name).is_file(), name
    config = load_config(folder / "config.yaml", environ={})
    assert (config.company, config.currency, config.source_path) == ("Acme", "EUR", folder / "sources" / "crm.yaml")
    assert config.template("rep") == ROOT / "reports" / "rep_scorecard.ipynb"
    assert len(load_goals(folder / "goals.yaml")) == 0  # commented examples only: no demo goals
    assert (folder / "coaching.yaml").read_text() == (ROOT / "params" / "coaching.yaml").read_text()
    assert load_coaching(folder / "coaching.yaml").rules
    out = _flat(result.stdout)
    assert f"salesreports validate --params {folder / 'config.yaml'}" in out
    assert f"salesreports run --params {folder / 'config.yaml'}" in out


def test_init_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "goals.yaml").write_text("goals: []\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 2
    assert f"{folder / 'goals.yaml'}: exists already, and init never overwrites a file" in _flat(result.stderr)
    assert not (folder / "config.yaml").exists()
    assert (folder / "goals.yaml").read_text() == "goals: []\n"


@pytest.mark.parametrize("crm", ["salesforce", "hubspot", "pipedrive"])
def test_init_from_export_validates_and_says_what_the_reports_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["init", str(tmp_path / "acme"), "--from-export", str(EXPORTS / crm)])
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "validate: OK" in out
    assert "The reports will show: Revenue, Deals won, Win rate" in out
    assert "- the data source has no targets table: quota attainment, pipeline coverage" in out
    check = runner.invoke(app, ["validate", "--params", str(tmp_path / "acme" / "config.yaml")])
    assert check.exit_code == 0, check.output


# a rep of each fixture export with deals in 2025-03
REP = {"salesforce": "Dana Whitfield", "hubspot": "Lena Park", "pipedrive": "Sofia Rossi"}


def _shipped(folder: Path, crm: str) -> None:
    """As the README says: the shipped mapping copied to the settings folder, `base_dir` pointed at the export."""
    text = (ROOT / "params" / "sources" / "examples" / f"{crm}.yaml").read_text(encoding="utf-8")
    base = re.compile(r"^base_dir: .*$", re.MULTILINE)
    assert len(base.findall(text)) == 1
    text = base.sub(f"base_dir: {json.dumps(str(EXPORTS / crm))}", text)
    (folder / "sources" / "crm.yaml").write_text(text, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("mapping", ["guessed", "shipped"])
@pytest.mark.parametrize("crm", ["salesforce", "hubspot", "pipedrive"])
def test_init_from_export_then_run_produces_scorecards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str, mapping: str
) -> None:
    """Each CRM's fixture export, with the mapping `init --from-export` guessed or the shipped one, runs to a
    rep's scorecard and the index (one rep, one month, HTML only: a small CI cost)."""
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "acme"
    init = ["init", str(folder), *(["--from-export", str(EXPORTS / crm)] if mapping == "guessed" else [])]
    result = runner.invoke(app, init)
    assert result.exit_code == 0, result.output
    if mapping == "shipped":
        _shipped(folder, crm)
    with (folder / "config.yaml").open("a", encoding="utf-8") as fh:
        fh.write("pdf: {enabled: false}\n")
    rep = REP[crm]
    args = ["run", "--params", str(folder / "config.yaml"), "--period", "2025-03", "--reps", rep]
    result = runner.invoke(app, [*args, "--template", "rep", "--workers", "1"])
    assert result.exit_code == 0, result.output
    period = folder / "build" / "reports" / "2025-03"
    (card,) = period.glob(f"{rep.replace(' ', '_')}*/scorecard.html")
    assert rep in card.read_text(encoding="utf-8")
    assert not list(period.glob("*/scorecard.pdf"))
    assert rep in (period / "index.html").read_text(encoding="utf-8")


DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.mark.parametrize(
    ("folder", "mapped"),
    [
        (
            "northwind-orders",
            [
                "deals: created_date <- 'orderDate', rep_id <- 'employeeID', account_id <- 'customerID', deal_id <- "
                "'orderID', close_date <- 'orderDate', amount <- 'net_amount', units <- 'units', stage: won, "
                "net_amount = sum(unitPrice * quantity * (1 - coalesce(discount, 0))) of order-details.csv per "
                "'orderID', units = sum(quantity) of order-details.csv per 'orderID'",
            ],
        ),
        (
            "olist-marketing-funnel",
            [
                "reps: one row per 'sr_id' of olist_closed_deals_dataset.csv",
                "created_date <- 'first_contact_date', stage: won, first_contact_date = min(first_contact_date) of "
                "olist_marketing_qualified_leads_dataset.csv per 'mql_id'",
                "leads: lead_id <- 'mql_id', created_date <- 'first_contact_date', source <- 'origin', rep_id <- "
                "'deal_rep', converted_deal_id <- 'converted_deal', qualified: true, deal_rep = any_value(sr_id) of "
                "olist_closed_deals_dataset.csv per 'mql_id', converted_deal = any_value(mql_id) of "
                "olist_closed_deals_dataset.csv per 'mql_id'",
                "leads have no rep: they are given to the pseudo-rep 'unassigned' (`unassigned_rep`)",
                "`severity: {close_before_create: warning}` lets the reports run; check them",
            ],
        ),
    ],
)
def test_init_from_a_multi_table_data_set_says_what_it_mapped_and_what_to_add_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, mapped: list[str]
) -> None:
    """The joins of the two shared data sets are guessed (Northwind's amount from its order lines, Olist's
    created date and leads from its MQL file): what was joined is printed under Mapped, and nothing is left
    to add by hand (the written file has no TODO line)."""
    if not (DATASETS / folder).is_dir():
        pytest.skip(f"the shared data set {DATASETS / folder} is not available")
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["init", str(tmp_path / "acme"), "--from-export", str(DATASETS / folder)])
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    for line in mapped:
        assert line in out
    assert "Add by hand" not in out
    assert "TODO" not in (tmp_path / "acme" / "sources" / "crm.yaml").read_text(encoding="utf-8")
    assert "validate: OK" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "period", "rep", "joined"),
    [
        ("northwind-orders", "1998-04", "1", "the deals table has no amount values"),
        ("olist-marketing-funnel", "2018-10", "", "the data source has no leads table"),
    ],
)
def test_a_guessed_mapping_of_a_shared_data_set_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, period: str, rep: str, joined: str
) -> None:
    """As a new user would: init on the raw files, then run straight away. The rep's scorecard has what the
    guessed joins give (Northwind's amounts from its order lines, Olist's leads): its "Not in your data" note
    does not name them."""
    if not (DATASETS / folder).is_dir():
        pytest.skip(f"the shared data set {DATASETS / folder} is not available")
    monkeypatch.chdir(ROOT)
    settings = tmp_path / "acme"
    assert runner.invoke(app, ["init", str(settings), "--from-export", str(DATASETS / folder)]).exit_code == 0
    if not rep:  # Olist's reps are hashes: the one with the most closed deals
        import csv

        with (DATASETS / folder / "olist_closed_deals_dataset.csv").open(encoding="utf-8") as f:
            owners = [row["sr_id"] for row in csv.DictReader(f)]
        rep = max(set(owners), key=owners.count)
    args = ["run", "--params", str(settings / "config.yaml"), "--period", period, "--reps", rep, "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = settings / "build" / "reports" / period
    cards = [p for p in out.glob("*/scorecard.html") if not p.parent.name.startswith("team-")]
    assert len(cards) == 1 and (cards[0].parent / "scorecard.pdf").is_file()
    card = " ".join(re.sub(r"<[^>]+>", " ", cards[0].read_text(encoding="utf-8")).split()).lower()
    assert "not in your data" in card and joined not in card
    assert (out / "team-company" / "scorecard.html").is_file() and (out / "index.html").is_file()


def test_init_exits_1_when_the_guessed_mapping_does_not_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    export = tmp_path / "export"
    export.mkdir()
    (export / "deals.csv").write_text(
        "Deal ID,Deal owner,Company,Deal Stage,Amount,Create Date,Close Date\n"
        "1,Ann,Acme,Closed Won,100,2025-01-02,2025-01-20\n"
        "2,Ann,Bolt,Closed Won,200,2025-01-03,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["init", str(tmp_path / "acme"), "--from-export", str(export)])
    assert result.exit_code == 1, result.output
    out = _flat(result.stdout)
    assert "validate: FAILED" in out and "won or lost deal(s) have no close date" in out
    assert (tmp_path / "acme" / "sources" / "crm.yaml").is_file()  # written, to be fixed
