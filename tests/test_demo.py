"""Tests for the deterministic demo-data generator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from salesreports.data.demo import DEMO_TABLES, PRODUCTS, SEGMENTS, TEAMS, DemoSummary, generate_demo
from salesreports.data.schema import ACTIVITY_TYPES, FEEDBACK_SOURCES, STAGES, TABLES
from salesreports.errors import ConfigError

TAG_VOCABULARY = {
    "closing",
    "negotiation",
    "discovery",
    "follow-up",
    "product-knowledge",
    "responsiveness",
    "prospecting",
    "qualification",
    "presentation",
}
DATES = {
    "reps": ["hire_date", "leave_date"],
    "deals": ["created_date", "close_date"],
    "leads": ["created_date"],
    "activities": ["date"],
    "feedback": ["date"],
}


@dataclass(frozen=True)
class Demo:
    summary: DemoSummary
    frames: dict[str, pd.DataFrame]

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.frames[table]


def _read(out_dir: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    for table in DEMO_TABLES:
        floats = {c.name: float for c in TABLES[table].columns if c.kind == "float"}
        df = pd.read_csv(out_dir / f"{table}.csv", dtype=floats)
        for col in DATES.get(table, []):
            df[col] = pd.to_datetime(df[col], format="%Y-%m-%d").astype("datetime64[us]")
        frames[table] = df
    return frames


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Two years of the default organisation at full volume (about 23,000 deals)."""
    out = tmp_path_factory.mktemp("demo") / "data"
    summary = generate_demo(out, months=24)
    return Demo(summary, _read(out))


def _small(out: Path, **kwargs: Any) -> DemoSummary:
    """Six months at a fifth of the volume: enough for file-level tests."""
    return generate_demo(out, months=6, scale=0.2, **kwargs)


def _file_bytes(summary: DemoSummary) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in summary.files}


# --------------------------------------------------------------------------- determinism and files


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first = _small(tmp_path / "a", seed=3, fmt=fmt)
    second = _small(tmp_path / "b", seed=3, fmt=fmt)
    assert _file_bytes(first) == _file_bytes(second)


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    first = _file_bytes(_small(tmp_path / "a", seed=3))
    second = _file_bytes(_small(tmp_path / "b", seed=4))
    assert first["deals.csv"] != second["deals.csv"]
    assert first["reps.csv"] != second["reps.csv"]


def test_summary_describes_what_was_written(demo: Demo) -> None:
    s = demo.summary
    assert (s.seed, s.scale, s.fmt) == (7, 1.0, "csv")
    assert (s.first_month, s.last_month) == ("2024-11", "2026-10")
    assert [p.name for p in s.files] == [f"{t}.csv" for t in DEMO_TABLES]
    assert sorted(p.name for p in s.out_dir.iterdir()) == sorted(p.name for p in s.files)
    assert {t: len(demo[t]) for t in DEMO_TABLES} == dict(s.rows)
    assert all(n > 0 for n in s.rows.values())


@pytest.mark.parametrize("table", DEMO_TABLES)
def test_columns_follow_the_schema(demo: Demo, table: str) -> None:
    header = demo.summary.out_dir.joinpath(f"{table}.csv").read_text().splitlines()[0]
    assert [c.strip('"') for c in header.split(",")] == list(TABLES[table].names)


@pytest.mark.parametrize("table", ["deals", "leads", "activities", "feedback"])
def test_dates_are_iso(demo: Demo, table: str) -> None:
    raw = pd.read_csv(demo.summary.out_dir / f"{table}.csv", dtype=str)
    col = DATES[table][0]
    assert raw[col].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_parquet_holds_the_same_data_as_csv(tmp_path: Path) -> None:
    as_csv = _small(tmp_path / "csv", seed=5)
    as_parquet = _small(tmp_path / "pq", seed=5, fmt="parquet")
    assert [p.suffix for p in as_parquet.files] == [".parquet"] * len(DEMO_TABLES)
    assert dict(as_parquet.rows) == dict(as_csv.rows)
    csv_frames = _read(tmp_path / "csv")
    for table in DEMO_TABLES:
        arrow = pq.read_table(tmp_path / "pq" / f"{table}.parquet")
        assert arrow.schema.names == list(TABLES[table].names)
        df = arrow.to_pandas()
        for col in DATES.get(table, []):
            df[col] = pd.to_datetime(df[col]).astype("datetime64[us]")
        pd.testing.assert_frame_equal(df, csv_frames[table], check_dtype=False)


