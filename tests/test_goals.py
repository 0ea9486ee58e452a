"""Tests for SMART goals: loading, the SMART check and progress, on the hand-computable goals_small fixture.

goals_small (data up to 2025-02-28): rep G1 (team East) won $100, $200, $300 in Jan-Mar 2024, $100 in Dec 2024,
$150 in Jan 2025 and $250 in Feb 2025; G2 (East) won $50 (Addon) in Jan 2024 and $200 (Addon) in Feb 2025;
G3 (West) has one open deal. Company revenue Jan-Mar 2024: 150, 200, 300. G1's win rate: Dec 2024 25%,
Jan and Feb 2025 50%. East's qualified leads: Jan 2025 3, Feb 2025 2. D04 (Mar 2024, $300) is Addon.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from salesreports.data.loading import Dataset, load_dataset
from salesreports.errors import ConfigError, ParamsError
from salesreports.metrics.engine import KpiTable, compute_kpis
from salesreports.metrics.goals import (
    STATUSES,
    Finding,
    Goal,
    GoalProgress,
    GoalSet,
    GoalSettings,
    check_goals,
    goal_progress,
    load_goals,
)

FIXTURE = Path(__file__).parent / "fixtures" / "goals_small" / "source.yaml"
ROOT = Path(__file__).resolve().parents[1]
OBJECTIVE = "Grow revenue in the East territory this year."
ELAPSED = 59 / 90  # 1 Jan - 28 Feb of a Jan-Mar window


@pytest.fixture(scope="module")
def data() -> Dataset:
    return load_dataset(FIXTURE)


@pytest.fixture(scope="module")
def table(data: Dataset) -> KpiTable:
    return compute_kpis(data)


def _goals(tmp_path: Path, text: str) -> GoalSet:
    path = tmp_path / "goals.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_goals(path)


def _one(tmp_path: Path, body: str, objective: str = OBJECTIVE) -> GoalSet:
    """A goal file with one goal (``body`` are its keys besides id and objective)."""
    lines = "\n".join("    " + line for line in textwrap.dedent(body).strip().splitlines())
    return _goals(tmp_path, f"goals:\n  - id: g\n    objective: {objective}\n{lines}\n")


def _by_letter(findings: list[Finding]) -> dict[str, Finding]:
    return {f.letter: f for f in findings}


# --------------------------------------------------------------------------- loading


def test_load_parses_every_target_form(tmp_path: Path) -> None:
    goals = _goals(
        tmp_path,
        """\
        settings: {ahead: 0.2, at_risk: 0.05, plausibility: 2}
        goals:
          - id: a
            owner: G1
            metric: revenue
            target: $1,200
            start: 2025-01
            deadline: 2025-Q1
          - id: b
            owner: East
            metric: win_rate
            target: {value: 25%, from: 15%}
            start: 2025
            deadline: 2025
          - id: c
            owner: company
            metric: revenue
            scope: {product: [Core, Addon], segment: SMB}
            target: {change: +20%, baseline: 2024-Q1}
            start: 2025-Q1
            deadline: 2025-Q1
        """,
    )
    assert goals.settings == GoalSettings(ahead=0.2, at_risk=0.05, plausibility=2.0)
    a, b, c = goals.goals
    assert a.target is not None
    assert a.target.value == 1200.0
    assert (a.start, a.deadline, a.line) == ("2025-01", "2025-Q1", 3)
    assert b.target is not None
    assert (b.target.value, b.target.start_value) == (0.25, 0.15)
    assert (b.start, b.deadline) == ("2025", "2025")  # YAML numbers become labels
    assert c.target is not None
    assert (c.target.change, c.target.baseline) == (pytest.approx(0.2), "2024-Q1")
    assert c.scope == (("product", ("Core", "Addon")), ("segment", ("SMB",)))
    assert c.scope_text == "product in Core, Addon; segment = SMB"
    assert goals.get("b") is b


def test_load_accepts_a_bare_list_and_an_empty_list(tmp_path: Path) -> None:
    goals = _goals(tmp_path, "- {id: x, owner: G1, metric: revenue, target: 5}\n")
    assert [g.id for g in goals] == ["x"]
    assert len(_goals(tmp_path, "# no goals yet\ngoals: []\n")) == 0


def test_an_empty_goals_file_is_an_error_not_no_goals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"goals.yaml: the file is empty .*`goals: \[\]` declares no goals"):
        _goals(tmp_path, "# goals:\n#   - id: x\n")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("goals:\n  - {id: a, objectiv: x}\n", "key 'goals.0.objectiv' is not known. Did you mean 'objective'?"),
        ("goals:\n  - {id: a, target: lots}\n", "expected a number such as 500000, 25% or +20%, got 'lots'"),
        ("goals:\n  - {owner: G1}\n", "key 'goals.0.id' is required but missing"),
        ("settings: {plausibility: 0.5}\n", "key 'settings.plausibility'"),
        ("goals:\n  - {id: a}\n  - {id: b}\n  - {id: a}\n", "line 4: goal id 'a' is used twice (first at line 2)"),
    ],
)
def test_load_rejects_broken_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        _goals(tmp_path, text)
    assert fragment in str(err.value)
    assert err.value.file == str(tmp_path / "goals.yaml")


def test_get_unknown_goal_suggests_close_ids(tmp_path: Path) -> None:
    goals = _goals(tmp_path, "goals:\n  - {id: revenue-q1}\n")
    with pytest.raises(ParamsError, match=r"no goal 'revenue-q2'\. Did you mean 'revenue-q1'"):
        goals.get("revenue-q2")


def test_shipped_goal_file_loads_and_is_smart_without_data() -> None:
    goals = load_goals(ROOT / "params" / "goals.yaml")
    assert len(goals) >= 4
    findings = check_goals(goals)
    assert not [str(f) for f in findings if f.severity == "error"]
    metrics = {g.metric for g in goals}
    assert {"revenue", "lead_conversion", "retention_rate", "qualified_leads"} <= metrics


# --------------------------------------------------------------------------- the SMART check


def test_a_smart_goal_gets_five_ok_findings(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    goals = _one(tmp_path, "owner: G1\nmetric: revenue\ntarget: 700\nstart: 2025-01\ndeadline: 2025-Q1")
    findings = check_goals(goals, table, data=data)
    assert [f.letter for f in findings] == ["S", "M", "A", "R", "T"]
    assert [f.criterion for f in findings] == ["Specific", "Measurable", "Achievable", "Relevant", "Time-bound"]
    assert {f.severity for f in findings} == {"ok"}
    f = _by_letter(findings)
    assert f["S"].message == "G1, revenue"
    assert f["M"].message == "$700 (total over the window)"
    assert f["A"].message == "$700 needs 1.2x G1's best quarter (Q1 2024: $600)"
    assert f["R"].message == OBJECTIVE
    assert f["T"].message == "Jan 2025 to Mar 2025 (3 months)"
    assert f["S"].line == 2
    assert json.loads(json.dumps(f["A"].to_dict()))["problems"] == []


@pytest.mark.parametrize(
    ("body", "letter", "fragments"),
    [
        (
            "owner: G1\nmetric: revenu\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["unknown metric 'revenu'", "Did you mean 'revenue'"],
        ),
        ("owner: G1\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03", "M", ["no metric"]),
        (
            "owner: Est\nmetric: revenue\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "S",
            ["unknown owner 'Est'", "Did you mean 'East'"],
        ),
        ("metric: revenue\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03", "S", ["no owner"]),
        (
            "owner: G1\nmetric: revenue\nscope: {produkt: Core}\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "S",
            ["scope on 'produkt' is not supported", "Did you mean 'product'"],
        ),
        (
            "owner: G1\nmetric: revenue\nscope: {product: Adon}\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "S",
            ["unknown product 'Adon' in the scope", "Did you mean 'Addon'", "Known: Addon, Core"],
        ),
        (
            "owner: G1\nmetric: win_rate\nscope: {source: web}\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["win_rate cannot be scoped by source: the deals table(s) it needs have no source column"],
        ),
        (
            "owner: G1\nmetric: quota_attainment\ntarget: 1\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["quota_attainment is not available: the data source has no targets table"],
        ),
        ("owner: G1\nmetric: revenue\nstart: 2025-01\ndeadline: 2025-03", "M", ["no target"]),
        (
            "owner: G1\nmetric: revenue\ntarget: {value: 5, change: 10%}\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["the target has value and change; give exactly one"],
        ),
        (
            "owner: G1\nmetric: revenue\ntarget: {change: 10%, baseline: last year}\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["target baseline 'last year' is not a period"],
        ),
        (
            "owner: G3\nmetric: revenue\ntarget: {change: 10%, baseline: 2023-11}\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["the relative target needs a baseline, but G3 has no revenue value for 2023-11"],
        ),
        (
            "owner: G1\nmetric: revenue\nper: week\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["per: 'week' is not a period a revenue target can repeat over"],
        ),
        (
            "owner: G1\nmetric: win_rate\nper: quartr\ntarget: 50%\nstart: 2025-01\ndeadline: 2025-03",
            "M",
            ["per: 'quartr' is not known. Did you mean 'quarter'"],
        ),
        ("owner: G1\nmetric: revenue\ntarget: 5\nstart: 2025-01", "T", ["no deadline"]),
        ("owner: G1\nmetric: revenue\ntarget: 5\ndeadline: 2025-03", "T", ["no start"]),
        (
            "owner: G1\nmetric: revenue\ntarget: 5\nstart: 2025-03\ndeadline: 2025-01",
            "T",
            ["the deadline (Jan 2025) is before the start (Mar 2025)"],
        ),
        (
            "owner: G1\nmetric: revenue\ntarget: 5\nstart: 2025-03-01\ndeadline: 2025-06",
            "T",
            ["start '2025-03-01' is not a month, quarter or year"],
        ),
        (
            "owner: G1\nmetric: revenue\nper: quarter\ntarget: 5\nstart: 2025-02\ndeadline: 2025-04",
            "T",
            ["a per-quarter target needs a window of whole quarters; Feb 2025–Apr 2025 is 3 month(s)"],
        ),
    ],
)
def test_check_reports_errors_under_their_letter(
    tmp_path: Path, table: KpiTable, data: Dataset, body: str, letter: str, fragments: list[str]
) -> None:
    f = _by_letter(check_goals(_one(tmp_path, body), table, data=data))
    assert f[letter].severity == "error"
    for fragment in fragments:
        assert fragment in f[letter].message
    assert f[letter].problems
    assert "not judged" in f["A"].message or f["A"].severity == "ok"


@pytest.mark.parametrize(
    ("objective", "fragment"),
    [("", "no objective. Fix: add `objective:`"), ("growth", "objective 'growth' is too short")],
)
def test_check_warns_about_a_missing_or_vague_objective(
    tmp_path: Path, table: KpiTable, objective: str, fragment: str
) -> None:
    goals = _one(tmp_path, "owner: G1\nmetric: revenue\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03", objective)
    f = _by_letter(check_goals(goals, table))
    assert f["R"].severity == "warning"
    assert fragment in f["R"].message


@pytest.mark.parametrize(
    ("body", "severity", "message"),
    [
        # G1's best 3 months before 2025: Jan-Mar 2024, 100 + 200 + 300
        (
            "owner: G1\nmetric: revenue\ntarget: 1500\nstart: 2025-01\ndeadline: 2025-Q1",
            "warning",
            "$1,500 needs 2.5x G1's best quarter (Q1 2024: $600); more than 1.5x is rarely achievable",
        ),
        (
            "owner: G1\nmetric: revenue\ntarget: 300\nstart: 2025-01\ndeadline: 2025-Q1",
            "ok",
            "$300 is 0.5x G1's best quarter (Q1 2024: $600)",
        ),
        # two months: the best span is Feb-Mar 2024 (500)
        (
            "owner: G1\nmetric: revenue\ntarget: 800\nstart: 2025-01\ndeadline: 2025-02",
            "warning",
            "$800 needs 1.6x G1's best 2 months (Feb 2024–Mar 2024: $500); more than 1.5x is rarely achievable",
        ),
        (
            "owner: East\nmetric: revenue\ntarget: 800\nstart: 2025-01\ndeadline: 2025-01",
            "warning",
            "$800 needs 2.7x team East's best month (Mar 2024: $300); more than 1.5x is rarely achievable",
        ),
        # rates: the best complete month before the start (Jan 2024: 1 won of 1 closed)
        (
            "owner: G1\nmetric: win_rate\nper: month\ntarget: 50%\nstart: 2025-01\ndeadline: 2025-03",
            "ok",
            "50.0% is 0.5x G1's best month (January 2024: 100.0%)",
        ),
        (
            "owner: G3\nmetric: revenue\ntarget: 100\nstart: 2025-01\ndeadline: 2025-Q1",
            "ok",
            "G3's best quarter so far is $0: nothing to compare $100 with",
        ),
        (
            "owner: G1\nmetric: win_rate\nper: quarter\ntarget: 50%\nstart: 2024-01\ndeadline: 2024-03",
            "ok",
            "no comparable history before the start to judge 50.0% against",
        ),
    ],
)
def test_achievable_compares_with_the_best_comparable_period(
    tmp_path: Path, table: KpiTable, body: str, severity: str, message: str
) -> None:
    f = _by_letter(check_goals(_one(tmp_path, body), table))
    assert (f["A"].severity, f["A"].message) == (severity, message)


def test_plausibility_factor_comes_from_the_settings(tmp_path: Path, table: KpiTable) -> None:
    goals = _one(tmp_path, "owner: G1\nmetric: revenue\ntarget: 1500\nstart: 2025-01\ndeadline: 2025-Q1")
    f = _by_letter(check_goals(goals, table, settings=GoalSettings(plausibility=3.0)))
    assert f["A"].severity == "ok"


def test_stated_starting_value_is_compared_with_the_data(tmp_path: Path, table: KpiTable) -> None:
    body = "owner: G1\nmetric: win_rate\nper: month\ntarget: {value: 40%, from: 15%}\nstart: 2025-01\ndeadline: 2025-03"
    f = _by_letter(check_goals(_one(tmp_path, body), table))
    assert f["M"].severity == "warning"
    assert f["M"].message == "the stated starting value 15.0% differs from the data: 25.0% in 2024-12"


def test_check_without_data_checks_only_what_it_can(tmp_path: Path) -> None:
    goals = _one(tmp_path, "owner: Nobody\nmetric: revenue\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03")
    f = _by_letter(check_goals(goals))
    assert f["S"].severity == "ok"
    assert f["S"].message == "owner and scope not checked: no data given"
    assert f["A"].message == "not judged: no data given"


def test_scoped_goal_without_the_data_set_is_not_measurable(tmp_path: Path, table: KpiTable) -> None:
    body = "owner: company\nmetric: revenue\nscope: {product: Addon}\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03"
    f = _by_letter(check_goals(_one(tmp_path, body), table))
    assert f["M"].severity == "error"
    assert "recomputed from the data set, which was not given" in f["M"].message


def test_relative_targets_resolve_against_their_baseline(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    goals = _goals(
        tmp_path,
        """\
        goals:
          - {id: ly, owner: G1, metric: revenue, target: {change: +10%}, start: 2025-01, deadline: 2025-Q1}
          - {id: q, owner: company, metric: revenue, scope: {product: Addon},
             target: {change: +20%, baseline: 2024-Q1}, start: 2025-01, deadline: 2025-Q1}
          - {id: pp, owner: East, metric: qualified_leads, per: month, target: {change: 50%, baseline: 2025-01},
             start: 2025-03, deadline: 2025-03}
          - {id: pts, owner: G1, metric: win_rate, per: month, target: {points: 0.2}, start: 2025-01, deadline: 2025-03}
        """,
    )
    messages = {f.goal_id: f.message for f in check_goals(goals, table, data=data) if f.letter == "M"}
    # G1 in Jan-Mar 2024: 600; +10%
    assert messages["ly"] == "$660 (total over the window), baseline $600 (Jan 2024–Mar 2024)"
    # Addon in 2024-Q1: 50 + 300
    assert messages["q"] == "$420 (total over the window), baseline $350 (2024-Q1)"
    assert messages["pp"] == "4 (every month), baseline 3 (2025-01)"
    # G1's win rate in Dec 2024: 25%, + 20 points
    assert messages["pts"] == "45.0% (measured per month), baseline 25.0% (2024-12)"


# --------------------------------------------------------------------------- progress


def _progress(tmp_path: Path, table: KpiTable, data: Dataset, body: str, **kw: object) -> GoalProgress:
    [p] = goal_progress(_one(tmp_path, body), table, data=data, **kw)  # type: ignore[arg-type]
    return p


def test_total_goal_in_progress_follows_last_years_shape(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    p = _progress(tmp_path, table, data, "owner: G1\nmetric: revenue\ntarget: 1200\nstart: 2025-01\ndeadline: 2025-Q1")
    share = 350 / 650  # company Jan + Feb 2024 of Jan-Mar 2024
    assert (p.mode, p.owner_type, p.start, p.deadline, p.as_of) == ("total", "rep", "2025-01", "2025-03", "2025-02-28")
    assert p.elapsed == pytest.approx(ELAPSED)
    assert p.actual == 400.0
    assert p.expected == pytest.approx(1200 * ELAPSED)
    assert p.expected_seasonal == pytest.approx(1200 * share)
    assert p.projected == pytest.approx(400 / share)
    assert p.pace == pytest.approx(400 / share / 1200 - 1)
    assert p.actual_pct == pytest.approx(400 / 1200)
    assert p.expected_pct == pytest.approx(share)
    assert p.status == "at risk"
    assert p.summary == (
        "$400 of $1,200 (33%) so far, $787 expected at a linear pace ($646 given last year's seasonality); "
        "projected $743 by Mar 2025: at risk."
    )
    assert p.measured_on == "01 Jan 2025 – 28 Feb 2025"


def test_progress_as_of_an_earlier_period(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    body = "owner: G1\nmetric: revenue\ntarget: 1200\nstart: 2025-01\ndeadline: 2025-Q1"
    p = _progress(tmp_path, table, data, body, period="2025-01")
    assert p.as_of == "2025-01-31"
    assert p.elapsed == pytest.approx(31 / 90)
    assert (p.actual, p.expected_seasonal) == (150.0, pytest.approx(1200 * 150 / 650))
    assert p.projected == pytest.approx(650.0)
    assert p.status == "at risk"


@pytest.mark.parametrize(
    ("body", "status", "pace"),
    [
        ("target: 500\nstart: 2024-01\ndeadline: 2024-Q1", "achieved", 600 / 500 - 1),
        ("target: 700\nstart: 2024-01\ndeadline: 2024-Q1", "missed", 600 / 700 - 1),
        ("target: 300\nstart: 2025-01\ndeadline: 2025-06", "achieved", None),  # reached early
        ("target: 700\nstart: 2025-01\ndeadline: 2025-Q1", "on track", 400 / (350 / 650) / 700 - 1),
        ("target: 600\nstart: 2025-01\ndeadline: 2025-Q1", "ahead", 400 / (350 / 650) / 600 - 1),
    ],
)
def test_total_goal_status(
    tmp_path: Path, table: KpiTable, data: Dataset, body: str, status: str, pace: float | None
) -> None:
    p = _progress(tmp_path, table, data, "owner: G1\nmetric: revenue\n" + body)
    assert p.status == status
    if pace is not None:
        assert p.pace == pytest.approx(pace)


def test_final_goal_summary_says_where_it_ended(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    p = _progress(tmp_path, table, data, "owner: G1\nmetric: revenue\ntarget: 700\nstart: 2024-01\ndeadline: 2024-Q1")
    assert p.summary == "$600 of $700 (86%) by Mar 2024: missed."
    assert p.elapsed == 1.0


def test_scoped_goal_is_recomputed_on_the_filtered_data(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    body = """\
    owner: company
    metric: revenue
    scope: {product: Addon}
    target: {change: +20%, baseline: 2024-Q1}
    start: 2025-01
    deadline: 2025-Q1
    """
    p = _progress(tmp_path, table, data, body)
    share = 50 / 350  # Addon Jan 2024 of Addon Jan-Mar 2024
    assert (p.target, p.baseline, p.actual) == (pytest.approx(420.0), 350.0, 200.0)
    assert p.expected_seasonal == pytest.approx(420 * share)
    assert p.projected == pytest.approx(200 / share)
    assert p.status == "ahead"
    assert p.scope == "product = Addon"
    assert p.note == "recomputed on product = Addon"


def test_per_period_goal_tracks_a_run_rate(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    body = "owner: East\nmetric: qualified_leads\nper: month\ntarget: 3\nstart: 2025-01\ndeadline: 2025-Q1"
    p = _progress(tmp_path, table, data, body)
    periods_so_far = 3 * ELAPSED
    assert p.mode == "per_period"
    assert p.actual == pytest.approx(5 / periods_so_far)  # 3 + 2 qualified leads
    assert p.expected == pytest.approx(3.0)
    assert p.expected_seasonal is None  # no leads in 2024
    assert p.projected == pytest.approx(5 / ELAPSED / 3)
    assert (p.periods_met, p.periods_done) == (1, 2)  # January reached 3, February did not
    assert p.actual_pct == pytest.approx(5 / 9)
    assert p.status == "at risk"
    assert p.note == "last year's same months give no seasonal shape: linear pace only"
    assert p.formatted()["target"] == "3/month"
    assert p.summary.startswith("3/month so far vs 3/month; 1 of 2 complete month(s) reached it")


@pytest.mark.parametrize(("target", "status"), [(2, "achieved"), (3, "missed")])
def test_per_period_goal_is_achieved_only_when_every_period_is(
    tmp_path: Path, table: KpiTable, data: Dataset, target: int, status: str
) -> None:
    body = f"owner: East\nmetric: qualified_leads\nper: month\ntarget: {target}\nstart: 2025-01\ndeadline: 2025-02"
    assert _progress(tmp_path, table, data, body).status == status


def test_level_goal_follows_a_path_from_the_baseline(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    body = "owner: G1\nmetric: win_rate\nper: month\ntarget: 55%\nstart: 2025-01\ndeadline: 2025-Q1"
    p = _progress(tmp_path, table, data, body)
    expected = 0.25 + 0.30 * ELAPSED  # from Dec 2024's 25% towards 55%
    assert (p.mode, p.baseline, p.actual, p.measured_on) == ("level", 0.25, 0.5, "2025-02")
    assert p.expected == pytest.approx(expected)
    assert p.projected == pytest.approx(0.25 + 0.25 / ELAPSED)
    assert p.pace == pytest.approx((0.5 - expected) / 0.30)
    assert p.actual_pct == pytest.approx(0.25 / 0.30)
    assert p.expected_pct == pytest.approx(ELAPSED)
    assert p.status == "ahead"
    assert p.summary.startswith("Win rate 50.0% (February 2025), 44.7% expected by now on the path from 25.0% to 55.0%")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ("owner: G1\nmetric: win_rate\nper: month\ntarget: 80%\nstart: 2025-01\ndeadline: 2025-Q1", "at risk", ""),
        ("owner: G1\nmetric: win_rate\nper: month\ntarget: 50%\nstart: 2025-01\ndeadline: 2025-02", "achieved", ""),
        ("owner: G1\nmetric: win_rate\nper: month\ntarget: 60%\nstart: 2025-01\ndeadline: 2025-02", "missed", ""),
        ("owner: G1\nmetric: revenue\ntarget: 5\nstart: 2025-06\ndeadline: 2025-08", "not started", "Jun 2025"),
        (
            "owner: G3\nmetric: win_rate\nper: month\ntarget: 50%\nstart: 2025-01\ndeadline: 2025-03",
            "not available",
            "no deals closed in the period",
        ),
        (
            "owner: G1\nmetric: revenu\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "not available",
            "unknown metric 'revenu'",
        ),
        (
            "owner: G1\nmetric: calls_per_week\nper: month\ntarget: 5\nstart: 2025-01\ndeadline: 2025-03",
            "not available",
            "no activities table",
        ),
    ],
)
def test_progress_statuses(
    tmp_path: Path, table: KpiTable, data: Dataset, body: str, status: str, fragment: str
) -> None:
    p = _progress(tmp_path, table, data, body)
    assert p.status == status
    assert p.status in STATUSES
    assert fragment in p.note


def test_level_goal_without_a_baseline_compares_with_the_target(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    # G1's win rate in Nov 2024 is not available (no closed deals), so a Dec start has no baseline
    body = "owner: G1\nmetric: win_rate\nper: month\ntarget: 50%\nstart: 2024-12\ndeadline: 2025-Q1"
    p = _progress(tmp_path, table, data, body)
    assert (p.baseline, p.expected, p.projected) == (None, 0.5, None)
    assert p.pace == pytest.approx(0.0)
    assert p.status == "on track"
    assert "no baseline" in p.note


def test_progress_is_json_ready(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    goals = load_goals(ROOT / "params" / "goals.yaml")
    p = _progress(tmp_path, table, data, "owner: G1\nmetric: revenue\ntarget: 1200\nstart: 2025-01\ndeadline: 2025-Q1")
    text = json.dumps([p.to_dict()], allow_nan=False)
    assert json.loads(text)[0]["status"] == "at risk"
    assert all(not isinstance(v, float) or math.isfinite(v) for v in p.to_dict().values())
    assert isinstance(goals.goals[0], Goal)


def test_lower_is_better_goals_flip_the_comparison(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    # G1's sales cycle (median days to close of won deals) in Jan 2025: D09 took 36 days
    body = "owner: G1\nmetric: sales_cycle_days\nper: month\ntarget: 40\nstart: 2025-01\ndeadline: 2025-01"
    p = _progress(tmp_path, table, data, body)
    assert (p.actual, p.status) == (36.0, "achieved")
    body = "owner: G1\nmetric: sales_cycle_days\nper: month\ntarget: 20\nstart: 2025-03\ndeadline: 2025-03"
    f = _by_letter(check_goals(_one(tmp_path, body), table))
    # the best (shortest) month before March 2025: Jan 2024, D01 took 26 days
    assert f["A"].message == "20 days is 1.3x better than G1's best month (January 2024: 26 days)"


@pytest.mark.slow
def test_shipped_goals_are_smart_and_tracked_on_the_demo_data(tmp_path: Path) -> None:
    from salesreports.data.demo import DEMO_TABLES, generate_demo

    generate_demo(tmp_path / "data", fmt="parquet")
    tables = "".join(f"  {name}: {{file: {name}.parquet}}\n" for name in DEMO_TABLES)
    (tmp_path / "source.yaml").write_text(f"name: demo\nbase_dir: data\ntables:\n{tables}", encoding="utf-8")
    demo = load_dataset(tmp_path / "source.yaml")
    demo_table = compute_kpis(demo)
    goals = load_goals(ROOT / "params" / "goals.yaml")
    findings = check_goals(goals, demo_table, data=demo)
    assert [str(f) for f in findings if f.severity != "ok"] == []
    progress = goal_progress(goals, demo_table, data=demo, period="2026-10")
    assert {p.status for p in progress} <= set(STATUSES) - {"not available"}
    assert {p.owner_type for p in progress} == {"rep", "team", "company"}
    assert {p.mode for p in progress} == {"total", "per_period", "level"}


def test_lead_scope_filters_the_leads_table(tmp_path: Path, table: KpiTable, data: Dataset) -> None:
    body = "owner: East\nmetric: qualified_leads\nper: month\nscope: {source: referral}\ntarget: 1\nstart: 2025-01\n"
    p = _progress(tmp_path, table, data, body + "deadline: 2025-02")
    # L3 (January) and L6 (February) are East's qualified referral leads
    assert (p.actual, p.periods_met, p.periods_done, p.status) == (1.0, 2, 2, "achieved")
    f = _by_letter(
        check_goals(_one(tmp_path, body.replace("referral", "client") + "deadline: 2025-02"), table, data=data)
    )
    # a scope on source looks at (and filters) the leads table only, not feedback sources
    assert f["S"].message == "unknown source 'client' in the scope. Known: referral, web"
