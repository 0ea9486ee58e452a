"""What a data set can show (salesreports.metrics.capabilities), on the deals-only fixture and the tiny one."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from salesreports.data.loading import Dataset, load_dataset
from salesreports.errors import ConfigError
from salesreports.metrics.capabilities import (
    Capabilities,
    capabilities,
    choose_headline,
    choose_ranking,
    configured_kpis,
)
from salesreports.metrics.engine import KpiTable, compute_kpis
from salesreports.metrics.kpis import registry

FIXTURES = Path(__file__).parent / "fixtures"
DEALS_ONLY = FIXTURES / "deals_only"
NO_SIGN = "no deal, lead or activity of this rep by this period"


@pytest.fixture(scope="module")
def deals_only() -> tuple[Dataset, KpiTable, Capabilities]:
    data = load_dataset(DEALS_ONLY / "source.yaml")
    table = compute_kpis(data)
    return data, table, capabilities(data, table)


def test_a_deals_only_export_supports_the_deal_kpis(deals_only: tuple[Dataset, KpiTable, Capabilities]) -> None:
    _, _, caps = deals_only
    assert caps.tables == ("deals", "reps")
    assert caps.first_months == {"deals": "2026-03"}  # the first close month, not a pipeline's old created dates
    assert caps.last_month == "2026-10"
    supported = {k.name for k in registry() if caps.supports(k.name)}
    assert supported == {"revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days", "open_pipeline"}


def test_every_unsupported_kpi_says_why(deals_only: tuple[Dataset, KpiTable, Capabilities]) -> None:
    _, _, caps = deals_only
    history = "needs 12 months of history before a month; the data starts in March 2026"
    assert caps.unsupported["quota_attainment"] == "the data source has no targets table"
    assert caps.unsupported["lead_conversion"] == "the data source has no leads table"
    assert caps.unsupported["calls_per_week"] == "the data source has no activities table"
    assert caps.unsupported["profit_margin"] == "the deals table has no cost values"
    assert caps.unsupported["repeat_business"] == history  # eight months of data: never computable
    assert caps.unsupported["new_customers"] == history
    assert caps.sections == {
        "funnel": "the data source has no leads table",
        "activity": "the data source has no activities table",
        "feedback": "the data source has no feedback table",
        "ramp": "the reps table has no hire_date values",
        "incentive": "the data source has no targets table",
    }


def test_the_headline_is_topped_up_with_what_the_data_supports(
    deals_only: tuple[Dataset, KpiTable, Capabilities],
) -> None:
    _, _, caps = deals_only
    assert choose_headline(caps) == [
        "revenue",
        "deals_won",
        "win_rate",
        "avg_deal_size",
        "sales_cycle_days",
        "open_pipeline",
    ]
    assert choose_headline(caps, ["quota_attainment", "win_rate", "revenue"]) == ["win_rate", "revenue"]
    assert choose_ranking(caps, ["quota_attainment", "revenue"]) == ["revenue"]


def test_configured_kpis_must_be_registry_kpis() -> None:
    assert configured_kpis(("win_rate", "revenue"), "headline") == ["win_rate", "revenue"]
    with pytest.raises(ConfigError, match=r"config.yaml: scorecard.headline names an unknown KPI 'revenu'\.") as err:
        configured_kpis(("win_rate", "revenu"), "headline", "params/config.yaml")
    assert "Did you mean 'revenue'?" in str(err.value) and err.value.key == "scorecard.headline"


def test_a_full_data_set_keeps_the_registry_headline(tiny_config: Path) -> None:
    data = load_dataset(FIXTURES / "tiny" / "source.yaml")
    caps = capabilities(data, compute_kpis(data))
    assert choose_headline(caps) == [k.name for k in registry().headline()]
    assert caps.sections == {}
    assert caps.supports("quota_attainment")


def test_closed_deal_kpis_are_those_counted_from_closed_deals(
    deals_only: tuple[Dataset, KpiTable, Capabilities],
) -> None:
    _, _, caps = deals_only
    assert {"revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days"} <= set(caps.closed_deal_kpis)
    assert "open_pipeline" not in caps.closed_deal_kpis  # open deals still count when nothing closed
    assert "quota_attainment" not in caps.closed_deal_kpis


def _raw_deals() -> list[dict[str, str]]:
    with (DEALS_ONLY / "deals.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_reps_without_hire_date_count_from_their_first_deal(deals_only: tuple[Dataset, KpiTable, Capabilities]) -> None:
    """A name in the team list that never sold is no rep at $0: not available, and in no team median."""
    _, table, _ = deals_only
    value, reason = table.lookup("Gus Lind", "revenue", "2026-10")
    assert value != value and reason == NO_SIGN  # NaN, with the reason
    # independent: the team median of October revenue over the Inside Sales reps who had any deal by October
    with (DEALS_ONLY / "reps.csv").open(newline="", encoding="utf-8") as f:
        inside = [r["Owner"] for r in csv.DictReader(f) if r["Team"] == "Inside Sales"]
    deals = _raw_deals()
    counted = [rep for rep in inside if any(d["Deal owner"] == rep for d in deals)]
    revenue = {
        rep: sum(
            float(d["Amount"])
            for d in deals
            if d["Deal owner"] == rep and d["Stage"] == "Closed Won" and d["Close date"].startswith("2026-10")
        )
        for rep in counted
    }
    assert len(counted) == 6 and len(inside) == 8
    from salesreports.metrics.benchmarks import team_benchmarks

    bench = team_benchmarks(table.values, min_group_size=5)
    row = bench[(bench["team"] == "Inside Sales") & (bench["kpi"] == "revenue") & (bench["period"] == "2026-10")]
    assert int(row["n_reps"].iloc[0]) == 6
    assert row["median"].iloc[0] == pytest.approx(statistics.median(revenue.values()))


def test_a_rep_counts_from_the_month_of_their_first_deal(deals_only: tuple[Dataset, KpiTable, Capabilities]) -> None:
    _, table, _ = deals_only
    deals = _raw_deals()
    for rep in ("Ana Silva", "Omar Haddad"):
        first = min(min(d["Created"], d["Close date"] or "9999") for d in deals if d["Deal owner"] == rep)[:7]
        before = f"{first[:4]}-{int(first[5:7]) - 1:02d}" if first[5:7] != "01" else f"{int(first[:4]) - 1}-12"
        assert table.lookup(rep, "deals_won", first)[1] == ""
        if rep == "Omar Haddad":
            assert first == "2026-07"
            assert table.lookup(rep, "deals_won", before)[1] == NO_SIGN


def test_kpis_the_data_fixes_in_advance_are_not_shown(tmp_path: Path) -> None:
    """Orders exported as won deals, created and closed on the same day: no 100% win rate, no 0-day cycle."""
    (tmp_path / "deals.csv").write_text(
        "deal_id,rep_id,account_id,created_date,close_date,stage,amount\n"
        "O1,X1,C1,2025-01-05,2025-01-05,won,100\n"
        "O2,X1,C2,2025-02-06,2025-02-06,won,50\n"
        "O3,X2,C3,2025-02-01,2025-02-01,won,300\n",
        encoding="utf-8",
    )
    (tmp_path / "source.yaml").write_text("name: orders\nbase_dir: .\ntables:\n  deals: {file: deals.csv}\n")
    data = load_dataset(tmp_path / "source.yaml")
    caps = capabilities(data, compute_kpis(data))
    assert caps.unsupported["win_rate"] == "the deals table has no lost deals: every closed deal is won"
    assert caps.unsupported["sales_cycle_days"] == "the deals are created and won on the same day"
    assert (
        caps.unsupported["open_pipeline"] == "the deals table has no open deals: the pipeline is empty in every month"
    )
    assert caps.supports("revenue") and caps.supports("avg_deal_size")
    (tmp_path / "deals.csv").write_text(
        "deal_id,rep_id,account_id,created_date,close_date,stage,amount\n"
        "O1,X1,C1,,2025-01-05,won,100\n"
        "O2,X1,C2,,2025-02-06,lost,50\n",
        encoding="utf-8",
    )
    caps = capabilities(load_dataset(tmp_path / "source.yaml"))
    assert caps.unsupported["sales_cycle_days"] == "the won deals have no created date"
    kpi_only = load_dataset(FIXTURES / "kpi_deals_only" / "source.yaml")  # one lost deal, real cycles
    caps = capabilities(kpi_only)
    assert caps.supports("win_rate") and caps.supports("sales_cycle_days")


def test_leads_that_reach_a_rep_only_by_converting_give_no_conversion_rate(tmp_path: Path) -> None:
    """A marketing funnel joined to closed deals: a lead has a rep only once it is won, so every rep would
    convert 100% (Olist's shape); a funnel that also assigns unconverted leads keeps its conversion rate."""
    (tmp_path / "deals.csv").write_text(
        "deal_id,rep_id,account_id,created_date,close_date,stage,amount\n"
        "D1,X1,C1,2025-01-05,2025-01-20,won,100\nD2,X2,C2,2025-02-01,2025-02-21,lost,50\n",
        encoding="utf-8",
    )
    funnel = "lead_id,rep_id,created_date,converted_deal_id\nL1,X1,2025-01-02,D1\nL2,,2025-01-03,\n"
    (tmp_path / "leads.csv").write_text(funnel, encoding="utf-8")
    (tmp_path / "source.yaml").write_text(
        "name: funnel\nbase_dir: .\ntables:\n  deals: {file: deals.csv}\n  leads: {file: leads.csv}\n"
    )
    caps = capabilities(load_dataset(tmp_path / "source.yaml"))
    assert caps.unsupported["lead_conversion"].startswith("the leads table names a rep only for leads that became")
    (tmp_path / "leads.csv").write_text(funnel + "L3,X2,2025-01-04,\n", encoding="utf-8")  # an unconverted lead
    assert capabilities(load_dataset(tmp_path / "source.yaml")).supports("lead_conversion")