# --------------------------------------------------------------------------- integrity


def test_ids_are_unique_and_well_formed(demo: Demo) -> None:
    deals, leads, reps = demo["deals"], demo["leads"], demo["reps"]
    assert deals.deal_id.is_unique
    assert leads.lead_id.is_unique
    assert reps.rep_id.is_unique
    assert deals.deal_id.str.fullmatch(r"D\d{7}").all()
    assert deals.deal_id.iloc[0] == "D0000001"
    assert leads.lead_id.str.fullmatch(r"L\d{7}").all()
    assert deals.account_id.str.fullmatch(r"A\d{5}").all()
    assert reps.rep_id.tolist() == [f"R{i:03d}" for i in range(1, len(reps) + 1)]


@pytest.mark.parametrize("table", ["deals", "leads", "activities", "targets", "feedback"])
def test_every_rep_id_exists(demo: Demo, table: str) -> None:
    assert demo[table].rep_id.isin(demo["reps"].rep_id).all()


def test_converted_leads_point_at_an_earlier_deal_of_the_same_rep(demo: Demo) -> None:
    leads = demo["leads"].dropna(subset=["converted_deal_id"])
    deals = demo["deals"].set_index("deal_id")
    assert leads.converted_deal_id.isin(deals.index).all()
    assert leads.converted_deal_id.is_unique
    deal = deals.loc[leads.converted_deal_id]
    assert (deal.rep_id.to_numpy() == leads.rep_id.to_numpy()).all()
    assert (deal.created_date.to_numpy() >= leads.created_date.to_numpy()).all()
    assert leads.qualified.all()


def test_deal_rules(demo: Demo) -> None:
    deals = demo["deals"]
    assert set(deals.stage) == set(STAGES)
    assert set(deals["product"]) == set(PRODUCTS)
    assert set(deals.segment) == set(SEGMENTS)
    closed = deals[deals.stage != "open"]
    assert closed.close_date.notna().all()
    assert deals.loc[deals.stage == "open", "close_date"].isna().all()
    assert (closed.close_date >= closed.created_date).all()
    assert (deals.amount >= 0).all()
    assert deals.amount.notna().all()
    margin = deals.cost / deals.amount
    assert margin.between(0.39, 0.76).all()
    assert (deals.units >= 1).all()
    assert (deals.units == deals.units.round()).all()


def test_no_date_after_the_end_month(tmp_path: Path) -> None:
    _small(tmp_path / "d", end_month="2025-06")
    frames = _read(tmp_path / "d")
    end = pd.Timestamp("2025-06-30")
    for table, cols in DATES.items():
        for col in cols:
            assert (frames[table][col].dropna() <= end).all(), (table, col)
    assert frames["targets"].period.max() == "2025-06"
    assert frames["targets"].period.min() == "2025-01"
    assert frames["activities"].date.min() >= pd.Timestamp("2025-01-01")


@pytest.mark.parametrize(
    ("table", "col"), [("deals", "created_date"), ("leads", "created_date"), ("activities", "date")]
)
def test_rows_fall_inside_tenure(demo: Demo, table: str, col: str) -> None:
    rows = demo[table].merge(demo["reps"], on="rep_id")
    assert (rows[col] >= rows.hire_date).all()
    left = rows.dropna(subset=["leave_date"])
    assert (left[col] <= left.leave_date).all()


def test_leavers_close_nothing_after_leaving(demo: Demo) -> None:
    deals = demo["deals"].merge(demo["reps"], on="rep_id").dropna(subset=["leave_date"])
    assert len(deals) > 0
    assert (deals.close_date <= deals.leave_date).all()


def test_rep_directory(demo: Demo) -> None:
    reps = demo["reps"]
    assert len(reps) >= 40
    assert set(reps.team) == set(TEAMS)
    assert (reps.team == reps.region).all()
    assert reps.groupby("team").manager_id.nunique().eq(1).all()
    assert reps.manager_id.nunique() == len(TEAMS)
    assert reps.name.is_unique
    emails = reps.email.dropna()
    assert reps.email.isna().sum() == 2
    assert emails.is_unique
    assert emails.str.fullmatch(r"[a-z]+\.[a-z]+@example\.com").all()
    assert reps.manager_email.str.fullmatch(r"[a-z]+\.[a-z]+@example\.com").all()
    assert reps.hire_date.notna().all()
    assert reps.leave_date.notna().sum() in (2, 3)


def test_enumerations(demo: Demo) -> None:
    assert set(demo["activities"].type) == set(ACTIVITY_TYPES)
    fb = demo["feedback"]
    assert set(fb.source) == set(FEEDBACK_SOURCES)
    assert fb.score.between(1, 5).all()
    tags = set(fb.tags.str.split(";").explode())
    assert tags <= TAG_VOCABULARY
    assert fb.text.str.len().gt(10).all()
    assert set(demo["leads"].source) == {"web", "referral", "event", "outbound", "partner"}


def test_targets_one_row_per_rep_month_and_metric(demo: Demo) -> None:
    targets = demo["targets"]
    assert set(targets.metric) == {"revenue", "deals_won", "qualified_leads"}
    assert targets.team.isna().all()
    assert not targets.duplicated(["rep_id", "period", "metric"]).any()
    assert (targets.target > 0).all()
    counts = targets.groupby(["rep_id", "period"]).size()
    assert counts.eq(3).all()
    stayed = demo["reps"].loc[demo["reps"].hire_date < "2024-11-01"]
    stayed = stayed[stayed.leave_date.isna()]
    per_rep = targets[targets.metric == "revenue"].groupby("rep_id").size()
    assert per_rep.loc[stayed.rep_id].eq(24).all()


# --------------------------------------------------------------------------- magnitudes


def _won(demo: Demo) -> pd.DataFrame:
    won = demo["deals"][demo["deals"].stage == "won"].copy()
    won["period"] = won.close_date.dt.strftime("%Y-%m")
    return won


def test_win_rates_and_cycle(demo: Demo) -> None:
    closed = demo["deals"][demo["deals"].stage != "open"]
    counts = closed.groupby(closed.rep_id).size()
    win_rate = closed.stage.eq("won").groupby(closed.rep_id).mean()[counts >= 60]  # reps with a track record
    assert len(win_rate) >= 35
    assert win_rate.between(0.10, 0.50).all()
    assert win_rate.max() - win_rate.min() > 0.12  # clear strong and weak performers
    won = _won(demo)
    cycle = (won.close_date - won.created_date).dt.days
    assert 20 <= cycle.median() <= 120
    assert cycle.between(20, 122).all()


def test_volumes(demo: Demo) -> None:
    deals, leads = demo["deals"], demo["leads"]
    per_rep_month = deals.groupby([deals.rep_id, deals.created_date.dt.to_period("M")]).size()
    assert 18 <= per_rep_month.median() <= 25
    assert 2.0 <= len(leads) / len(deals) <= 3.0
    assert 0.35 <= leads.qualified.mean() <= 0.60
    assert 0.10 <= leads.converted_deal_id.notna().mean() <= 0.30
    open_deals = deals[deals.stage == "open"]
    assert open_deals.created_date.min() >= pd.Timestamp("2026-05-01")


def test_repeat_business_and_new_segment(demo: Demo) -> None:
    won = _won(demo).sort_values(["close_date", "deal_id"])
    repeat = won.account_id.duplicated()
    assert 0.30 <= repeat.mean() <= 0.50
    first = demo["deals"].groupby("segment").created_date.min()
    assert first["Public Sector"] >= pd.Timestamp("2025-09-01")
    assert (first.drop("Public Sector") < pd.Timestamp("2024-11-01")).all()


def test_attainment_is_plausible(demo: Demo) -> None:
    won = _won(demo)
    revenue = won.groupby(["rep_id", "period"]).amount.sum()
    quota = demo["targets"].query("metric == 'revenue'").set_index(["rep_id", "period"]).target
    actual = revenue.reindex(quota.index, fill_value=0.0)
    per_rep = actual.groupby(level=0).sum() / quota.groupby(level=0).sum()
    assert 0.75 <= per_rep.median() <= 1.1
    assert per_rep.min() < 0.8
    assert per_rep.max() > 1.1


def test_new_hires_ramp_up(demo: Demo) -> None:
    reps = demo["reps"]
    hires = reps[reps.hire_date >= pd.Timestamp("2024-11-01")]
    assert len(hires) >= 4
    hires = hires[hires.hire_date <= pd.Timestamp("2025-10-01")]  # a full first year to compare with
    assert len(hires) >= 3
    won = _won(demo).merge(hires[["rep_id", "hire_date"]], on="rep_id")
    won["tenure"] = (
        (won.close_date.dt.year - won.hire_date.dt.year) * 12 + (won.close_date.dt.month - won.hire_date.dt.month) + 1
    )
    by_month = won.groupby(["rep_id", "tenure"]).amount.sum().unstack().fillna(0.0)
    early = by_month.reindex(columns=[1, 2, 3], fill_value=0.0).median(axis=1)
    late = by_month.reindex(columns=range(7, 13)).median(axis=1)
    assert (early < late).all()
    targets = demo["targets"].query("metric == 'revenue'").merge(hires, on="rep_id")
    first_target = targets.sort_values("period").groupby("rep_id").target.first()
    last_target = targets.sort_values("period").groupby("rep_id").target.last()
    assert (first_target < last_target / 2).all()


def test_activity_and_feedback_follow_skill(demo: Demo) -> None:
    closed = demo["deals"][demo["deals"].stage != "open"]
    win_rate = closed.stage.eq("won").groupby(closed.rep_id).mean()
    score = demo["feedback"].groupby("rep_id").score.mean()
    assert win_rate.corr(score.reindex(win_rate.index)) > 0.3
    weakest = score.idxmin()
    fb = demo["feedback"]
    low = fb[(fb.rep_id == weakest) & (fb.score <= 3)]
    top_tag_share = low.tags.str.split(";").explode().value_counts(normalize=True).iloc[0]
    assert top_tag_share > 0.25  # the same theme keeps coming back
    quarters = fb.groupby(["rep_id", fb.date.dt.to_period("Q")]).size()
    assert quarters.median() >= 2


def test_scale_multiplies_deals_not_activities(tmp_path: Path) -> None:
    small = generate_demo(tmp_path / "s", scale=0.3, months=6)
    large = generate_demo(tmp_path / "l", scale=0.9, months=6)
    assert 2.6 <= large.rows["deals"] / small.rows["deals"] <= 3.4
    assert 2.6 <= large.rows["leads"] / small.rows["leads"] <= 3.4
    assert large.rows["activities"] == small.rows["activities"]
    assert large.rows["reps"] == small.rows["reps"]


# --------------------------------------------------------------------------- progress, files, arguments


def test_progress_is_called_per_month(tmp_path: Path) -> None:
    messages: list[str] = []
    _small(tmp_path / "d", progress=messages.append)
    assert len(messages) == 5 + 6 + 1  # pipeline months carried in, window months, final step
    assert "2026-10" in messages[-2]
    assert "deals" in messages[-2]


def test_rerun_replaces_an_earlier_demo(tmp_path: Path) -> None:
    out = tmp_path / "d"
    _small(out, seed=1, fmt="parquet")
    summary = _small(out, seed=1)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in summary.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_interrupted_run_leaves_earlier_data_untouched(tmp_path: Path) -> None:
    out = tmp_path / "d"
    before = _file_bytes(_small(out, seed=1))

    def interrupt(message: str) -> None:
        if "2026-08" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _small(out, seed=2, progress=interrupt)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_interrupted_first_run_leaves_nothing(tmp_path: Path) -> None:
    def interrupt(message: str) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        _small(tmp_path / "d", progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_directory_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text("keep me\n")
    with pytest.raises(ConfigError, match=r"mapping\.yaml.*new or empty directory"):
        _small(tmp_path)
    assert (tmp_path / "mapping.yaml").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0.0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"end_month": "2026-13"}, "end_month"),
        ({"end_month": "Oct 2026"}, "end_month"),
        ({"months": 2}, "months"),
        ({"seed": -1}, "seed"),
        ({"fmt": "xlsx"}, "fmt"),
        ({"n_reps": 4}, "n_reps"),
        ({"n_reps": 1000}, "n_reps"),
        ({"scale": "big"}, "scale"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_demo(tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


def test_more_reps(tmp_path: Path) -> None:
    summary = _small(tmp_path / "d", n_reps=60)
    reps = _read(tmp_path / "d")["reps"]
    assert summary.rows["reps"] == 60
    assert reps.name.is_unique
    assert reps.email.dropna().is_unique
    assert reps.team.value_counts().eq(15).all()


@pytest.mark.parametrize("n_reps", [8, 12])
def test_small_teams_generate(tmp_path: Path, n_reps: int) -> None:
    summary = generate_demo(tmp_path / "demo", n_reps=n_reps, months=14)
    assert summary.rows["reps"] == n_reps
    reps = pd.read_csv(tmp_path / "demo" / "reps.csv")
    assert reps["leave_date"].notna().sum() >= 1
